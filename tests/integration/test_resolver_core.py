"""Resolver core over DNS-over-TLS: answers, DNSSEC, EDNS options, framing abuse, memory under a
non-reading client, and --check-config.

Needs the danced binary (DANCED_BIN or build*/resolver/danced); without it these tests fail.
"""

import os
import random
import re
import signal
import socket
import ssl
import struct
import threading
import time
from collections import Counter

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import pytest

import danced_harness as h

CORP = "corp.example."


def is_ad(msg):
    return bool(msg.flags & dns.flags.AD)


def has_rrsig(section):
    return any(rr.rdtype == dns.rdatatype.RRSIG for rr in section)


def expect_formerr_or_close(conn, qid=None, timeout=5.0):
    """The server must either answer FORMERR or close the connection; silence is a failure."""
    try:
        frame = conn.recv_frame(timeout)
    except h.ConnectionClosed:
        return "closed"
    except (ssl.SSLError, OSError) as e:
        if isinstance(e, socket.timeout):
            pytest.fail("server neither answered FORMERR nor closed the connection")
        return "closed"
    msg = dns.message.from_wire(frame, ignore_trailing=True, question_only=True) if len(frame) > 12 \
        else dns.message.from_wire(frame)
    assert msg.rcode() == dns.rcode.FORMERR, f"expected FORMERR, got {dns.rcode.to_text(msg.rcode())}"
    assert msg.flags & dns.flags.QR
    if qid is not None:
        assert msg.id == qid
    return "formerr"


def assert_serves(danced, name=CORP, rdtype="A"):
    """A fresh connection gets a correct, validated answer."""
    r = h.dot_query(danced.host, danced.port, name, rdtype, do=True, timeout=10)
    assert r.rcode() == dns.rcode.NOERROR
    assert h.answer_texts(r, rdtype) == h.CORP[rdtype]
    assert is_ad(r)


# ----------------------------------------------------------------------------- answers

@pytest.mark.parametrize("rdtype", ["A", "AAAA", "TXT", "MX"])
def test_corp_lookup_dot_secure(danced, rdtype):
    with h.DotConnection(danced.host, danced.port) as c:
        q = h.make_query(CORP, rdtype, do=True)
        r = c.query(q)
    assert r.id == q.id
    assert r.flags & dns.flags.QR
    assert r.rcode() == dns.rcode.NOERROR
    assert r.question[0].name.to_text() == CORP and r.question[0].rdtype == dns.rdatatype.from_text(rdtype)
    assert h.answer_texts(r, rdtype) == h.CORP[rdtype]
    assert is_ad(r), "validated answer must carry AD when the query had DO"
    assert has_rrsig(r.answer), "DO query must receive the RRSIGs"


def test_cname_and_tlsa_secure(danced, pki):
    with h.DotConnection(danced.host, danced.port) as c:
        r = c.query(h.make_query("alias.corp.example.", "A", do=True))
        assert r.rcode() == dns.rcode.NOERROR
        assert h.answer_texts(r, "CNAME") == [h.CORP["alias_target"]]
        assert h.answer_texts(r, "A") == h.CORP["www_A"]
        assert is_ad(r)
        r = c.query(h.make_query("_853._tcp.dot.corp.example.", "TLSA", do=True))
        assert r.rcode() == dns.rcode.NOERROR
        assert h.answer_texts(r, "TLSA") == [f"3 1 1 {pki.server_spki_sha256}"]
        assert is_ad(r)


def test_ad_bit_rules(danced):
    """AD is set for secure data when the client asked with DO or with AD, and only then."""
    with h.DotConnection(danced.host, danced.port) as c:
        r = c.query(h.make_query(CORP, "A", do=False, ad=True, use_edns=True))
        assert r.rcode() == dns.rcode.NOERROR and h.answer_texts(r, "A") == h.CORP["A"]
        assert is_ad(r), "AD in the query asks for AD in the answer (RFC 6840 5.7)"
        assert not has_rrsig(r.answer), "no RRSIGs without DO"
        r = c.query(h.make_query(CORP, "A", do=False, ad=False, use_edns=False))
        assert r.rcode() == dns.rcode.NOERROR and h.answer_texts(r, "A") == h.CORP["A"]
        assert not is_ad(r), "neither DO nor AD in the query: no AD"


