"""Helpers for the slowloris / connection-flood test (test_attack.py).

  raise_nofile()          RLIMIT_NOFILE up to the hard limit (thousands of sockets)
  attacker_identities()   many self-signed P-256 certificates with one SAN dNSName each (python3-cryptography:
                          hundreds in well under a second; their TLSA lookups never complete, so no records)
  client_hellos()         raw TLS ClientHello records (for clients that stall the handshake after it)
  AttackSpec / run_attack_process()
                          the attacker population, run in a SEPARATE python process (asyncio, one loop) so that
                          the honest clients measured by the test do not share a GIL with it
  CounterSampler          SIGUSR1 + read server.counters-file every ~200 ms; keeps the maximum of every gauge,
                          the last counters and RSS samples
  honest_round()          one honest DoT client: connect, authenticate, one query; (ok, seconds, detail)
  percentile()

Run as a script, this file IS the attacker process:  /usr/bin/python3 attack_fixtures.py SPEC.json
It writes SPEC.status.json every 0.25 s ({"open": n, "peak_open": n, ...}) and SPEC.result.json at the end.
Every loop in it is bounded by the spec's duration (and a hard cap of 120 s); loopback addresses only.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import random
import resource
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

HARD_CAP_S = 120.0          # no attack runs longer than this, whatever the spec says


def raise_nofile(want: Optional[int] = None) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if want is None else min(want, hard)
    if hard == resource.RLIM_INFINITY:
        target = want or 65536
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _loopback(addr: str) -> bool:
    return addr.startswith("127.") or addr == "::1"


def is_asan_binary(path: str) -> bool:
    """True when the binary was built with AddressSanitizer (its RSS then means something else)."""
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


class asan_options_added:
    """Context manager: append options to ASAN_OPTIONS for processes started inside it (the harness copies
    os.environ when it starts danced), restore afterwards."""

    def __init__(self, extra: str):
        self.extra = extra
        self.old = None

    def __enter__(self):
        self.old = os.environ.get("ASAN_OPTIONS")
        leaks = "0" if os.environ.get("DANCED_IGNORE_LEAKS") == "1" else "1"
        base = self.old if self.old is not None else f"abort_on_error=0:detect_leaks={leaks}"
        os.environ["ASAN_OPTIONS"] = f"{base}:{self.extra}" if base else self.extra
        return self

    def __exit__(self, *a):
        if self.old is None:
            os.environ.pop("ASAN_OPTIONS", None)
        else:
            os.environ["ASAN_OPTIONS"] = self.old


# --------------------------------------------------------------------------- certificates

def attacker_identities(dir: Path, names: List[str]) -> List[Tuple[str, str, str]]:
    """[(name, cert_path, key_path)]: self-signed P-256, SAN dNSName = name, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    dir = Path(dir)
    dir.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    out = []
    for name in names:
        key = ec.generate_private_key(ec.SECP256R1())
        subj = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (x509.CertificateBuilder().subject_name(subj).issuer_name(subj).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(key, hashes.SHA256()))
        cp, kp = dir / f"{name}.crt", dir / f"{name}.key"
        cp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        kp.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
        out.append((name, str(cp), str(kp)))
    return out


def client_hellos(n: int, server_name: str) -> List[bytes]:
    """n distinct ClientHello records (TLS 1.3, ALPN dot), as a client would send them first."""
    out = []
    for _ in range(n):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["dot"])
        inc, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(inc, outb, server_hostname=server_name)
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        out.append(outb.read())
    return out


# --------------------------------------------------------------------------- the attacker process

@dataclass
class AttackKind:
    kind: str                  # tcp_idle | hello_stall | tls_silent | tls_query | pipeline | outside
    slots: int                 # concurrent loops of this kind
    certs: List[List[str]] = field(default_factory=list)   # [[name, crt, key]]; [] = no client certificate
    hold_s: float = 8.0        # give up waiting for the server after this long (then reconnect)
    pause_s: Tuple[float, float] = (0.2, 0.8)  # pause between connections of one slot (uniform)
    queries: int = 1           # pipeline: queries sent at once
    qname: str = "www.corp.example"


