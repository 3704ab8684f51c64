"""Helpers for the DANE client-authentication tests (test_dane.py).

Everything here builds on danced_harness (which is owned by another file and is not edited here):

  dancectl_bin() / Provisioner   identities, device CA and TLSA data through `dancectl` (happy-path rows),
                                 with an openssl fallback when dancectl is missing or unusable
  selfsigned_openssl()           special certificates with openssl (several SANs, ...)
  expired_leaf()                 backdated certificates (openssl 3.0 `x509 -req` cannot set notBefore,
                                 so these are made with python3-cryptography)
  tlsa_hex()                     independent computation of TLSA data (cross-checks dancectl's output)
  ZoneSigner                     ldns-keygen once, ldns-signzone again and again with the SAME keys
                                 (needed for key rotation: the DS given to danced stays valid)
  tamper_rrsig()                 corrupt the RRSIG over one RRset (bogus TLSA answer)
  DotSession                     DotConnection that can offer a TLS session for resumption
  ede()                          (info-code, extra-text) of an EDNS EDE option
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import dns.message
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519
from cryptography.x509.oid import NameOID

import danced_harness as h

REPO_ROOT = h.REPO_ROOT


# --------------------------------------------------------------------------- certificates and TLSA data

@dataclass
class Ident:
    name: str          # identity as it appears in the SAN (may be mixed case)
    cert: Path
    key: Path
    tlsa_line: Optional[str] = None   # what the provisioning tool printed (if any)

    @property
    def identity(self) -> str:
        return self.name.lower().rstrip(".")


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def with_chain(leaf: Path, *cas: Path) -> Path:
    """leaf + CA certificate(s) in one PEM file (what a DANE-TA client presents), beside the leaf."""
    out = Path(str(leaf).replace(".crt", "") + "-chain.crt")
    out.write_text("".join(Path(p).read_text() for p in (leaf, *cas)))
    return out


def tlsa_hex(cert_path: Path, selector: int, mtype: int) -> str:
    """TLSA association data computed here, independently of danced and dancectl."""
    cert = load_cert(cert_path)
    if selector == 0:
        data = cert.public_bytes(serialization.Encoding.DER)
    else:
        data = cert.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    if mtype == 0:
        return data.hex()
    if mtype == 1:
        return hashlib.sha256(data).hexdigest()
    if mtype == 2:
        return hashlib.sha512(data).hexdigest()
    raise ValueError(mtype)


def san_dns_names(cert_path: Path) -> List[str]:
    cert = load_cert(cert_path)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return san.get_values_for_type(x509.DNSName)


def dancectl_bin() -> Optional[str]:
    env = os.environ.get("DANCECTL_BIN")
    if env:
        return env
    p = REPO_ROOT / "build" / "tools" / "dancectl"
    return str(p) if os.access(p, os.X_OK) else None


_TLSA_LINE = re.compile(r"^(\S+)\s+(\d+)\s+IN\s+TLSA\s+(\d)\s+(\d)\s+(\d)\s+([0-9a-fA-F]+)\s*$")


def _tlsa_lines(text: str) -> List[Tuple[str, int, int, int, int, str]]:
    out = []
    for line in text.splitlines():
        m = _TLSA_LINE.match(line.strip())
        if m:
            out.append((m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5)),
                        m.group(6).lower()))
    return out


class Provisioner:
    """Identities, device CA and TLSA lines.  Uses dancectl when it works, else openssl.
    `self.tool` says which ("dancectl" or "openssl"), `self.log` keeps the commands run."""

    def __init__(self, dir: Path):
        self.dir = Path(dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.bin = dancectl_bin()
        self.log: List[str] = []
        self.tool = "dancectl" if self.bin and self._probe() else "openssl"

    def _run(self, args: List[str]) -> subprocess.CompletedProcess:
        self.log.append(" ".join(map(str, args)))
        return h.run([str(a) for a in args], timeout=30)

    def _probe(self) -> bool:
        d = self.dir / "probe"
        try:
            p = h.run([self.bin, "identity", "new", "probe.corp.example", "--out", str(d)], check=False, timeout=20)
        except Exception:
            return False
        return (p.returncode == 0 and (d / "probe.corp.example.crt").exists()
                and any(l[0] == "probe.corp.example." for l in _tlsa_lines(p.stdout)))

    # ---- DANE-EE identity (self-signed)
    def identity(self, name: str, ed25519: bool = False, sub: Optional[str] = None) -> Ident:
        """sub: another output directory (a second identity with the same name, e.g. key rotation)."""
        out = self.dir / (sub or "ids")
        if self.tool == "dancectl":
            args = [self.bin, "identity", "new", name, "--out", out] + (["--ed25519"] if ed25519 else [])
            p = self._run(args)
            lines = [l for l in _tlsa_lines(p.stdout) if l[0] == name + "."]
            if len(lines) != 1 or lines[0][2:5] != (3, 1, 1):
                raise h.HarnessError(f"dancectl identity new {name}: no '3 1 1' TLSA line:\n{p.stdout}")
            ident = Ident(name, out / f"{name}.crt", out / f"{name}.key", tlsa_line=" ".join(map(str, lines[0])))
            if lines[0][5] != tlsa_hex(ident.cert, 1, 1):
                raise h.HarnessError(f"dancectl printed TLSA data that is not sha256(SPKI) of {ident.cert}")
            return ident
        cert, key = selfsigned_openssl(out, name, [name], ed25519=ed25519)
        return Ident(name, cert, key)

    def tlsa(self, ident: Ident, usage: int, selector: int, mtype: int, owner: Optional[str] = None) -> str:
        """RDATA text 'U S M HEX' for ident's certificate (via dancectl tlsa, cross-checked)."""
        mine = tlsa_hex(ident.cert, selector, mtype)
        if self.tool == "dancectl":
            p = self._run([self.bin, "tlsa", ident.cert, "--usage", usage, "--selector", selector, "--mtype", mtype,
                           "--name", owner or ident.name])
            lines = _tlsa_lines(p.stdout)
            if len(lines) != 1 or lines[0][2:5] != (usage, selector, mtype):
                raise h.HarnessError(f"dancectl tlsa: unexpected output:\n{p.stdout}")
            if lines[0][5] != mine:
                raise h.HarnessError(f"dancectl tlsa {usage} {selector} {mtype} disagrees with python for {ident.cert}")
        return f"{usage} {selector} {mtype} {mine}"

    # ---- device CA (DANE-TA)
    def ca(self, domain: str) -> Tuple[Path, Path, str]:
        """(ca.crt, ca.key, wildcard TLSA RDATA '2 0 1 HEX')."""
        out = self.dir / "ca"
        if self.tool == "dancectl":
            p = self._run([self.bin, "ca", "new", domain, "--out", out])
            lines = [l for l in _tlsa_lines(p.stdout) if l[0] == f"*._device.{domain}."]
            if len(lines) != 1 or lines[0][2:5] != (2, 0, 1):
                raise h.HarnessError(f"dancectl ca new: no wildcard '2 0 1' line:\n{p.stdout}")
            crt, key = out / "ca.crt", out / "ca.key"
            if lines[0][5] != tlsa_hex(crt, 0, 1):
                raise h.HarnessError("dancectl ca new printed TLSA data that is not sha256(CA certificate)")
        else:
            crt, key = ca_openssl(out, f"{domain} device CA")
        return crt, key, f"2 0 1 {tlsa_hex(crt, 0, 1)}"

    def issue(self, name: str, ca_cert: Path, ca_key: Path) -> Ident:
        out = self.dir / "devices"
        if self.tool == "dancectl":
            self._run([self.bin, "ca", "issue", name, "--ca-dir", ca_cert.parent, "--out", out])
            return Ident(name, out / f"{name}.crt", out / f"{name}.key")
        out.mkdir(parents=True, exist_ok=True)
        crt, key = h.make_leaf(out, name, ca_cert, ca_key, name, f"DNS:{name}", eku="clientAuth")
        return Ident(name, crt, key)


