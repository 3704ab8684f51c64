#!/bin/sh
# Regenerates the DER fixtures of test_x509 / test_tlsa with the openssl CLI.
# The outputs are committed: unit tests never run openssl.  Keys are random,
# so every run produces different bytes; the expected values (SPKI DER,
# digests, dates) are written next to the certificates by openssl itself, so
# the tests compare our parser against openssl's own answer.
#
# Usage: sh make-fixtures.sh [outdir]   (default: the directory of this script)
set -eu
OUT=${1:-$(cd "$(dirname "$0")" && pwd)}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"

mkdir -p newcerts
cat > ca.cnf <<'CNF'
[ ca ]
default_ca = dflt
[ dflt ]
dir = .
database = ./index.txt
new_certs_dir = ./newcerts
serial = ./serial
policy = pol
default_md = sha256
unique_subject = no
copy_extensions = none
[ pol ]
commonName = supplied
organizationName = optional
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ ext_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ ext_notca ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyCertSign
[ ext_leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = $ENV::SAN
CNF
: > index.txt
SAN=DNS:unused; export SAN
echo 1000 > serial

START=20240101000000Z
END=20991231235959Z

key() { # name algorithm-args...
    n=$1; shift
    openssl genpkey -out "$n.key" "$@" 2>/dev/null
}
csr() { # name CN
    openssl req -new -config ca.cnf -key "$1.key" -subj "/CN=$2" -out "$1.csr"
}
# sign name issuer ext start end [md]: issuer "self" makes a self-signed cert;
# ext "none" makes a version 1 certificate (no extensions at all).
sign() {
    n=$1 iss=$2 ext=$3 s=$4 e=$5 md=${6:-sha256}
    set -- -config ca.cnf -batch -notext -md "$md" -startdate "$s" -enddate "$e" -in "$n.csr" -out "$n.pem"
    if [ "$ext" != none ]; then set -- "$@" -extensions "$ext"; fi
    if [ "$iss" = self ]; then
        openssl ca "$@" -selfsign -keyfile "$n.key" 2>/dev/null
    else
        openssl ca "$@" -cert "$iss.pem" -keyfile "$iss.key" 2>/dev/null
    fi
    openssl x509 -in "$n.pem" -outform DER -out "$OUT/$n.der"
}
P256='-algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve'
P384='-algorithm EC -pkeyopt ec_paramgen_curve:P-384 -pkeyopt ec_param_enc:named_curve'

# Self-signed DANE-EE leaves.
key ee_p256 $P256;           csr ee_p256 alice
SAN=DNS:alice._device.corp.example sign ee_p256 self ext_leaf $START $END
key ee_ed25519 -algorithm ED25519; csr ee_ed25519 carol
SAN=DNS:carol._device.corp.example sign ee_ed25519 self ext_leaf $START $END default
key ee_rsa -algorithm RSA -pkeyopt rsa_keygen_bits:2048; csr ee_rsa rsa
SAN=DNS:rsa._device.corp.example sign ee_rsa self ext_leaf $START $END sha256
key ee_p384 $P384;           csr ee_p384 p384
SAN=DNS:p384._device.corp.example sign ee_p384 self ext_leaf $START $END sha384
key ee_rsa512 -algorithm RSA -pkeyopt rsa_keygen_bits:2048; csr ee_rsa512 rsa512
SAN=DNS:rsa512._device.corp.example sign ee_rsa512 self ext_leaf $START $END sha512

# Organisation CA (P-256, cA, keyCertSign), 2020..2099.
key ca $P256; csr ca "Corp Device CA"
SAN=DNS:unused sign ca self ext_ca 20200101000000Z $END
# Leaves issued by the CA.  bob ends earlier than the CA so that a verdict's
# valid_until (min notAfter along the path) is the leaf's.
key bob $P256; csr bob bob
SAN=DNS:bob._device.corp.example sign bob ca ext_leaf $START 20990630000000Z
key expired $P256; csr expired expired
SAN=DNS:bob._device.corp.example sign expired ca ext_leaf 20010101000000Z 20020101000000Z
key mallory $P256; csr mallory mallory
SAN=DNS:mallory._device.corp.example sign mallory ca ext_leaf $START $END
key twosans $P256; csr twosans twosans
SAN=DNS:one._device.corp.example,DNS:two._device.corp.example sign twosans ca ext_leaf $START $END
key wild $P256; csr wild wild
SAN='DNS:*._device.corp.example' sign wild ca ext_leaf $START $END
# 17 SAN dNSNames: one more than X509_MAX_DNSNAMES.
key manysans $P256; csr manysans many
SAN=$(i=0; while [ $i -lt 17 ]; do printf 'DNS:n%d.corp.example,' $i; i=$((i+1)); done | sed 's/,$//') \
    sign manysans ca ext_leaf $START $END

# CA -> intermediate (ends 2098) -> leaf.
key int $P256; csr int "Corp Intermediate"
SAN=DNS:unused sign int ca ext_ca 20200101000000Z 20981231000000Z
key leaf_int $P256; csr leaf_int erin
SAN=DNS:erin._device.corp.example sign leaf_int int ext_leaf $START $END

# CA -> not-a-CA (basicConstraints cA FALSE) -> leaf.
key notca $P256; csr notca "Not A CA"
SAN=DNS:unused sign notca ca ext_notca $START $END
key leaf_notca $P256; csr leaf_notca frank
SAN=DNS:frank._device.corp.example sign leaf_notca notca ext_leaf $START $END

# Version 1 self-signed CA (no extensions) and a leaf it issued.
key ca_v1 $P256; csr ca_v1 "Old V1 CA"
SAN=DNS:unused sign ca_v1 self none 20200101000000Z $END
key leaf_v1ca $P256; csr leaf_v1ca grace
SAN=DNS:grace._device.corp.example sign leaf_v1ca ca_v1 ext_leaf $START $END

# Expected values, straight from openssl.
for c in "$OUT"/*.der; do
    b=${c%.der}
    openssl x509 -inform DER -in "$c" -pubkey -noout | openssl pkey -pubin -outform DER -out "$b.spki"
    openssl dgst -sha256 -binary -out "$b.cert.sha256" "$c"
    openssl dgst -sha512 -binary -out "$b.cert.sha512" "$c"
    openssl dgst -sha256 -binary -out "$b.spki.sha256" "$b.spki"
    openssl dgst -sha512 -binary -out "$b.spki.sha512" "$b.spki"
    nb=$(openssl x509 -inform DER -in "$c" -noout -startdate | sed 's/^notBefore=//')
    na=$(openssl x509 -inform DER -in "$c" -noout -enddate | sed 's/^notAfter=//')
    printf '%s %s\n' "$(date -u -d "$nb" +%s)" "$(date -u -d "$na" +%s)" > "$b.dates"
done
echo "fixtures written to $OUT"
