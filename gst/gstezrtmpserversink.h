/* ezrtmpserversink: serves the FLV it receives to RTMP players from an embedded server. The
 * type is final; its instance struct is in gstezrtmpserversinkpriv.h, for the element's files. */
#ifndef GST_EZRTMP_SERVER_SINK_H
#define GST_EZRTMP_SERVER_SINK_H

#include <gst/base/gstbasesink.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_EZRTMP_SERVER_SINK (gst_ezrtmp_server_sink_get_type())
G_DECLARE_FINAL_TYPE(GstEzrtmpServerSink, gst_ezrtmp_server_sink, GST, EZRTMP_SERVER_SINK,
                     GstBaseSink)
GST_ELEMENT_REGISTER_DECLARE(ezrtmpserversink);

G_END_DECLS

#endif
