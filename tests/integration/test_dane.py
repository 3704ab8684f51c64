"""DANE client authentication end to end: danced <-> NSD (signed zones, stub + DS trust anchors).

One NSD and one danced for the whole module.  danced has three listeners:
  req   client-auth: require
  opt   client-auth: optional
  none  client-auth: none (control for the resumption test)
dane.allow = [corp.example, bogus.example, plain.example]; evil.example is served (signed, with a matching
TLSA record) but NOT on the allow-list.  dane.cache-max-ttl and dane.negative-ttl are 2 s.

Identities for the happy-path rows are provisioned with dancectl (identity new / ca new / ca issue / tlsa),
whose TLSA output is cross-checked against data computed here; special certificates (several SANs, mixed
case, other CA) come from openssl, backdated ones from python3-cryptography (openssl 3.0 cannot backdate).

Run: /usr/bin/python3 -m pytest tests/integration/test_dane.py
"""

from __future__ import annotations

import re
import socket
import time
from types import SimpleNamespace

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

import danced_harness as h
import dane_fixtures as f

CORP_A = ["192.0.2.1"]
ROT_TTL = 2           # TLSA TTL of the rotating identity
CACHE_MAX_TTL = 2     # dane.cache-max-ttl
NEGATIVE_TTL = 2      # dane.negative-ttl
ALLOW = ["corp.example", "bogus.example", "plain.example"]
WRONG_HEX = "00" * 32


# ------------------------------------------------------------------ environment