@dataclass
class AttackSpec:
    host: str
    port: int
    server_name: str
    duration_s: float
    kinds: List[AttackKind]
    sources: List[str]         # local addresses the slots bind to (round-robin)
    ramp_s: float = 3.0        # slots start spread over this long
    connect_timeout_s: float = 10.0

    def to_file(self, path: Path) -> Path:
        Path(path).write_text(json.dumps(asdict(self), indent=1))
        return Path(path)

    @staticmethod
    def from_file(path: Path) -> "AttackSpec":
        d = json.loads(Path(path).read_text())
        d["kinds"] = [AttackKind(**k) for k in d["kinds"]]
        return AttackSpec(**d)


def source_addresses(first_octet3: int = 1, last_octet3: int = 9, per_prefix: int = 60) -> List[str]:
    """127.0.X.Y for X in [first, last], Y in 1..per_prefix: many /32s in several /24s."""
    return [f"127.0.{x}.{y}" for y in range(1, per_prefix + 1) for x in range(first_octet3, last_octet3 + 1)]


class _Stats:
    def __init__(self):
        self.c: Dict[str, Counter] = {}
        self.open = 0
        self.peak_open = 0
        self.open_by_kind: Counter = Counter()
        self.peak_by_kind: Counter = Counter()
        self.hold: Dict[str, List[float]] = {}

    def inc(self, kind: str, what: str, n: int = 1):
        c = self.c.setdefault(kind, Counter())
        if what in c or len(c) < 60:          # bounded: odd error texts do not grow it without limit
            c[what] += n
        else:
            c["other"] += n

    def opened(self, kind: str):
        self.open += 1
        self.open_by_kind[kind] += 1
        self.peak_open = max(self.peak_open, self.open)
        self.peak_by_kind[kind] = max(self.peak_by_kind[kind], self.open_by_kind[kind])

    def closed(self, kind: str, held: float):
        self.open -= 1
        self.open_by_kind[kind] -= 1
        h = self.hold.setdefault(kind, [])
        if len(h) < 20000:
            h.append(held)


def _dns_query(qname: str, qid: int) -> bytes:
    """A minimal query (RD, EDNS with DO) without dnspython, so the attacker loop stays cheap."""
    hdr = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 1)
    q = b"".join(bytes([len(l)]) + l.encode() for l in qname.rstrip(".").split(".")) + b"\x00"
    q += struct.pack("!HH", 1, 1)
    opt = b"\x00" + struct.pack("!HHIH", 41, 1232, 0x8000, 0)
    return hdr + q + opt


_BATCHES: Dict[Tuple[str, int], bytes] = {}


def _batch(qname: str, n: int) -> bytes:
    """n framed queries (IDs 0..n-1), built once per (qname, n)."""
    b = _BATCHES.get((qname, n))
    if b is None:
        b = b"".join(struct.pack("!H", len(q)) + q for q in (_dns_query(qname, i & 0xFFFF) for i in range(n)))
        _BATCHES[(qname, n)] = b
    return b


def _parse_rcode_ede(msg: bytes) -> Tuple[str, str]:
    """(rcode text, EDE 'code:text' or '') of a response, tolerant of anything."""
    try:
        import dns.message
        import dns.rcode
        m = dns.message.from_wire(msg)
        rc = dns.rcode.to_text(m.rcode())
        ede = ""
        for o in m.options:
            if int(o.otype) == 15:
                code = getattr(o, "code", None)
                text = getattr(o, "text", None) or ""
                # "DANE: timeout for x.evil..." -> keep the reason only (bounded key space)
                text = text.split(" for ")[0][:48]
                ede = f"{int(code) if code is not None else '?'}:{text}"
        return rc, ede
    except Exception as e:  # noqa: BLE001 - attacker side: classify, never crash
        return "unparsable", type(e).__name__


async def _read_until_close(reader: asyncio.StreamReader, limit_s: float) -> str:
    """Read and discard until EOF/error; 'eof', 'error:<type>' or 'hold' (we gave up first)."""
    end = time.monotonic() + limit_s
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return "hold"
        try:
            data = await asyncio.wait_for(reader.read(65536), left)
        except asyncio.TimeoutError:
            return "hold"
        except (ConnectionError, ssl.SSLError, OSError) as e:
            return f"error:{type(e).__name__}"
        if not data:
            return "eof"


def _close(writer: Optional[asyncio.StreamWriter]):
    if writer is None:
        return
    try:
        writer.transport.abort()
    except Exception:  # noqa: BLE001
        pass


