/* The AMF0 body of a client's command as the tests send it: name(txid, {app[, tcUrl]} or null,
 * [string arg]). Shared by the socket player (rtmp_test_player.c) and the sans-I/O session
 * tests, which frame it into chunks each their own way. */
#ifndef RTMP_TEST_CMD_H
#define RTMP_TEST_CMD_H

#include "ezr_amf0.h"
#include "ezr_buf.h"

/* Appends the body to b (the caller's, initialised). app NULL: a null command object; tc_url
 * NULL: no tcUrl in it; arg NULL: no string argument. */
static inline void rtmp_test_put_cmd(struct ezr_buf *b, const char *name, double txid,
                                     const char *app, const char *tc_url, const char *arg)
{
    ezr_amf0_put_cstring(b, name);
    ezr_amf0_put_number(b, txid);
    if (app) {
        ezr_amf0_put_object_begin(b);
        ezr_amf0_put_key(b, "app");
        ezr_amf0_put_cstring(b, app);
        if (tc_url) {
            ezr_amf0_put_key(b, "tcUrl");
            ezr_amf0_put_cstring(b, tc_url);
        }
        ezr_amf0_put_object_end(b);
    } else {
        ezr_amf0_put_null(b);
    }
    if (arg)
        ezr_amf0_put_cstring(b, arg);
}

#endif
