/* tools/dancectl.c — the operator's provisioning tool: keys, certificates
 * and the DNS records that publish them (PROTOCOL.md §1 and §4).
 *
 * Output convention: stdout is a zone-file fragment (records, and comments
 * starting with ';'), so `dancectl ... >> zone` is safe; diagnostics go to
 * stderr.  Exit status: 0 success, 1 failure, 2 usage error. */
#include "tools/ctl.h"

#include "core/err.h"
#include "dane/identity.h"
#include "dane/tlsa.h"
#include "dane/x509.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXIT_USAGE 2
#define MAX_ADDRESSES 8
#define DAYS_MAX 36500 /* keep notAfter within GeneralizedTime's four-digit years */

/* Which options a command accepts. */
enum {
    O_OUT = 1 << 0,
    O_ED25519 = 1 << 1,
    O_DAYS = 1 << 2,
    O_FORCE = 1 << 3,
    O_CA_DIR = 1 << 4,
    O_USAGE = 1 << 5,
    O_SELECTOR = 1 << 6,
    O_MTYPE = 1 << 7,
    O_NAME = 1 << 8,
    O_PORT = 1 << 9,
    O_ADDRESS = 1 << 10,
    O_TTL = 1 << 11,
};

typedef struct {
    const char *pos;        /* the one positional argument */
    const char *out_dir;
    const char *ca_dir;
    const char *name;
    const char *addresses[MAX_ADDRESSES];
    unsigned n_addresses;
    bool ed25519, force, help;
    long days;              /* -1: command default */
    long usage, selector, mtype;
    long port, ttl;
} opts_t;

/* Set when a command rejects its arguments (a bad NAME, address...):
 * main() then exits 2 as for any other usage error. */
static bool g_usage_error;

static int check_name(const char *in, bool allow_wildcard, const char *what, char *out, size_t cap)
{
    int err = ctl_name_normalize(in, allow_wildcard, what, out, cap);
    if (err != DN_OK)
        g_usage_error = true;
    return err;
}

/* A client identity must also pass danced's own identity check (at least
 * two labels, ...): refuse to mint a certificate the server would reject. */
static int check_identity(const char *in, char *out, size_t cap)
{
    int err = check_name(in, false, "NAME", out, cap);
    if (err == DN_OK && !dane_identity_syntax_ok(out)) {
        fprintf(stderr, "dancectl: NAME '%s' is not a valid client identity for danced (it needs at least two labels)\n",
                in);
        g_usage_error = true;
        err = DN_EINVAL;
    }
    return err;
}

typedef struct {
    const char *name;       /* "identity new" */
    unsigned allowed;
    const char *synopsis;
    const char *help;
    int (*run)(const opts_t *o);
} command_t;

/* ---- helpers ---- */

static int parse_long(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "dancectl: %s: expected an integer from %ld to %ld, got '%s'\n", opt, lo, hi, s);
        return DN_EINVAL;
    }
    *out = v;
    return DN_OK;
}

/* Print one TLSA record for a certificate, the data computed by the same
 * dane_tlsa_data the server matches with. */
static int print_tlsa(const char *owner, long ttl, unsigned usage, unsigned selector, unsigned mtype,
                      const uint8_t *der, size_t der_len)
{
    size_t cap = der_len + 64;
    uint8_t *data = malloc(cap);
    char *hex = malloc(2 * cap + 1);
    size_t dlen = 0;
    int err = (data && hex) ? DN_OK : DN_ENOMEM;
    if (err == DN_OK)
        err = dane_tlsa_data(der, der_len, (uint8_t)selector, (uint8_t)mtype, data, cap, &dlen);
    if (err == DN_OK) {
        ctl_hex(data, dlen, hex);
        printf("%s. %ld IN TLSA %u %u %u %s\n", owner, ttl, usage, selector, mtype, hex);
    } else {
        fprintf(stderr, "dancectl: cannot compute TLSA data: %s\n", dn_strerror(err));
    }
    free(data);
    free(hex);
    return err;
}

