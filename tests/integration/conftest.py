"""pytest fixtures for danced integration tests (run with /usr/bin/python3 -m pytest).

Session-scoped: work dir, PKI (test CA, server cert for dot.danced.example / 127.0.0.1, a DANE client cert),
signed zones (corp.example. good, bogus.example. tampered, plain.example. unsigned) and one NSD serving them.

danced: `danced_launcher.start(name, **config_overrides)` starts an instance (config built by
danced_harness.danced_config); every running instance is checked after every test (unexpected exit,
sanitizer reports in its stderr) and stopped at the end of the session (SIGTERM, then SIGKILL).
`danced` is a module-scoped instance with the default config (idle timeout 2000 ms).

If the danced binary is missing or does not start, tests that need it FAIL (never skip).
Markers: `slow` (takes more than a few seconds; deselect with -m 'not slow').
Env: DANCED_BIN (binary), DANCED_IGNORE_LEAKS=1 (do not fail on LeakSanitizer reports).
"""

import os
import signal
from pathlib import Path

import pytest

import danced_harness as h


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds (flood, timeouts)")


# ------------------------------------------------------------------ session infrastructure

@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("danced-it")


@pytest.fixture(scope="session")
def pki(workdir) -> h.Pki:
    return h.make_pki(workdir / "pki")


@pytest.fixture(scope="session")
def zones(workdir, pki):
    return h.build_zones(workdir / "zones", pki)


@pytest.fixture(scope="session")
def nsd(workdir, zones):
    n = h.Nsd(workdir / "nsd", zones).start()
    yield n
    n.stop()


@pytest.fixture(scope="session")
def danced_bin() -> str:
    b = h.find_danced_bin()
    if not b or not os.access(b, os.X_OK):
        pytest.fail("danced binary not found: set DANCED_BIN or build into build*/resolver/danced")
    return b


class DancedLauncher:
    def __init__(self, workdir: Path, pki, zones, nsd_getter):
        self.workdir = workdir
        self.pki = pki
        self.zones = zones
        self._nsd_getter = nsd_getter
        self.instances = []
        self._checked_stderr = {}

    def config(self, port=None, with_nsd=True, **overrides) -> dict:
        nsd = self._nsd_getter() if with_nsd else None
        return h.danced_config(port or h.free_port(), self.pki, nsd, self.zones if with_nsd else None,
                               self.workdir, **overrides)

    def start(self, name="danced", config=None, wait_counters=True, **overrides) -> h.Danced:
        binary = h.find_danced_bin()
        if not binary:
            pytest.fail("danced binary not found: set DANCED_BIN or build into build*/resolver/danced")
        wd = self.workdir / f"{name}-{len(self.instances)}"
        if config is None:
            overrides.setdefault("server", {})
            overrides["server"] = {"counters-file": str(wd / "counters.txt"), **overrides["server"]}
            config = self.config(**overrides)
        d = h.Danced(binary, config, wd, name=name)
        try:
            d.start(wait_counters=wait_counters)
        except h.HarnessError as e:
            pytest.fail(str(e))
        self.instances.append(d)
        return d

    def new_problems(self):
        """Problems not reported before (each instance's exit / new sanitizer lines once)."""
        probs = []
        for d in self.instances:
            key = id(d)
            seen = self._checked_stderr.get(key, (0, False))
            reps = d.sanitizer_reports()
            new_reps = reps[seen[0]:]
            exited = d.proc is not None and d.proc.poll() is not None and not d.expected_exit
            if new_reps:
                probs.append(f"[{d.name} pid {d.pid}] sanitizer reports:\n  " + "\n  ".join(new_reps[:20]))
            if exited and not seen[1]:
                probs.append(f"[{d.name} pid {d.pid}] exited unexpectedly with status {d.proc.returncode}\n"
                             f"--- stderr tail ---\n{d.stderr_tail()}")
            self._checked_stderr[key] = (len(reps), seen[1] or exited)
        return probs

    def stop(self, d: h.Danced):
        """Stop one instance; returns a list of problems (bad exit, SIGKILL needed, sanitizer output)."""
        probs = self.new_problems()
        was_running = d.alive()
        rc = d.stop()
        if was_running:
            if getattr(d, "killed", False):
                probs.append(f"[{d.name}] did not exit within 10 s of SIGTERM (killed)")
            elif rc not in (0, -signal.SIGTERM):
                probs.append(f"[{d.name}] exit status {rc} after SIGTERM\n--- stderr tail ---\n{d.stderr_tail()}")
        probs += self.new_problems()
        if d in self.instances:
            self.instances.remove(d)
        return probs

    def stop_all(self):
        probs = []
        for d in list(self.instances):
            probs += self.stop(d)
        return probs


@pytest.fixture(scope="session")
def danced_launcher(workdir, pki, zones, request):
    launcher = DancedLauncher(workdir, pki, zones, lambda: request.getfixturevalue("nsd"))
    yield launcher
    probs = launcher.stop_all()
    if probs:
        pytest.fail("danced problems at session end:\n" + "\n".join(probs))


@pytest.fixture(scope="module")
def danced(danced_launcher, nsd):
    d = danced_launcher.start("danced")
    yield d
    probs = danced_launcher.stop(d)
    if probs:
        pytest.fail("danced problems at shutdown:\n" + "\n".join(probs))


@pytest.fixture(autouse=True)
def _danced_health(request):
    """After each test: fail it if a danced instance died or printed sanitizer reports."""
    yield
    if "danced_launcher" not in request.fixturenames and "danced" not in request.fixturenames:
        return
    launcher = request.getfixturevalue("danced_launcher")
    probs = launcher.new_problems()
    if probs:
        pytest.fail("danced health check failed:\n" + "\n".join(probs))
