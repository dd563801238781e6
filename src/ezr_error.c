/* Text for the library's error codes. */
#include "ezr_error.h"

const char *ezr_strerror(int err)
{
    switch (err) {
    case EZR_OK: return "success";
    case EZR_EAGAIN: return "need more data";
    case EZR_EINVAL: return "invalid argument";
    case EZR_ENOMEM: return "out of memory";
    case EZR_EPROTO: return "protocol violation";
    case EZR_ELIMIT: return "limit exceeded";
    case EZR_ESYS: return "system call failed";
    case EZR_EADDRINUSE: return "address already in use";
    case EZR_EACCES: return "permission denied";
    case EZR_EADDR: return "cannot resolve host";
    case EZR_EEXIST: return "app/stream already served";
    case EZR_ENOTFOUND: return "no such app or stream";
    case EZR_ECLOSED: return "connection closed";
    case EZR_ETLS: return "TLS certificate or key not loaded";
    }
    return "unknown error";
}