def test_kdig_tls(danced, pki):
    p = h.kdig(danced.host, danced.port, "+dnssec", "corp.example", "A", pki=pki)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert h.kdig_status(out) == "NOERROR", out
    assert "ad" in h.kdig_flags(out), out
    assert re.search(r"^corp\.example\.\s+\d+\s+IN\s+A\s+192\.0\.2\.1\s*$", out, re.M), out
    p = h.kdig(danced.host, danced.port, "+dnssec", "corp.example", "MX", pki=pki)
    out = p.stdout + p.stderr
    assert p.returncode == 0 and "ad" in h.kdig_flags(out), out
    assert re.search(r"^corp\.example\.\s+\d+\s+IN\s+MX\s+10 mail\.corp\.example\.\s*$", out, re.M), out


def test_dnspython_query_tls(danced, pki):
    q = h.make_query(CORP, "AAAA", do=True)
    r = h.dnspython_tls(danced.host, danced.port, q, pki)
    assert r.id == q.id
    assert r.rcode() == dns.rcode.NOERROR
    assert h.answer_texts(r, "AAAA") == h.CORP["AAAA"]
    assert is_ad(r)


def test_alpn_dot_selected_and_optional(danced, pki):
    with h.DotConnection(danced.host, danced.port, ctx=h.client_context(pki, alpn=["dot"])) as c:
        assert c.alpn == "dot"
        assert h.answer_texts(c.query(h.make_query(CORP, "A")), "A") == h.CORP["A"]
    with h.DotConnection(danced.host, danced.port, ctx=h.client_context(pki, alpn=None)) as c:
        assert c.alpn is None
        assert h.answer_texts(c.query(h.make_query(CORP, "A")), "A") == h.CORP["A"]


def test_bogus_servfail_with_ede6(danced):
    with h.DotConnection(danced.host, danced.port) as c:
        for do in (True, False):
            r = c.query(h.make_query("bogus.example.", "A", do=do, use_edns=True))
            assert r.rcode() == dns.rcode.SERVFAIL, f"do={do}: {dns.rcode.to_text(r.rcode())}"
            assert not h.answer_texts(r, "A"), "bogus data must not be returned"
            assert not is_ad(r)
            ede = h.edns_option(r, dns.edns.OptionType.EDE)
            assert ede is not None, "SERVFAIL for bogus data must carry an Extended DNS Error"
            assert ede.code == 6, f"EDE info-code {ede.code}, expected 6 (DNSSEC Bogus)"
            assert ede.text and ede.text.strip(), "EDE EXTRA-TEXT should say why"
        # the zone itself is fine: an untampered RRset in it validates
        r = c.query(h.make_query("www.bogus.example.", "A", do=True))
        assert r.rcode() == dns.rcode.NOERROR
        assert h.answer_texts(r, "A") == ["192.0.2.67"]
        assert is_ad(r)


def test_plain_zone_insecure_no_ad(danced):
    with h.DotConnection(danced.host, danced.port) as c:
        r = c.query(h.make_query("plain.example.", "A", do=True))
    assert r.rcode() == dns.rcode.NOERROR
    assert h.answer_texts(r, "A") == [h.PLAIN_A]
    assert not is_ad(r), "unsigned zone: no AD"


def test_nxdomain_secure(danced):
    with h.DotConnection(danced.host, danced.port) as c:
        r = c.query(h.make_query("no-such-name.corp.example.", "A", do=True))
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert not r.answer
    soas = [rr for rr in r.authority if rr.rdtype == dns.rdatatype.SOA]
    assert soas and soas[0].name.to_text() == CORP, r.to_text()
    assert any(rr.rdtype in (dns.rdatatype.NSEC, dns.rdatatype.NSEC3) for rr in r.authority), \
        "DO query: denial of existence proof expected"
    assert is_ad(r)


# ----------------------------------------------------------------------------- pipelining

