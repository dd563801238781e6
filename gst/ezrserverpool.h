/* Servers shared by the ezrtmpserversink elements of one process: elements with the same host
 * and a fixed port use one listening socket and reactor, each serving its own app/stream-key.
 * A server lives while any element holds it. An element asking for port 0 gets a server of its
 * own on a free port; another that then asks for that port (read from bound-port) shares it. */
#ifndef EZR_SERVER_POOL_H
#define EZR_SERVER_POOL_H

#include <glib-object.h>

#include "ezr_server.h"

/* Returns a reference to the server for host:port, starting it with cfg if there is none.
 * On failure returns NULL and *err holds the library's error code. A server that was there
 * keeps the settings it was opened with: *ignored then names those of cfg that differ (g_free()
 * it), else is NULL. */
struct ezr_server *ezr_server_pool_acquire(const struct ezr_server_config *cfg, int *err,
                                           gchar **ignored);
/* Drops a reference; the last one stops the server. */
void ezr_server_pool_release(struct ezr_server *server);
/* For a server whose reactor failed (ezr_server_failed), whose caller could not remove its
 * stream (removal waits for the stopped reactor thread): drops the reference, and if the server
 * lives on for other elements keeps a reference to owner until it is freed, since freeing the
 * stream left in it calls owner's client callback. */
void ezr_server_pool_release_failed(struct ezr_server *server, GObject *owner);
/* The last line the server logged as an error (why its reactor failed), or NULL; g_free() it. */
gchar *ezr_server_pool_last_error(struct ezr_server *server);

#endif