/* Write NAME.key (0600) then NAME.crt (0644).  Both paths are checked first,
 * so a refusal leaves nothing behind; if the certificate cannot be written
 * the key we just wrote is removed again.  An issuer certificate, when
 * given, follows the leaf in NAME.crt: a DANE-TA `2 0 x` record matches a
 * certificate the peer presents, so the device must send its CA along. */
static int write_pair(const char *key_path, const char *crt_path, ctl_key_t *key, const uint8_t *der, size_t der_len,
                      const uint8_t *issuer_der, size_t issuer_len, bool force)
{
    char *kpem = NULL, *cpem = NULL, *ipem = NULL;
    size_t klen = 0, clen = 0, ilen = 0;
    int err = ctl_key_to_pem(key, &kpem, &klen);
    if (err == DN_OK)
        err = ctl_cert_to_pem(der, der_len, &cpem, &clen);
    if (err == DN_OK && issuer_der)
        err = ctl_cert_to_pem(issuer_der, issuer_len, &ipem, &ilen);
    if (err == DN_OK && ipem) {
        char *both = realloc(cpem, clen + ilen);
        if (!both) {
            err = DN_ENOMEM;
        } else {
            memcpy(both + clen, ipem, ilen);
            cpem = both;
            clen += ilen;
        }
    }
    if (err == DN_OK)
        err = ctl_write_file(key_path, kpem, klen, 0600, force);
    if (err == DN_OK) {
        err = ctl_write_file(crt_path, cpem, clen, 0644, force);
        if (err != DN_OK && !force)
            remove(key_path);
    }
    if (kpem) {
        explicit_bzero(kpem, klen);
        free(kpem);
    }
    free(cpem);
    free(ipem);
    return err;
}

typedef struct {
    char key_path[4096];
    char crt_path[4096];
} pair_paths_t;

static int prepare_paths(const opts_t *o, const char *base, pair_paths_t *p)
{
    char kf[300], cf[300];
    snprintf(kf, sizeof kf, "%s.key", base);
    snprintf(cf, sizeof cf, "%s.crt", base);
    const char *dir = o->out_dir ? o->out_dir : ".";
    int err = ctl_path(p->key_path, sizeof p->key_path, dir, kf);
    if (err == DN_OK)
        err = ctl_path(p->crt_path, sizeof p->crt_path, dir, cf);
    if (err == DN_OK)
        err = ctl_check_absent(p->key_path, o->force);
    if (err == DN_OK)
        err = ctl_check_absent(p->crt_path, o->force);
    if (err == DN_OK)
        err = ctl_ensure_dir(dir);
    return err;
}

/* Generate a key and a certificate for it and write both.  Issuer NULL:
 * self-signed.  On success *der holds the certificate (caller frees). */
static int provision(const opts_t *o, const pair_paths_t *paths, ctl_cert_spec_t *spec, const uint8_t *issuer_der,
                     size_t issuer_len, ctl_key_t *issuer_key, uint8_t **der, size_t *der_len)
{
    ctl_key_t *key = NULL;
    int err = ctl_key_generate(o->ed25519 ? CTL_KEY_ED25519 : CTL_KEY_P256, &key);
    if (err == DN_OK)
        err = ctl_cert_make(spec, key, issuer_der, issuer_len, issuer_key, der, der_len);
    if (err == DN_OK) {
        err = write_pair(paths->key_path, paths->crt_path, key, *der, *der_len, issuer_der, issuer_len, o->force);
        if (err != DN_OK) {
            free(*der);
            *der = NULL;
        }
    }
    ctl_key_free(key);
    if (err == DN_OK)
        printf("; dancectl: wrote %s (private key, mode 0600) and %s\n", paths->key_path, paths->crt_path);
    return err;
}

static void set_validity(ctl_cert_spec_t *spec, long days)
{
    int64_t now = (int64_t)time(NULL);
    /* One hour back: peers whose clocks run a little behind accept a fresh
     * certificate at once. */
    spec->not_before = now - 3600;
    spec->not_after = now + (int64_t)days * 86400;
}