async def _one(spec: AttackSpec, k: AttackKind, st: _Stats, src: str, ctx: Optional[ssl.SSLContext],
               hello: bytes, qid: int) -> None:
    t0 = time.monotonic()
    writer = None
    try:
        if k.kind in ("tcp_idle", "hello_stall"):
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(spec.host, spec.port, local_addr=(src, 0)), spec.connect_timeout_s)
        elif k.kind == "pipeline":
            # A tiny receive window: what danced sends backs up into its own output queue quickly.
            raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            raw.setblocking(False)
            raw.bind((src, 0))
            try:
                await asyncio.wait_for(asyncio.get_running_loop().sock_connect(raw, (spec.host, spec.port)),
                                       spec.connect_timeout_s)
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(sock=raw, ssl=ctx, server_hostname=spec.server_name,
                                            ssl_handshake_timeout=spec.connect_timeout_s, limit=2048),
                    spec.connect_timeout_s)
            except BaseException:
                raw.close()
                raise
        else:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(spec.host, spec.port, local_addr=(src, 0), ssl=ctx,
                                        server_hostname=spec.server_name, ssl_handshake_timeout=spec.connect_timeout_s),
                spec.connect_timeout_s)
    except (asyncio.TimeoutError, ConnectionError, ssl.SSLError, OSError) as e:
        st.inc(k.kind, f"connect_fail:{type(e).__name__}")
        return
    st.inc(k.kind, "connected")
    st.opened(k.kind)
    try:
        if k.kind == "tcp_idle":
            st.inc(k.kind, "end:" + await _read_until_close(reader, k.hold_s))
        elif k.kind == "hello_stall":
            writer.write(hello)
            st.inc(k.kind, "end:" + await _read_until_close(reader, k.hold_s))
        elif k.kind == "tls_silent":
            st.inc(k.kind, "end:" + await _read_until_close(reader, k.hold_s))
        elif k.kind in ("tls_query", "outside"):
            writer.write(struct.pack("!H", len(q := _dns_query(k.qname, qid))) + q)
            try:
                hdr = await asyncio.wait_for(reader.readexactly(2), k.hold_s)
                body = await asyncio.wait_for(reader.readexactly(struct.unpack("!H", hdr)[0]), k.hold_s)
                rc, ede = _parse_rcode_ede(body)
                st.inc(k.kind, f"rcode:{rc}")
                if ede:
                    st.inc(k.kind, f"ede:{ede}")
                st.inc(k.kind, "end:" + await _read_until_close(reader, max(0.1, k.hold_s - (time.monotonic() - t0))))
            except asyncio.TimeoutError:
                st.inc(k.kind, "end:hold")
            except asyncio.IncompleteReadError:
                st.inc(k.kind, "end:eof_no_answer")
            except (ConnectionError, ssl.SSLError, OSError) as e:
                st.inc(k.kind, f"end:error:{type(e).__name__}")
        elif k.kind == "pipeline":
            # Many queries at once, then never read: the transport stops reading once 2 * limit bytes are
            # buffered (limit=2048 above), so the server's output backs up into the kernel and then its own queue.
            writer.write(_batch(k.qname, k.queries))
            end = t0 + k.hold_s
            while time.monotonic() < end and not writer.transport.is_closing():
                await asyncio.sleep(0.25)
            st.inc(k.kind, "end:hold" if not writer.transport.is_closing() else "end:closed")
        else:
            st.inc(k.kind, "bad_kind")
    except (ConnectionError, ssl.SSLError, OSError) as e:
        st.inc(k.kind, f"end:error:{type(e).__name__}")
    finally:
        st.closed(k.kind, time.monotonic() - t0)
        _close(writer)


async def _slot(spec: AttackSpec, k: AttackKind, st: _Stats, i: int, end: float, ctxs: List[Optional[ssl.SSLContext]],
                hellos: List[bytes]) -> None:
    rnd = random.Random(i * 7919 + hash(k.kind) % 1000)
    await asyncio.sleep(rnd.uniform(0, spec.ramp_s))
    src = spec.sources[i % len(spec.sources)]
    n = 0
    while time.monotonic() < end and n < 10000:
        n += 1
        ctx = ctxs[(i + n) % len(ctxs)] if ctxs else None
        hello = hellos[(i + n) % len(hellos)] if hellos else b""
        try:
            await asyncio.wait_for(_one(spec, k, st, src, ctx, hello, rnd.randrange(65536)),
                                   max(0.1, end - time.monotonic()) + 1.0)
        except asyncio.TimeoutError:
            st.inc(k.kind, "cut_at_end")
        if time.monotonic() >= end:
            break
        await asyncio.sleep(rnd.uniform(*k.pause_s))


