"""Configuration reload (SIGHUP) without dropping connections (resolver/server.c server_reload, runtime.h).

Applied on reload: server.log-level, every limits.* key, each listener's certificate and key.  Open connections keep
the certificate and limits they were accepted with; new connections get the new ones.  An invalid file, or a
certificate that does not load, changes nothing.  Keys that need a restart are named in one warning and keep their
running values; the rest is applied.
"""

from __future__ import annotations

import copy
import hashlib
import signal
import ssl
import time

import dns.rcode
import pytest

import danced_harness as h


def _sha256_of_pem(path) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(open(path).read())).hexdigest()


def _peer_sha256(conn: h.DotConnection) -> str:
    return hashlib.sha256(conn.sock.getpeercert(binary_form=True)).hexdigest()


def _answers(conn: h.DotConnection) -> bool:
    r = conn.query(h.make_query("www.corp.example", "A"), timeout=10)
    return r.rcode() == dns.rcode.NOERROR and bool(r.answer)


def _reload(d, cfg=None, text=None, counter="config_reloads", timeout=10.0) -> dict:
    """Write the new config (dict or raw text), SIGHUP, wait until `counter` grows."""
    before = d.counters().get(counter, 0)
    if text is not None:
        d.config_path.write_text(text)
    else:
        h.write_config(d.config_path, cfg)
    d.signal(signal.SIGHUP)
    deadline = time.monotonic() + timeout
    c = d.counters()
    while c.get(counter, 0) <= before and time.monotonic() < deadline:
        time.sleep(0.05)
        c = d.counters()
    assert c.get(counter, 0) == before + 1, f"{counter} did not grow after SIGHUP: {c}\n{d.stderr_tail()}"
    return c


def test_reload_applies_certificate_and_limits_to_new_connections_only(danced_launcher, pki, tmp_path):
    d = danced_launcher.start("reload")
    old_fp = _sha256_of_pem(pki.server_cert)
    c1 = h.DotConnection(d.host, d.port)
    try:
        assert _answers(c1)
        assert _peer_sha256(c1) == old_fp

        crt2, key2 = h.make_leaf(tmp_path, "server2", pki.ca_cert, pki.ca_key, h.SERVER_NAME,
                                 f"DNS:{h.SERVER_NAME},IP:127.0.0.1")
        new_fp = _sha256_of_pem(crt2)
        assert new_fp != old_fp
        cfg = copy.deepcopy(d.config)
        cfg["listeners"][0]["certificate"] = str(crt2)
        cfg["listeners"][0]["key"] = str(key2)
        cfg["limits"]["max-connections-per-ip"] = 1
        cfg["server"]["log-level"] = "debug"
        c = _reload(d, cfg)
        assert c.get("config_reload_failed", 0) == 0
        log = d.stderr_text()
        assert "reload: applied configuration generation 2" in log
        assert "needs a restart" not in log

        # The open connection was not dropped and keeps being served.
        assert _answers(c1)
        # A new connection gets the new certificate ...
        with h.DotConnection(d.host, d.port, source="127.0.0.2") as c2:
            assert _peer_sha256(c2) == new_fp
            assert _answers(c2)
        # ... and the new per-address cap: 127.0.0.1 already holds c1.
        refused_before = d.counters().get("conn_limit_ip", 0)
        with pytest.raises((ConnectionError, ssl.SSLError, OSError, h.ConnectionClosed)):
            with h.DotConnection(d.host, d.port, timeout=5) as c3:
                _answers(c3)
        assert d.counters().get("conn_limit_ip", 0) == refused_before + 1
        # The new log level is in force (debug lines for the new connections).
        assert "TLS established" in d.stderr_text()
        assert _answers(c1)
    finally:
        c1.close()
    # Once c1 is gone, 127.0.0.1 fits under the cap again.
    time.sleep(0.3)
    with h.DotConnection(d.host, d.port) as c4:
        assert _answers(c4)
    assert d.alive()
    danced_launcher.stop(d)


def test_invalid_reload_changes_nothing(danced_launcher, pki, tmp_path):
    d = danced_launcher.start("reload-bad")
    fp = _sha256_of_pem(pki.server_cert)
    good_text = d.config_path.read_text()
    c1 = h.DotConnection(d.host, d.port)
    try:
        assert _answers(c1)
        # A syntax/type error: named with file:line: key.
        _reload(d, text=good_text + "\nlimits:\n  idle-timeout-ms: abc\n", counter="config_reload_failed")
        log = d.stderr_text()
        assert "reload: " in log and f"{d.config_path.name}:" in log and "limits" in log
        assert "keeping the running configuration" in log
        # A key that does not belong to the certificate: the file is valid YAML, TLS refuses it.
        other_key = tmp_path / "other.key"
        h.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(other_key)])
        cfg = copy.deepcopy(d.config)
        cfg["listeners"][0]["key"] = str(other_key)
        _reload(d, cfg, counter="config_reload_failed")
        assert "does not work with certificate" in d.stderr_text()
        # A certificate file that is missing.
        cfg = copy.deepcopy(d.config)
        cfg["listeners"][0]["certificate"] = str(tmp_path / "missing.crt")
        c = _reload(d, cfg, counter="config_reload_failed")
        assert c.get("config_reloads", 0) == 0
        # Still serving, old and new connections, with the old certificate.
        assert _answers(c1)
        with h.DotConnection(d.host, d.port) as c2:
            assert _peer_sha256(c2) == fp
            assert _answers(c2)
    finally:
        c1.close()
    assert d.alive()
    danced_launcher.stop(d)