/* CN only when it fits (RFC 5280 ub-common-name 64; wolfCrypt's CertName
 * holds 63 octets).  The SAN carries the identity either way. */
static const char *cn_for(const char *name)
{
    return strlen(name) < 64 ? name : NULL;
}

static int compose_name(char *out, size_t cap, const char *prefix, const char *name, const char *what)
{
    int n = snprintf(out, cap, "%s%s", prefix, name);
    if (n < 0 || (size_t)n >= cap || n > 253) {
        fprintf(stderr, "dancectl: %s '%s%s' would be longer than 253 characters\n", what, prefix, name);
        g_usage_error = true;
        return DN_EINVAL;
    }
    return DN_OK;
}

/* ---- commands ---- */

static int cmd_identity_new(const opts_t *o)
{
    char name[CTL_NAME_MAX];
    int err = check_identity(o->pos, name, sizeof name);
    if (err != DN_OK)
        return err;
    pair_paths_t paths;
    if ((err = prepare_paths(o, name, &paths)) != DN_OK)
        return err;
    ctl_cert_spec_t spec = {.common_name = cn_for(name), .dns_name = name};
    set_validity(&spec, o->days < 0 ? 365 : o->days);
    uint8_t *der = NULL;
    size_t der_len = 0;
    if ((err = provision(o, &paths, &spec, NULL, 0, NULL, &der, &der_len)) != DN_OK)
        return err;
    printf("; publish in the signed zone (DANE-EE, SPKI, SHA-256):\n");
    err = print_tlsa(name, o->ttl, 3, 1, 1, der, der_len);
    free(der);
    return err;
}

static int cmd_ca_new(const opts_t *o)
{
    char domain[CTL_NAME_MAX], owner[CTL_NAME_MAX + 16], cn[CTL_NAME_MAX + 16];
    int err = check_name(o->pos, false, "DOMAIN", domain, sizeof domain);
    if (err == DN_OK)
        err = compose_name(owner, sizeof owner, "*._device.", domain, "TLSA owner");
    if (err != DN_OK)
        return err;
    pair_paths_t paths;
    if ((err = prepare_paths(o, "ca", &paths)) != DN_OK)
        return err;
    snprintf(cn, sizeof cn, "%s device CA", domain);
    if (strlen(cn) >= 64) {
        /* `ca issue` reads the domain back from this CN for its coverage
         * note; a long domain only loses that note. */
        fprintf(stderr, "dancectl: note: '%s' is too long for a commonName; using 'device CA'\n", cn);
        snprintf(cn, sizeof cn, "device CA");
    }
    ctl_cert_spec_t spec = {.common_name = cn, .is_ca = true};
    set_validity(&spec, o->days < 0 ? 3650 : o->days);
    uint8_t *der = NULL;
    size_t der_len = 0;
    if ((err = provision(o, &paths, &spec, NULL, 0, NULL, &der, &der_len)) != DN_OK)
        return err;
    printf("; publish in the signed zone (DANE-TA, full certificate, SHA-256); it covers every device\n"
           "; under _device.%s that has no TLSA record of its own:\n",
           domain);
    err = print_tlsa(owner, o->ttl, 2, 0, 1, der, der_len);
    free(der);
    return err;
}

/* Does the CA key belong to the CA certificate?  Compare SubjectPublicKeyInfo
 * bytes: catches a ca.key / ca.crt mix-up before we issue something that
 * will never verify. */