def _mixed_questions():
    return [
        (CORP, "A", h.CORP["A"]),
        (CORP, "AAAA", h.CORP["AAAA"]),
        (CORP, "TXT", h.CORP["TXT"]),
        (CORP, "MX", h.CORP["MX"]),
        ("www.corp.example.", "A", h.CORP["www_A"]),
        ("plain.example.", "A", [h.PLAIN_A]),
        ("nx1.corp.example.", "A", None),
        ("www.bogus.example.", "A", ["192.0.2.67"]),
    ]


def test_pipelined_100_answered_exactly_once(danced):
    qs = _mixed_questions()
    ids = random.sample(range(1, 65536), 100)
    sent = {}
    queries = []
    for i, qid in enumerate(ids):
        name, rdtype, expect = qs[i % len(qs)]
        queries.append(h.make_query(name, rdtype, do=True, qid=qid))
        sent[qid] = (name, rdtype, expect)
    with h.DotConnection(danced.host, danced.port, timeout=15) as c:
        c.send_many(queries)
        got = Counter()
        deadline = time.monotonic() + 20
        while sum(got.values()) < 100:
            left = deadline - time.monotonic()
            assert left > 0, f"only {sum(got.values())} of 100 answers"
            r = c.recv(left)
            got[r.id] += 1
            assert r.id in sent, f"answer with unknown id {r.id}"
            name, rdtype, expect = sent[r.id]
            assert r.question[0].name.to_text() == name
            assert r.question[0].rdtype == dns.rdatatype.from_text(rdtype)
            if expect is None:
                assert r.rcode() == dns.rcode.NXDOMAIN
            else:
                assert r.rcode() == dns.rcode.NOERROR
                assert h.answer_texts(r, rdtype) == expect
        assert set(got) == set(ids) and all(v == 1 for v in got.values())
        # and nothing more: a duplicate would show up now
        with pytest.raises(socket.timeout):
            c.recv(1.0)


# ----------------------------------------------------------------------------- EDNS options

