"""Benchmark: a tenant's backups in the platform store (restic, deduplicated) against plain pg_dump files.

Everything is started here and removed at the end: the backup store (SeaweedFS, as `spbe cluster up`
runs it, on free ports), a PostgreSQL holding one tenant's database of --size-mib (default 1024), and
scratch servers for the restores.

1. day 1..D (default 7): the database changes a little each day as an office's does (--churn,
   default 2 % of all rows, the newest documents, edited; 1 % added; the archive unchanged), then
   - the baseline: `pg_dump --format=custom` to a file (what a nightly dump to a volume keeps);
   - the kit: the tenant job's own script (spbe_kit/backups/job.py), into the store;
   each timed, with the bytes each keeps; after D days: bytes in the store against the D dump files
   (the dedup ratio) and against the D days' restored sizes;
2. restore of the newest backup into a fresh server, rows checked (`restore_into`), timed: RTO of one
   tenant; then P tenants' restores at once (--parallel, default 2): the fleet's throughput here;
3. a restore drill (`spbe backup verify`'s function), timed.

    python bench/backup_store.py [--size-mib 1024] [--days 7] [--parallel 2] [--output json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from spbe_kit.backups import admission, operations, postgres
from spbe_kit.backups.job import BACKUP_SCRIPT
from spbe_kit.backups.store import master_key
from spbe_kit.devenv import backupstore

TENANT = "kab-banyuwangi"
ROW_BYTES = 1024


def _free_ports() -> dict[str, int]:
    import socket

    ports: dict[str, int] = {}
    while len(ports) < 4:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + 10000 <= 65535 and port not in ports.values():
            ports[list(backupstore.DEFAULT_PORTS)[len(ports)]] = port
    return ports


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _fill(server: postgres.Server, rows: int) -> None:
    server.sql("postgres", "CREATE ROLE eoffice LOGIN")
    server.sql("postgres", "CREATE DATABASE eoffice OWNER eoffice")
    server.sql("postgres", "CREATE ROLE spbe_backup LOGIN IN ROLE pg_read_all_data")
    server.sql("eoffice", "SET ROLE eoffice; CREATE TABLE documents (id bigserial PRIMARY KEY, version int NOT NULL "
                          "DEFAULT 1, title text NOT NULL, body text NOT NULL)")
    # ~1 KiB a row: a title and a body of hex digests (compressible about as much as office text)
    batch = 50_000
    for start in range(0, rows, batch):
        server.sql("eoffice", "SET ROLE eoffice; INSERT INTO documents (title, body) SELECT 'surat ' || g, "
                              f"(SELECT string_agg(md5(g::text || i::text), ' ') FROM generate_series(1, 30) i) "
                              f"FROM generate_series({start + 1}, {min(start + batch, rows)}) g")


def _churn(server: postgres.Server, rows: int, churn: float, day: int) -> None:
    """A day of an office: the newest documents are edited (churn of all rows, taken from the newest) and
    half as many new ones arrive; the archive behind them does not change."""
    changed = max(1, int(rows * churn))
    server.sql("eoffice", f"SET ROLE eoffice; UPDATE documents SET version = version + 1, body = md5(body || '{day}') "
                          f"|| substr(body, 33) WHERE id > (SELECT max(id) FROM documents) - {changed}")
    server.sql("eoffice", "SET ROLE eoffice; INSERT INTO documents (title, body) SELECT 'surat baru ' || g, "
                          f"(SELECT string_agg(md5(g::text || i::text || '{day}'), ' ') FROM generate_series(1, 30) i) "
                          f"FROM generate_series(1, {changed // 2}) g")


def _timed(fn):
    start = time.monotonic()
    value = fn()
    return value, round(time.monotonic() - start, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--churn", type=float, default=0.02)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--output", choices=["table", "json"], default="table")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="spbe-bench-backup-"))
    os.chmod(work, 0o755)
    layout = backupstore.StoreLayout(root=work / "store", ports=_free_ports())
    figures: dict = {"sizeMiB": args.size_mib, "days": args.days, "churn": args.churn, "cpus": os.cpu_count()}
    try:
        store = backupstore.up(_say, build=True, layout=layout)
        admission.admit(store, TENANT)
        keys = master_key(store).tenant(TENANT)
        secrets_dir = work / "secrets"
        secrets_dir.mkdir()
        (secrets_dir / "restic").write_text(keys.repository_password)
        (secrets_dir / "pg").write_text("unused: the socket trusts")
        rows = args.size_mib * 1024 * 1024 // ROW_BYTES
        with postgres.scratch_server(work) as source:
            _say(f"filling {rows} rows (~{args.size_mib} MiB) ...")
            _, figures["fillSeconds"] = _timed(lambda: _fill(source, rows))
            figures["databaseBytes"] = int(source.sql("postgres", "SELECT pg_database_size('eoffice')"))
            env = {"PATH": os.environ["PATH"], "HOME": str(work), "SPBE_TENANT": TENANT,
                   "SPBE_BACKUP_WORK": str(work / "job"), "PGHOST": source.host, "PGPORT": "5432",
                   "PGUSER": "spbe_backup", "PGSSLMODE": "disable", "PGPASSWORD_FILE": str(secrets_dir / "pg"),
                   "RESTIC_REPOSITORY": store.repository(TENANT), "RESTIC_PASSWORD_FILE": str(secrets_dir / "restic"),
                   "AWS_ACCESS_KEY_ID": keys.store.access_key, "AWS_SECRET_ACCESS_KEY": keys.store.secret_key}
            days = []
            for day in range(1, args.days + 1):
                if day > 1:
                    _churn(source, rows, args.churn, day)
                dump = work / f"baseline-day{day}.dump"
                env_pg = {**os.environ, "PGHOST": source.host, "PGUSER": "postgres", "PGSSLMODE": "disable"}
                _, base_s = _timed(lambda: subprocess.run(
                    [str(postgres.bin_dir() / "pg_dump"), "--format=custom", "--dbname=eoffice", f"--file={dump}"],
                    env=env_pg, check=True))
                job, kit_s = _timed(lambda: subprocess.run(["bash", "-c", BACKUP_SCRIPT], env=env, capture_output=True,
                                                           text=True))
                if job.returncode != 0:
                    raise SystemExit(f"the backup job failed on day {day}: {job.stderr[-2000:]}")
                stats = operations.repository(store, TENANT).stats()
                days.append({"day": day, "baselineSeconds": base_s, "baselineBytes": dump.stat().st_size,
                             "kitSeconds": kit_s, "storeBytesAfter": stats["storedBytes"]})
                _say(f"day {day}: pg_dump -Fc {base_s} s, {dump.stat().st_size >> 20} MiB; "
                     f"job {kit_s} s, store holds {stats['storedBytes'] >> 20} MiB")
            figures["days_"] = days
            stats = operations.repository(store, TENANT).stats()
            baseline_total = sum(d["baselineBytes"] for d in days)
            figures["storeBytes"] = stats["storedBytes"]
            figures["restoredBytesAllDays"] = stats["restoreBytes"]
            figures["baselineBytesAllDays"] = baseline_total
            figures["storeVsBaselineRatio"] = round(baseline_total / stats["storedBytes"], 2)
            figures["dedupRatio"] = round(stats["restoreBytes"] / stats["storedBytes"], 2)
            figures["firstBackupSeconds"] = days[0]["kitSeconds"]
            figures["firstBaselineSeconds"] = days[0]["baselineSeconds"]
            figures["jobVsBaselineTimeRatio"] = round(days[0]["kitSeconds"] / days[0]["baselineSeconds"], 2)
            figures["dailyBackupSecondsMedian"] = sorted(d["kitSeconds"] for d in days[1:])[len(days[1:]) // 2] \
                if len(days) > 1 else None
        with postgres.scratch_server(work) as target:
            _say("restoring the newest backup into a fresh server ...")
            result, figures["restoreSeconds"] = _timed(lambda: operations.restore_into(store, TENANT, target))
            figures["restoredRows"] = result["databases"]["eoffice"]["rows"]

        def one_restore(_: int) -> float:
            with postgres.scratch_server(work) as target:
                return _timed(lambda: operations.restore_into(store, TENANT, target))[1]

        _say(f"{args.parallel} restores at once ...")
        with ThreadPoolExecutor(args.parallel) as pool:
            (times, figures["parallelRestoreWallSeconds"]) = _timed(lambda: list(pool.map(one_restore, range(args.parallel))))
        figures["parallelRestoreSeconds"] = times
        figures["parallel"] = args.parallel
        record, figures["drillSeconds"] = _timed(lambda: operations.drill(store, TENANT))
        figures["drillPassed"] = record.result["passed"]
    finally:
        backupstore.down(layout)
        shutil.rmtree(work, ignore_errors=True)
    if args.output == "json":
        print(json.dumps(figures, indent=2))
        return
    for key, value in figures.items():
        if key != "days_":
            print(f"{key:<30} {value}")
    for d in figures.get("days_", []):
        print(f"day {d['day']}: pg_dump -Fc {d['baselineSeconds']} s {d['baselineBytes'] >> 20} MiB | "
              f"job {d['kitSeconds']} s, store {d['storeBytesAfter'] >> 20} MiB")


if __name__ == "__main__":
    main()