def _ctx_for(server_name: str, cert: Optional[List[str]]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE      # an attacker does not care who the server is
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_alpn_protocols(["dot"])
    if cert:
        ctx.load_cert_chain(cert[1], cert[2])
    return ctx


async def _attack(spec: AttackSpec, status_path: Path) -> dict:
    st = _Stats()
    duration = min(spec.duration_s, HARD_CAP_S)
    t_start = time.monotonic()
    end = t_start + duration
    hellos = client_hellos(32, spec.server_name)
    tasks = []
    for k in spec.kinds:
        ctxs = [_ctx_for(spec.server_name, c) for c in k.certs] if k.kind not in ("tcp_idle", "hello_stall") else []
        if not ctxs and k.kind not in ("tcp_idle", "hello_stall"):
            ctxs = [_ctx_for(spec.server_name, None)]
        for i in range(k.slots):
            tasks.append(asyncio.ensure_future(_slot(spec, k, st, i, end, ctxs, hellos)))
    timeline = []

    async def reporter():
        while True:
            t = round(time.monotonic() - t_start, 2)
            timeline.append((t, st.open))
            tmp = status_path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"t": t, "open": st.open, "peak_open": st.peak_open,
                                       "open_by_kind": dict(st.open_by_kind), "done": False}))
            os.replace(tmp, status_path)
            await asyncio.sleep(0.25)

    rep = asyncio.ensure_future(reporter())
    await asyncio.wait(tasks, timeout=duration + 15)
    for t in tasks:
        t.cancel()
    rep.cancel()
    holds = {k: {"n": len(v), "avg": round(sum(v) / len(v), 3) if v else 0, "max": round(max(v), 3) if v else 0}
             for k, v in st.hold.items()}
    return {"peak_open": st.peak_open, "peak_by_kind": dict(st.peak_by_kind),
            "counts": {k: dict(v) for k, v in st.c.items()}, "hold": holds,
            "timeline": timeline[::2], "duration_s": round(time.monotonic() - t_start, 2)}


def attacker_main(spec_path: str) -> int:
    spec = AttackSpec.from_file(Path(spec_path))
    if not _loopback(spec.host) or not all(_loopback(s) for s in spec.sources):
        print("loopback only", file=sys.stderr)
        return 2
    raise_nofile()
    status = Path(spec_path).with_suffix(".status.json")
    result = Path(spec_path).with_suffix(".result.json")
    res = asyncio.run(_attack(spec, status))
    tmp = result.with_suffix(".tmp")
    tmp.write_text(json.dumps(res, indent=1, sort_keys=True))
    os.replace(tmp, result)
    status.write_text(json.dumps({"open": 0, "peak_open": res["peak_open"], "done": True}))
    return 0