static int check_ca(const char *crt_path, const uint8_t *ca_der, size_t ca_len, ctl_key_t *ca_key, x509_cert_t *ca)
{
    int err = x509_parse(ca_der, ca_len, ca);
    if (err != DN_OK) {
        fprintf(stderr, "dancectl: %s: cannot parse the certificate: %s\n", crt_path, dn_strerror(err));
        return err;
    }
    if (!ca->is_ca) {
        fprintf(stderr, "dancectl: %s is not a CA certificate (basicConstraints cA is not set)\n", crt_path);
        return DN_EINVAL;
    }
    uint8_t spki[256];
    size_t spki_len = 0;
    if ((err = ctl_key_spki(ca_key, spki, sizeof spki, &spki_len)) != DN_OK)
        return err;
    if (spki_len != ca->spki.len || memcmp(spki, ca->spki.ptr, spki_len) != 0) {
        fprintf(stderr, "dancectl: the CA private key does not match %s\n", crt_path);
        return DN_EINVAL;
    }
    return DN_OK;
}

static int cmd_ca_issue(const opts_t *o)
{
    char name[CTL_NAME_MAX];
    int err = check_identity(o->pos, name, sizeof name);
    if (err != DN_OK)
        return err;
    const char *ca_dir = o->ca_dir ? o->ca_dir : ".";
    char ca_key_path[4096], ca_crt_path[4096];
    if ((err = ctl_path(ca_key_path, sizeof ca_key_path, ca_dir, "ca.key")) != DN_OK ||
        (err = ctl_path(ca_crt_path, sizeof ca_crt_path, ca_dir, "ca.crt")) != DN_OK)
        return err;

    uint8_t *ca_der = NULL, *der = NULL;
    size_t ca_len = 0, der_len = 0;
    ctl_key_t *ca_key = NULL;
    x509_cert_t ca;
    pair_paths_t paths;
    err = ctl_cert_load(ca_crt_path, &ca_der, &ca_len);
    if (err == DN_OK)
        err = ctl_key_load(ca_key_path, &ca_key);
    if (err == DN_OK)
        err = check_ca(ca_crt_path, ca_der, ca_len, ca_key, &ca);
    if (err == DN_OK)
        err = prepare_paths(o, name, &paths);
    if (err != DN_OK)
        goto out;

    ctl_cert_spec_t spec = {.common_name = cn_for(name), .dns_name = name};
    set_validity(&spec, o->days < 0 ? 365 : o->days);
    /* DANE-TA checks every certificate's dates: a leaf outliving its CA
     * would just stop working on the CA's last day, so say so now. */
    if (spec.not_after > ca.not_after) {
        spec.not_after = ca.not_after;
        fprintf(stderr, "dancectl: note: validity shortened to the CA's notAfter\n");
    }
    if (spec.not_after <= spec.not_before) {
        fprintf(stderr, "dancectl: %s has expired\n", ca_crt_path);
        err = DN_EINVAL;
        goto out;
    }
    if ((err = provision(o, &paths, &spec, ca_der, ca_len, ca_key, &der, &der_len)) != DN_OK)
        goto out;

    /* Coverage note: `ca new D` published *._device.D; read D back from the
     * CA's commonName "D device CA". */
    char cn[128], dev[CTL_NAME_MAX + 16] = "";
    static const char suffix[] = " device CA";
    if (ctl_cert_common_name(ca_der, ca_len, cn, sizeof cn) == DN_OK) {
        size_t l = strlen(cn);
        if (l > sizeof suffix - 1 && strcmp(cn + l - (sizeof suffix - 1), suffix) == 0) {
            cn[l - (sizeof suffix - 1)] = '\0';
            snprintf(dev, sizeof dev, "_device.%s", cn);
        }
    }
    if (dev[0] && ctl_name_under(name, dev) && strcmp(name, dev) != 0) {
        printf("; %s is covered by the wildcard record published for this CA:\n;   *.%s. IN TLSA 2 0 1 ...\n"
               "; nothing to publish unless %s. has TLSA records of its own (they hide the wildcard).\n",
               name, dev, name);
    } else {
        printf("; %s is not under the CA's _device name: publish a DANE-TA record for it:\n", name);
        if ((err = print_tlsa(name, o->ttl, 2, 0, 1, ca_der, ca_len)) != DN_OK)
            goto out;
    }
    printf("; to pin this one device instead (overrides any wildcard, independent of the CA):\n; ");
    err = print_tlsa(name, o->ttl, 3, 1, 1, der, der_len);
out:
    free(der);
    free(ca_der);
    ctl_key_free(ca_key);
    return err;
}

