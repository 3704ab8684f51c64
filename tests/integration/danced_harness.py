"""Reusable helpers for danced integration tests.

Everything here talks only to loopback addresses.  Nothing in this module
depends on pytest, so it can also be used from scripts (bench, demos).

Main pieces:
  free_port()                 a port free for both TCP and UDP on 127.0.0.1
  make_pki(dir)               test CA + danced server cert (+ a DANE client cert)
  build_zones(dir, pki)       signed corp.example., tampered bogus.example., unsigned plain.example.
  Nsd                         NSD on 127.0.0.1:PORT with a unix control socket
  danced_config(...)          dict for danced's YAML config; write_config() writes it
  Danced                      start/stop danced, sanitizer scan of its stderr, counters, RSS
  DotConnection               raw DoT client (length-prefixed, pipelining, match by ID)
  dot_query / dnspython_tls / kdig   one-shot clients
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import select
import signal
import socket
import ssl
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype

REPO_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
SERVER_NAME = "dot.danced.example"
SANITIZER_PATTERNS = (
    "runtime error:",
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "ERROR: ThreadSanitizer",
    "WARNING: ThreadSanitizer",
    "ERROR: UndefinedBehaviorSanitizer",
)


class HarnessError(RuntimeError):
    pass


# --------------------------------------------------------------------------- utils

def run(cmd: List[str], cwd=None, check=True, timeout=60, env=None) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout, env=env)
    if check and p.returncode != 0:
        raise HarnessError(f"command failed ({p.returncode}): {' '.join(map(str, cmd))}\n"
                           f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def free_port(host: str = LOOPBACK) -> int:
    """A port that is currently free for both TCP and UDP on host."""
    for _ in range(200):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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
    raise HarnessError("no free port found")


def wait_tcp(host: str, port: int, timeout: float, alive=None) -> None:
    """Wait until host:port accepts TCP connections. `alive()` returning False aborts."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise HarnessError(f"process died while waiting for {host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as e:
            last = e
            time.sleep(0.05)
    raise HarnessError(f"{host}:{port} did not accept connections within {timeout}s ({last})")


def find_danced_bin() -> Optional[str]:
    env = os.environ.get("DANCED_BIN")
    if env:
        return env
    cands = [p for p in glob.glob(str(REPO_ROOT / "build*" / "resolver" / "danced")) if os.access(p, os.X_OK)]
    cands.sort(key=lambda p: os.path.getmtime(p), reverse=True)
    return cands[0] if cands else None


# --------------------------------------------------------------------------- PKI

@dataclass
class Pki:
    dir: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    server_chain: Path          # leaf + CA
    server_spki_sha256: str     # hex, for TLSA 3 1 1
    client_name: str
    client_cert: Path
    client_key: Path
    client_spki_sha256: str
    ca_cert_sha256: str         # hex, for TLSA 2 0 1


def _spki_sha256(cert: Path) -> str:
    pub = run(["openssl", "x509", "-in", str(cert), "-noout", "-pubkey"]).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub.encode(),
                         stdout=subprocess.PIPE, check=True).stdout
    return hashlib.sha256(der).hexdigest()


def _cert_sha256(cert: Path) -> str:
    der = subprocess.run(["openssl", "x509", "-in", str(cert), "-outform", "DER"],
                         stdout=subprocess.PIPE, check=True).stdout
    return hashlib.sha256(der).hexdigest()


def make_leaf(dir: Path, stem: str, ca_cert: Path, ca_key: Path, cn: str, san: str,
              eku: str = "serverAuth") -> (Path, Path):
    """P-256 key + certificate signed by the CA.  san: 'DNS:a,IP:127.0.0.1'."""
    key = dir / f"{stem}.key"
    csr = dir / f"{stem}.csr"
    crt = dir / f"{stem}.crt"
    ext = dir / f"{stem}.ext"
    run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(key)])
    run(["openssl", "req", "-new", "-key", str(key), "-subj", f"/CN={cn}", "-out", str(csr)])
    ext.write_text(f"subjectAltName={san}\nbasicConstraints=critical,CA:FALSE\n"
                   f"keyUsage=critical,digitalSignature\nextendedKeyUsage={eku}\n")
    run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
         "-CAcreateserial", "-days", "30", "-sha256", "-extfile", str(ext), "-out", str(crt)])
    return crt, key


