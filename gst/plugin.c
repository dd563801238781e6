/* The ezrtmp plugin: registers ezrtmpserversink and ezrtmpserversrc. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "gstezrtmpserversink.h"
#include "gstezrtmpserversrc.h"

/* Both elements and the server they share log here. */
GST_DEBUG_CATEGORY(ezrtmp_debug);

static gboolean plugin_init(GstPlugin *plugin)
{
    GST_DEBUG_CATEGORY_INIT(ezrtmp_debug, "ezrtmp", 0, "ezrtmp RTMP server elements");
    return GST_ELEMENT_REGISTER(ezrtmpserversink, plugin) &&
           GST_ELEMENT_REGISTER(ezrtmpserversrc, plugin);
}

GST_PLUGIN_DEFINE(
    GST_VERSION_MAJOR, GST_VERSION_MINOR, ezrtmp,
    "Embedded RTMP server: serve a pipeline's FLV to RTMP, HTTP-FLV and WebSocket-FLV players, "
    "and take RTMP publishers into a pipeline",
    plugin_init, VERSION, "LGPL", GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
