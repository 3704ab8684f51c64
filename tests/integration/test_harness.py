"""Self-checks of the integration harness that do not need danced: the PKI, the zones NSD serves
(signed data validates, the tampered RRset does not), NSD control, the config writer, and the DoT
client helper against a tiny in-process DoT server.  If these fail, danced tests prove nothing."""

import socket
import ssl
import struct
import subprocess
import threading
import time

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

import danced_harness as h


def _tcp(nsd, name, rdtype):
    q = dns.message.make_query(name, rdtype, want_dnssec=True)
    return dns.query.tcp(q, h.LOOPBACK, port=nsd.port, timeout=5)


def _rrset(msg, rdtype, covers=dns.rdatatype.NONE):
    for rr in msg.answer:
        if rr.rdtype == rdtype and rr.covers == covers:
            return rr
    raise AssertionError(f"no {dns.rdatatype.to_text(rdtype)} in {msg}")


def _trusted_keys(nsd, zone):
    """DNSKEY RRset of zone, validated against the DS the harness hands to danced."""
    z = nsd.zones[zone]
    r = _tcp(nsd, zone, "DNSKEY")
    keys = _rrset(r, dns.rdatatype.DNSKEY)
    sig = _rrset(r, dns.rdatatype.RRSIG, dns.rdatatype.DNSKEY)
    owner, _cls, _type, rdata = z.ds.split(None, 3)
    assert owner == zone and _type == "DS"
    ds = dns.rrset.from_text(owner, 3600, "IN", "DS", rdata)[0]
    assert any(dns.dnssec.make_ds(zone, k, "SHA256") == ds for k in keys), "DS matches no DNSKEY"
    name = dns.name.from_text(zone)
    dns.dnssec.validate(keys, sig, {name: keys})
    return {name: keys}


