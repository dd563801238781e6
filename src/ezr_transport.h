/* The plain TCP transport of a connection (ezr_conn.h): read(2) and sendmsg(2) with
 * MSG_NOSIGNAL. TLS, and the detection of TLS on a port that has it, are ezr_tls.h.
 * Reactor-thread only. */
#ifndef EZR_TRANSPORT_H
#define EZR_TRANSPORT_H

#include "ezr_conn.h"

extern const struct ezr_transport ezr_transport_tcp;

#endif
