/* The ezrtmp plugin: registers ezrtmpserversink. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "gstezrtmpserversink.h"

static gboolean plugin_init(GstPlugin *plugin)
{
    return GST_ELEMENT_REGISTER(ezrtmpserversink, plugin);
}

GST_PLUGIN_DEFINE(
    GST_VERSION_MAJOR, GST_VERSION_MINOR, ezrtmp,
    "Embedded RTMP server: serve a pipeline's FLV to RTMP, HTTP-FLV and WebSocket-FLV players",
    plugin_init, VERSION, "LGPL", GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
