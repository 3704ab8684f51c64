"""dancectl: keys, certificates and the records that publish them.

Every value dancectl prints is recomputed here with independent tools
(the openssl CLI, python3-cryptography), and every file it writes is loaded
by the consumers that matter (OpenSSL via Python's ssl, GnuTLS via kdig).

Run: /usr/bin/python3 -m pytest tests/integration/test_dancectl.py
The binary comes from DANCECTL_BIN, else the newest build*/tools/dancectl.
"""
import datetime
import glob
import hashlib
import os
import pathlib
import re
import shutil
import ssl
import stat
import subprocess

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

REPO = pathlib.Path(__file__).resolve().parents[2]
SRVNAME_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.8.7")


def _find_dancectl():
    env = os.environ.get("DANCECTL_BIN")
    if env:
        return env
    found = [p for p in glob.glob(str(REPO / "build*" / "tools" / "dancectl")) if os.access(p, os.X_OK)]
    return max(found, key=os.path.getmtime) if found else None


DANCECTL = _find_dancectl()
pytestmark = [
    pytest.mark.skipif(DANCECTL is None, reason="dancectl not built (set DANCECTL_BIN)"),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI missing"),
]

ALGS = ["p256", "ed25519"]


def dancectl(*args, ok=True, **kw):
    r = subprocess.run([DANCECTL, *map(str, args)], capture_output=True, text=True, timeout=60, **kw)
    if ok:
        assert r.returncode == 0, f"dancectl {args} failed ({r.returncode}): {r.stderr}"
    return r


def alg_args(alg):
    return ["--ed25519"] if alg == "ed25519" else []


def records(stdout):
    """Zone-file records of the output: lines that are not ';' comments."""
    return [line.split() for line in stdout.splitlines() if line.strip() and not line.startswith(";")]


def tlsa_records(stdout):
    return [(r[0], r[4:7], r[7]) for r in records(stdout) if r[3] == "TLSA"]


def openssl(*args, data=None):
    r = subprocess.run(["openssl", *map(str, args)], input=data, capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout


def cert_der(path):
    return openssl("x509", "-in", path, "-outform", "DER")


def spki_der(path):
    # The pipeline the brief names: the SPKI as OpenSSL sees it.
    pem = openssl("x509", "-in", path, "-pubkey", "-noout")
    return openssl("pkey", "-pubin", "-outform", "DER", data=pem)


def cert_text(path):
    return openssl("x509", "-in", path, "-noout", "-text").decode()


def load(path):
    return x509.load_pem_x509_certificate(pathlib.Path(path).read_bytes())


def load_chain(path):
    """Every certificate of a PEM file (cryptography 38 has no
    load_pem_x509_certificates)."""
    pems = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n?",
                      pathlib.Path(path).read_bytes(), re.S)
    return [x509.load_pem_x509_certificate(p) for p in pems]