static int cmd_tlsa(const opts_t *o)
{
    uint8_t *der = NULL;
    size_t der_len = 0;
    x509_cert_t cert;
    char owner[CTL_NAME_MAX];
    int err = ctl_cert_load(o->pos, &der, &der_len);
    if (err != DN_OK)
        return err;
    err = x509_parse(der, der_len, &cert);
    if (err != DN_OK) {
        fprintf(stderr, "dancectl: %s: cannot parse the certificate: %s\n", o->pos, dn_strerror(err));
        goto out;
    }
    if (o->name) {
        err = check_name(o->name, true, "--name", owner, sizeof owner);
    } else if (cert.n_dnsnames == 0) {
        fprintf(stderr, "dancectl: %s has no SAN dNSName; give the owner name with --name\n", o->pos);
        err = DN_EINVAL;
    } else {
        char san[CTL_NAME_MAX];
        size_t l = cert.dnsnames[0].len;
        if (l >= sizeof san) {
            fprintf(stderr, "dancectl: %s: SAN dNSName too long\n", o->pos);
            err = DN_EFORMAT;
            goto out;
        }
        memcpy(san, cert.dnsnames[0].ptr, l);
        san[l] = '\0';
        if (memchr(san, '\0', l)) {
            fprintf(stderr, "dancectl: %s: SAN dNSName contains a NUL byte\n", o->pos);
            err = DN_EFORMAT;
            goto out;
        }
        err = ctl_name_normalize(san, true, "SAN dNSName", owner, sizeof owner);
        if (err == DN_OK && cert.n_dnsnames > 1)
            fprintf(stderr, "dancectl: note: %s has %u SAN dNSNames; using the first (%s); see --name\n", o->pos,
                    cert.n_dnsnames, owner);
    }
    if (err == DN_OK)
        err = print_tlsa(owner, o->ttl, (unsigned)o->usage, (unsigned)o->selector, (unsigned)o->mtype, der, der_len);
out:
    free(der);
    return err;
}

static int cmd_server_identity(const opts_t *o)
{
    char name[CTL_NAME_MAX], srv_id[CTL_NAME_MAX + 16], srv_owner[CTL_NAME_MAX + 16], tlsa_owner[CTL_NAME_MAX + 16],
        prefix[32];
    int err = check_name(o->pos, false, "NAME", name, sizeof name);
    if (err != DN_OK)
        return err;
    snprintf(prefix, sizeof prefix, "_%ld._tcp.", o->port);
    if ((err = compose_name(srv_id, sizeof srv_id, "_domain-s.", name, "SRV-ID")) != DN_OK ||
        (err = compose_name(srv_owner, sizeof srv_owner, "_domain-s._tcp.", name, "SRV owner")) != DN_OK ||
        (err = compose_name(tlsa_owner, sizeof tlsa_owner, prefix, name, "TLSA owner")) != DN_OK)
        return err;

    /* Check addresses before creating anything. */
    char addr_text[MAX_ADDRESSES][INET6_ADDRSTRLEN];
    bool is_v6[MAX_ADDRESSES];
    for (unsigned i = 0; i < o->n_addresses; i++) {
        unsigned char buf[16];
        if (inet_pton(AF_INET, o->addresses[i], buf) == 1) {
            is_v6[i] = false;
            inet_ntop(AF_INET, buf, addr_text[i], sizeof addr_text[i]);
        } else if (inet_pton(AF_INET6, o->addresses[i], buf) == 1) {
            is_v6[i] = true;
            inet_ntop(AF_INET6, buf, addr_text[i], sizeof addr_text[i]);
        } else {
            fprintf(stderr, "dancectl: --address '%s' is not an IPv4 or IPv6 address\n", o->addresses[i]);
            g_usage_error = true;
            return DN_EINVAL;
        }
    }

    pair_paths_t paths;
    if ((err = prepare_paths(o, name, &paths)) != DN_OK)
        return err;
    /* DNS-ID NAME (the ADN) plus SRV-ID _domain-s.NAME: seed 002 §4 wants
     * both, the SRV-ID as an RFC 4985 otherName, never as a dNSName. */
    ctl_cert_spec_t spec = {.common_name = cn_for(name), .dns_name = name, .srv_name = srv_id, .server_auth = true};
    set_validity(&spec, o->days < 0 ? 365 : o->days);
    uint8_t *der = NULL;
    size_t der_len = 0;
    if ((err = provision(o, &paths, &spec, NULL, 0, NULL, &der, &der_len)) != DN_OK)
        return err;
    printf("; publish in the signed zone: DANE for the server, then S-NAPTR discovery (RFC 3958, seed 002 §6)\n");
    err = print_tlsa(tlsa_owner, o->ttl, 3, 1, 1, der, der_len);
    free(der);
    if (err != DN_OK)
        return err;
    printf("%s. %ld IN SRV 0 1 %ld %s.\n", srv_owner, o->ttl, o->port, name);
    printf("%s. %ld IN NAPTR 10 10 \"S\" \"DPRIVE:dns.tls\" \"\" %s.\n", name, o->ttl, srv_owner);
    for (unsigned i = 0; i < o->n_addresses; i++)
        printf("%s. %ld IN %s %s\n", name, o->ttl, is_v6[i] ? "AAAA" : "A", addr_text[i]);
    return DN_OK;
}