@pytest.mark.slow
def test_idle_timeout_and_keepalive(danced):
    idle = danced.idle_timeout_ms
    with h.DotConnection(danced.host, danced.port) as c:
        r = c.query(h.make_query(CORP, "A", keepalive=True))
        t0 = time.monotonic()
        assert h.answer_texts(r, "A") == h.CORP["A"]
        ka = h.edns_option(r, dns.edns.OptionType.KEEPALIVE)
        assert ka is not None, "query had edns-tcp-keepalive: response must advertise the timeout"
        assert h.option_bytes(ka) == struct.pack("!H", idle // 100), \
            f"keepalive {h.option_bytes(ka).hex()}, expected {idle // 100} (100 ms units)"
        slack = 1.5
        c.wait_closed(idle / 1000 + slack)
        elapsed = time.monotonic() - t0
    assert elapsed >= 0.9 * idle / 1000, f"closed after {elapsed:.2f}s, before the advertised {idle} ms"
    assert elapsed <= idle / 1000 + slack


@pytest.mark.slow
def test_idle_timer_restarts_on_query(danced):
    """Queries spaced below the idle timeout keep the connection open."""
    idle = danced.idle_timeout_ms / 1000
    with h.DotConnection(danced.host, danced.port) as c:
        for _ in range(3):
            assert h.answer_texts(c.query(h.make_query(CORP, "A")), "A") == h.CORP["A"]
            time.sleep(idle * 0.6)
        assert h.answer_texts(c.query(h.make_query(CORP, "A")), "A") == h.CORP["A"]


@pytest.mark.parametrize("name,rdtype", [(CORP, "A"), (CORP, "TXT"), ("no.corp.example.", "A"),
                                         ("bogus.example.", "A")])
def test_padding_when_query_padded(danced, name, rdtype):
    with h.DotConnection(danced.host, danced.port) as c:
        q = h.make_query(name, rdtype, do=True, pad=128)
        assert h.edns_option(dns.message.from_wire(q.to_wire()), dns.edns.OptionType.PADDING) is not None
        c.send(q)
        frame = c.recv_frame()
        r = dns.message.from_wire(frame)
        assert r.id == q.id
        assert len(frame) % 468 == 0, f"padded response is {len(frame)} bytes, not a multiple of 468"
        assert h.edns_option(r, dns.edns.OptionType.PADDING) is not None

        q = h.make_query(name, rdtype, do=True)
        c.send(q)
        r = dns.message.from_wire(c.recv_frame())
        assert r.id == q.id
        assert h.edns_option(r, dns.edns.OptionType.PADDING) is None, "query not padded: response must not be"


# ----------------------------------------------------------------------------- malformed input

def test_malformed_query_formerr_or_close(danced):
    # 20 bytes: ID 0x1234, a query (QR=0, opcode 0), QDCOUNT=5 but only junk after the header
    garbage = struct.pack("!HHHHHH", 0x1234, 0x0100, 5, 0, 0, 0) + bytes([0xC0, 0xFF, 0x3F, 0x01, 0x02, 0x03, 0x04, 0x05])
    assert len(garbage) == 20
    with h.DotConnection(danced.host, danced.port) as c:
        c.send_frame(garbage)
        expect_formerr_or_close(c, 0x1234)
    assert_serves(danced)


def test_opcode_status_notimp(danced):
    with h.DotConnection(danced.host, danced.port) as c:
        q = h.make_query(CORP, "A", do=False)
        q.set_opcode(dns.opcode.STATUS)
        r = c.query(q)
        assert r.rcode() == dns.rcode.NOTIMP
        assert r.opcode() == dns.opcode.STATUS
        # connection still usable afterwards
        assert h.answer_texts(c.query(h.make_query(CORP, "A")), "A") == h.CORP["A"]


def test_axfr_refused_on_resolver_listener(danced):
    with h.DotConnection(danced.host, danced.port) as c:
        q = h.make_query(CORP, "AXFR", do=False)
        r = c.query(q)
        assert r.rcode() == dns.rcode.REFUSED
        assert not r.answer


def test_zero_length_frame(danced):
    with h.DotConnection(danced.host, danced.port) as c:
        c.send_raw(b"\x00\x00")
        expect_formerr_or_close(c)
    assert_serves(danced)


def test_max_length_frame_of_garbage(danced):
    rnd = random.Random(7)
    body = bytearray(rnd.getrandbits(8) for _ in range(65535))
    body[0:4] = b"\xab\xcd\x01\x00"  # ID, QR=0 opcode QUERY: looks like a query, the rest is junk
    with h.DotConnection(danced.host, danced.port) as c:
        try:
            c.send_raw(struct.pack("!H", 65535) + bytes(body))
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # closed while we were still writing: acceptable
        else:
            expect_formerr_or_close(c, 0xABCD)
    assert danced.alive()
    assert_serves(danced)


def test_garbage_instead_of_client_hello(danced):
    s = socket.create_connection((danced.host, danced.port), timeout=5)
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(300))
        deadline = time.monotonic() + 6
        closed = False
        while not closed and time.monotonic() < deadline:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                data = s.recv(4096)  # a TLS alert may come first
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            closed = not data
        assert closed, "connection still open after a non-TLS ClientHello"
    finally:
        s.close()
    assert_serves(danced)


# ----------------------------------------------------------------------------- memory under abuse

