"""The portal's records on a real PostgreSQL (production's database), two replicas claiming jobs at once."""

from __future__ import annotations

import threading
import uuid
import time
from collections import Counter

import pytest

from spbe_kit.portal.store import JobState, Status, Store


@pytest.fixture(scope="module")
def postgres_url(postgres_server):
    """A database of its own on the session's PostgreSQL."""
    import psycopg2

    name = "portal_" + uuid.uuid4().hex[:8]
    admin = psycopg2.connect(postgres_server.dsn())
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    yield (f"postgresql+psycopg2://postgres:{postgres_server.password}@{postgres_server.host}:{postgres_server.port}"
           f"/{name}?sslmode=require")
    admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")
    admin.close()


def test_two_replicas_never_build_one_tenant_at_once_and_every_job_runs_once(postgres_url):
    replicas = [Store(postgres_url), Store(postgres_url)]  # the second one finds the tables made
    store = replicas[0]
    tenants = ["kab-banyuwangi", "kota-bandung", "kab-tanah-laut"]
    for i in range(12):
        tenant = tenants[i % 3]
        record = store.add_request(tenant, "35.10", "Kabupaten Banyuwangi", "aptika", f"n: {i}\n")
        assert store.approve(record.id) is not None
    numbers = [r.number for r in store.requests()]
    assert len(set(numbers)) == 12 and all(n.startswith("SPBE-") for n in numbers)

    running: Counter[str] = Counter()
    overlaps: list[str] = []
    done: list[int] = []
    guard = threading.Lock()

    def worker(replica: Store, owner: str) -> None:
        while True:
            job = replica.claim_job(owner)
            if job is None:
                if len(done) == 12:
                    return
                time.sleep(0.01)
                continue
            with guard:
                running[job.tenant_id] += 1
                if running[job.tenant_id] > 1:
                    overlaps.append(job.tenant_id)
            time.sleep(0.02)  # building
            with guard:
                running[job.tenant_id] -= 1
                done.append(job.id)
            replica.finish_job(job.id, owner, True, 0.02, "", {"outputs": {}}, None)

    threads = [threading.Thread(target=worker, args=(replicas[i % 2], f"replica-{i}")) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not overlaps
    assert sorted(done) == sorted(set(done)) and len(done) == 12
    assert {r.status for r in store.requests()} == {Status.READY}
    assert all(j.state == JobState.DONE and j.attempts == 1 for r in store.requests() for j in store.jobs_of(r.id))


def test_the_audit_trail_and_drift_records_round_trip(postgres_url):
    store = Store(postgres_url)
    store.audit("ops-pusdatin", "request.approve", "SPBE-2026-00001", "job 1")
    store.add_drift("kab-banyuwangi", True, "clean: 60 objects checked, 0 finding(s)", "/x", {"drift.json": "ab" * 32})
    assert store.audit_trail(limit=1)[0].who == "ops-pusdatin"
    drift = store.last_drift("kab-banyuwangi")
    assert drift.clean and drift.files == {"drift.json": "ab" * 32} and drift.at.tzinfo is not None