def make_pki(dir: Path) -> Pki:
    dir = Path(dir)
    dir.mkdir(parents=True, exist_ok=True)
    ca_key = dir / "ca.key"
    ca_cert = dir / "ca.crt"
    run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(ca_key)])
    run(["openssl", "req", "-x509", "-new", "-key", str(ca_key), "-subj", "/CN=danced test CA", "-days", "30",
         "-sha256", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", str(ca_cert)])
    scrt, skey = make_leaf(dir, "server", ca_cert, ca_key, SERVER_NAME, f"DNS:{SERVER_NAME},IP:127.0.0.1")
    chain = dir / "server-chain.crt"
    chain.write_text(scrt.read_text() + ca_cert.read_text())
    client_name = "sensor7._device.corp.example"
    ccrt, ckey = make_leaf(dir, "client", ca_cert, ca_key, client_name, f"DNS:{client_name}", eku="clientAuth")
    return Pki(dir=dir, ca_cert=ca_cert, ca_key=ca_key, server_cert=scrt, server_key=skey, server_chain=chain,
               server_spki_sha256=_spki_sha256(scrt), client_name=client_name, client_cert=ccrt, client_key=ckey,
               client_spki_sha256=_spki_sha256(ccrt), ca_cert_sha256=_cert_sha256(ca_cert))


# --------------------------------------------------------------------------- zones

# Data the tests assert on.  Keep in sync with the zone texts below.
CORP = {
    "A": ["192.0.2.1"],
    "AAAA": ["2001:db8::1"],
    "TXT": ['"v=danced-test corp zone"'],
    "MX": ["10 mail.corp.example."],
    "www_A": ["192.0.2.10"],
    "alias_target": "www.corp.example.",
}
BOGUS_GOOD_A = "192.0.2.66"      # what was signed
BOGUS_TAMPERED_A = "192.0.2.99"  # what NSD serves
PLAIN_A = "192.0.2.77"


@dataclass
class Zone:
    name: str            # "corp.example." (absolute)
    file: Path           # the file NSD serves
    ds: Optional[str]    # DS text for trust anchors, None if unsigned
    signed: bool


def _zone_text(origin: str, body: str) -> str:
    return (f"$ORIGIN {origin}\n$TTL 3600\n"
            f"@ IN SOA ns1.{origin} hostmaster.{origin} 2024010101 3600 900 604800 300\n"
            f"@ IN NS ns1.{origin}\n"
            f"ns1 IN A 127.0.0.1\n" + body)


def corp_zone_body(pki: Optional[Pki]) -> str:
    body = (
        "@ IN A 192.0.2.1\n"
        "@ IN AAAA 2001:db8::1\n"
        '@ IN TXT "v=danced-test corp zone"\n'
        "@ IN MX 10 mail\n"
        "mail IN A 192.0.2.25\n"
        "www IN A 192.0.2.10\n"
        "www IN AAAA 2001:db8::10\n"
        "alias IN CNAME www\n"
    )
    if pki is not None:
        body += (
            f"_853._tcp.dot IN TLSA 3 1 1 {pki.server_spki_sha256}\n"
            f"sensor7._device IN TLSA 3 1 1 {pki.client_spki_sha256}\n"
            f"*._device IN TLSA 2 0 1 {pki.ca_cert_sha256}\n"
        )
    else:
        body += "_853._tcp.dot IN TLSA 3 1 1 " + "00" * 32 + "\n"
    return body


def sign_zone(dir: Path, origin: str, zonefile: Path) -> str:
    """ldns-keygen KSK+ZSK (ECDSAP256SHA256) and ldns-signzone. Returns the DS text of the KSK."""
    name = origin.rstrip(".")
    ksk = run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", name], cwd=dir).stdout.strip()
    zsk = run(["ldns-keygen", "-a", "ECDSAP256SHA256", name], cwd=dir).stdout.strip()
    run(["ldns-signzone", str(zonefile), ksk, zsk], cwd=dir)
    ds_file = dir / f"{ksk}.ds"
    ds_lines = [l for l in ds_file.read_text().splitlines() if "DS" in l.split()]
    if not ds_lines:
        raise HarnessError(f"no DS in {ds_file}")
    return " ".join(ds_lines[0].split())


def tamper_signed(signed: Path, owner: str, old: str, new: str) -> None:
    """Change one A record's address after signing so its RRSIG no longer verifies."""
    out, n = [], 0
    for line in signed.read_text().splitlines():
        f = line.split()
        if len(f) >= 5 and f[0] == owner and f[3] == "A" and f[4] == old:
            line = line.replace(old, new)
            n += 1
        out.append(line)
    if n != 1:
        raise HarnessError(f"tamper: expected one '{owner} A {old}' in {signed}, found {n}")
    signed.write_text("\n".join(out) + "\n")


def build_zones(dir: Path, pki: Optional[Pki] = None, extra: Optional[Dict[str, str]] = None) -> Dict[str, Zone]:
    """Write and sign the test zones.  extra: {"corp.example.": "more records\n"} appended before signing."""
    dir = Path(dir)
    dir.mkdir(parents=True, exist_ok=True)
    extra = extra or {}
    zones: Dict[str, Zone] = {}

    corp = dir / "corp.example.zone"
    corp.write_text(_zone_text("corp.example.", corp_zone_body(pki) + extra.get("corp.example.", "")))
    ds = sign_zone(dir, "corp.example.", corp)
    zones["corp.example."] = Zone("corp.example.", Path(str(corp) + ".signed"), ds, True)

    bogus = dir / "bogus.example.zone"
    bogus.write_text(_zone_text("bogus.example.", f"@ IN A {BOGUS_GOOD_A}\nwww IN A 192.0.2.67\n"
                                + extra.get("bogus.example.", "")))
    ds = sign_zone(dir, "bogus.example.", bogus)
    signed = Path(str(bogus) + ".signed")
    tamper_signed(signed, "bogus.example.", BOGUS_GOOD_A, BOGUS_TAMPERED_A)
    zones["bogus.example."] = Zone("bogus.example.", signed, ds, True)

    plain = dir / "plain.example.zone"
    plain.write_text(_zone_text("plain.example.", f"@ IN A {PLAIN_A}\nwww IN A 192.0.2.78\n"
                                + extra.get("plain.example.", "")))
    zones["plain.example."] = Zone("plain.example.", plain, None, False)
    return zones


# --------------------------------------------------------------------------- NSD

class Nsd:
    """NSD 4.6 on 127.0.0.1:port serving `zones`, foreground, control via unix socket."""

    def __init__(self, dir: Path, zones: Dict[str, Zone], port: Optional[int] = None):
        self.dir = Path(dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.zones = zones
        self.port = port or free_port()
        self.conf = self.dir / "nsd.conf"
        self.ctl_sock = self.dir / "nsd.ctl"
        self.log = self.dir / "nsd.log"
        self.proc: Optional[subprocess.Popen] = None

    @property
    def address(self) -> str:
        return f"{LOOPBACK}@{self.port}"

    def write_conf(self) -> None:
        d = self.dir
        text = f"""server:
    ip-address: {LOOPBACK}@{self.port}
    port: {self.port}
    do-ip6: no
    username: ""
    chroot: ""
    database: ""
    zonesdir: "{d}"
    zonelistfile: "{d}/zone.list"
    pidfile: "{d}/nsd.pid"
    xfrdfile: "{d}/xfrd.state"
    xfrdir: "{d}"
    logfile: "{d}/nsd.log"
    server-count: 1
    verbosity: 1
    hide-version: yes
    tcp-count: 200
remote-control:
    control-enable: yes
    control-interface: "{self.ctl_sock}"
"""
        for z in self.zones.values():
            text += f"zone:\n    name: {z.name}\n    zonefile: \"{z.file}\"\n"
        self.conf.write_text(text)

    def start(self, timeout: float = 15) -> "Nsd":
        self.write_conf()
        run(["nsd-checkconf", str(self.conf)])
        self.proc = subprocess.Popen(["nsd", "-d", "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=open(self.dir / "nsd.stderr", "wb"))
        deadline = time.monotonic() + timeout
        first = next(iter(self.zones))
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError(f"nsd exited {self.proc.returncode}: {self.diagnostics()}")
            p = run(["dig", "+short", "+time=1", "+tries=1", f"@{LOOPBACK}", "-p", str(self.port), first, "SOA"],
                    check=False, timeout=10)
            if p.returncode == 0 and p.stdout.strip():
                return self
            time.sleep(0.1)
        raise HarnessError(f"nsd did not answer within {timeout}s: {self.diagnostics()}")

    def diagnostics(self) -> str:
        out = []
        for f in (self.dir / "nsd.stderr", self.log):
            if f.exists():
                out.append(f"{f.name}:\n{f.read_text(errors='replace')[-3000:]}")
        return "\n".join(out)

    def control(self, *args: str) -> str:
        return run(["nsd-control", "-c", str(self.conf), *args], timeout=20).stdout

    def stats(self) -> Dict[str, float]:
        """nsd-control stats_noreset as a dict (e.g. stats()['num.queries'])."""
        out = {}
        for line in self.control("stats_noreset").splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                try:
                    out[k.strip()] = float(v)
                except ValueError:
                    pass
        return out

    def num_queries(self) -> int:
        return int(self.stats().get("num.queries", 0))

    def reload(self, zone: Optional[str] = None, timeout: float = 10) -> None:
        """nsd-control reload, then wait until NSD answers TCP again (a reload restarts its server
        processes, which resets TCP connections open at that moment)."""
        self.control("reload", *([zone] if zone else []))
        time.sleep(0.5)
        deadline = time.monotonic() + timeout
        first = next(iter(self.zones))
        while True:
            p = run(["dig", "+tcp", "+short", "+time=1", "+tries=1", f"@{LOOPBACK}", "-p", str(self.port),
                     first, "SOA"], check=False, timeout=10)
            if p.returncode == 0 and p.stdout.strip():
                return
            if time.monotonic() > deadline:
                raise HarnessError(f"nsd not answering after reload: {self.diagnostics()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


# --------------------------------------------------------------------------- danced config

def danced_config(listen_port: int, pki: Pki, nsd: Optional[Nsd], zones: Optional[Dict[str, Zone]],
                  workdir: Path, idle_timeout_ms: int = 2000, **overrides) -> dict:
    """A config dict for danced.  overrides: top-level sections merged shallowly
    (e.g. limits={"max-connections": 10}); a listener list replaces the default."""
    stubs = []
    if nsd is not None and zones is not None:
        for z in zones.values():
            s = {"zone": z.name.rstrip("."), "addresses": [nsd.address]}
            if z.ds:
                s["trust-anchor"] = z.ds
            stubs.append(s)
    cfg = {
        "server": {
            "workers": 2,
            "log-level": "info",
            "counters-file": str(Path(workdir) / "counters.txt"),
        },
        "listeners": [{
            "name": "dot",
            "address": LOOPBACK,
            "port": listen_port,
            "certificate": str(pki.server_cert),
            "key": str(pki.server_key),
            "client-auth": "none",
        }],
        "limits": {
            "idle-timeout-ms": idle_timeout_ms,
            "first-query-timeout-ms": 5000,
            "handshake-timeout-ms": 5000,
        },
        "resolver": {
            "mode": "recursive",
            "root-hints": "",
            "trust-anchor-file": "",
            "dnssec": True,
            "stub-zones": stubs,
            "infra-host-ttl": 5,
            "query-timeout-ms": 5000,
        },
    }
    for k, v in overrides.items():
        k = k.replace("_", "-")
        if isinstance(v, dict) and isinstance(cfg.get(k), dict):
            cfg[k].update(v)
        else:
            cfg[k] = v
    return cfg


def _yaml_scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


def _yaml_dump(obj, indent=0) -> str:
    pad = " " * indent
    out = ""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict):
                out += f"{pad}{k}:\n" + _yaml_dump(v, indent + 2)
            elif isinstance(v, list):
                if not v:
                    out += f"{pad}{k}: []\n"
                else:
                    out += f"{pad}{k}:\n" + _yaml_dump(v, indent + 2)
            else:
                out += f"{pad}{k}: {_yaml_scalar(v)}\n"
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, dict):
                sub = _yaml_dump(item, indent + 2).splitlines(True)
                out += f"{pad}- " + sub[0].lstrip() + "".join(sub[1:])
            else:
                out += f"{pad}- {_yaml_scalar(item)}\n"
    return out


def write_config(path: Path, cfg: dict) -> Path:
    """Write cfg as block-style YAML (deterministic, one key per line, so tests can find line numbers)."""
    path = Path(path)
    path.write_text(_yaml_dump(cfg))
    return path


# --------------------------------------------------------------------------- danced process

class Danced:
    """A running danced.  start() waits until the first listener accepts TCP."""

    def __init__(self, binary: str, config: dict, workdir: Path, name: str = "danced"):
        self.binary = binary
        self.config = config
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.config_path = self.workdir / f"{name}.yaml"
        self.stderr_path = self.workdir / f"{name}.stderr"
        self.proc: Optional[subprocess.Popen] = None
        self.expected_exit = False
        self._stderr_f = None

    @property
    def port(self) -> int:
        return int(self.config["listeners"][0]["port"])

    @property
    def host(self) -> str:
        return self.config["listeners"][0]["address"]

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def idle_timeout_ms(self) -> int:
        return int(self.config.get("limits", {}).get("idle-timeout-ms", 30000))

    @property
    def counters_file(self) -> Optional[Path]:
        f = self.config.get("server", {}).get("counters-file")
        return Path(f) if f else None

    def start(self, timeout: float = 20, wait_counters: bool = True) -> "Danced":
        """Start and wait until the first listener accepts TCP.  With wait_counters and a
        counters-file configured, also wait for the first counters dump (danced's main loop is
        then running, so SIGUSR1/SIGTERM are handled; see test_signals_right_after_ready)."""
        write_config(self.config_path, self.config)
        if self.counters_file is not None and self.counters_file.exists():
            self.counters_file.unlink()
        env = dict(os.environ)
        leaks = "0" if os.environ.get("DANCED_IGNORE_LEAKS") == "1" else "1"
        env.setdefault("ASAN_OPTIONS", f"abort_on_error=0:detect_leaks={leaks}")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        self._stderr_f = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen([self.binary, "-c", str(self.config_path)], stdin=subprocess.DEVNULL,
                                     stdout=self._stderr_f, stderr=self._stderr_f, cwd=self.workdir, env=env)
        try:
            deadline = time.monotonic() + timeout
            wait_tcp(self.host, self.port, timeout, alive=lambda: self.proc.poll() is None)
            while wait_counters and self.counters_file is not None and not self.counters_file.exists():
                if self.proc.poll() is not None:
                    raise HarnessError("process died while waiting for the first counters dump")
                if time.monotonic() > deadline:
                    raise HarnessError(f"no counters file {self.counters_file} within {timeout}s")
                time.sleep(0.02)
        except HarnessError as e:
            self.stop()
            raise HarnessError(f"danced did not start: {e}\n--- stderr ---\n{self.stderr_tail()}")
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stderr_tail(self, n: int = 4000) -> str:
        return self.stderr_text()[-n:]

    def sanitizer_reports(self) -> List[str]:
        """Sanitizer report lines in stderr.  DANCED_IGNORE_LEAKS=1 ignores LeakSanitizer (and
        the harness then starts danced with detect_leaks=0 unless ASAN_OPTIONS is set)."""
        pats = SANITIZER_PATTERNS
        if os.environ.get("DANCED_IGNORE_LEAKS") == "1":
            pats = tuple(p for p in pats if "LeakSanitizer" not in p)
        text = self.stderr_text()
        return [l for l in text.splitlines() if any(p in l for p in pats)]

    def health_problems(self) -> List[str]:
        """Empty when danced is running (or was stopped on purpose) and its stderr is clean."""
        probs = []
        if self.proc is not None and self.proc.poll() is not None and not self.expected_exit:
            probs.append(f"danced exited unexpectedly with status {self.proc.returncode}")
        reps = self.sanitizer_reports()
        if reps:
            probs.append("sanitizer reports in danced stderr:\n  " + "\n  ".join(reps[:20]))
        return probs

    def stop(self, timeout: float = 10) -> Optional[int]:
        """SIGTERM, wait, then SIGKILL.  Returns the exit status; records whether SIGKILL was needed."""
        self.killed = False
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.expected_exit = True
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.killed = True
                self.proc.kill()
                self.proc.wait(5)
        if self._stderr_f:
            self._stderr_f.close()
            self._stderr_f = None
        return self.proc.returncode

    # -- observation
    def rss_kib(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise HarnessError("no VmRSS")

    def signal(self, sig=signal.SIGUSR1) -> None:
        self.proc.send_signal(sig)

    def counters(self, refresh: bool = True, timeout: float = 3.0) -> Dict[str, int]:
        """Counters from server.counters-file.  refresh: SIGUSR1 and wait for a rewrite."""
        f = self.counters_file
        if f is None:
            raise HarnessError("no server.counters-file in config")
        if refresh:
            before = f.stat().st_mtime_ns if f.exists() else 0
            self.signal(signal.SIGUSR1)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if f.exists() and f.stat().st_mtime_ns != before:
                    break
                time.sleep(0.02)
            time.sleep(0.02)
        return read_counters(f)


def read_counters(path: Path) -> Dict[str, int]:
    out: Dict[str, int] = {}
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                try:
                    out[parts[0]] = float(parts[1])
                except ValueError:
                    pass
    return out


def check_config(binary: str, path: Path, timeout: float = 20) -> subprocess.CompletedProcess:
    return run([binary, "--check-config", "-c", str(path)], check=False, timeout=timeout)


# --------------------------------------------------------------------------- DoT clients

def client_context(pki: Optional[Pki] = None, verify: bool = True, alpn: Optional[List[str]] = ("dot",),
                   client_cert: Optional[Path] = None, client_key: Optional[Path] = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify and pki is not None:
        ctx.load_verify_locations(cafile=str(pki.ca_cert))
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    if client_cert:
        ctx.load_cert_chain(str(client_cert), str(client_key) if client_key else None)
    return ctx


def make_query(qname: str, rdtype="A", do: bool = True, ad: bool = False, qid: Optional[int] = None,
               keepalive: bool = False, pad: int = 0, options: Optional[list] = None,
               use_edns: bool = True) -> dns.message.QueryMessage:
    opts = list(options or [])
    if keepalive:
        opts.append(dns.edns.GenericOption(dns.edns.OptionType.KEEPALIVE, b""))
    q = dns.message.make_query(qname, rdtype, use_edns=0 if (use_edns or do or opts or pad) else None,
                               want_dnssec=do, payload=1232, options=opts or None, pad=pad)
    if ad:
        q.flags |= dns.flags.AD
    if qid is not None:
        q.id = qid
    return q


class ConnectionClosed(Exception):
    pass


class DotConnection:
    """Raw DNS-over-TLS client: 2-byte length prefix, pipelining, responses matched by ID."""

    def __init__(self, host: str, port: int, ctx: Optional[ssl.SSLContext] = None,
                 server_hostname: Optional[str] = SERVER_NAME, timeout: float = 10.0, source: Optional[str] = None):
        self.ctx = ctx or client_context(verify=False)
        raw = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        if source:
            raw.bind((source, 0))
        raw.settimeout(timeout)
        raw.connect((host, port))
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self.ctx.wrap_socket(raw, server_hostname=server_hostname)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.pending: Dict[int, dns.message.Message] = {}

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    @property
    def alpn(self) -> Optional[str]:
        return self.sock.selected_alpn_protocol()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_frame(self, wire: bytes) -> None:
        self.sock.sendall(struct.pack("!H", len(wire)) + wire)

    def send(self, q: dns.message.Message) -> None:
        self.send_frame(q.to_wire())

    def send_many(self, qs: Iterable[dns.message.Message]) -> None:
        self.sock.sendall(b"".join(struct.pack("!H", len(w)) + w for w in (q.to_wire() for q in qs)))

    def _fill(self, timeout: Optional[float]) -> None:
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError, ssl.SSLZeroReturnError) as e:
            raise ConnectionClosed(str(e))
        if not data:
            raise ConnectionClosed("EOF")
        self.buf += data

    def recv_frame(self, timeout: Optional[float] = 10.0) -> bytes:
        """One raw response (without the length prefix)."""
        while len(self.buf) < 2:
            self._fill(timeout)
        n = struct.unpack("!H", self.buf[:2])[0]
        while len(self.buf) < 2 + n:
            self._fill(timeout)
        frame, self.buf = self.buf[2:2 + n], self.buf[2 + n:]
        return frame

    def recv(self, timeout: Optional[float] = 10.0) -> dns.message.Message:
        return dns.message.from_wire(self.recv_frame(timeout))

    def query(self, q: dns.message.Message, timeout: float = 10.0) -> dns.message.Message:
        self.send(q)
        return self.wait_for(q.id, timeout)

    def wait_for(self, qid: int, timeout: float = 10.0) -> dns.message.Message:
        deadline = time.monotonic() + timeout
        while qid not in self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout(f"no response for id {qid}")
            r = self.recv(left)
            self.pending.setdefault(r.id, r)
        return self.pending.pop(qid)

    def wait_closed(self, timeout: float) -> float:
        """Read until the server closes; returns seconds waited.  Raises socket.timeout if still open."""
        start = time.monotonic()
        deadline = start + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("connection still open")
            try:
                self._fill(left)
            except ConnectionClosed:
                return time.monotonic() - start
            except ssl.SSLError:
                return time.monotonic() - start


def dot_query(host: str, port: int, qname: str, rdtype="A", ctx=None, timeout: float = 10.0, **kw) -> dns.message.Message:
    with DotConnection(host, port, ctx=ctx, timeout=timeout) as c:
        return c.query(make_query(qname, rdtype, **kw), timeout)


def dnspython_tls(host: str, port: int, q: dns.message.Message, pki: Pki, timeout: float = 10.0,
                  ctx: Optional[ssl.SSLContext] = None) -> dns.message.Message:
    ctx = ctx or client_context(pki, verify=True)
    return dns.query.tls(q, host, port=port, timeout=timeout, ssl_context=ctx, server_hostname=SERVER_NAME)


def kdig(host: str, port: int, *args: str, pki: Optional[Pki] = None, timeout: float = 20) -> subprocess.CompletedProcess:
    """kdig +tls; with pki: strict (CA + hostname).  args: e.g. '+dnssec', 'corp.example', 'A'."""
    cmd = ["kdig", "+tls", f"@{host}", "-p", str(port), "+timeout=5", "+retry=0"]
    if pki is not None:
        cmd += [f"+tls-ca={pki.ca_cert}", f"+tls-hostname={SERVER_NAME}"]
    cmd += list(args)
    return run(cmd, check=False, timeout=timeout)


def kdig_flags(output: str) -> List[str]:
    m = re.search(r";; Flags:([^;]*);", output)
    if not m:
        raise HarnessError(f"no flags line in kdig output:\n{output}")
    return m.group(1).split()


def kdig_status(output: str) -> str:
    m = re.search(r"status: ([A-Z]+)", output)
    if not m:
        raise HarnessError(f"no status in kdig output:\n{output}")
    return m.group(1)


def edns_option(msg: dns.message.Message, code: int):
    for o in msg.options:
        if int(o.otype) == int(code):
            return o
    return None


def option_bytes(opt) -> bytes:
    """Wire data of an EDNS option (works for GenericOption and typed options)."""
    return opt.to_wire() if hasattr(opt, "to_wire") else b""


def answer_texts(msg: dns.message.Message, rdtype) -> List[str]:
    rdtype = dns.rdatatype.RdataType.make(rdtype)
    out = []
    for rrset in msg.answer:
        if rrset.rdtype == rdtype:
            out += [r.to_text() for r in rrset]
    return sorted(out)