@pytest.mark.slow
def test_non_reading_client_bounded_memory(danced):
    bound_kib = 64 * 1024
    # warm up caches and code paths first so the baseline is fair
    with h.DotConnection(danced.host, danced.port) as w:
        for name, rdtype, _ in _mixed_questions():
            w.query(h.make_query(name, rdtype, do=True))
    time.sleep(0.3)
    base = danced.rss_kib()
    q0 = danced.counters().get("queries")
    assert q0 is not None, "counters file has no 'queries' counter"

    qs = _mixed_questions()
    blob = b"".join(
        struct.pack("!H", len(wire)) + wire
        for wire in (h.make_query(qs[i % len(qs)][0], qs[i % len(qs)][1], do=True, qid=i % 65536).to_wire()
                     for i in range(20000)))
    flood = h.DotConnection(danced.host, danced.port, timeout=None)
    progress = {"sent": 0, "done": False, "err": None}

    def sender():
        try:
            for off in range(0, len(blob), 16384):
                flood.sock.sendall(blob[off:off + 16384])
                progress["sent"] = off + 16384
        except OSError as e:
            progress["err"] = e
        finally:
            progress["done"] = True

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    peak = base
    served = 0
    try:
        last_sent, last_change = -1, time.monotonic()
        start = time.monotonic()
        while time.monotonic() - start < 25:
            peak = max(peak, danced.rss_kib())
            # another client is served meanwhile
            r = h.dot_query(danced.host, danced.port, CORP, "A", do=True, timeout=5)
            assert h.answer_texts(r, "A") == h.CORP["A"]
            served += 1
            peak = max(peak, danced.rss_kib())
            if progress["sent"] != last_sent:
                last_sent, last_change = progress["sent"], time.monotonic()
            if (progress["done"] or time.monotonic() - last_change > 2) and time.monotonic() - start > 4:
                break
            time.sleep(0.1)
        assert danced.alive()
        assert progress["err"] is None or progress["done"], progress
    finally:
        try:
            dup = socket.socket(fileno=os.dup(flood.sock.fileno()))
            dup.shutdown(socket.SHUT_RDWR)
            dup.close()
        except OSError:
            pass
        t.join(10)
        flood.close()
    grew = peak - base
    assert grew < bound_kib, f"RSS grew by {grew} KiB (base {base} KiB) with a non-reading client"
    assert served >= 3
    # the flood really reached danced (otherwise this test proves nothing)
    flood_queries = danced.counters()["queries"] - q0 - served
    assert flood_queries >= 500, f"danced read only {flood_queries} of the flooder's queries"
    time.sleep(0.5)
    assert_serves(danced)


# ----------------------------------------------------------------------------- --check-config

def _write(path, text):
    path.write_text(text)
    return path


def test_check_config(danced_bin, danced_launcher, workdir):
    d = workdir / "check-config"
    d.mkdir(exist_ok=True)
    cfg = danced_launcher.config()
    good = h.write_config(d / "good.yaml", cfg)
    p = h.check_config(danced_bin, good)
    assert p.returncode == 0, p.stdout + p.stderr

    text = good.read_text()

    unknown = _write(d / "unknown-key.yaml", text.replace("server:\n", "server:\n  bogus-key: 1\n", 1))
    bad = re.sub(r"(idle-timeout-ms:) \d+", r"\1 abc", text)
    assert bad != text
    bad_value = _write(d / "bad-value.yaml", bad)
    nocert = cfg["listeners"][0]["certificate"]
    assert nocert in text
    missing = _write(d / "missing-cert.yaml", text.replace(nocert, str(d / "no-such-cert.pem")))

    for f, key in ((unknown, "bogus-key"), (bad_value, "idle-timeout-ms"), (missing, "certificate")):
        p = h.check_config(danced_bin, f)
        msg = p.stdout + p.stderr
        assert p.returncode == 1, f"{f.name}: exit {p.returncode}: {msg}"
        assert re.search(re.escape(f.name) + r":\d+", msg), f"{f.name}: message lacks file:line: {msg!r}"
        assert key in msg, f"{f.name}: message lacks key {key!r}: {msg!r}"


# ----------------------------------------------------------------------------- signals

@pytest.mark.slow
def test_signals_right_after_ready(danced_launcher, nsd):
    """Once the port accepts connections, SIGUSR1 dumps counters (it must not kill danced) and
    SIGTERM shuts down cleanly with status 0."""
    d = danced_launcher.start("signals", wait_counters=False)
    d.signal(signal.SIGUSR1)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not d.counters_file.exists():
        time.sleep(0.05)
    assert d.alive(), f"danced died of SIGUSR1 sent right after its port opened (status {d.proc.returncode})"
    d.expected_exit = True  # from here on a death is reported by the asserts below, not the health check
    counters = h.read_counters(d.counters_file)
    assert "queries" in counters
    r = h.dot_query(d.host, d.port, CORP, "A", do=True)
    assert h.answer_texts(r, "A") == h.CORP["A"] and is_ad(r)
    d.signal(signal.SIGUSR1)
    time.sleep(0.3)
    assert d.alive()
    assert h.read_counters(d.counters_file)["queries"] >= counters["queries"] + 1
    probs = danced_launcher.stop(d)
    assert not getattr(d, "killed", False), "danced ignored SIGTERM"
    assert d.proc.returncode == 0, f"exit status {d.proc.returncode} after SIGTERM"
    assert not probs, probs