/* ---- command table and help ---- */

static const command_t commands[] = {
    {"identity new", O_OUT | O_ED25519 | O_DAYS | O_FORCE | O_TTL, "NAME [--out DIR] [--ed25519] [--days N] [--force]",
     "Create a self-signed client identity for DANE-EE: DIR/NAME.key (PKCS#8 PEM, mode 0600) and\n"
     "DIR/NAME.crt (SAN dNSName NAME, CN NAME, not a CA, valid from one hour ago for N days,\n"
     "default 365).  Prints the record to publish: NAME. 3600 IN TLSA 3 1 1 <sha256 of SPKI>.\n"
     "Keys are P-256 unless --ed25519.",
     cmd_identity_new},
    {"ca new", O_OUT | O_ED25519 | O_DAYS | O_FORCE | O_TTL, "DOMAIN [--out DIR] [--ed25519] [--days N] [--force]",
     "Create an organisation's device CA: DIR/ca.key (0600) and DIR/ca.crt (self-signed,\n"
     "basicConstraints cA=TRUE critical, pathLen 0, keyUsage keyCertSign+cRLSign, CN \"DOMAIN device CA\",\n"
     "default 3650 days).  Prints the DANE-TA wildcard record covering every device under\n"
     "_device.DOMAIN: *._device.DOMAIN. 3600 IN TLSA 2 0 1 <sha256 of the CA certificate>.",
     cmd_ca_new},
    {"ca issue", O_OUT | O_CA_DIR | O_ED25519 | O_DAYS | O_FORCE | O_TTL,
     "NAME [--ca-dir DIR] [--out DIR] [--ed25519] [--days N] [--force]",
     "Issue a device identity signed by the CA in --ca-dir (default .): DIR/NAME.key and DIR/NAME.crt\n"
     "(the leaf, then the CA certificate: present both, DANE-TA matches the CA in the chain) with SAN\n"
     "dNSName NAME, the CA as issuer and authorityKeyIdentifier.  Validity is capped at the\n"
     "CA's.  Says whether the CA's *._device wildcard record covers NAME, and prints the 3 1 1 record\n"
     "that would pin this device alone.",
     cmd_ca_issue},
    {"tlsa", O_USAGE | O_SELECTOR | O_MTYPE | O_NAME | O_TTL,
     "CERT [--usage U] [--selector S] [--mtype M] [--name OWNER]",
     "Print the TLSA record for a certificate file (PEM or DER).  Default 3 1 1; the owner is the\n"
     "certificate's first SAN dNSName unless --name is given (e.g. _853._tcp.host or *._device.domain).",
     cmd_tlsa},
    {"server-identity", O_OUT | O_ED25519 | O_DAYS | O_FORCE | O_PORT | O_ADDRESS | O_TTL,
     "NAME [--out DIR] [--port 853] [--address ADDR]... [--ed25519] [--days N] [--force]",
     "Create the resolver's own key and certificate: DNS-ID NAME and SRV-ID _domain-s.NAME\n"
     "(RFC 4985 otherName SRVName), serverAuth.  Prints the records to publish: the DANE record\n"
     "_PORT._tcp.NAME TLSA 3 1 1, the SRV and S-NAPTR (DPRIVE:dns.tls) discovery records, and\n"
     "A/AAAA records for each --address.",
     cmd_server_identity},
};

