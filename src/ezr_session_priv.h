/* What the session's files (ezr_session.c: the handshake, connect and playing;
 * ezr_session_publish.c: publishing) share: building replies and ending the session. Not for the
 * session's users, who have ezr_session.h. */
#ifndef EZR_SESSION_PRIV_H
#define EZR_SESSION_PRIV_H

#include "ezr_amf0.h"
#include "ezr_session.h"

/* Sends what s->out holds through the send callback (or reports it failed) and frees it. */
void ezr_session_flush_out(struct ezr_session *s);
/* onStatus on msid with level and code, naming the stream (s->name) in details. */
void ezr_session_status(struct ezr_session *s, uint32_t msid, const char *level, const char *code,
                        const char *description);
/* _result or _error(txid, null, {level, code, description}). */
void ezr_session_reply(struct ezr_session *s, const char *name, double txid, const char *level,
                       const char *code, const char *description);
/* _result(txid, null, value) with a number, or null when value is NULL. */
void ezr_session_result_number(struct ezr_session *s, double txid, const double *value);
/* name(0, null, {code, description}): a notification with no transaction. */
void ezr_session_notify(struct ezr_session *s, const char *name, const char *code,
                        const char *description);
/* Records why the session ends and returns err; EZR_ECLOSED also makes it CLOSING. */
int ezr_session_close_with(struct ezr_session *s, int err, const char *reason);
/* Copies a name the client sent into dst, refusing what does not fit (EZR_EPROTO). */
int ezr_session_copy_name(char *dst, size_t cap, const struct ezr_amf0_value *v);

/* ezr_session_publish.c */
/* releaseStream / FCPublish name. */
void ezr_session_on_fcpublish(struct ezr_session *s, const char *command, double txid,
                              const struct ezr_amf0_value *name);
/* publish name on msid. */
int ezr_session_on_publish(struct ezr_session *s, uint32_t msid, const struct ezr_amf0_value *name);
/* FCUnpublish, closeStream, deleteStream: ends a publication (nothing if none). */
void ezr_session_unpublish(struct ezr_session *s);
/* Audio, video, data and aggregate messages. */
int ezr_session_on_media(struct ezr_session *s, const struct ezr_chunk_msg *m);

#endif
