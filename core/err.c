#include "err.h"

const char *dn_strerror(int err)
{
    switch (err) {
    case DN_OK: return "ok";
    case DN_ENOMEM: return "out of memory";
    case DN_ETRUNC: return "truncated input";
    case DN_EFORMAT: return "malformed input";
    case DN_ERANGE: return "out of range";
    case DN_ELOOP: return "compression loop";
    case DN_EINVAL: return "invalid argument";
    case DN_ENOTFOUND: return "not found";
    case DN_ETLS: return "TLS error";
    case DN_EIO: return "I/O error";
    case DN_ETIMEOUT: return "timeout";
    case DN_ELIMIT: return "limit reached";
    case DN_EAGAIN: return "try again";
    case DN_ECONFIG: return "configuration error";
    case DN_EUNSUPPORTED: return "unsupported";
    case DN_ECRYPTO: return "cryptographic failure";
    case DN_ECLOSED: return "closed";
    }
    return "unknown error";
}