static const char common_help[] =
    "Common options: --ttl N (record TTL, default 3600), --force (replace existing files),\n"
    "--help.  Names are lowercased; underscore labels (_device, _smtp-client) are allowed.\n";

static void print_command_help(FILE *f, const command_t *c)
{
    fprintf(f, "usage: dancectl %s %s\n\n%s\n\n%s", c->name, c->synopsis, c->help, common_help);
}

static void print_overview(FILE *f)
{
    fprintf(f, "dancectl — provision DANE identities for danced\n\nusage:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  dancectl %s %s\n", commands[i].name, commands[i].synopsis);
    fprintf(f, "  dancectl help [COMMAND]\n\n"
               "stdout is a zone-file fragment (records and ';' comments); messages go to stderr.\n"
               "Exit status: 0 ok, 1 failure, 2 usage error.  See docs/identities.md.\n");
}

/* Find the command named by argv[0] (and argv[1] for two-word commands). */
static const command_t *find_command(int argc, char **argv, int *consumed)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const char *n = commands[i].name;
        const char *sp = strchr(n, ' ');
        if (!sp) {
            if (argc >= 1 && strcmp(argv[0], n) == 0) {
                *consumed = 1;
                return &commands[i];
            }
        } else if (argc >= 2 && strlen(argv[0]) == (size_t)(sp - n) && strncmp(argv[0], n, (size_t)(sp - n)) == 0 &&
                   strcmp(argv[1], sp + 1) == 0) {
            *consumed = 2;
            return &commands[i];
        }
    }
    return NULL;
}

