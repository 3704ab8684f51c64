/* tools/ctl.h — internals of dancectl, the operator's provisioning tool.
 *
 * Split in three: ctl_util.c (names, hex, files: no crypto), ctl_pki.c
 * (wolfCrypt keys and certificates, DER we must build ourselves) and
 * dancectl.c (the command line).  Every fallible function returns 0 or a
 * negative DN_E* code and prints its own message to stderr, so callers only
 * propagate the code. */
#ifndef DANCED_TOOLS_CTL_H
#define DANCED_TOOLS_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CTL_NAME_MAX 254          /* presentation form, no trailing dot, + NUL */
#define CTL_DEFAULT_TTL 3600u

/* ---- ctl_util.c ---- */

/* Validate a domain name and write its canonical form (lowercase, no
 * trailing dot) into out (cap >= CTL_NAME_MAX).  Labels are 1..63 octets of
 * letters, digits, '-' and '_' (underscore labels such as `_device` are
 * legitimate owner names); no leading/trailing '-'; 253 octets at most.
 * allow_wildcard admits a leftmost `*` label (TLSA owner names only, never
 * a certificate identity).  DN_EINVAL with a message naming `what`. */
int ctl_name_normalize(const char *in, bool allow_wildcard, const char *what, char *out, size_t cap);

/* Does `name` equal `suffix` or end with "." + suffix (label boundary)? */
bool ctl_name_under(const char *name, const char *suffix);

/* Lowercase hex of len bytes into out (cap >= 2*len+1). */
void ctl_hex(const uint8_t *in, size_t len, char *out);

/* Read a whole file (at most max bytes) into a malloc'd buffer. */
int ctl_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len);

/* Create directory `dir` and missing parents (mode 0700: they will hold
 * private keys) unless it exists already as a directory. */
int ctl_ensure_dir(const char *dir);

/* join dir + "/" + file into out. DN_ERANGE when it does not fit. */
int ctl_path(char *out, size_t cap, const char *dir, const char *file);

/* Fail with a message when `path` exists and force is false.  Called for
 * every output file before anything is generated, so that a refusal never
 * leaves half a set of files behind. */
int ctl_check_absent(const char *path, bool force);

/* Write data to path atomically with the given mode: a temporary file in the
 * same directory created 0600 (mkstemp), fchmod, fsync, then link() when not
 * forcing (fails if the target appeared meanwhile: never clobbers) or
 * rename() when forcing.  A key therefore never exists, even briefly, with
 * wider permissions than `mode`. */
int ctl_write_file(const char *path, const void *data, size_t len, unsigned mode, bool force);

/* ---- ctl_pki.c ---- */

typedef enum { CTL_KEY_P256 = 1, CTL_KEY_ED25519 = 2 } ctl_key_alg_t;

typedef struct ctl_key ctl_key_t; /* opaque: wraps an ecc_key or ed25519_key */

typedef struct {
    const char *common_name;     /* NULL or "" for none (then the SAN is critical) */
    const char *dns_name;        /* SAN dNSName, NULL for none */
    const char *srv_name;        /* RFC 4985 SRVName otherName ("_domain-s.host"), NULL for none */
    bool is_ca;                  /* basicConstraints cA=TRUE pathLen 0, keyUsage keyCertSign+cRLSign */
    bool server_auth;            /* extendedKeyUsage serverAuth (else clientAuth for leaves) */
    int64_t not_before, not_after;
} ctl_cert_spec_t;

int ctl_pki_init(void);
void ctl_pki_cleanup(void);

int ctl_key_generate(ctl_key_alg_t alg, ctl_key_t **out);
/* Load a PEM private key (PKCS#8 or traditional EC) as written by dancectl. */
int ctl_key_load(const char *path, ctl_key_t **out);
void ctl_key_free(ctl_key_t *k);
ctl_key_alg_t ctl_key_alg(const ctl_key_t *k);
/* (the key functions below take non-const keys because wolfCrypt's do) */
/* PKCS#8 PEM of the private key (malloc'd). */
int ctl_key_to_pem(ctl_key_t *k, char **pem, size_t *pem_len);
/* SubjectPublicKeyInfo DER of the key. */
int ctl_key_spki(ctl_key_t *k, uint8_t *out, size_t cap, size_t *out_len);

/* Build and sign a certificate for `subject_key`.  Self-signed when issuer_der
 * is NULL; otherwise the issuer Name and authorityKeyIdentifier come from
 * issuer_der and it is signed by issuer_key.  Output: malloc'd DER. */
int ctl_cert_make(const ctl_cert_spec_t *spec, ctl_key_t *subject_key,
                  const uint8_t *issuer_der, size_t issuer_len, ctl_key_t *issuer_key,
                  uint8_t **der, size_t *der_len);

/* DER certificate -> PEM (malloc'd). */
int ctl_cert_to_pem(const uint8_t *der, size_t der_len, char **pem, size_t *pem_len);
/* Load a certificate file, PEM (first certificate) or DER, as DER (malloc'd). */
int ctl_cert_load(const char *path, uint8_t **der, size_t *der_len);
/* The subject commonName of a DER certificate ("" when none). */
int ctl_cert_common_name(const uint8_t *der, size_t der_len, char *out, size_t cap);

/* Encode GeneralNames { dNSName dns, otherName SRVName srv } (either may be
 * NULL) into out.  Exposed for its own sake: wolfCrypt's altNames takes raw
 * DER and has no otherName encoder in this build. */
int ctl_der_general_names(const char *dns, const char *srv, uint8_t *out, size_t cap, size_t *out_len);

/* Encode a Time (UTCTime before 2050, GeneralizedTime after, RFC 5280
 * §4.1.2.5) with tag and length. */
int ctl_der_time(int64_t t, uint8_t *out, size_t cap, size_t *out_len);

#endif