def now():
    return datetime.datetime.utcnow()


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def python_ssl_loads(crt, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_cert_chain(str(crt), str(key))


# ---------------------------------------------------------------- identity new


@pytest.mark.parametrize("alg", ALGS)
def test_identity_new(tmp_path, alg):
    name = "sensor7._device.corp.example"
    r = dancectl("identity", "new", "Sensor7._Device.Corp.Example.", "--out", tmp_path, *alg_args(alg))
    key, crt = tmp_path / f"{name}.key", tmp_path / f"{name}.crt"
    assert key.exists() and crt.exists()
    assert mode(key) == 0o600
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")

    text = cert_text(crt)
    assert f"DNS:{name}" in text
    assert f"CN = {name}" in text
    assert "CA:FALSE" in text
    assert ("ED25519" if alg == "ed25519" else "prime256v1") in text

    (owner, params, data), = tlsa_records(r.stdout)
    assert owner == name + "."
    assert params == ["3", "1", "1"]
    assert data.lower() == hashlib.sha256(spki_der(crt)).hexdigest()
    assert records(r.stdout)[0][1:3] == ["3600", "IN"]

    c = load(crt)
    assert c.issuer == c.subject
    assert c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == [name]
    assert ExtendedKeyUsageOID.CLIENT_AUTH in c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    # notBefore one hour back (clock skew), notAfter 365 days ahead.
    assert abs((c.not_valid_before - (now() - datetime.timedelta(hours=1))).total_seconds()) < 120
    assert abs((c.not_valid_after - (now() + datetime.timedelta(days=365))).total_seconds()) < 120

    openssl("pkey", "-in", key, "-noout")
    python_ssl_loads(crt, key)


def test_identity_days(tmp_path):
    dancectl("identity", "new", "short.example", "--out", tmp_path, "--days", "10")
    c = load(tmp_path / "short.example.crt")
    assert abs((c.not_valid_after - (now() + datetime.timedelta(days=10))).total_seconds()) < 120


def test_key_mode_ignores_umask(tmp_path):
    dancectl("identity", "new", "umask.example", "--out", tmp_path, preexec_fn=lambda: os.umask(0))
    assert mode(tmp_path / "umask.example.key") == 0o600


def test_long_name_has_no_cn_but_critical_san(tmp_path):
    name = "a" * 60 + ".device.example"  # 75 octets: more than a commonName holds
    dancectl("identity", "new", name, "--out", tmp_path)
    c = load(tmp_path / f"{name}.crt")
    assert len(c.subject) == 0
    san = c.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical and san.value.get_values_for_type(x509.DNSName) == [name]
    python_ssl_loads(tmp_path / f"{name}.crt", tmp_path / f"{name}.key")


# ---------------------------------------------------------------- overwrite


def test_refuses_overwrite_then_force(tmp_path):
    dancectl("identity", "new", "dup.example", "--out", tmp_path)
    key, crt = tmp_path / "dup.example.key", tmp_path / "dup.example.crt"
    before = (key.read_bytes(), crt.read_bytes())
    r = dancectl("identity", "new", "dup.example", "--out", tmp_path, ok=False)
    assert r.returncode == 1
    assert "already exists" in r.stderr
    assert (key.read_bytes(), crt.read_bytes()) == before
    assert r.stdout == ""

    # Only the certificate exists: still refused, and no key appears.
    key.unlink()
    r = dancectl("identity", "new", "dup.example", "--out", tmp_path, ok=False)
    assert r.returncode == 1 and not key.exists()

    dancectl("identity", "new", "dup.example", "--out", tmp_path, "--force")
    assert crt.read_bytes() != before[1]
    assert mode(key) == 0o600
    python_ssl_loads(crt, key)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".dancectl")]  # no temporary files left


# ---------------------------------------------------------------- names and usage


@pytest.mark.parametrize("bad", [
    "bad name.example", "a..b", "*.wild.example", "-lead.example", "trail-.example",
    "x" * 64 + ".example", ".".join(["abcdefghi"] * 26), "ex@mple.com", "", ".", "localhost",
])
def test_bad_name_rejected(tmp_path, bad):
    r = dancectl("identity", "new", bad, "--out", tmp_path / "o", ok=False)
    assert r.returncode == 2, r.stderr
    assert r.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("good", ["_smtp-client.host.example", "host17.example", "xn--bcher-kva.example", "a-b.c_d.example"])
def test_good_names_accepted(tmp_path, good):
    dancectl("identity", "new", good, "--out", tmp_path)
    assert (tmp_path / f"{good}.crt").exists()


@pytest.mark.parametrize("args", [
    [], ["frobnicate"], ["identity"], ["identity", "new"], ["identity", "new", "a.example", "--bogus"],
    ["identity", "new", "a.example", "--days", "0"], ["identity", "new", "a.example", "--days", "x"],
    ["tlsa", "x.crt", "--usage", "4"], ["server-identity", "a.example", "--port", "70000"],
    ["identity", "new", "a.example", "b.example"], ["tlsa", "x.crt", "--ed25519"],
])
def test_usage_errors(tmp_path, args):
    r = dancectl(*args, ok=False, cwd=tmp_path)
    assert r.returncode == 2, (args, r.stderr)
    assert r.stderr
    assert os.listdir(tmp_path) == []


def test_help():
    r = dancectl("help")
    for cmd in ("identity new", "ca new", "ca issue", "tlsa", "server-identity"):
        assert f"dancectl {cmd}" in r.stdout
    for cmd in (["identity", "new"], ["ca", "new"], ["ca", "issue"], ["tlsa"], ["server-identity"]):
        r = dancectl(*cmd, "--help")
        assert r.stdout.startswith("usage: dancectl " + " ".join(cmd))
        assert dancectl("help", *cmd).stdout == r.stdout


# ---------------------------------------------------------------- CA