def test_pki(pki):
    p = h.run(["openssl", "verify", "-CAfile", str(pki.ca_cert), "-verify_hostname", h.SERVER_NAME,
               "-verify_ip", "127.0.0.1", str(pki.server_cert)], check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    cert = x509.load_pem_x509_certificate(pki.server_cert.read_bytes())
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert hashes.Hash(hashes.SHA256()) and __import__("hashlib").sha256(spki).hexdigest() == pki.server_spki_sha256
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [h.SERVER_NAME]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_nsd_serves_signed_corp(nsd):
    keys = _trusted_keys(nsd, "corp.example.")
    for rdtype, expect in (("A", h.CORP["A"]), ("AAAA", h.CORP["AAAA"]), ("TXT", h.CORP["TXT"]), ("MX", h.CORP["MX"])):
        r = _tcp(nsd, "corp.example.", rdtype)
        rt = dns.rdatatype.from_text(rdtype)
        rrset = _rrset(r, rt)
        assert sorted(x.to_text() for x in rrset) == expect
        dns.dnssec.validate(rrset, _rrset(r, dns.rdatatype.RRSIG, rt), keys)
    r = _tcp(nsd, "_853._tcp.dot.corp.example.", "TLSA")
    assert _rrset(r, dns.rdatatype.TLSA)
    r = _tcp(nsd, "nope.corp.example.", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert any(rr.rdtype == dns.rdatatype.NSEC for rr in r.authority)
    p = h.run(["dig", "+short", f"@{h.LOOPBACK}", "-p", str(nsd.port), "alias.corp.example", "A"])
    assert p.stdout.split() == ["www.corp.example.", "192.0.2.10"]


def test_nsd_bogus_zone_is_bogus(nsd):
    keys = _trusted_keys(nsd, "bogus.example.")
    r = _tcp(nsd, "bogus.example.", "A")
    rrset = _rrset(r, dns.rdatatype.A)
    assert [x.to_text() for x in rrset] == [h.BOGUS_TAMPERED_A]
    with pytest.raises(dns.dnssec.ValidationFailure):
        dns.dnssec.validate(rrset, _rrset(r, dns.rdatatype.RRSIG, dns.rdatatype.A), keys)
    r = _tcp(nsd, "www.bogus.example.", "A")  # the rest of the zone is fine
    dns.dnssec.validate(_rrset(r, dns.rdatatype.A), _rrset(r, dns.rdatatype.RRSIG, dns.rdatatype.A), keys)


def test_nsd_plain_zone_unsigned(nsd):
    r = _tcp(nsd, "plain.example.", "A")
    assert [x.to_text() for x in _rrset(r, dns.rdatatype.A)] == [h.PLAIN_A]
    assert not any(rr.rdtype == dns.rdatatype.RRSIG for rr in r.answer)
    assert nsd.zones["plain.example."].ds is None


def test_nsd_control_stats_and_reload(nsd):
    before = nsd.num_queries()
    for _ in range(3):
        _tcp(nsd, "corp.example.", "A")
    assert nsd.num_queries() >= before + 3
    nsd.reload()
    _tcp(nsd, "corp.example.", "SOA")


def test_config_writer_roundtrip(workdir, pki, nsd, zones):
    cfg = h.danced_config(8853, pki, nsd, zones, workdir, limits={"max-connections": 7})
    path = h.write_config(workdir / "roundtrip.yaml", cfg)
    assert yaml.safe_load(path.read_text()) == cfg
    assert cfg["limits"]["max-connections"] == 7 and cfg["limits"]["idle-timeout-ms"] == 2000
    assert {s["zone"] for s in cfg["resolver"]["stub-zones"]} == {"corp.example", "bogus.example", "plain.example"}


# ------------------------------------------------------------------ DoT client vs a toy server

class ToyDot(threading.Thread):
    """Answers every query with A 192.0.2.123, each burst in reverse order; closes after idle_s."""

    def __init__(self, pki, idle_s=0.6):
        super().__init__(daemon=True)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(pki.server_chain), str(pki.server_key))
        self.ctx.set_alpn_protocols(["dot"])
        self.ls = socket.socket()
        self.ls.bind((h.LOOPBACK, 0))
        self.ls.listen(4)
        self.port = self.ls.getsockname()[1]
        self.idle_s = idle_s

    def run(self):
        while True:
            try:
                raw, _ = self.ls.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(raw,), daemon=True).start()

    def serve(self, raw):
        try:
            s = self.ctx.wrap_socket(raw, server_side=True)
            s.settimeout(self.idle_s)
            buf = b""
            while True:
                try:
                    data = s.recv(65536)
                except socket.timeout:
                    break
                if not data:
                    break
                buf += data
                out = []
                while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                    n = struct.unpack("!H", buf[:2])[0]
                    q = dns.message.from_wire(buf[2:2 + n])
                    buf = buf[2 + n:]
                    r = dns.message.make_response(q)
                    r.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN", "A", "192.0.2.123"))
                    w = r.to_wire()
                    out.append(struct.pack("!H", len(w)) + w)
                s.sendall(b"".join(reversed(out)))
            s.close()
        except (OSError, ssl.SSLError):
            pass

    def close(self):
        self.ls.close()


def test_dot_client_pipelining_and_close(pki):
    srv = ToyDot(pki)
    srv.start()
    try:
        with h.DotConnection(h.LOOPBACK, srv.port, ctx=h.client_context(pki)) as c:
            assert c.alpn == "dot"
            qs = [h.make_query(f"n{i}.corp.example.", "A", qid=1000 + i) for i in range(50)]
            c.send_many(qs)
            got = [c.wait_for(q.id) for q in qs]  # arrive reversed, matched by id
            assert [r.question[0].name.to_text() for r in got] == [q.question[0].name.to_text() for q in qs]
            t = c.wait_closed(3)
            assert 0.3 < t < 2.5
        r = h.dnspython_tls(h.LOOPBACK, srv.port, h.make_query("x.corp.example.", "A"), pki)
        assert h.answer_texts(r, "A") == ["192.0.2.123"]
        p = h.kdig(h.LOOPBACK, srv.port, "x.corp.example", "A", pki=pki)
        assert p.returncode == 0, p.stdout + p.stderr
        assert h.kdig_status(p.stdout) == "NOERROR"
        assert "qr" in h.kdig_flags(p.stdout)
    finally:
        srv.close()