class AttackProcess:
    """The attacker population in its own interpreter.  start(); wait_open(n); join() -> result dict."""

    def __init__(self, spec: AttackSpec, dir: Path, name: str = "attack"):
        self.spec = spec
        self.dir = Path(dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.spec_path = spec.to_file(self.dir / f"{name}.json")
        self.status_path = self.spec_path.with_suffix(".status.json")
        self.result_path = self.spec_path.with_suffix(".result.json")
        self.log_path = self.dir / f"{name}.log"
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> "AttackProcess":
        for p in (self.status_path, self.result_path):
            if p.exists():
                p.unlink()
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), str(self.spec_path)],
                                     stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        return self

    def status(self) -> dict:
        try:
            return json.loads(self.status_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {"open": 0, "peak_open": 0, "done": False}

    def wait_open(self, n: int, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.status()
            if s.get("open", 0) >= n or s.get("done") or self.proc.poll() is not None:
                return s
            time.sleep(0.1)
        return self.status()

    def join(self, timeout: float) -> dict:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        try:
            return json.loads(self.result_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            raise RuntimeError(f"attacker process left no result (exit {self.proc.returncode}):\n"
                               + self.log_path.read_text(errors="replace")[-3000:])

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


# --------------------------------------------------------------------------- observation

GAUGES = ("connections", "handshakes", "auth_pending", "tlsa_in_flight", "tlsa_queue_len", "upstream_in_flight")


class CounterSampler:
    """Every `period` s: SIGUSR1 to danced (a fresh counters dump), read the file, keep the max of each gauge
    (and of any *_peak line danced may add), and sample RSS.  Bounded by stop() and by max_samples."""

    def __init__(self, danced, period: float = 0.2, max_samples: int = 3000):
        self.d = danced
        self.period = period
        self.max_samples = max_samples
        self.max: Dict[str, int] = {}
        self.last: Dict[str, int] = {}
        self.rss_kib: List[Tuple[float, int]] = []
        self.samples = 0
        self._stop = threading.Event()
        self._t: Optional[threading.Thread] = None
        self.t0 = time.monotonic()

    def _read(self) -> Dict[str, int]:
        out = {}
        try:
            text = self.d.counters_file.read_text()
        except (FileNotFoundError, OSError):
            return out
        for line in text.splitlines():
            p = line.split()
            if len(p) == 2:
                try:
                    out[p[0]] = int(p[1])
                except ValueError:
                    pass
        return out

    def sample(self) -> Dict[str, int]:
        if self.d.alive():
            try:
                self.d.signal(signal.SIGUSR1)
            except (ProcessLookupError, OSError):
                pass
        time.sleep(0.03)
        c = self._read()
        if c:
            self.last = c
            for k in GAUGES + tuple(k for k in c if k.endswith("_peak")):
                if k in c:
                    self.max[k] = max(self.max.get(k, c[k]), c[k])
        if self.d.alive():
            try:
                self.rss_kib.append((round(time.monotonic() - self.t0, 2), self.d.rss_kib()))
            except Exception:  # noqa: BLE001 - exited between the check and the read
                pass
        self.samples += 1
        return c

    def _run(self):
        while not self._stop.is_set() and self.samples < self.max_samples:
            self.sample()
            self._stop.wait(max(0.0, self.period - 0.03))

    def start(self) -> "CounterSampler":
        self._t = threading.Thread(target=self._run, name="counter-sampler", daemon=True)
        self._t.start()
        return self

    def stop(self):
        self._stop.set()
        if self._t:
            self._t.join(5)

    def reset_max(self):
        self.max = {}

    def peak_rss_kib(self, since: float = 0.0) -> int:
        return max((r for t, r in self.rss_kib if t >= since), default=0)


def percentile(values: List[float], p: float) -> Optional[float]:
    if not values:
        return None
    v = sorted(values)
    i = min(len(v) - 1, max(0, int(round(p / 100.0 * (len(v) - 1)))))
    return v[i]


def honest_round(host: str, port: int, ctx: ssl.SSLContext, server_name: str, qname: str, expect_a: str,
                 source: str = "127.0.0.1", timeout: float = 15.0) -> Tuple[bool, float, str]:
    """Connect, TLS (with the identity in ctx), one query.  (ok, connect-to-first-answer seconds, detail)."""
    import dns.message
    import dns.rcode
    t0 = time.monotonic()
    raw = None
    try:
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.bind((source, 0))
        raw.settimeout(timeout)
        raw.connect((host, port))
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s = ctx.wrap_socket(raw, server_hostname=server_name)
        raw = s
        s.settimeout(max(0.1, timeout - (time.monotonic() - t0)))
        q = dns.message.make_query(qname, "A", want_dnssec=True)
        w = q.to_wire()
        s.sendall(struct.pack("!H", len(w)) + w)
        buf = b""
        while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
            data = s.recv(65536)
            if not data:
                return False, time.monotonic() - t0, "EOF before the answer"
            buf += data
        n = struct.unpack("!H", buf[:2])[0]
        r = dns.message.from_wire(buf[2:2 + n])
        dt = time.monotonic() - t0
        if r.id != q.id:
            return False, dt, f"wrong id {r.id}"
        if r.rcode() != dns.rcode.NOERROR:
            ede = [getattr(o, "text", "") for o in r.options if int(o.otype) == 15]
            return False, dt, f"rcode {dns.rcode.to_text(r.rcode())} {ede}"
        addrs = [rd.to_text() for rr in r.answer for rd in rr if rr.rdtype == 1]
        if expect_a not in addrs:
            return False, dt, f"answer {addrs}"
        return True, dt, "ok"
    except Exception as e:  # noqa: BLE001 - the test reports every failure with its detail
        return False, time.monotonic() - t0, f"{type(e).__name__}: {e}"
    finally:
        if raw is not None:
            try:
                raw.close()
            except OSError:
                pass


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        raise SystemExit(2)
    raise SystemExit(attacker_main(sys.argv[1]))