def _corp_body(e) -> str:
    ids = e.ids
    lines = [
        "@ IN A 192.0.2.1",
        "www IN A 192.0.2.10",
        # DANE-EE rows
        f"{ids['ee311'].name}. IN TLSA {ids['ee311'].tlsa_rdata}",
        f"{ids['ee301'].name}. IN TLSA {ids['ee301'].tlsa_rdata}",
        f"{ids['ee312'].name}. IN TLSA {ids['ee312'].tlsa_rdata}",
        f"{ids['ee310'].name}. IN TLSA {ids['ee310'].tlsa_rdata}",
        f"{ids['ed25519'].name}. IN TLSA {ids['ed25519'].tlsa_rdata}",
        f"{ids['p256'].name}. IN TLSA {ids['p256'].tlsa_rdata}",
        f"{ids['ee_expired'].name}. IN TLSA {ids['ee_expired'].tlsa_rdata}",
        f"{ids['probe'].name}. IN TLSA {ids['probe'].tlsa_rdata}",
        f"{ids['resume'].name}. IN TLSA {ids['resume'].tlsa_rdata}",
        f"{ids['kdig'].name}. IN TLSA {ids['kdig'].tlsa_rdata}",
        f"{ids['dig'].name}. IN TLSA {ids['dig'].tlsa_rdata}",
        f"{ids['dnspython'].name}. IN TLSA {ids['dnspython'].tlsa_rdata}",
        # the key of `other` is published for `wrongkey`: wrongkey's own key does not match
        f"{ids['wrongkey'].name}. IN TLSA 3 1 1 {f.tlsa_hex(ids['other'].cert, 1, 1)}",
        # both SANs of the twin certificate carry a matching record: only ambiguity can refuse it
        f"twin.hosts.corp.example. IN TLSA 3 1 1 {f.tlsa_hex(ids['twin'].cert, 1, 1)}",
        f"twin2.hosts.corp.example. IN TLSA 3 1 1 {f.tlsa_hex(ids['twin'].cert, 1, 1)}",
        # key rotation: short TTL, the current key
        f"rot.hosts.corp.example. {ROT_TTL} IN TLSA 3 1 1 {f.tlsa_hex(e.rot_current.cert, 1, 1)}",
        # DANE-TA: the device CA covers every *._device name without a record of its own
        f"*._device.corp.example. IN TLSA {e.ca_rdata}",
        # ... bob has one (a wrong one): it hides the wildcard for bob
        f"bob._device.corp.example. IN TLSA 3 1 1 {WRONG_HEX}",
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def env(tmp_path_factory, pki, danced_launcher):
    wd = tmp_path_factory.mktemp("dane")
    prov = f.Provisioner(wd / "prov")
    ids = {}

    def ee(key, name, usage_sel_mt=(3, 1, 1), ed25519=False, sub=None):
        ident = prov.identity(name, ed25519=ed25519, sub=sub)
        ident.tlsa_rdata = prov.tlsa(ident, *usage_sel_mt)
        ids[key] = ident
        return ident

    ee("ee311", "ee311.hosts.corp.example")
    ee("ee301", "ee301.hosts.corp.example", (3, 0, 1))
    ee("ee312", "ee312.hosts.corp.example", (3, 1, 2))
    ee("ee310", "ee310.hosts.corp.example", (3, 1, 0))
    ee("ed25519", "ed25519.hosts.corp.example", ed25519=True)
    ee("p256", "p256.hosts.corp.example")
    ee("probe", "probe.hosts.corp.example")
    ee("resume", "resume.hosts.corp.example")
    ee("kdig", "kdig.hosts.corp.example")
    ee("dig", "dig.hosts.corp.example")
    ee("dnspython", "dnspython.hosts.corp.example")
    ee("wrongkey", "wrongkey.hosts.corp.example")
    ee("other", "other.hosts.corp.example")
    ee("rot1", "rot.hosts.corp.example", sub="rot1")
    ee("rot2", "rot.hosts.corp.example", sub="rot2")
    ee("bogus", "dev.bogus.example")
    ee("plain", "dev.plain.example")
    ee("evil", "x.evil.example")
    special = wd / "special"
    crt, key = f.expired_leaf(special, "ee_expired", "expired-ee.hosts.corp.example")
    ids["ee_expired"] = f.Ident("expired-ee.hosts.corp.example", crt, key)
    ids["ee_expired"].tlsa_rdata = f"3 1 1 {f.tlsa_hex(crt, 1, 1)}"
    crt, key = f.selfsigned_openssl(special, "twin", ["twin.hosts.corp.example", "twin2.hosts.corp.example"])
    ids["twin"] = f.Ident("twin.hosts.corp.example", crt, key)

    # device CA (DANE-TA) and devices
    ca_crt, ca_key, ca_rdata = prov.ca("corp.example")
    ids["alice"] = prov.issue("alice._device.corp.example", ca_crt, ca_key)
    ids["bob"] = prov.issue("bob._device.corp.example", ca_crt, ca_key)
    ids["intruder"] = prov.issue("intruder.hosts.corp.example", ca_crt, ca_key)  # outside *._device
    crt, key = h.make_leaf(special, "carol", ca_crt, ca_key, "Carol", "DNS:Carol._device.Corp.EXAMPLE",
                           eku="clientAuth")
    ids["carol"] = f.Ident("Carol._device.Corp.EXAMPLE", f.with_chain(crt, ca_crt), key)
    crt, key = f.expired_leaf(special, "old", "old._device.corp.example", ca_crt, ca_key)
    ids["old"] = f.Ident("old._device.corp.example", f.with_chain(crt, ca_crt), key)
    # a CA-issued device that presents its leaf only: the 2 0 1 record (hash of the CA certificate) has
    # nothing to match (RFC 7671 §5.2: the trust anchor must be in the chain the peer sends)
    ids["leafonly"] = prov.issue("leafonly._device.corp.example", ca_crt, ca_key)
    n_certs = ids["leafonly"].cert.read_text().count("BEGIN CERTIFICATE")
    assert n_certs in (1, 2), n_certs
    if n_certs == 2:
        first = ids["leafonly"].cert.read_text().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
        (special / "leafonly.crt").write_text(first)
        ids["leafonly"] = f.Ident("leafonly._device.corp.example", special / "leafonly.crt", ids["leafonly"].key)
    rogue_crt, rogue_key = f.ca_openssl(special / "rogue-ca", "corp.example device CA")  # same name, other key
    crt, key = h.make_leaf(special, "dave", rogue_crt, rogue_key, "dave", "DNS:dave._device.corp.example",
                           eku="clientAuth")
    ids["dave"] = f.Ident("dave._device.corp.example", f.with_chain(crt, rogue_crt), key)

    e = SimpleNamespace(wd=wd, prov=prov, ids=ids, ca_crt=ca_crt, ca_rdata=ca_rdata, rot_current=ids["rot1"],
                        pki=pki)

    # zones
    zdir = wd / "zones"
    e.corp = f.ZoneSigner(zdir, "corp.example.")
    e.corp.write_and_sign(_corp_body(e))
    bogus = f.ZoneSigner(zdir, "bogus.example.")
    bogus.write_and_sign(f"@ IN A 192.0.2.66\ndev IN TLSA {ids['bogus'].tlsa_rdata}\n")
    f.tamper_rrsig(bogus.signed, "dev.bogus.example.", "TLSA")
    evil = f.ZoneSigner(zdir, "evil.example.")
    evil.write_and_sign(f"@ IN A 192.0.2.13\nx IN TLSA {ids['evil'].tlsa_rdata}\n")
    plain_file = zdir / "plain.example.zone"
    plain_file.write_text(f.zone_text("plain.example.", f"@ IN A 192.0.2.77\ndev IN TLSA {ids['plain'].tlsa_rdata}\n"))
    zones = {
        "corp.example.": e.corp.zone(),
        "bogus.example.": bogus.zone(),
        "evil.example.": evil.zone(),
        "plain.example.": h.Zone("plain.example.", plain_file, None, False),
    }
    e.zones = zones
    e.nsd = h.Nsd(wd / "nsd", zones).start()

    # danced: require / optional / none listeners
    ports = {}
    for name in ("req", "opt", "none"):
        while True:
            p = h.free_port()
            if p not in ports.values():
                break
        ports[name] = p
    listeners = [{
        "name": name, "address": h.LOOPBACK, "port": ports[name],
        "certificate": str(pki.server_cert), "key": str(pki.server_key),
        "client-auth": {"req": "require", "opt": "optional", "none": "none"}[name],
    } for name in ("req", "opt", "none")]
    cfg = h.danced_config(ports["req"], pki, e.nsd, zones, wd, listeners=listeners,
                          server={"workers": 2, "log-level": "info", "counters-file": str(wd / "counters.txt")},
                          dane={"allow": ALLOW, "cache-max-ttl": CACHE_MAX_TTL, "negative-ttl": NEGATIVE_TTL,
                                "lookup-timeout-ms": 3000})
    e.ports = ports
    try:
        e.danced = danced_launcher.start("danced-dane", config=cfg)
        yield e
    finally:
        if getattr(e, "danced", None) is not None:
            probs = danced_launcher.stop(e.danced)
        else:
            probs = []
        e.nsd.stop()
        if probs:
            pytest.fail("danced problems at shutdown:\n" + "\n".join(probs))


# ------------------------------------------------------------------ assertions

REASON_COUNTERS = ("auth_reason_no_cert", "auth_reason_not_allowed", "auth_reason_ambiguous", "auth_reason_bad_name",
                   "auth_reason_bogus", "auth_reason_insecure", "auth_reason_no_tlsa", "auth_reason_no_match",
                   "auth_reason_expired", "auth_reason_bad_cert", "auth_reason_timeout", "auth_reason_lookup_error")
WATCHED = ("auth_ok", "auth_refused", "auth_anonymous", "tlsa_lookups") + REASON_COUNTERS


def counters(e):
    c = e.danced.counters()
    return {k: int(c.get(k, 0)) for k in WATCHED}


def delta(before, after):
    return {k: after[k] - before[k] for k in WATCHED if after[k] != before[k]}


def connect(e, listener, ident=None, session=None) -> f.DotSession:
    return f.DotSession(h.LOOPBACK, e.ports[listener], f.client_ctx(e.pki, ident), session=session)


def assert_authenticated(e, ident, listener="req", qname="corp.example"):
    """A normal answer, 'authenticated as <identity>' logged for this peer, auth_ok + 1."""
    before = counters(e)
    with connect(e, listener, ident) as c:
        r = c.query(h.make_query(qname, "A"))
        peer = c.peer_text
    assert r.rcode() == dns.rcode.NOERROR, f"{ident.identity}: {dns.rcode.to_text(r.rcode())} {f.ede(r)}"
    assert h.answer_texts(r, "A") == CORP_A
    needle = f"{peer}: authenticated as {ident.identity}\n"
    log = f.wait_for_log(e.danced, needle)
    assert needle in log, f"no '{needle.strip()}' in danced stderr:\n{e.danced.stderr_tail(2000)}"
    d = delta(before, counters(e))
    assert d.get("auth_ok") == 1 and "auth_refused" not in d and "auth_anonymous" not in d, d
    return d


def assert_refused(e, ident, listener, text, reason, check_close=False):
    """Every query REFUSED with EDE 18 'DANE: ...'; auth_refused + 1 and auth_reason_<reason> + 1.
    check_close: also require danced to close the connection within 3 s (see test_refused_connection_closes).
    text: exact string, or a compiled regex."""
    before = counters(e)
    with connect(e, listener, ident) as c:
        qs = [h.make_query("corp.example", "A"), h.make_query("www.corp.example", "A")]
        c.send_many(qs)
        rs = [c.wait_for(q.id) for q in qs]
        closed_after = None
        if check_close:
            try:
                closed_after = c.wait_closed(4.0)
            except socket.timeout:
                closed_after = None
        peer = c.peer_text
    for r in rs:
        assert r.rcode() == dns.rcode.REFUSED, f"{listener}/{ident and ident.identity}: {dns.rcode.to_text(r.rcode())}"
        assert not r.answer
        got = f.ede(r)
        assert got is not None, "no EDE option in the REFUSED answer"
        assert got[0] == 18, got
        if isinstance(text, str):
            assert got[1] == text, got
        else:
            assert text.fullmatch(got[1]), got
    d = delta(before, counters(e))
    assert d.get("auth_refused") == 1 and "auth_ok" not in d and "auth_anonymous" not in d, d
    assert d.get(f"auth_reason_{reason}") == 1, d
    needle = f"{peer}: refused: {rs[0] and f.ede(rs[0])[1]}"
    assert needle in f.wait_for_log(e.danced, needle), f"no '{needle}' in danced stderr"
    if check_close:
        assert closed_after is not None, "danced kept the refused connection open for more than 4 s"
        assert closed_after < 3.0, closed_after
    return d, rs


def assert_anonymous(e, ident, reason):
    """Served on the optional listener as anonymous: normal answer, auth_anonymous + 1."""
    before = counters(e)
    with connect(e, "opt", ident) as c:
        r = c.query(h.make_query("corp.example", "A"))
        peer = c.peer_text
    assert r.rcode() == dns.rcode.NOERROR, f"{dns.rcode.to_text(r.rcode())} {f.ede(r)}"
    assert h.answer_texts(r, "A") == CORP_A
    d = delta(before, counters(e))
    assert d.get("auth_anonymous") == 1 and "auth_ok" not in d and "auth_refused" not in d, d
    assert d.get(f"auth_reason_{reason}") == 1, d
    needle = f"{peer}: anonymous ("
    assert needle in f.wait_for_log(e.danced, needle), f"no '{needle}' in danced stderr"
    return d


# ------------------------------------------------------------------ provisioning sanity

def _compact(rdata: str) -> str:
    """'3 1 0 ab cd' (dnspython splits long hex) -> '3 1 0 abcd'."""
    u, s, m, *rest = rdata.split()
    return f"{u} {s} {m} {''.join(rest).lower()}"


def test_provisioning_and_zone_data(env):
    """The zone data NSD serves is what the rows below rely on (validated against our DS)."""
    import dns.dnssec
    import dns.name
    e = env
    assert e.prov.tool == "dancectl", "dancectl is not usable: provisioning fell back to openssl"

    def tcp(name, rdtype):
        return dns.query.tcp(dns.message.make_query(name, rdtype, want_dnssec=True), h.LOOPBACK, port=e.nsd.port,
                             timeout=5)

    keys = [rr for rr in tcp("corp.example.", "DNSKEY").answer if rr.rdtype == dns.rdatatype.DNSKEY][0]
    kmap = {dns.name.from_text("corp.example."): keys}
    for name, expect in (("alice._device.corp.example.", e.ca_rdata),               # wildcard expansion
                         ("bob._device.corp.example.", f"3 1 1 {WRONG_HEX}"),
                         ("ee310.hosts.corp.example.", e.ids["ee310"].tlsa_rdata)):
        r = tcp(name, "TLSA")
        rr = [x for x in r.answer if x.rdtype == dns.rdatatype.TLSA]
        sig = [x for x in r.answer if x.rdtype == dns.rdatatype.RRSIG]
        assert rr and [_compact(x.to_text()) for x in rr[0]] == [_compact(expect)], r
        dns.dnssec.validate(rr[0], sig[0], kmap)
    assert f.san_dns_names(e.ids["twin"].cert) == ["twin.hosts.corp.example", "twin2.hosts.corp.example"]
    assert f.san_dns_names(e.ids["carol"].cert) == ["Carol._device.Corp.EXAMPLE"]


# ------------------------------------------------------------------ DANE-EE

@pytest.mark.parametrize("key,rdata_prefix", [("ee311", "3 1 1 "), ("ee301", "3 0 1 "), ("ee312", "3 1 2 "),
                                              ("ee310", "3 1 0 ")])
def test_dane_ee_accepted(env, key, rdata_prefix):
    ident = env.ids[key]
    assert ident.tlsa_rdata.startswith(rdata_prefix)
    d = assert_authenticated(env, ident, "req")
    assert d.get("tlsa_lookups") == 1, d   # first use of this identity: one TLSA lookup
    # second connection: verdict cache, still authenticated, no new lookup
    d = assert_authenticated(env, ident, "req")
    assert "tlsa_lookups" not in d, d


def test_dane_ee_ignores_dates(env):
    """RFC 7671 §5.1: DANE-EE ignores validity dates (this self-signed certificate expired yesterday)."""
    assert f.load_cert(env.ids["ee_expired"].cert).not_valid_after < __import__("datetime").datetime.utcnow()
    assert_authenticated(env, env.ids["ee_expired"], "req")


@pytest.mark.parametrize("key,keytype", [("ed25519", "Ed25519PublicKey"), ("p256", "EllipticCurvePublicKey")])
def test_key_types(env, key, keytype):
    ident = env.ids[key]
    assert keytype in type(f.load_cert(ident.cert).public_key()).__name__
    assert_authenticated(env, ident, "req")
    assert_authenticated(env, ident, "opt")


def test_wrong_key_refused(env):
    ident = env.ids["wrongkey"]
    assert_refused(env, ident, "req", f"DANE: no match for {ident.identity}", "no_match")
    # a failing claim is refused on optional too
    assert_refused(env, ident, "opt", f"DANE: no match for {ident.identity}", "no_match")


# ------------------------------------------------------------------ DANE-TA

def test_dane_ta_wildcard_accepts_ca_issued_device(env):
    assert_authenticated(env, env.ids["alice"], "req")
    assert_authenticated(env, env.ids["alice"], "opt")


def test_identity_is_lowercased_san(env):
    """SAN 'Carol._device.Corp.EXAMPLE' → identity carol._device.corp.example (under the wildcard)."""
    assert env.ids["carol"].identity == "carol._device.corp.example"
    assert_authenticated(env, env.ids["carol"], "req")


def test_explicit_tlsa_overrides_wildcard(env):
    bob = env.ids["bob"]
    assert_refused(env, bob, "req", f"DANE: no match for {bob.identity}", "no_match")
    # the others under the wildcard still pass
    assert_authenticated(env, env.ids["alice"], "req")


def test_dane_ta_expired_leaf_refused(env):
    old = env.ids["old"]
    text = f"DANE: expired certificate for {old.identity}"
    assert_refused(env, old, "req", text, "expired")
    assert_refused(env, old, "opt", text, "expired")


def test_dane_ta_leaf_from_other_ca_refused(env):
    """Same issuer name as the device CA, different key: the 2 0 1 record does not match."""
    dave = env.ids["dave"]
    assert_refused(env, dave, "req", f"DANE: no match for {dave.identity}", "no_match")


def test_dane_ta_leaf_without_ca_in_chain_refused(env):
    """A device that sends only its leaf: the 2 0 1 record names the CA certificate, which is not presented."""
    lo = env.ids["leafonly"]
    assert lo.cert.read_text().count("BEGIN CERTIFICATE") == 1
    assert_refused(env, lo, "req", f"DANE: no match for {lo.identity}", "no_match")


def test_ca_issued_leaf_with_san_outside_tlsa_owner(env):
    """The device CA signed intruder.hosts.corp.example, but the CA's TLSA owner is *._device.corp.example:
    the identity (its SAN) has no TLSA record of its own → not authenticated."""
    ix = env.ids["intruder"]
    assert_refused(env, ix, "req", f"DANE: no TLSA for {ix.identity}", "no_tlsa")
    assert_anonymous(env, ix, "no_tlsa")


def test_two_san_dnsnames_ambiguous(env):
    text = re.compile(r"DANE: ambiguous identity: several SAN dNSNames.*")
    d, _ = assert_refused(env, env.ids["twin"], "req", text, "ambiguous")
    assert "tlsa_lookups" not in d, d
    assert_refused(env, env.ids["twin"], "opt", text, "ambiguous")


# ------------------------------------------------------------------ DNSSEC states

def test_bogus_zone_refused(env):
    ident = env.ids["bogus"]
    text = re.compile(r"DANE: TLSA bogus(: .+)? for " + re.escape(ident.identity))
    assert_refused(env, ident, "req", text, "bogus")
    assert_refused(env, ident, "opt", text, "bogus")


def test_insecure_zone_not_authenticated(env):
    ident = env.ids["plain"]
    assert_refused(env, ident, "req", f"DANE: insecure: TLSA answer not DNSSEC-signed for {ident.identity}",
                   "insecure")
    assert_anonymous(env, ident, "insecure")


# ------------------------------------------------------------------ allow-list before lookup

def test_not_allowed_refused_without_lookup(env):
    e = env
    # control: the two counters DO move for an allowed identity seen for the first time
    n0 = e.nsd.num_queries()
    d = assert_authenticated(e, e.ids["probe"], "req")
    n1 = e.nsd.num_queries()
    assert n1 > n0, "NSD query counter did not move for an allowed identity: the method proves nothing"
    assert d.get("tlsa_lookups") == 1, d
    # x.evil.example has a valid, signed, matching TLSA record, but evil.example is not on the allow-list
    evil = e.ids["evil"]
    d1, _ = assert_refused(e, evil, "req", f"DANE: not allowed for {evil.identity}", "not_allowed")
    d2 = assert_anonymous(e, evil, "not_allowed")
    n2 = e.nsd.num_queries()
    assert n2 == n1, f"NSD saw {n2 - n1} queries while only a not-allowed identity connected"
    assert "tlsa_lookups" not in d1 and "tlsa_lookups" not in d2, (d1, d2)


# ------------------------------------------------------------------ refused connections close

def test_refused_connection_closes_without_query(env):
    """Refused client that sends nothing: danced closes about 1 s after the verdict."""
    with connect(env, "req", env.ids["wrongkey"]) as c:
        t = c.wait_closed(5.0)
    assert 0.5 <= t <= 3.0, t


def test_refused_connection_closes_after_refused_queries(env):
    """Refused client that sends queries: every query gets REFUSED + EDE 18, then danced closes the
    connection about 1 s after the verdict (it must not stay open for as long as the client keeps it)."""
    ident = env.ids["wrongkey"]
    assert_refused(env, ident, "req", f"DANE: no match for {ident.identity}", "no_match", check_close=True)


# ------------------------------------------------------------------ no certificate

def test_no_certificate(env):
    assert_anonymous(env, None, "no_cert")
    assert_refused(env, None, "req", "DANE: no client certificate", "no_cert")


# ------------------------------------------------------------------ verdict cache for failures

def test_negative_verdict_cached_for_negative_ttl(env):
    """other.hosts.corp.example has no TLSA: refused on require; the failure is cached for
    dane.negative-ttl (no new TLSA lookup), then looked up again."""
    o = env.ids["other"]
    text = f"DANE: no TLSA for {o.identity}"
    d1, _ = assert_refused(env, o, "req", text, "no_tlsa")
    t1 = time.monotonic()
    d2, _ = assert_refused(env, o, "req", text, "no_tlsa")
    assert time.monotonic() - t1 < NEGATIVE_TTL, "too slow to test the negative cache"
    assert d1.get("tlsa_lookups") == 1 and "tlsa_lookups" not in d2, (d1, d2)
    time.sleep(NEGATIVE_TTL + 0.5 - (time.monotonic() - t1))
    d3, _ = assert_refused(env, o, "req", text, "no_tlsa")
    assert d3.get("tlsa_lookups") == 1, d3


# ------------------------------------------------------------------ key rotation

def test_key_rotation(env):
    e = env
    rot1, rot2 = e.ids["rot1"], e.ids["rot2"]
    assert rot1.identity == rot2.identity == "rot.hosts.corp.example"
    r = dns.query.tcp(dns.message.make_query("rot.hosts.corp.example.", "TLSA"), h.LOOPBACK, port=e.nsd.port, timeout=5)
    assert r.answer[0].ttl == ROT_TTL
    assert_authenticated(e, rot1, "req")
    t_auth = time.monotonic()
    # publish the new key: re-sign with the same DNSSEC keys, reload NSD
    e.rot_current = rot2
    e.corp.write_and_sign(_corp_body(e))
    e.nsd.reload("corp.example.")
    r = dns.query.tcp(dns.message.make_query("rot.hosts.corp.example.", "TLSA"), h.LOOPBACK, port=e.nsd.port, timeout=5)
    assert [_compact(x.to_text()) for x in r.answer[0]] == [f"3 1 1 {f.tlsa_hex(rot2.cert, 1, 1)}"]
    # after the TTL (TLSA TTL 2 s, dane.cache-max-ttl 2 s) the old key is refused, the new one accepted
    wait = t_auth + max(ROT_TTL, CACHE_MAX_TTL) + 1.0 - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    assert_refused(e, rot1, "req", f"DANE: no match for {rot1.identity}", "no_match")
    assert_authenticated(e, rot2, "req")


# ------------------------------------------------------------------ resumption

def _two_connections(e, listener, ident):
    ctx = f.client_ctx(e.pki, ident)
    with f.DotSession(h.LOOPBACK, e.ports[listener], ctx) as c1:
        r1 = c1.query(h.make_query("corp.example", "A"))
        time.sleep(0.1)
        c1.query(h.make_query("www.corp.example", "A"))   # reads any NewSessionTicket sent after the handshake
        sess = c1.sock.session
        peer1 = c1.peer_text
    with f.DotSession(h.LOOPBACK, e.ports[listener], ctx, session=sess) as c2:
        reused = c2.sock.session_reused
        r2 = c2.query(h.make_query("corp.example", "A"))
        peer2 = c2.peer_text
    return sess, reused, (r1, r2), (peer1, peer2)


def test_resumption_control_plain_listener(env):
    """Control: on the client-auth none listener tickets are on, and this client does resume."""
    sess, reused, _, _ = _two_connections(env, "none", None)
    assert sess is not None and sess.has_ticket, "no session ticket from a tickets-enabled listener"
    assert reused, "the test client did not resume on a tickets-enabled listener: the resumption test proves nothing"


def test_resumption_disabled_identity_kept(env):
    e = env
    ident = e.ids["resume"]
    before = counters(e)
    sess, reused, (r1, r2), (peer1, peer2) = _two_connections(e, "req", ident)
    assert not (sess is not None and sess.has_ticket), "danced sent a session ticket on a client-auth listener"
    assert reused is False
    for r in (r1, r2):
        assert r.rcode() == dns.rcode.NOERROR, f"{dns.rcode.to_text(r.rcode())} {f.ede(r)}"
        assert h.answer_texts(r, "A") == CORP_A
    log = f.wait_for_log(e.danced, f"{peer2}: authenticated as {ident.identity}\n")
    for p in (peer1, peer2):
        assert f"{p}: authenticated as {ident.identity}\n" in log
    d = delta(before, counters(e))
    assert d.get("auth_ok") == 2 and "auth_refused" not in d and "auth_anonymous" not in d, d


# ------------------------------------------------------------------ real clients

def _count_log(e, needle):
    return e.danced.stderr_text().count(needle)


def test_kdig_client_certificate(env):
    e = env
    ident = e.ids["kdig"]
    needle = f": authenticated as {ident.identity}\n"
    n = _count_log(e, needle)
    p = h.run(["kdig", "+tls", f"+tls-certfile={ident.cert}", f"+tls-keyfile={ident.key}", f"@{h.LOOPBACK}",
               "-p", str(e.ports["req"]), "+timeout=5", "+retry=0", "corp.example", "A"], check=False, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    assert h.kdig_status(p.stdout) == "NOERROR", p.stdout
    assert re.search(r"corp\.example\.\s+\d+\s+IN\s+A\s+192\.0\.2\.1\b", p.stdout), p.stdout
    assert needle in f.wait_for_log(e.danced, needle, count=n + 1)
    assert _count_log(e, needle) == n + 1
    # and a refused identity through kdig: REFUSED + the EDE text
    w = e.ids["wrongkey"]
    p = h.run(["kdig", "+tls", f"+tls-certfile={w.cert}", f"+tls-keyfile={w.key}", f"@{h.LOOPBACK}",
               "-p", str(e.ports["req"]), "+timeout=5", "+retry=0", "corp.example", "A"], check=False, timeout=30)
    assert h.kdig_status(p.stdout) == "REFUSED", p.stdout
    assert f"DANE: no match for {w.identity}" in p.stdout, p.stdout


def test_dig_client_certificate(env):
    e = env
    ident = e.ids["dig"]
    needle = f": authenticated as {ident.identity}\n"
    n = _count_log(e, needle)
    p = h.run(["dig", "+tls", f"+tls-certfile={ident.cert}", f"+tls-keyfile={ident.key}", f"+tls-ca={e.pki.ca_cert}",
               f"+tls-hostname={h.SERVER_NAME}", f"@{h.LOOPBACK}", "-p", str(e.ports["req"]), "+time=5", "+tries=1",
               "corp.example", "A"], check=False, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "status: NOERROR" in p.stdout, p.stdout
    assert re.search(r"corp\.example\.\s+\d+\s+IN\s+A\s+192\.0\.2\.1\b", p.stdout), p.stdout
    assert needle in f.wait_for_log(e.danced, needle, count=n + 1)
    # a refused identity through dig: REFUSED and the EDE (dig 9.18 prints "; EDE: 18 (Prohibited): (...)")
    b = e.ids["bob"]
    p = h.run(["dig", "+tls", f"+tls-certfile={b.cert}", f"+tls-keyfile={b.key}", f"+tls-ca={e.pki.ca_cert}",
               f"+tls-hostname={h.SERVER_NAME}", f"@{h.LOOPBACK}", "-p", str(e.ports["req"]), "+time=5", "+tries=1",
               "corp.example", "A"], check=False, timeout=30)
    assert "status: REFUSED" in p.stdout, p.stdout
    assert re.search(r"EDE: 18 \(Prohibited\).*DANE: no match for bob\._device\.corp\.example", p.stdout), p.stdout


def test_dnspython_client_certificate(env):
    e = env
    ident = e.ids["dnspython"]
    before = counters(e)
    ctx = f.client_ctx(e.pki, ident)
    r = h.dnspython_tls(h.LOOPBACK, e.ports["req"], h.make_query("corp.example", "A"), e.pki, ctx=ctx)
    assert r.rcode() == dns.rcode.NOERROR, f"{dns.rcode.to_text(r.rcode())} {f.ede(r)}"
    assert h.answer_texts(r, "A") == CORP_A
    needle = f": authenticated as {ident.identity}\n"
    assert needle in f.wait_for_log(e.danced, needle)
    d = delta(before, counters(e))
    assert d.get("auth_ok") == 1, d
    # the same client without a certificate on the require listener: REFUSED with the reason
    r = h.dnspython_tls(h.LOOPBACK, e.ports["req"], h.make_query("corp.example", "A"), e.pki,
                        ctx=f.client_ctx(e.pki, None))
    assert r.rcode() == dns.rcode.REFUSED
    assert f.ede(r) == (18, "DANE: no client certificate")


# ------------------------------------------------------------------ health

def test_zz_danced_healthy(env):
    """Last in the module: danced is still running and its stderr has no sanitizer reports."""
    assert env.danced.alive(), env.danced.stderr_tail()
    assert env.danced.sanitizer_reports() == []