@pytest.mark.parametrize("ca_alg", ALGS)
@pytest.mark.parametrize("leaf_alg", ALGS)
def test_ca_new_and_issue(tmp_path, ca_alg, leaf_alg):
    ca_dir, out = tmp_path / "ca", tmp_path / "out"
    r = dancectl("ca", "new", "Corp.Example", "--out", ca_dir, *alg_args(ca_alg))
    ca_key, ca_crt = ca_dir / "ca.key", ca_dir / "ca.crt"
    assert mode(ca_key) == 0o600
    text = cert_text(ca_crt)
    assert re.search(r"Basic Constraints: critical\s+CA:TRUE", text), text
    assert "Certificate Sign" in text
    assert "CN = corp.example device CA" in text

    (owner, params, data), = tlsa_records(r.stdout)
    assert owner == "*._device.corp.example."
    assert params == ["2", "0", "1"]
    assert data.lower() == hashlib.sha256(cert_der(ca_crt)).hexdigest()

    ca = load(ca_crt)
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign

    leaf_name = "dev1._device.corp.example"
    r = dancectl("ca", "issue", leaf_name, "--ca-dir", ca_dir, "--out", out, *alg_args(leaf_alg))
    leaf_key, leaf_crt = out / f"{leaf_name}.key", out / f"{leaf_name}.crt"
    assert mode(leaf_key) == 0o600
    assert openssl("verify", "-CAfile", ca_crt, leaf_crt).decode().strip().endswith(": OK")
    assert "covered by the wildcard" in r.stdout
    assert tlsa_records(r.stdout) == []  # nothing new to publish: the wildcard covers it

    # NAME.crt is the chain to present: leaf, then the CA (a `2 0 1` record
    # matches a certificate in the presented chain).
    chain = load_chain(leaf_crt)
    assert len(chain) == 2 and chain[1] == ca
    leaf = chain[0]
    assert leaf.issuer == ca.subject
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == [leaf_name]
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    akid = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    skid = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert akid == skid
    python_ssl_loads(leaf_crt, leaf_key)

    # The pin-one-device alternative printed as a comment is the 3 1 1 value.
    m = re.search(r"^; (\S+) 3600 IN TLSA 3 1 1 ([0-9a-f]+)$", r.stdout, re.M)
    assert m and m.group(1) == leaf_name + "."
    assert m.group(2) == hashlib.sha256(spki_der(leaf_crt)).hexdigest()


def test_ca_issue_outside_device_tree(tmp_path):
    dancectl("ca", "new", "corp.example", "--out", tmp_path)
    r = dancectl("ca", "issue", "printer.other.example", "--ca-dir", tmp_path, "--out", tmp_path)
    (owner, params, data), = tlsa_records(r.stdout)
    assert (owner, params) == ("printer.other.example.", ["2", "0", "1"])
    assert data == hashlib.sha256(cert_der(tmp_path / "ca.crt")).hexdigest()
    openssl("verify", "-CAfile", tmp_path / "ca.crt", tmp_path / "printer.other.example.crt")


def test_ca_issue_capped_at_ca_validity(tmp_path):
    dancectl("ca", "new", "corp.example", "--out", tmp_path, "--days", "30")
    r = dancectl("ca", "issue", "d._device.corp.example", "--ca-dir", tmp_path, "--out", tmp_path)
    assert "shortened" in r.stderr
    ca, leaf = load(tmp_path / "ca.crt"), load(tmp_path / "d._device.corp.example.crt")
    assert leaf.not_valid_after <= ca.not_valid_after


def test_ca_issue_wrong_key_refused(tmp_path):
    a, b, out = tmp_path / "a", tmp_path / "b", tmp_path / "out"
    dancectl("ca", "new", "a.example", "--out", a)
    dancectl("ca", "new", "b.example", "--out", b)
    shutil.copy(b / "ca.key", a / "ca.key")
    r = dancectl("ca", "issue", "x._device.a.example", "--ca-dir", a, "--out", out, ok=False)
    assert r.returncode == 1 and "does not match" in r.stderr
    assert not out.exists()


def test_ca_issue_not_a_ca(tmp_path):
    dancectl("identity", "new", "leaf.example", "--out", tmp_path)
    os.rename(tmp_path / "leaf.example.crt", tmp_path / "ca.crt")
    os.rename(tmp_path / "leaf.example.key", tmp_path / "ca.key")
    r = dancectl("ca", "issue", "x.example", "--ca-dir", tmp_path, "--out", tmp_path / "o", ok=False)
    assert r.returncode == 1 and "not a CA" in r.stderr


def test_ca_issue_missing_ca(tmp_path):
    r = dancectl("ca", "issue", "x._device.a.example", "--ca-dir", tmp_path / "nope", "--out", tmp_path, ok=False)
    assert r.returncode == 1 and "ca.crt" in r.stderr