def selfsigned_openssl(dir: Path, stem: str, sans: List[str], ed25519: bool = False, days: int = 30) -> Tuple[Path, Path]:
    dir = Path(dir)
    dir.mkdir(parents=True, exist_ok=True)
    key, crt = dir / f"{stem}.key", dir / f"{stem}.crt"
    alg = ["-newkey", "ed25519"] if ed25519 else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    h.run(["openssl", "req", "-x509", *alg, "-nodes", "-keyout", str(key), "-out", str(crt), "-subj", f"/CN={sans[0]}",
           "-days", str(days), "-addext", "subjectAltName=" + ",".join(f"DNS:{s}" for s in sans),
           "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=clientAuth"])
    return crt, key


def ca_openssl(dir: Path, cn: str) -> Tuple[Path, Path]:
    dir = Path(dir)
    dir.mkdir(parents=True, exist_ok=True)
    key, crt = dir / "ca.key", dir / "ca.crt"
    h.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(key)])
    h.run(["openssl", "req", "-x509", "-new", "-key", str(key), "-subj", f"/CN={cn}", "-days", "30", "-sha256",
           "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
           "-out", str(crt)])
    return crt, key


def expired_leaf(dir: Path, stem: str, san: str, ca_cert: Optional[Path] = None, ca_key: Optional[Path] = None,
                 ) -> Tuple[Path, Path]:
    """P-256 certificate valid from 30 days ago until 1 day ago; signed by the CA, or self-signed."""
    dir = Path(dir)
    dir.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, san)])
    if ca_cert is not None:
        issuer_cert = load_cert(ca_cert)
        issuer = issuer_cert.subject
        signer = serialization.load_pem_private_key(Path(ca_key).read_bytes(), password=None)
    else:
        issuer_cert, issuer, signer = None, subject, key
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(days=30)).not_valid_after(now - datetime.timedelta(days=1))
         .add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    if issuer_cert is not None:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key()),
                            critical=False)
    algo = None if isinstance(signer, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)) else hashes.SHA256()
    cert = b.sign(signer, algo)
    kp, cp = dir / f"{stem}.key", dir / f"{stem}.crt"
    kp.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    cp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cp, kp


