"""Provisioning in the background: an approved request runs `spbe tenant up`, then `spbe drift` for evidence.

One job at a time per tenant (the store only hands out a tenant's job when none of its jobs runs), progress
written to the job as it comes, a heartbeat while it runs. A job whose worker stopped beating (the portal was
restarted, or a replica died) goes back into the queue: `tenant up` is idempotent, so running it again is
how it resumes.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from spbe_kit.evidence import file_sha256
from spbe_kit.parent_process import PARENT_PID
from spbe_kit.portal.settings import PortalSettings
from spbe_kit.portal.store import JobRecord, Store, now

LOG = logging.getLogger("spbe.portal")
PROGRESS_LINES = 200
BUSY_RETRIES = 5
HEARTBEAT_SECONDS = 2.0


def _child_env() -> dict[str, str]:
    """The portal's environment without its own secrets (client secret, database URL with its password),
    and with this process named as the parent: `spbe` ends when the portal does (spbe_kit.parent_process),
    so a requeued job never races its own orphan."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPBE_PORTAL_")}
    env[PARENT_PID] = str(os.getpid())
    return env


@dataclass(frozen=True)
class CommandResult:
    code: int
    stdout: str
    progress: list[str]


class Provisioner:
    """The portal's worker thread."""

    def __init__(self, store: Store, settings: PortalSettings) -> None:
        self.store = store
        self.settings = settings
        self.owner = f"{os.uname().nodename}:{os.getpid()}:{secrets.token_hex(4)}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="spbe-portal-provisioner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._once()
            except Exception as exc:  # noqa: BLE001 - the database away for a while must not end the worker
                LOG.warning("portal worker: %s: %s; trying again in 5s", type(exc).__name__, exc)
                self._stop.wait(5)

    def _once(self) -> None:
        self.store.requeue_stale(now() - timedelta(seconds=self.settings.stale_after_seconds),
                                 "\n[portal] the worker running this job stopped (restart?); queued again\n")
        job = self.store.claim_job(self.owner)
        if job is None:
            self._stop.wait(self.settings.worker_poll_seconds)
            return
        try:
            self.run(job)
        except Exception as exc:  # noqa: BLE001 - a job's failure must never stop the worker
            self.store.finish_job(job.id, self.owner, False, 0.0, job.progress,
                                  None, f"the portal could not run the job: {type(exc).__name__}: {exc}")

    def run(self, job: JobRecord) -> None:
        request = self.store.request(job.request_id)
        assert request is not None
        self.settings.requests_dir.mkdir(parents=True, exist_ok=True)
        request_file = self.settings.requests_dir / f"{request.number}.yaml"
        request_file.write_text(request.request_yaml)
        self.store.audit("portal", "provision.start", request.number,
                         f"job {job.id}, attempt {job.attempts}: tenant up {request.tenant_id}")
        started = time.monotonic()
        lines = [line for line in job.progress.splitlines() if line][-PROGRESS_LINES:]
        lines.append(f"[portal] spbe tenant up {request_file.name} (attempt {job.attempts})")
        up = self._command(job, ["tenant", "up", str(request_file), "-o", "json", *self._cluster_options(),
                                 *self._catalog_option()], lines)
        seconds = time.monotonic() - started
        result = _json(up.stdout)
        if up.code != 0 and "is being updated by" in "\n".join(up.progress[-5:]) and job.attempts < BUSY_RETRIES:
            lines.append("[portal] another run holds this tenant; trying again shortly")
            self._stop.wait(5)
            self.store.requeue(job.id, self.owner, _tail(lines))
            return
        if up.code != 0:
            if self.store.finish_job(job.id, self.owner, False, seconds, _tail(lines), result, _error_of(up)):
                self.store.audit("portal", "provision.failed", request.number, f"job {job.id} after {seconds:.0f}s")
            return
        lines.append(f"[portal] tenant up finished in {seconds:.1f}s; checking drift for the auditors' evidence")
        if not self.store.heartbeat(job.id, self.owner, _tail(lines)):
            return  # requeued meanwhile: the run that has it now records the outcome
        self.check_drift(request.tenant_id, request_file, lines, job)
        if self.store.finish_job(job.id, self.owner, True, seconds, _tail(lines), result, None):
            self.store.audit("portal", "provision.ready", request.number, f"job {job.id} in {seconds:.0f}s")

    def check_drift(self, tenant_id: str, request_file: Path, lines: list[str], job: JobRecord | None = None) -> None:
        """`spbe drift` with evidence files under the portal's home; recorded with each file's SHA-256."""
        stamp = now().strftime("%Y%m%dT%H%M%SZ")
        evidence = self.settings.evidence_dir / tenant_id / stamp
        evidence.mkdir(parents=True, exist_ok=True)
        drift = self._command(job, ["drift", str(request_file), "-o", "json", "--evidence", str(evidence),
                                    *self._cluster_options()], lines)
        report = _json(drift.stdout) or {}
        files = {p.name: file_sha256(p) for p in sorted(evidence.iterdir()) if p.is_file()}
        clean = drift.code == 0 and bool(report.get("clean"))
        summary = _drift_summary(report, drift)
        self.store.add_drift(tenant_id, clean, summary, str(evidence), files)
        lines.append(f"[portal] drift: {summary}")

    def _cluster_options(self) -> list[str]:
        out = []
        if self.settings.kubeconfig:
            out += ["--kubeconfig", str(self.settings.kubeconfig)]
        if self.settings.context:
            out += ["--context", self.settings.context]
        return out

    def _catalog_option(self) -> list[str]:
        return ["--catalog-version", self.settings.catalog_version] if self.settings.catalog_version else []

    def _command(self, job: JobRecord | None, args: list[str], lines: list[str]) -> CommandResult:
        """Run one spbe command; its stderr (the progress) goes to the job as it comes, and the job's heartbeat
        beats every few seconds whether or not the command says anything."""
        process = subprocess.Popen([*self.settings.spbe_command, *args], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, env=_child_env())
        out: list[str] = []
        progress: list[str] = []
        guard = threading.Lock()
        finished = threading.Event()

        def read_stdout() -> None:
            out.append(process.stdout.read())

        def beat() -> None:
            while not finished.wait(HEARTBEAT_SECONDS):
                with guard:
                    text = _tail(lines)
                try:
                    self.store.heartbeat(job.id, self.owner, text)
                except Exception as exc:  # noqa: BLE001 - the next beat tries again
                    LOG.warning("portal worker: heartbeat of job %s: %s", job.id, exc)

        threads = [threading.Thread(target=read_stdout, daemon=True)]
        if job is not None:
            threads.append(threading.Thread(target=beat, daemon=True))
        for thread in threads:
            thread.start()
        try:
            for line in process.stderr:
                line = line.rstrip("\n")
                with guard:
                    progress.append(line)
                    lines.append(line)
                    del lines[:-PROGRESS_LINES]
            code = process.wait()
        finally:
            if process.poll() is None:  # we are leaving early: never leave a tenant up running behind us
                process.kill()
                process.wait()
            finished.set()
            for thread in threads:
                thread.join(timeout=10)
        if job is not None:
            self.store.heartbeat(job.id, self.owner, _tail(lines))
        return CommandResult(code, "".join(out), progress)


def _tail(lines: list[str]) -> str:
    return "\n".join(lines[-PROGRESS_LINES:]) + "\n"


def _json(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _error_of(result: CommandResult) -> str:
    """What went wrong, as the CLI said it (its error block is the last lines of stderr); a command stopped
    by a signal never got to say it, so that is said instead of its last progress line."""
    if result.code < 0:
        try:
            name = signal.Signals(-result.code).name
        except ValueError:
            name = f"signal {-result.code}"
        return (f"spbe was stopped by {name} before it finished (the machine out of memory, or an operator?); "
                "'Try again' resumes it: tenant up carries on where it stopped")
    tail = [line for line in result.progress if line.strip()][-6:]
    return "\n".join(tail) or f"spbe exited with {result.code}"


def _drift_summary(report: dict[str, Any], result: CommandResult) -> str:
    tenants = [t for t in report.get("tenants") or [] if isinstance(t, dict)]
    if not tenants:
        return f"not checked: {_error_of(result)}"
    tenant = tenants[0]
    return (f"{tenant.get('status')}: {tenant.get('objectsChecked')} objects checked, "
            f"{len(tenant.get('findings') or [])} finding(s)")
