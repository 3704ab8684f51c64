/* core/err.h — the one error type of danced.
 *
 * Every fallible function returns int: 0 (DN_OK) on success, or one of the
 * negative DN_E* codes below.  Outputs are written only on success.  Never mix
 * data and errors in one return value. */
#ifndef DANCED_CORE_ERR_H
#define DANCED_CORE_ERR_H

enum dn_err {
    DN_OK = 0,
    DN_ENOMEM = -1,     /* allocation failed */
    DN_ETRUNC = -2,     /* input ended early */
    DN_EFORMAT = -3,    /* malformed input */
    DN_ERANGE = -4,     /* value or size out of range, output buffer too small */
    DN_ELOOP = -5,      /* compression pointer loop / too many pointers */
    DN_EINVAL = -6,     /* invalid argument (programmer or config error) */
    DN_ENOTFOUND = -7,  /* no such item */
    DN_ETLS = -8,       /* TLS failure (see tls_error_string) */
    DN_EIO = -9,        /* socket / file I/O failure */
    DN_ETIMEOUT = -10,  /* deadline passed */
    DN_ELIMIT = -11,    /* a configured limit was hit */
    DN_EAGAIN = -12,    /* would block: try again when more input arrives */
    DN_ECONFIG = -13,   /* configuration error */
    DN_EUNSUPPORTED = -14, /* valid but not supported (algorithm, usage...) */
    DN_ECRYPTO = -15,   /* signature or hash failure */
    DN_ECLOSED = -16,   /* the peer or object is closed */
};

/* Static, human-readable name of an error code ("truncated input", ...). */
const char *dn_strerror(int err);

#endif
