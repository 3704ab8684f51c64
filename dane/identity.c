#include "identity.h"

#include <ctype.h>
#include <string.h>

#include "dane/x509.h"

bool dane_identity_syntax_ok(const char *name)
{
    size_t total = strlen(name);
    if (total == 0 || total > 253)
        return false;
    unsigned labels = 0;
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len == 0 || len > 63)
            return false;
        if (p[0] == '-' || p[len - 1] == '-')
            return false;
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)p[i];
            if (!(isalnum(c) || c == '-' || c == '_'))
                return false;
        }
        labels++;
        if (!dot)
            break;
        p = dot + 1;
        if (!*p)
            return false; /* trailing dot removed by the caller */
    }
    return labels >= 2;
}

static bool under(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    if (s == 0 || n < s)
        return false;
    if (strcmp(name + n - s, suffix) != 0)
        return false;
    return n == s || name[n - s - 1] == '.';
}

bool dane_allow_list_admits(char *const *allow, unsigned n_allow, const char *name, unsigned *index)
{
    bool found = false;
    size_t best = 0;
    for (unsigned i = 0; i < n_allow; i++) {
        if (under(name, allow[i]) && strlen(allow[i]) >= best) {
            best = strlen(allow[i]);
            if (index)
                *index = i;
            found = true;
        }
    }
    return found;
}

/* Copy a SAN dNSName lowercased without trailing dot; false if unusable. */
static bool normalise(const x509_span_t *sp, char *out, size_t cap)
{
    size_t len = sp->len;
    if (len > 0 && sp->ptr[len - 1] == '.')
        len--;
    if (len == 0 || len + 1 > cap || len > 253)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = sp->ptr[i];
        if (c == 0 || c > 0x7e)
            return false;
        out[i] = (char)tolower(c);
    }
    out[len] = 0;
    return true;
}

dane_id_result_t dane_identity_from_chain(const uint8_t *leaf_der, size_t leaf_len, const char *suffix, char *out,
                                          size_t cap)
{
    x509_cert_t cert;
    if (x509_parse(leaf_der, leaf_len, &cert) != 0)
        return DANE_ID_BAD_CERT;
    if (cert.n_dnsnames == 0)
        return DANE_ID_NO_NAME;
    char name[256];
    int chosen = -1;
    if (cert.n_dnsnames == 1) {
        chosen = 0;
    } else if (suffix && *suffix) {
        for (unsigned i = 0; i < cert.n_dnsnames; i++) {
            if (!normalise(&cert.dnsnames[i], name, sizeof name))
                continue;
            if (under(name, suffix)) {
                if (chosen >= 0)
                    return DANE_ID_AMBIGUOUS;
                chosen = (int)i;
            }
        }
        if (chosen < 0)
            return DANE_ID_AMBIGUOUS;
    } else {
        return DANE_ID_AMBIGUOUS;
    }
    if (!normalise(&cert.dnsnames[chosen], name, sizeof name) || !dane_identity_syntax_ok(name))
        return DANE_ID_BAD_NAME;
    if (strlen(name) + 1 > cap)
        return DANE_ID_BAD_NAME;
    memcpy(out, name, strlen(name) + 1);
    return DANE_ID_OK;
}