# --------------------------------------------------------------------------- zones

class ZoneSigner:
    """One zone, signed with keys generated once (KSK + ZSK, ECDSAP256SHA256): re-signing after a change
    keeps the DNSKEY set, so the DS danced was given stays valid (key rotation of TLSA data)."""

    def __init__(self, dir: Path, origin: str):
        self.dir = Path(dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.origin = origin if origin.endswith(".") else origin + "."
        name = self.origin.rstrip(".")
        self.file = self.dir / f"{name}.zone"
        self.ksk = h.run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", name], cwd=self.dir).stdout.strip()
        self.zsk = h.run(["ldns-keygen", "-a", "ECDSAP256SHA256", name], cwd=self.dir).stdout.strip()
        ds_lines = [l for l in (self.dir / f"{self.ksk}.ds").read_text().splitlines() if "DS" in l.split()]
        self.ds = " ".join(ds_lines[0].split())
        self.serial = 2024010100

    @property
    def signed(self) -> Path:
        return Path(str(self.file) + ".signed")

    def write_and_sign(self, body: str) -> Path:
        self.serial += 1
        self.file.write_text(zone_text(self.origin, body, self.serial))
        h.run(["ldns-signzone", str(self.file), self.ksk, self.zsk], cwd=self.dir)
        return self.signed

    def zone(self) -> h.Zone:
        return h.Zone(self.origin, self.signed, self.ds, True)


def zone_text(origin: str, body: str, serial: int = 2024010101) -> str:
    return (f"$ORIGIN {origin}\n$TTL 3600\n"
            f"@ IN SOA ns1.{origin} hostmaster.{origin} {serial} 3600 900 604800 300\n"
            f"@ IN NS ns1.{origin}\n"
            f"ns1 IN A 127.0.0.1\n" + body)


def tamper_rrsig(signed: Path, owner: str, covered: str) -> None:
    """Flip one character inside the signature of the RRSIG over (owner, covered): the RRset then no
    longer validates, although its data is untouched."""
    out, n = [], 0
    for line in Path(signed).read_text().splitlines():
        f = line.split()
        if len(f) >= 13 and f[0] == owner and f[3] == "RRSIG" and f[4] == covered:
            sig = f[-1]
            i = len(sig) // 2
            c = "B" if sig[i] != "B" else "C"
            f[-1] = sig[:i] + c + sig[i + 1:]
            line = "\t".join(f[:5]) + " " + " ".join(f[5:])
            n += 1
        out.append(line)
    if n != 1:
        raise h.HarnessError(f"tamper_rrsig: expected one RRSIG {covered} at {owner} in {signed}, found {n}")
    Path(signed).write_text("\n".join(out) + "\n")


# --------------------------------------------------------------------------- clients

def client_ctx(pki: h.Pki, ident: Optional[Ident] = None) -> ssl.SSLContext:
    """Verifies danced's server certificate (test CA, dot.danced.example); presents ident's certificate."""
    return h.client_context(pki, verify=True, client_cert=ident.cert if ident else None,
                            client_key=ident.key if ident else None)


class DotSession(h.DotConnection):
    """DotConnection that can offer a TLS session (resumption) and remembers its local port."""

    def __init__(self, host: str, port: int, ctx: ssl.SSLContext, session: Optional[ssl.SSLSession] = None,
                 timeout: float = 10.0):
        self.ctx = ctx
        raw = socket.create_connection((host, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.local_port = raw.getsockname()[1]
        kw = {"session": session} if session is not None else {}
        self.sock = ctx.wrap_socket(raw, server_hostname=h.SERVER_NAME, **kw)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.pending: Dict[int, dns.message.Message] = {}

    @property
    def peer_text(self) -> str:
        """How danced names this client in its log ("127.0.0.1:PORT")."""
        return f"{h.LOOPBACK}:{self.local_port}"


def ede(msg: dns.message.Message) -> Optional[Tuple[int, str]]:
    """(info-code, extra-text) of the EDE option (15), or None."""
    o = h.edns_option(msg, 15)
    if o is None:
        return None
    if hasattr(o, "code"):
        return int(o.code), (o.text or "")
    raw = h.option_bytes(o)
    return int.from_bytes(raw[:2], "big"), raw[2:].decode("utf-8", "replace")


def wait_for_log(d: h.Danced, needle: str, timeout: float = 3.0, count: int = 1) -> str:
    """Wait until danced's stderr contains `needle` at least `count` times; return the stderr text."""
    deadline = time.monotonic() + timeout
    while True:
        text = d.stderr_text()
        if text.count(needle) >= count or time.monotonic() > deadline:
            return text
        time.sleep(0.05)
