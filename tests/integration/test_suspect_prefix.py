"""Suspect source prefixes (resolver/reputation.h, docs/limits.md): connections that end unserved are strikes
against their IPv4 /24; a prefix with `limits.suspect-failures` strikes (decaying) gets at most
`limits.suspect-handshake-rate` new TLS handshakes per second, the others wait holding only their ClientHello.
Every other prefix is untouched, and so is an address inside a suspect prefix that was mostly served before.

Real daemon, real TLS clients on loopback: the "bad" prefix is 127.0.3.0/24, the honest one 127.0.0.0/24.
"""

from __future__ import annotations

import socket
import threading
import time

import dns.rcode
import pytest

import danced_harness as h

BAD = "127.0.3.{}"
FAILURES = 5
RATE = 2          # per second; burst 1 (rate < 4)


def _unserved(host: str, port: int, source: str) -> None:
    """One connection that ends unserved: bytes that are not TLS (danced closes it at once)."""
    s = socket.create_connection((host, port), timeout=5, source_address=(source, 0))
    try:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        s.settimeout(5)
        while s.recv(4096):
            pass
    except OSError:
        pass
    finally:
        s.close()


def _wait_counter(d, name: str, at_least: int, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    c = d.counters()
    while c.get(name, 0) < at_least and time.monotonic() < deadline:
        time.sleep(0.1)
        c = d.counters()
    return c


def _served_round(d, source: str, results: list, i: int) -> None:
    """TLS handshake + one query from `source`; records (seconds to the answer, rcode or error)."""
    t0 = time.monotonic()
    try:
        with h.DotConnection(d.host, d.port, timeout=15, source=source) as c:
            r = c.query(h.make_query("www.corp.example", "A"), timeout=10)
            results[i] = (time.monotonic() - t0, dns.rcode.to_text(r.rcode()))
    except Exception as e:  # noqa: BLE001 - reported by the assertion
        results[i] = (time.monotonic() - t0, f"{type(e).__name__}: {e}")


def _concurrent_rounds(d, sources: list) -> list:
    results = [None] * len(sources)
    threads = [threading.Thread(target=_served_round, args=(d, src, results, i)) for i, src in enumerate(sources)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_failing_prefix_is_throttled_and_honest_prefix_is_not(danced_launcher):
    d = danced_launcher.start("suspect", limits={"suspect-failures": FAILURES, "suspect-handshake-rate": RATE,
                                                 "handshake-timeout-ms": 10000})
    for i in range(FAILURES + 1):
        _unserved(d.host, d.port, BAD.format(10 + i))
    c = _wait_counter(d, "suspect_prefixes_flagged", 1)
    assert c.get("unserved_strikes", 0) >= FAILURES, c
    assert c.get("suspect_prefixes_flagged") == 1, c
    assert "source prefix 127.0.3.0/24 is suspect" in d.stderr_text()
    throttled0 = c.get("handshake_throttled", 0)

    # Six handshakes from the suspect prefix at once, and one honest round from 127.0.0.1 meanwhile.
    bad_results = [None] * 6
    bad = [threading.Thread(target=_served_round, args=(d, BAD.format(100 + i), bad_results, i)) for i in range(6)]
    t0 = time.monotonic()
    for t in bad:
        t.start()
    time.sleep(0.2)
    honest = [None]
    _served_round(d, "127.0.0.1", honest, 0)
    waiting_now = d.counters().get("handshakes_waiting", 0)
    for t in bad:
        t.join(30)
    spread = time.monotonic() - t0

    # Slowed, not refused: every one is answered.
    assert all(r is not None and r[1] == "NOERROR" for r in bad_results), bad_results
    # 2/s from an empty bucket: the sixth handshake starts no earlier than ~2.5 s after the first.
    times = sorted(r[0] for r in bad_results)
    assert times[-1] >= 2.0, f"suspect prefix not throttled: {times}"
    assert spread < 10, times
    # The honest prefix did not wait for them.
    assert honest[0] is not None and honest[0][1] == "NOERROR", honest
    assert honest[0][0] < 1.5, f"honest client waited {honest[0][0]:.2f} s behind a suspect prefix"
    assert waiting_now >= 1, "no handshake was waiting while the honest client was served"
    c = d.counters()
    assert c.get("handshake_throttled", 0) - throttled0 >= 4, c
    assert c.get("handshakes_waiting", -1) == 0, c
    assert c.get("handshakes_waiting_peak", 0) >= 4, c
    assert "source prefix 127.0.0.0/24" not in d.stderr_text()
    danced_launcher.stop(d)


def test_served_address_inside_a_suspect_prefix_goes_ahead(danced_launcher):
    """A returning client whose address was served before is not queued behind its /24 neighbours' flood."""
    d = danced_launcher.start("suspect-good", limits={"suspect-failures": FAILURES, "suspect-handshake-rate": 1,
                                                      "handshake-timeout-ms": 10000})
    good = BAD.format(250)
    for _ in range(2):
        r = [None]
        _served_round(d, good, r, 0)
        assert r[0][1] == "NOERROR", r
    for i in range(FAILURES + 1):
        _unserved(d.host, d.port, BAD.format(10 + i))
    _wait_counter(d, "suspect_prefixes_flagged", 1)
    fresh_results = [None] * 4
    fresh = [threading.Thread(target=_served_round, args=(d, BAD.format(100 + i), fresh_results, i)) for i in range(4)]
    for t in fresh:
        t.start()
    time.sleep(0.2)
    r = [None]
    _served_round(d, good, r, 0)
    for t in fresh:
        t.join(30)
    assert r[0][1] == "NOERROR" and r[0][0] < 1.0, f"the served address waited: {r}"
    assert d.counters().get("handshake_good_address", 0) >= 1
    # Its neighbours without history still wait for tokens (1/s).
    assert all(x is not None and x[1] == "NOERROR" for x in fresh_results), fresh_results
    assert max(x[0] for x in fresh_results) >= 2.0, fresh_results
    danced_launcher.stop(d)


def test_waiting_handshake_is_bounded_by_the_deadline(danced_launcher):
    """A suspect prefix with no tokens left: a waiting connection ends at handshake-timeout-ms (counted)."""
    d = danced_launcher.start("suspect-deadline", limits={"suspect-failures": FAILURES, "suspect-handshake-rate": 1,
                                                          "handshake-timeout-ms": 1500})
    for i in range(FAILURES + 1):
        _unserved(d.host, d.port, BAD.format(10 + i))
    _wait_counter(d, "suspect_prefixes_flagged", 1)
    # 1/s, burst 1: of four at once, at most ~2 get a token within 1.5 s; the rest time out waiting.
    results = _concurrent_rounds(d, [BAD.format(200 + i) for i in range(4)])
    ok = [r for r in results if r and r[1] == "NOERROR"]
    assert len(ok) < 4, results
    c = _wait_counter(d, "handshake_throttle_timeout", 1)
    assert c.get("handshake_throttle_timeout", 0) >= 1, c
    # ... and then the prefix is served again at its rate, and an honest client at once.
    honest = [None]
    _served_round(d, "127.0.0.1", honest, 0)
    assert honest[0][1] == "NOERROR" and honest[0][0] < 1.5, honest
    assert d.alive()
    danced_launcher.stop(d)


def test_suspect_failures_zero_turns_it_off(danced_launcher):
    d = danced_launcher.start("suspect-off", limits={"suspect-failures": 0, "handshake-timeout-ms": 10000})
    for i in range(3 * FAILURES):
        _unserved(d.host, d.port, BAD.format(10 + i))
    c = _wait_counter(d, "unserved_strikes", 3 * FAILURES, timeout=2)
    results = _concurrent_rounds(d, [BAD.format(100 + i) for i in range(6)])
    assert all(r is not None and r[1] == "NOERROR" for r in results), results
    assert max(r[0] for r in results) < 2.0, results
    c = d.counters()
    assert c.get("suspect_prefixes_flagged", 0) == 0 and c.get("handshake_throttled", 0) == 0, c
    danced_launcher.stop(d)


def test_exempt_network_is_never_suspect(danced_launcher):
    d = danced_launcher.start("suspect-exempt", limits={"suspect-failures": FAILURES, "suspect-handshake-rate": RATE,
                                                        "handshake-timeout-ms": 10000,
                                                        "suspect-exempt": ["10.0.0.0/8", "127.0.3.0/24"]})
    for i in range(3 * FAILURES):
        _unserved(d.host, d.port, BAD.format(10 + i))
    # A prefix next to the exempt one is not exempt: it becomes suspect.
    for i in range(FAILURES + 1):
        _unserved(d.host, d.port, f"127.0.4.{10 + i}")
    c = _wait_counter(d, "suspect_prefixes_flagged", 1)
    assert c.get("suspect_prefixes_flagged") == 1, c
    assert "source prefix 127.0.4.0/24 is suspect" in d.stderr_text()
    assert "127.0.3.0/24" not in d.stderr_text()
    results = _concurrent_rounds(d, [BAD.format(100 + i) for i in range(6)])
    assert all(r is not None and r[1] == "NOERROR" for r in results), results
    assert max(r[0] for r in results) < 2.0, results
    assert d.counters().get("handshake_throttled", 0) == 0
    danced_launcher.stop(d)


@pytest.mark.parametrize("value,expect", [("-1", "suspect-failures"), ("abc", "suspect-failures")])
def test_bad_suspect_config_is_rejected(danced_launcher, tmp_path, value, expect):
    cfg = danced_launcher.config(limits={"suspect-failures": value})
    path = h.write_config(tmp_path / "danced.yaml", cfg)
    r = h.check_config(h.find_danced_bin(), path)
    assert r.returncode != 0
    assert expect in (r.stdout + r.stderr)


def test_bad_exempt_network_is_rejected(danced_launcher, tmp_path):
    cfg = danced_launcher.config(limits={"suspect-exempt": ["127.0.3.1/24"]})
    path = h.write_config(tmp_path / "danced.yaml", cfg)
    r = h.check_config(h.find_danced_bin(), path)
    assert r.returncode != 0
    assert "limits.suspect-exempt[0]" in (r.stdout + r.stderr) and "host bits" in (r.stdout + r.stderr)


def test_suspect_handshake_rate_zero_is_rejected(danced_launcher, tmp_path):
    cfg = danced_launcher.config(limits={"suspect-handshake-rate": 0})
    path = h.write_config(tmp_path / "danced.yaml", cfg)
    r = h.check_config(h.find_danced_bin(), path)
    assert r.returncode != 0
    assert "suspect-handshake-rate" in (r.stdout + r.stderr)
