/* Error codes returned by every ezrtmp library function.
 * Success is 0 (or a byte count); failures are negative EZR_E* values, turned into text by
 * ezr_strerror(). The library never prints. */
#ifndef EZR_ERROR_H
#define EZR_ERROR_H

enum ezr_err {
    EZR_OK = 0,
    EZR_EAGAIN = -1,     /* need more input before anything can be decided */
    EZR_EINVAL = -2,     /* bad argument from the caller */
    EZR_ENOMEM = -3,     /* allocation failed */
    EZR_EPROTO = -4,     /* the peer broke the RTMP/AMF/FLV rules */
    EZR_ELIMIT = -5,     /* a named limit from ezr_limits.h was exceeded */
    EZR_ESYS = -6,       /* a system call failed; errno says which */
    EZR_EADDRINUSE = -7, /* the listen address is taken */
    EZR_EACCES = -8,     /* permission denied binding the address */
    EZR_EADDR = -9,      /* the host name could not be resolved */
    EZR_EEXIST = -10,    /* that app/stream is already registered */
    EZR_ENOTFOUND = -11, /* no such app or stream */
    EZR_ECLOSED = -12,   /* the peer or the server closed */
    EZR_ETLS = -13,      /* a TLS certificate or key file could not be loaded */
};

/* Never NULL; static storage. */
const char *ezr_strerror(int err);

#endif
