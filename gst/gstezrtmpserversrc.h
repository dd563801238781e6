/* ezrtmpserversrc: takes one RTMP publisher (OBS, ffmpeg, a phone) on an embedded server and
 * outputs what it publishes as FLV. The type is final; its instance struct is in
 * gstezrtmpserversrcpriv.h, for the element's files. */
#ifndef GST_EZRTMP_SERVER_SRC_H
#define GST_EZRTMP_SERVER_SRC_H

#include <gst/base/gstpushsrc.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_EZRTMP_SERVER_SRC (gst_ezrtmp_server_src_get_type())
G_DECLARE_FINAL_TYPE(GstEzrtmpServerSrc, gst_ezrtmp_server_src, GST, EZRTMP_SERVER_SRC,
                     GstPushSrc)
GST_ELEMENT_REGISTER_DECLARE(ezrtmpserversrc);

G_END_DECLS

#endif
