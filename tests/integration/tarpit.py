"""A tarpit authoritative DNS server: the attacker's name server in the slowloris tests.

An attacker who owns a zone whose names may authenticate (e.g. `evil.partners.example` under the allow-list entry
`partners.example`) points its name server at something like this: every client certificate the attacker presents
makes danced look up TLSA records that arrive late or never, so authentications pile up (draft §4.1, §5.4.1).

The server listens on one address, UDP and TCP on the same port, runs in a daemon thread (epoll loop, bounded:
at most MAX_TCP TCP connections and MAX_PENDING delayed answers are kept; the rest is dropped and counted), and
counts every query it receives (by name and type), which is what the tests assert on ("no query for names outside
the allow-list").  Modes:

  hang       never answer anything (the resolver sees timeouts)
  slow       answer everything after `delay` seconds (NODATA/NXDOMAIN with the SOA, or the zone's SOA/NS)
  slow-tlsa  answer the zone's infrastructure (apex SOA/NS/DNSKEY/DS, the name server's A/AAAA) at once, and
             every query for a name below (the identities' TLSA, and the A/AAAA probes a resolver sends after
             timeouts) after `delay` seconds, or never when delay < 0: the resolver keeps trusting the server
             while every authentication stalls

Also runnable on its own:  /usr/bin/python3 tarpit.py --zone evil.example --mode hang [--port N] [--seconds S]
(prints the port, writes counts as JSON to --count-file every 0.5 s, stops on SIGTERM or after --seconds).
Loopback only.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import selectors
import signal
import socket
import struct
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

MAX_TCP = 512          # TCP connections kept at once (the oldest is dropped beyond)
MAX_PENDING = 20000    # delayed answers kept at once (new ones are dropped beyond)
MAX_TCP_BUF = 65536    # unparsed TCP input kept per connection
INFRA_TYPES = {dns.rdatatype.SOA, dns.rdatatype.NS, dns.rdatatype.DNSKEY, dns.rdatatype.DS,
               dns.rdatatype.A, dns.rdatatype.AAAA}
MODES = ("hang", "slow", "slow-tlsa")


def _free_port(host: str) -> int:
    for _ in range(200):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind((host, 0))
            port = t.getsockname()[1]
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                u.bind((host, port))
            except OSError:
                continue
            finally:
                u.close()
            return port
        finally:
            t.close()
    raise RuntimeError("no free port")


class Tarpit:
    """start() / stop(); counts: total(), by_name(), queries_under(suffix), snapshot()."""

    def __init__(self, zones: Iterable[str], mode: str = "hang", delay: float = 30.0, host: str = "127.0.0.1",
                 port: Optional[int] = None, count_file: Optional[Path] = None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if not host.startswith("127.") and host != "::1":
            raise ValueError("loopback only")
        self.zones = [dns.name.from_text(z) for z in zones]
        self.mode = mode
        self.delay = delay
        self.host = host
        self.port = port or _free_port(host)
        self.count_file = Path(count_file) if count_file else None
        self._lock = threading.Lock()
        self._names: Counter = Counter()      # "qname/TYPE" -> count
        self._total = 0
        self._udp = 0
        self._tcp = 0
        self._answered = 0
        self._dropped = 0
        self._tcp_conns = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._wake_r, self._wake_w = os.pipe()

    @property
    def address(self) -> str:
        """For resolver.stub-zones[].addresses ("IP@port")."""
        return f"{self.host}@{self.port}"

    # ------------------------------------------------------------------ counts
    def total(self) -> int:
        with self._lock:
            return self._total

    def by_name(self) -> Dict[str, int]:
        with self._lock:
            return dict(self._names)

    def queries_under(self, suffix: str) -> int:
        """Queries whose qname is `suffix` or below it (any type)."""
        s = suffix.lower().rstrip(".")
        n = 0
        with self._lock:
            for key, c in self._names.items():
                name = key.rsplit("/", 1)[0].rstrip(".")
                if name == s or name.endswith("." + s):
                    n += c
        return n

    def snapshot(self) -> dict:
        with self._lock:
            return {"total": self._total, "udp": self._udp, "tcp": self._tcp, "answered": self._answered,
                    "dropped": self._dropped, "tcp_connections": self._tcp_conns, "mode": self.mode,
                    "names": dict(self._names)}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "Tarpit":
        fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._usock = socket.socket(fam, socket.SOCK_DGRAM)
        self._usock.bind((self.host, self.port))
        self._usock.setblocking(False)
        self._tsock = socket.socket(fam, socket.SOCK_STREAM)
        self._tsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._tsock.bind((self.host, self.port))
        self._tsock.listen(256)
        self._tsock.setblocking(False)
        self._thread = threading.Thread(target=self._run, name="tarpit", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
            for fd in (self._wake_r, self._wake_w):
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._write_counts()

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()

    # ------------------------------------------------------------------ answers
    def _zone_of(self, qname: dns.name.Name) -> Optional[dns.name.Name]:
        best = None
        for z in self.zones:
            if qname.is_subdomain(z) and (best is None or len(z) > len(best)):
                best = z
        return best

    def _answer(self, q: dns.message.Message) -> bytes:
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        qname = q.question[0].name
        qtype = q.question[0].rdtype
        zone = self._zone_of(qname)
        if zone is None:
            r.set_rcode(dns.rcode.REFUSED)
            r.flags &= ~dns.flags.AA
            return r.to_wire()
        soa = dns.rrset.from_text(zone, 300, "IN", "SOA", f"ns1.{zone} hostmaster.{zone} 1 3600 600 86400 60")
        ns = dns.rrset.from_text(zone, 300, "IN", "NS", f"ns1.{zone}")
        if qname == zone and qtype == dns.rdatatype.SOA:
            r.answer.append(soa)
        elif qname == zone and qtype == dns.rdatatype.NS:
            r.answer.append(ns)
        elif qname == dns.name.from_text("ns1", zone) and qtype == dns.rdatatype.A:
            r.answer.append(dns.rrset.from_text(qname, 300, "IN", "A", "127.0.0.1"))
        else:
            if qname != zone and qname != dns.name.from_text("ns1", zone):
                r.set_rcode(dns.rcode.NXDOMAIN)
            r.authority.append(soa)
        return r.to_wire()

    def _is_infra(self, qname: dns.name.Name, qtype: int) -> bool:
        """The zone's own records (apex SOA/NS/DNSKEY..., the name server's address): what keeps a resolver
        trusting the server.  Names below (the identities) are not infrastructure."""
        zone = self._zone_of(qname)
        return zone is not None and qtype in INFRA_TYPES and qname in (zone, dns.name.from_text("ns1", zone))

    def _delay_for(self, qname: dns.name.Name, qtype: int) -> Optional[float]:
        """Seconds until the answer, None = never."""
        if self.mode == "hang":
            return None
        if self.mode == "slow-tlsa" and self._is_infra(qname, qtype):
            return 0.0
        return None if self.delay < 0 else self.delay

    # ------------------------------------------------------------------ loop
    def _count(self, q: dns.message.Message, transport: str) -> None:
        key = f"{q.question[0].name.to_text().lower()}/{dns.rdatatype.to_text(q.question[0].rdtype)}"
        with self._lock:
            self._total += 1
            self._names[key] += 1
            if transport == "udp":
                self._udp += 1
            else:
                self._tcp += 1

    def _write_counts(self) -> None:
        if self.count_file is None:
            return
        tmp = self.count_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.snapshot(), indent=1, sort_keys=True))
        os.replace(tmp, self.count_file)

    def _run(self) -> None:
        pending: List[Tuple[float, int, str, object, bytes]] = []   # (due, seq, kind, dest, wire)
        seq = 0
        tcp: Dict[socket.socket, dict] = {}      # sock -> {"buf": bytes, "since": t}
        sel = selectors.DefaultSelector()         # epoll: no FD_SETSIZE limit
        sel.register(self._usock, selectors.EVENT_READ)
        sel.register(self._tsock, selectors.EVENT_READ)
        sel.register(self._wake_r, selectors.EVENT_READ)
        last_count_write = 0.0

        def drop(c: socket.socket) -> None:
            if tcp.pop(c, None) is not None:
                try:
                    sel.unregister(c)
                except (KeyError, ValueError):
                    pass
                c.close()

        try:
            while not self._stop.is_set():
                now = time.monotonic()
                timeout = 0.5
                if pending:
                    timeout = max(0.0, min(timeout, pending[0][0] - now))
                for key, _ in sel.select(timeout):
                    s = key.fileobj
                    if s is self._wake_r:
                        os.read(self._wake_r, 64)
                    elif s is self._usock:
                        for _ in range(256):
                            try:
                                data, peer = self._usock.recvfrom(4096)
                            except OSError:
                                break
                            seq = self._handle(data, ("udp", peer), pending, seq)
                    elif s is self._tsock:
                        for _ in range(64):
                            try:
                                c, _ = self._tsock.accept()
                            except OSError:
                                break
                            c.setblocking(False)
                            if len(tcp) >= MAX_TCP:
                                drop(min(tcp, key=lambda k: tcp[k]["since"]))
                                with self._lock:
                                    self._dropped += 1
                            tcp[c] = {"buf": b"", "since": time.monotonic()}
                            sel.register(c, selectors.EVENT_READ)
                            with self._lock:
                                self._tcp_conns += 1
                    else:
                        st = tcp.get(s)
                        if st is None:
                            continue
                        try:
                            data = s.recv(65536)
                        except (BlockingIOError, InterruptedError):
                            continue
                        except OSError:
                            data = b""
                        if not data:
                            drop(s)
                            continue
                        st["buf"] = (st["buf"] + data)[-MAX_TCP_BUF:]
                        while len(st["buf"]) >= 2:
                            n = struct.unpack("!H", st["buf"][:2])[0]
                            if len(st["buf"]) < 2 + n:
                                break
                            msg, st["buf"] = st["buf"][2:2 + n], st["buf"][2 + n:]
                            seq = self._handle(msg, ("tcp", s), pending, seq)
                # Due answers.
                now = time.monotonic()
                while pending and pending[0][0] <= now:
                    _, _, kind, dest, wire = heapq.heappop(pending)
                    try:
                        if kind == "udp":
                            self._usock.sendto(wire, dest)
                        elif dest in tcp:
                            dest.send(struct.pack("!H", len(wire)) + wire)
                        else:
                            continue
                        with self._lock:
                            self._answered += 1
                    except OSError:
                        pass
                if self.count_file is not None and now - last_count_write > 0.5:
                    self._write_counts()
                    last_count_write = now
        finally:
            for c in list(tcp):
                drop(c)
            sel.close()
            self._usock.close()
            self._tsock.close()

    def _handle(self, data: bytes, where: Tuple[str, object], pending: list, seq: int) -> int:
        try:
            q = dns.message.from_wire(data)
        except Exception:
            return seq
        if len(q.question) != 1:
            return seq
        kind, dest = where
        self._count(q, kind)
        d = self._delay_for(q.question[0].name, q.question[0].rdtype)
        if d is None:
            return seq
        if len(pending) >= MAX_PENDING:
            with self._lock:
                self._dropped += 1
            return seq
        heapq.heappush(pending, (time.monotonic() + d, seq, kind, dest, self._answer(q)))
        return seq + 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zone", action="append", required=True, help="zone served (repeatable)")
    ap.add_argument("--mode", choices=MODES, default="hang")
    ap.add_argument("--delay", type=float, default=30.0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--count-file", type=Path)
    ap.add_argument("--seconds", type=float, default=600.0, help="stop after this long (bounded)")
    a = ap.parse_args()
    tp = Tarpit(a.zone, a.mode, a.delay, a.host, a.port or None, a.count_file).start()
    print(tp.port, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait(a.seconds)
    tp.stop()
    print(json.dumps({k: v for k, v in tp.snapshot().items() if k != "names"}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