# ---------------------------------------------------------------- tlsa


@pytest.mark.parametrize("alg", ALGS)
def test_tlsa_command(tmp_path, alg):
    name = "host17.example"
    r = dancectl("identity", "new", name, "--out", tmp_path, *alg_args(alg))
    crt = tmp_path / f"{name}.crt"
    der, spki = cert_der(crt), spki_der(crt)

    assert tlsa_records(dancectl("tlsa", crt).stdout) == tlsa_records(r.stdout)
    cases = [
        (["--selector", "0", "--mtype", "1"], ["3", "0", "1"], hashlib.sha256(der).hexdigest()),
        (["--mtype", "2"], ["3", "1", "2"], hashlib.sha512(spki).hexdigest()),
        (["--mtype", "0"], ["3", "1", "0"], spki.hex()),
        (["--selector", "0", "--mtype", "0", "--usage", "1"], ["1", "0", "0"], der.hex()),
    ]
    for args, params, want in cases:
        (owner, got_params, data), = tlsa_records(dancectl("tlsa", crt, *args).stdout)
        assert (owner, got_params, data) == (name + ".", params, want)

    # --name overrides the owner (server and wildcard owners included); DER input works.
    der_file = tmp_path / "c.der"
    der_file.write_bytes(der)
    (owner, _, data), = tlsa_records(dancectl("tlsa", der_file, "--name", "_853._TCP.Host17.example").stdout)
    assert owner == "_853._tcp.host17.example." and data == hashlib.sha256(spki).hexdigest()
    (owner, _, _), = tlsa_records(dancectl("tlsa", crt, "--name", "*._device.example", "--usage", "2").stdout)
    assert owner == "*._device.example."


def test_tlsa_no_san_needs_name(tmp_path):
    dancectl("ca", "new", "corp.example", "--out", tmp_path)
    r = dancectl("tlsa", tmp_path / "ca.crt", ok=False)
    assert r.returncode == 1 and "--name" in r.stderr
    (owner, params, data), = tlsa_records(
        dancectl("tlsa", tmp_path / "ca.crt", "--name", "*._device.corp.example", "--usage", "2", "--selector", "0").stdout)
    assert params == ["2", "0", "1"] and data == hashlib.sha256(cert_der(tmp_path / "ca.crt")).hexdigest()


def test_tlsa_bad_input(tmp_path):
    junk = tmp_path / "junk.crt"
    junk.write_text("not a certificate\n")
    assert dancectl("tlsa", junk, ok=False).returncode == 1
    assert dancectl("tlsa", tmp_path / "missing.crt", ok=False).returncode == 1


# ---------------------------------------------------------------- server-identity


@pytest.mark.parametrize("alg", ALGS)
def test_server_identity(tmp_path, alg):
    name = "resolver.example"
    r = dancectl("server-identity", "Resolver.Example", "--out", tmp_path, "--address", "192.0.2.1",
                 "--address", "2001:DB8::0:1", *alg_args(alg))
    key, crt = tmp_path / f"{name}.key", tmp_path / f"{name}.crt"
    assert mode(key) == 0o600
    text = cert_text(crt)
    assert f"DNS:{name}" in text
    assert f"SRVName::_domain-s.{name}" in text  # OpenSSL decodes the RFC 4985 otherName

    c = load(crt)
    san = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    # The SRV-ID is an otherName, never a second dNSName (which would make the
    # certificate ambiguous as a DANE client identity).
    assert san.get_values_for_type(x509.DNSName) == [name]
    other, = san.get_values_for_type(x509.OtherName)
    assert other.type_id == SRVNAME_OID
    ia5 = b"_domain-s." + name.encode()
    assert other.value == bytes([0x16, len(ia5)]) + ia5
    assert ExtendedKeyUsageOID.SERVER_AUTH in c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value

    recs = records(r.stdout)
    (owner, params, data), = tlsa_records(r.stdout)
    assert (owner, params) == (f"_853._tcp.{name}.", ["3", "1", "1"])
    assert data == hashlib.sha256(spki_der(crt)).hexdigest()
    assert [f"_domain-s._tcp.{name}.", "3600", "IN", "SRV", "0", "1", "853", f"{name}."] in recs
    assert f'{name}. 3600 IN NAPTR 10 10 "S" "DPRIVE:dns.tls" "" _domain-s._tcp.{name}.' in r.stdout.splitlines()
    assert [f"{name}.", "3600", "IN", "A", "192.0.2.1"] in recs
    assert [f"{name}.", "3600", "IN", "AAAA", "2001:db8::1"] in recs
    python_ssl_loads(crt, key)


