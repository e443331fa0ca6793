"""The portal's records: requests, their provisioning jobs, drift results and the audit trail.

SQLite under the state directory by default; any SQLAlchemy URL (PostgreSQL in production) otherwise.
Only the request text is stored, never a credential: `tenant up` keeps those in the cluster.
"""

from __future__ import annotations

import enum
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (Column, DateTime, ForeignKey, Integer, MetaData, String, Table, Text, create_engine, delete,
                        event, func, insert, select, update)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.engine import Engine

METADATA = MetaData()

REQUESTS = Table(
    "requests", METADATA,
    Column("id", Integer, primary_key=True),
    Column("number", String(32), unique=True, nullable=False),
    Column("tenant_id", String(63), nullable=False, index=True),
    Column("region_code", String(8), nullable=False),
    Column("pemda_name", String(200), nullable=False),
    Column("requester", String(200), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("request_yaml", Text, nullable=False),
    Column("comment", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

JOBS = Table(
    "jobs", METADATA,
    Column("id", Integer, primary_key=True),
    Column("request_id", Integer, ForeignKey("requests.id"), nullable=False, index=True),
    Column("tenant_id", String(63), nullable=False, index=True),
    Column("state", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("progress", Text, nullable=False, default=""),
    Column("owner", String(64)),
    Column("heartbeat", DateTime(timezone=True)),
    Column("queued_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("seconds", Integer),
    Column("result_json", Text),
    Column("error", Text),
)

DRIFT_RUNS = Table(
    "drift_runs", METADATA,
    Column("id", Integer, primary_key=True),
    Column("tenant_id", String(63), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("clean", Integer, nullable=False),
    Column("summary", Text, nullable=False),
    Column("evidence_dir", Text, nullable=False),
    Column("files_json", Text, nullable=False),
)

#: the tenant a job is building: one row per tenant, so two workers (replicas) never build the same tenant at once
TENANT_LOCKS = Table(
    "tenant_locks", METADATA,
    Column("tenant_id", String(63), primary_key=True),
    Column("job_id", Integer, ForeignKey("jobs.id"), nullable=False),
    Column("owner", String(64), nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
)

#: signed-in sessions: the cookie names one, and signing out (or its expiry) ends it for every copy of the cookie
SESSIONS = Table(
    "sessions", METADATA,
    Column("id", String(64), primary_key=True),
    Column("who", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

AUDIT = Table(
    "audit", METADATA,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("who", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("detail", Text, nullable=False, default=""),
)


class _Taken(Exception):
    """The job was claimed by another worker between our read and our write."""


class Status(str, enum.Enum):
    """Where a request is; the values are what the pages and the audit trail say (Bahasa Indonesia)."""

    SUBMITTED = "diajukan"
    RETURNED = "dikembalikan"
    APPROVED = "disetujui"      # queued for `tenant up`
    PROVISIONING = "diproses"
    READY = "siap"
    FAILED = "gagal"


class JobState(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


def now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; everything stored is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


@dataclass(frozen=True)
class RequestRecord:
    id: int
    number: str
    tenant_id: str
    region_code: str
    pemda_name: str
    requester: str
    status: Status
    request_yaml: str
    comment: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> RequestRecord:
        data = dict(row._mapping)
        data["status"] = Status(data["status"])
        data["created_at"] = _aware(data["created_at"])
        data["updated_at"] = _aware(data["updated_at"])
        return cls(**data)


@dataclass(frozen=True)
class JobRecord:
    id: int
    request_id: int
    tenant_id: str
    state: JobState
    attempts: int
    progress: str
    owner: str | None
    heartbeat: datetime | None
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    seconds: int | None
    result_json: str | None
    error: str | None

    @classmethod
    def from_row(cls, row: Any) -> JobRecord:
        data = dict(row._mapping)
        data["state"] = JobState(data["state"])
        for key in ("heartbeat", "queued_at", "started_at", "finished_at"):
            data[key] = _aware(data[key])
        return cls(**data)

    @property
    def result(self) -> dict[str, Any] | None:
        return json.loads(self.result_json) if self.result_json else None


@dataclass(frozen=True)
class DriftRecord:
    id: int
    tenant_id: str
    at: datetime
    clean: bool
    summary: str
    evidence_dir: str
    files: dict[str, str]  # file name -> sha256

    @classmethod
    def from_row(cls, row: Any) -> DriftRecord:
        data = dict(row._mapping)
        return cls(id=data["id"], tenant_id=data["tenant_id"], at=_aware(data["at"]), clean=bool(data["clean"]),
                   summary=data["summary"], evidence_dir=data["evidence_dir"], files=json.loads(data["files_json"]))


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    who: str
    action: str
    subject: str
    detail: str

    @classmethod
    def from_row(cls, row: Any) -> AuditRecord:
        data = dict(row._mapping)
        data["at"] = _aware(data["at"])
        return cls(**data)


class Store:
    """Every read and write the portal does, each in its own transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, future=True)
        if url.startswith("sqlite"):
            @event.listens_for(self.engine, "connect")
            def _sqlite_pragmas(dbapi_connection, _record):  # noqa: ANN001 - DB-API objects
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")  # the worker thread writes while pages read
                cursor.execute("PRAGMA busy_timeout=10000")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()
        METADATA.create_all(self.engine)

    # -- audit -----------------------------------------------------------------------------------------------
    def audit(self, who: str, action: str, subject: str, detail: str = "") -> None:
        with self.engine.begin() as conn:  # cut to the columns' widths: a long URL is still recorded, not a 500
            conn.execute(insert(AUDIT).values(at=now(), who=who[:200], action=action[:64], subject=subject[:200],
                                              detail=detail[:2000]))

    # -- sessions --------------------------------------------------------------------------------------------
    def open_session(self, who: str, lifetime: timedelta) -> str:
        sid = secrets.token_urlsafe(32)
        at = now()
        with self.engine.begin() as conn:
            conn.execute(insert(SESSIONS).values(id=sid, who=who[:200], created_at=at, expires_at=at + lifetime))
            conn.execute(delete(SESSIONS).where(SESSIONS.c.expires_at < at))
        return sid

    def session_valid(self, sid: str) -> bool:
        if not sid:
            return False
        with self.engine.connect() as conn:
            expires = conn.execute(select(SESSIONS.c.expires_at).where(SESSIONS.c.id == sid)).scalar_one_or_none()
        return expires is not None and _aware(expires) > now()

    def close_session(self, sid: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(SESSIONS).where(SESSIONS.c.id == sid))

    def audit_trail(self, limit: int | None = None) -> list[AuditRecord]:
        query = select(AUDIT).order_by(AUDIT.c.id.desc())
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [AuditRecord.from_row(r) for r in conn.execute(query)]

    # -- requests --------------------------------------------------------------------------------------------
    def add_request(self, tenant_id: str, region_code: str, pemda_name: str, requester: str, request_yaml: str) -> RequestRecord:
        at = now()
        with self.engine.begin() as conn:
            new_id = conn.execute(insert(REQUESTS).values(
                number=f"tmp-{secrets.token_hex(8)}", tenant_id=tenant_id, region_code=region_code, pemda_name=pemda_name,
                requester=requester, status=Status.SUBMITTED.value, request_yaml=request_yaml, comment=None,
                created_at=at, updated_at=at)).inserted_primary_key[0]
            conn.execute(update(REQUESTS).where(REQUESTS.c.id == new_id).values(number=f"SPBE-{at.year}-{new_id:05d}"))
        return self.request(new_id)

    def request(self, request_id: int) -> RequestRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(REQUESTS).where(REQUESTS.c.id == request_id)).first()
        return RequestRecord.from_row(row) if row else None

    def requests(self, status: Status | None = None, region_codes: frozenset[str] | None = None,
                 tenant_id: str | None = None) -> list[RequestRecord]:
        query = select(REQUESTS).order_by(REQUESTS.c.id.desc())
        if status is not None:
            query = query.where(REQUESTS.c.status == status.value)
        if region_codes is not None:
            query = query.where(REQUESTS.c.region_code.in_(sorted(region_codes)))
        if tenant_id is not None:
            query = query.where(REQUESTS.c.tenant_id == tenant_id)
        with self.engine.connect() as conn:
            return [RequestRecord.from_row(r) for r in conn.execute(query)]

    def set_status(self, request_id: int, status: Status, comment: str | None = None,
                   only_from: tuple[Status, ...] | None = None) -> bool:
        """Move a request; with ``only_from``, only when it is in one of those states (False otherwise)."""
        query = update(REQUESTS).where(REQUESTS.c.id == request_id)
        if only_from is not None:
            query = query.where(REQUESTS.c.status.in_([s.value for s in only_from]))
        values: dict[str, Any] = {"status": status.value, "updated_at": now()}
        if comment is not None:
            values["comment"] = comment
        with self.engine.begin() as conn:
            return conn.execute(query.values(**values)).rowcount == 1

    def replace_request_yaml(self, request_id: int, request_yaml: str) -> bool:
        """A returned request, fixed by its requester, goes back into the queue."""
        with self.engine.begin() as conn:
            return conn.execute(update(REQUESTS).where(REQUESTS.c.id == request_id)
                                .where(REQUESTS.c.status == Status.RETURNED.value)
                                .values(request_yaml=request_yaml, status=Status.SUBMITTED.value,
                                        updated_at=now())).rowcount == 1

    def tenant_busy(self, tenant_id: str) -> bool:
        """Another request for this tenant is queued or being provisioned."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(JOBS).where(JOBS.c.tenant_id == tenant_id)
                                .where(JOBS.c.state.in_([JobState.QUEUED.value, JobState.RUNNING.value]))).scalar_one() > 0

    # -- jobs ------------------------------------------------------------------------------------------------
    def approve(self, request_id: int) -> JobRecord | None:
        """Approve a submitted request and queue its `tenant up`, in one transaction (None: not submitted)."""
        return self._queue(request_id, Status.SUBMITTED)

    def retry(self, request_id: int) -> JobRecord | None:
        """A failed request is queued again (ops decide; `tenant up` is idempotent)."""
        return self._queue(request_id, Status.FAILED)

    def _queue(self, request_id: int, only_from: Status) -> JobRecord | None:
        at = now()
        with self.engine.begin() as conn:
            moved = conn.execute(update(REQUESTS).where(REQUESTS.c.id == request_id)
                                 .where(REQUESTS.c.status == only_from.value)
                                 .values(status=Status.APPROVED.value, updated_at=at)).rowcount
            if moved != 1:
                return None
            tenant_id = conn.execute(select(REQUESTS.c.tenant_id).where(REQUESTS.c.id == request_id)).scalar_one()
            job_id = conn.execute(insert(JOBS).values(request_id=request_id, tenant_id=tenant_id,
                                                      state=JobState.QUEUED.value, attempts=0, progress="",
                                                      queued_at=at)).inserted_primary_key[0]
        return self.job(job_id)

    def job(self, job_id: int) -> JobRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(JOBS).where(JOBS.c.id == job_id)).first()
        return JobRecord.from_row(row) if row else None

    def jobs_of(self, request_id: int) -> list[JobRecord]:
        with self.engine.connect() as conn:
            return [JobRecord.from_row(r) for r in
                    conn.execute(select(JOBS).where(JOBS.c.request_id == request_id).order_by(JOBS.c.id.desc()))]

    def last_job_of_tenant(self, tenant_id: str) -> JobRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(JOBS).where(JOBS.c.tenant_id == tenant_id).order_by(JOBS.c.id.desc())).first()
        return JobRecord.from_row(row) if row else None

    def claim_job(self, owner: str) -> JobRecord | None:
        """The oldest queued job whose tenant no job is building, now running under ``owner``."""
        with self.engine.connect() as conn:
            busy = select(TENANT_LOCKS.c.tenant_id)
            candidates = conn.execute(select(JOBS.c.id, JOBS.c.tenant_id).where(JOBS.c.state == JobState.QUEUED.value)
                                      .where(JOBS.c.tenant_id.not_in(busy)).order_by(JOBS.c.id)).all()
        for job_id, tenant_id in candidates:
            at = now()
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(TENANT_LOCKS).values(tenant_id=tenant_id, job_id=job_id, owner=owner, since=at))
                    claimed = conn.execute(update(JOBS).where(JOBS.c.id == job_id)
                                           .where(JOBS.c.state == JobState.QUEUED.value)
                                           .values(state=JobState.RUNNING.value, owner=owner, heartbeat=at,
                                                   started_at=at, attempts=JOBS.c.attempts + 1)).rowcount
                    if claimed != 1:
                        raise _Taken()
                    request_id = conn.execute(select(JOBS.c.request_id).where(JOBS.c.id == job_id)).scalar_one()
                    conn.execute(update(REQUESTS).where(REQUESTS.c.id == request_id)
                                 .values(status=Status.PROVISIONING.value, updated_at=at))
            except (IntegrityError, _Taken):  # another worker took the tenant, or the job, first
                continue
            return self.job(job_id)
        return None

    def heartbeat(self, job_id: int, owner: str, progress: str | None = None) -> bool:
        """Still working on it (and what it said so far); False when the job is no longer this worker's."""
        values: dict[str, Any] = {"heartbeat": now()}
        if progress is not None:
            values["progress"] = progress
        with self.engine.begin() as conn:
            return conn.execute(update(JOBS).where(JOBS.c.id == job_id).where(JOBS.c.owner == owner)
                                .where(JOBS.c.state == JobState.RUNNING.value).values(**values)).rowcount == 1

    def finish_job(self, job_id: int, owner: str, ok: bool, seconds: float, progress: str,
                   result: dict[str, Any] | None, error: str | None) -> bool:
        """Record the outcome; False when the job is no longer this worker's (it was requeued meanwhile)."""
        at = now()
        with self.engine.begin() as conn:
            done = conn.execute(update(JOBS).where(JOBS.c.id == job_id).where(JOBS.c.owner == owner)
                                .where(JOBS.c.state == JobState.RUNNING.value).values(
                state=(JobState.DONE if ok else JobState.FAILED).value, finished_at=at, seconds=round(seconds),
                progress=progress, result_json=json.dumps(result) if result is not None else None,
                error=error)).rowcount
            if done == 1:
                conn.execute(delete(TENANT_LOCKS).where(TENANT_LOCKS.c.job_id == job_id))
                request_id = conn.execute(select(JOBS.c.request_id).where(JOBS.c.id == job_id)).scalar_one()
                conn.execute(update(REQUESTS).where(REQUESTS.c.id == request_id).values(
                    status=(Status.READY if ok else Status.FAILED).value, updated_at=at))
        return done == 1

    def requeue_stale(self, stale_before: datetime, note: str) -> list[JobRecord]:
        """Running jobs whose worker stopped beating (a portal restart) go back into the queue."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(JOBS).where(JOBS.c.state == JobState.RUNNING.value)
                                .where(JOBS.c.heartbeat < stale_before)).all()
        requeued = []
        for row in rows:
            with self.engine.begin() as conn:
                # the same conditions again: a worker that beat or finished meanwhile keeps its job
                moved = conn.execute(update(JOBS).where(JOBS.c.id == row.id)
                                     .where(JOBS.c.state == JobState.RUNNING.value)
                                     .where(JOBS.c.heartbeat < stale_before)
                                     .values(state=JobState.QUEUED.value, owner=None,
                                             progress=(row.progress or "") + note)).rowcount
                if moved != 1:
                    continue
                conn.execute(delete(TENANT_LOCKS).where(TENANT_LOCKS.c.job_id == row.id))
                conn.execute(update(REQUESTS).where(REQUESTS.c.id == row.request_id)
                             .values(status=Status.APPROVED.value, updated_at=now()))
            requeued.append(JobRecord.from_row(row))
        return requeued

    def requeue(self, job_id: int, owner: str, progress: str) -> None:
        """This worker's job back into the queue (its tenant was busy elsewhere)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(JOBS.c.request_id).where(JOBS.c.id == job_id).where(JOBS.c.owner == owner)).first()
            if row is None:
                return
            conn.execute(update(JOBS).where(JOBS.c.id == job_id)
                         .values(state=JobState.QUEUED.value, owner=None, progress=progress))
            conn.execute(delete(TENANT_LOCKS).where(TENANT_LOCKS.c.job_id == job_id))
            conn.execute(update(REQUESTS).where(REQUESTS.c.id == row.request_id)
                         .values(status=Status.APPROVED.value, updated_at=now()))

    # -- drift -----------------------------------------------------------------------------------------------
    def add_drift(self, tenant_id: str, clean: bool, summary: str, evidence_dir: str, files: dict[str, str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(DRIFT_RUNS).values(tenant_id=tenant_id, at=now(), clean=int(clean), summary=summary,
                                                   evidence_dir=evidence_dir, files_json=json.dumps(files)))

    def last_drift(self, tenant_id: str) -> DriftRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(DRIFT_RUNS).where(DRIFT_RUNS.c.tenant_id == tenant_id)
                               .order_by(DRIFT_RUNS.c.id.desc())).first()
        return DriftRecord.from_row(row) if row else None

    def tenants(self) -> list[str]:
        """Every tenant that has a request, for the auditors' index."""
        with self.engine.connect() as conn:
            return sorted(set(conn.execute(select(REQUESTS.c.tenant_id)).scalars()))
