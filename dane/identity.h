/* dane/identity.h — who the client claims to be, and whether that claim may
 * be looked up at all.  Pure.
 *
 * The identity source is behind dane_identity_from_chain: today the leaf's
 * SAN dNSName (Debian's wolfSSL 5.5.4 has no API to read a custom TLS
 * extension, so the dane_clientid extension of draft-ietf-dance-client-auth
 * cannot be used); the extension can be added here when the TLS library
 * allows it without touching callers. */
#ifndef DANCED_DANE_IDENTITY_H
#define DANCED_DANE_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    DANE_ID_OK = 0,
    DANE_ID_BAD_CERT,    /* the leaf does not parse */
    DANE_ID_NO_NAME,     /* no SAN dNSName */
    DANE_ID_AMBIGUOUS,   /* several dNSNames and no configured suffix picks exactly one */
    DANE_ID_BAD_NAME,    /* the dNSName is not a valid identity (syntax, wildcard) */
} dane_id_result_t;

/* Lowercase, check and return the identity (no trailing dot) of a leaf
 * certificate.  suffix may be NULL; when given and the leaf has several
 * dNSNames, the single one at or under suffix counts.  out needs 254 bytes. */
dane_id_result_t dane_identity_from_chain(const uint8_t *leaf_der, size_t leaf_len, const char *suffix, char *out,
                                          size_t cap);

/* Syntax of an identity: labels of letters, digits, '-' and '_' (1..63
 * octets, no leading/trailing '-'), total <= 253, at least two labels, no '*'. */
bool dane_identity_syntax_ok(const char *name);

/* True when `name` equals an entry of allow or is under it at a label
 * boundary (`xcorp.example` is not under `corp.example`).  Entries are
 * lowercase without trailing dot.  *index gets the matching entry (the
 * longest one), which is the unit of the per-domain lookup cap. */
bool dane_allow_list_admits(char *const *allow, unsigned n_allow, const char *name, unsigned *index);

#endif