static int parse_opts(const command_t *c, int argc, char **argv, opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->days = -1;
    o->usage = 3;
    o->selector = 1;
    o->mtype = 1;
    o->port = 853;
    o->ttl = CTL_DEFAULT_TTL;
    static const struct {
        const char *name;
        unsigned flag;
        bool arg;
    } table[] = {
        {"--out", O_OUT, true},       {"--ed25519", O_ED25519, false}, {"--days", O_DAYS, true},
        {"--force", O_FORCE, false},  {"--ca-dir", O_CA_DIR, true},    {"--usage", O_USAGE, true},
        {"--selector", O_SELECTOR, true}, {"--mtype", O_MTYPE, true},  {"--name", O_NAME, true},
        {"--port", O_PORT, true},     {"--address", O_ADDRESS, true},  {"--ttl", O_TTL, true},
    };
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            o->help = true;
            return DN_OK;
        }
        if (strcmp(a, "--") == 0 || a[0] != '-' || a[1] == '\0') {
            if (strcmp(a, "--") == 0) {
                if (++i >= argc)
                    break;
                a = argv[i];
            }
            if (o->pos) {
                fprintf(stderr, "dancectl %s: unexpected argument '%s'\n", c->name, a);
                return DN_EINVAL;
            }
            o->pos = a;
            continue;
        }
        /* --opt=value or --opt value */
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        size_t k;
        for (k = 0; k < sizeof table / sizeof table[0]; k++)
            if (strlen(table[k].name) == nl && strncmp(a, table[k].name, nl) == 0)
                break;
        if (k == sizeof table / sizeof table[0] || !(c->allowed & table[k].flag)) {
            fprintf(stderr, "dancectl %s: unknown option '%.*s'\n", c->name, (int)nl, a);
            return DN_EINVAL;
        }
        const char *val = NULL;
        if (table[k].arg) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                fprintf(stderr, "dancectl %s: option %s needs a value\n", c->name, table[k].name);
                return DN_EINVAL;
            }
        } else if (eq) {
            fprintf(stderr, "dancectl %s: option %s takes no value\n", c->name, table[k].name);
            return DN_EINVAL;
        }
        int err = DN_OK;
        switch (table[k].flag) {
        case O_OUT: o->out_dir = val; break;
        case O_CA_DIR: o->ca_dir = val; break;
        case O_NAME: o->name = val; break;
        case O_ED25519: o->ed25519 = true; break;
        case O_FORCE: o->force = true; break;
        case O_DAYS: err = parse_long("--days", val, 1, DAYS_MAX, &o->days); break;
        case O_USAGE: err = parse_long("--usage", val, 0, 3, &o->usage); break;
        case O_SELECTOR: err = parse_long("--selector", val, 0, 1, &o->selector); break;
        case O_MTYPE: err = parse_long("--mtype", val, 0, 2, &o->mtype); break;
        case O_PORT: err = parse_long("--port", val, 1, 65535, &o->port); break;
        case O_TTL: err = parse_long("--ttl", val, 0, 2147483647L, &o->ttl); break;
        case O_ADDRESS:
            if (o->n_addresses == MAX_ADDRESSES) {
                fprintf(stderr, "dancectl %s: at most %d --address options\n", c->name, MAX_ADDRESSES);
                err = DN_EINVAL;
            } else {
                o->addresses[o->n_addresses++] = val;
            }
            break;
        }
        if (err != DN_OK)
            return err;
        if (val && !val[0]) {
            fprintf(stderr, "dancectl %s: option %s has an empty value\n", c->name, table[k].name);
            return DN_EINVAL;
        }
    }
    if (!o->pos) {
        fprintf(stderr, "dancectl %s: missing argument\n", c->name);
        return DN_EINVAL;
    }
    return DN_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_overview(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        int consumed = 0;
        const command_t *c = argc > 2 ? find_command(argc - 2, argv + 2, &consumed) : NULL;
        if (argc > 2 && !c) {
            fprintf(stderr, "dancectl: no such command: %s\n", argv[2]);
            print_overview(stderr);
            return EXIT_USAGE;
        }
        if (c)
            print_command_help(stdout, c);
        else
            print_overview(stdout);
        return 0;
    }
    int consumed = 0;
    const command_t *c = find_command(argc - 1, argv + 1, &consumed);
    if (!c) {
        fprintf(stderr, "dancectl: unknown command '%s%s%s'\n\n", argv[1], argc > 2 ? " " : "", argc > 2 ? argv[2] : "");
        print_overview(stderr);
        return EXIT_USAGE;
    }
    opts_t o;
    if (parse_opts(c, argc - 1 - consumed, argv + 1 + consumed, &o) != DN_OK) {
        fprintf(stderr, "usage: dancectl %s %s\n", c->name, c->synopsis);
        return EXIT_USAGE;
    }
    if (o.help) {
        print_command_help(stdout, c);
        return 0;
    }
    if (ctl_pki_init() != DN_OK)
        return 1;
    int err = c->run(&o);
    ctl_pki_cleanup();
    if (fflush(stdout) != 0) {
        fprintf(stderr, "dancectl: cannot write to stdout: %s\n", strerror(errno));
        return 1;
    }
    if (err == DN_OK)
        return 0;
    return g_usage_error ? EXIT_USAGE : 1;
}