def test_server_identity_port_and_bad_address(tmp_path):
    r = dancectl("server-identity", "dot.example", "--out", tmp_path, "--port", "8853", "--ttl", "300")
    recs = records(r.stdout)
    assert recs[0][:4] == ["_8853._tcp.dot.example.", "300", "IN", "TLSA"]
    assert ["_domain-s._tcp.dot.example.", "300", "IN", "SRV", "0", "1", "8853", "dot.example."] in recs
    assert not [x for x in recs if x[3] in ("A", "AAAA")]
    r = dancectl("server-identity", "dot2.example", "--out", tmp_path, "--address", "300.1.1.1", ok=False)
    assert r.returncode == 2 and not (tmp_path / "dot2.example.key").exists()


def test_zone_fragment_parses(tmp_path):
    """stdout is meant to be appended to a zone file: ldns must read it."""
    ldns = shutil.which("ldns-read-zone")
    if not ldns:
        pytest.skip("ldns-read-zone missing")
    zone = tmp_path / "zone"
    out = ["$ORIGIN example.\n", "@ 3600 IN SOA ns.example. h.example. 1 3600 600 86400 3600\n",
           "@ 3600 IN NS ns.example.\n"]
    out.append(dancectl("server-identity", "resolver.example", "--out", tmp_path, "--address", "192.0.2.1").stdout)
    out.append(dancectl("ca", "new", "example", "--out", tmp_path / "ca").stdout)
    out.append(dancectl("identity", "new", "dev._device.example", "--out", tmp_path).stdout)
    zone.write_text("".join(out))
    r = subprocess.run([ldns, str(zone)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    types = {line.split()[3] for line in r.stdout.splitlines() if line and not line.startswith(";")}
    assert {"TLSA", "SRV", "NAPTR", "A"} <= types


# ---------------------------------------------------------------- other consumers


@pytest.mark.parametrize("alg", ALGS)
def test_gnutls_loads_keys(tmp_path, alg):
    """kdig (GnuTLS) must accept the key files as a client certificate."""
    kdig = shutil.which("kdig")
    if not kdig:
        pytest.skip("kdig missing")
    dancectl("identity", "new", "g.example", "--out", tmp_path, *alg_args(alg))
    dancectl("ca", "new", "corp.example", "--out", tmp_path / "ca", *alg_args(alg))
    dancectl("ca", "issue", "d._device.corp.example", "--ca-dir", tmp_path / "ca", "--out", tmp_path, *alg_args(alg))
    for name in ("g.example", "d._device.corp.example"):
        # Port 9 on loopback is closed: kdig loads the credentials, then fails to connect.
        r = subprocess.run([kdig, "@127.0.0.1", "-p", "9", "+tls", f"+tls-certfile={tmp_path}/{name}.crt",
                            f"+tls-keyfile={tmp_path}/{name}.key", "+timeout=1", "+retry=0", "example."],
                           capture_output=True, text=True, timeout=30)
        assert "failed to add client certfile" not in r.stdout + r.stderr, name


def test_tls_handshake_with_issued_client_cert(tmp_path):
    """An issued device certificate works as a TLS client certificate against
    a server that trusts the CA, and the server certificate works too."""
    import socket
    import threading

    dancectl("ca", "new", "corp.example", "--out", tmp_path, "--ed25519")
    dancectl("ca", "issue", "dev._device.corp.example", "--ca-dir", tmp_path, "--out", tmp_path)
    dancectl("server-identity", "resolver.example", "--out", tmp_path)

    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(tmp_path / "resolver.example.crt", tmp_path / "resolver.example.key")
    sctx.verify_mode = ssl.CERT_REQUIRED
    sctx.load_verify_locations(tmp_path / "ca.crt")
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(tmp_path / "resolver.example.crt")
    cctx.load_cert_chain(tmp_path / "dev._device.corp.example.crt", tmp_path / "dev._device.corp.example.key")

    a, b = socket.socketpair()
    seen = {}

    def serve():
        with sctx.wrap_socket(a, server_side=True) as s:
            seen["peer"] = s.getpeercert()
            s.sendall(b"ok")

    t = threading.Thread(target=serve)
    t.start()
    with cctx.wrap_socket(b, server_hostname="resolver.example") as c:
        assert c.recv(2) == b"ok"
    t.join(10)
    assert ("DNS", "dev._device.corp.example") in seen["peer"]["subjectAltName"]