def test_restart_only_keys_are_named_and_kept(danced_launcher):
    d = danced_launcher.start("reload-restart")
    cfg = copy.deepcopy(d.config)
    cfg["server"]["workers"] = 3
    cfg["resolver"]["query-timeout-ms"] = 1234
    cfg["limits"]["idle-timeout-ms"] = 1500    # reloadable: applied
    _reload(d, cfg)
    log = d.stderr_text()
    assert "reload: server.workers, resolver changed; that needs a restart, the running values are kept" in log
    assert "reload: applied configuration generation 2" in log
    # The applied part: the new idle timeout is what a new connection is told (edns-tcp-keepalive, 100 ms units).
    with h.DotConnection(d.host, d.port) as c:
        r = c.query(h.make_query("www.corp.example", "A", keepalive=True), timeout=10)
        ka = [o for o in r.options if int(o.otype) == 11]
        assert ka and h.option_bytes(ka[0]) == (15).to_bytes(2, "big"), r.options
    # Reload twice more: generations count up, nothing leaks (LeakSanitizer checks at exit under ASan).
    _reload(d, cfg)
    _reload(d, cfg)
    assert "reload: applied configuration generation 4" in d.stderr_text()
    assert d.alive()
    danced_launcher.stop(d)


def test_check_config_and_start_refuse_a_key_of_another_certificate(danced_launcher, tmp_path):
    """Debian's wolfSSL accepts a foreign ECC key in wolfSSL_CTX_check_private_key; danced proves each pair with a
    handshake in memory, so the mistake is caught by --check-config and at start, not by every client later."""
    other_key = tmp_path / "other.key"
    h.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(other_key)])
    cfg = danced_launcher.config()
    cfg["listeners"][0]["key"] = str(other_key)
    path = h.write_config(tmp_path / "danced.yaml", cfg)
    r = h.check_config(h.find_danced_bin(), path)
    assert r.returncode == 1, r
    assert "does not work with certificate" in r.stderr and "listener dot" in r.stderr, r.stderr
    started = h.run([h.find_danced_bin(), "-c", str(path)], check=False, timeout=20)
    assert started.returncode == 1
    assert "does not work with certificate" in started.stderr
    # The right key passes both.
    good = danced_launcher.config()
    gpath = h.write_config(tmp_path / "good.yaml", good)
    assert h.check_config(h.find_danced_bin(), gpath).returncode == 0


def test_reload_storm_under_load(danced_launcher, pki, tmp_path):
    """50 reloads, alternating certificates and limits, while clients connect, query and close (and some fail):
    every honest round succeeds, and the old runtimes are released while their connections finish (under ASan a
    use-after-free or leak of a runtime or TLS context fails the test through the sanitizer check)."""
    import threading

    d = danced_launcher.start("reload-storm", limits={"suspect-failures": 3, "suspect-handshake-rate": 50})
    crt2, key2 = h.make_leaf(tmp_path, "server2", pki.ca_cert, pki.ca_key, h.SERVER_NAME,
                             f"DNS:{h.SERVER_NAME},IP:127.0.0.1")
    cfgs = []
    for i in range(2):
        cfg = copy.deepcopy(d.config)
        if i:
            cfg["listeners"][0]["certificate"] = str(crt2)
            cfg["listeners"][0]["key"] = str(key2)
        cfg["limits"]["max-connections-per-ip"] = 32 + i
        cfg["limits"]["suspect-failures"] = 3 + i
        cfgs.append(cfg)
    stop = threading.Event()
    results = []

    def honest():
        while not stop.is_set():
            try:
                with h.DotConnection(d.host, d.port, timeout=10) as c:
                    results.append(_answers(c))
            except Exception as e:  # noqa: BLE001 - counted as a failure below
                results.append(f"{type(e).__name__}: {e}")

    def failing():
        import socket
        i = 0
        while not stop.is_set():
            i += 1
            try:
                s = socket.create_connection((d.host, d.port), timeout=5, source_address=(f"127.0.5.{i % 200 + 1}", 0))
                s.sendall(b"\x16\x03\x01\x00\x05hello" if i % 2 else b"not tls at all")
                s.close()
            except OSError:
                pass
            time.sleep(0.005)

    threads = [threading.Thread(target=honest) for _ in range(3)] + [threading.Thread(target=failing)]
    for t in threads:
        t.start()
    try:
        for n in range(50):
            _reload(d, cfgs[n % 2])
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(20)
    bad = [r for r in results if r is not True]
    assert len(results) >= 50 and not bad, f"{len(results)} rounds, failures: {bad[:5]}"
    c = d.counters()
    assert c.get("config_reloads") == 50 and c.get("config_reload_failed", 0) == 0, c
    assert "reload: applied configuration generation 51" in d.stderr_text()
    assert d.alive()
    danced_launcher.stop(d)
