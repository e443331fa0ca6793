"""What a tenant's backup job runs: every database dumped on its own, sent encrypted to the store.

One source for the job wherever it runs (in the cluster, or against the services a test starts):
the script takes everything from its environment --

- ``PGHOST PGPORT PGUSER PGSSLMODE PGPASSWORD_FILE``: the tenant's PostgreSQL, as the read-only backup role;
- ``RESTIC_REPOSITORY RESTIC_PASSWORD_FILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY``: the tenant's
  repository in the store and the tenant's append-only identity (it cannot delete a backup);
- ``SPBE_TENANT``: the tenant id (the snapshot's host); ``SPBE_BACKUP_WORK``: a scratch directory.

A backup is one restic snapshot holding, per database, ``<db>.dump`` (pg_dump custom format,
uncompressed so that restic deduplicates day after day and compresses itself), ``<db>.rows`` (rows per
table, counted in the very snapshot pg_dump dumps), the roles without passwords (``globals.sql``) and
``SHA256SUMS`` of all of them. Restore drills and restores check both.
"""

from __future__ import annotations

from spbe_kit.backups.restic import BACKUP_TAG

#: rows per table ("schema.table|count", sorted), the same query at backup time and after a restore
ROW_COUNTS = (
    "SELECT table_schema || '.' || table_name || '|' || (xpath('/row/c/text()', query_to_xml(format("
    "'SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text "
    "FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
    "AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
)

BACKUP_SCRIPT = """set -euo pipefail
: "${{SPBE_TENANT:?}}" "${{RESTIC_REPOSITORY:?}}" "${{RESTIC_PASSWORD_FILE:?}}" "${{PGPASSWORD_FILE:?}}"
export PGCONNECT_TIMEOUT="${{PGCONNECT_TIMEOUT:-30}}" PGSSLMODE="${{PGSSLMODE:-require}}"
export PGPASSWORD="$(cat "$PGPASSWORD_FILE")"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="${{SPBE_BACKUP_WORK:-/work}}/spbe-$stamp"
mkdir -p "$out"
trap 'rm -rf "$out"' EXIT
databases="$(psql --dbname=postgres -Atc "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres' AND has_database_privilege(datname, 'CONNECT') ORDER BY 1")"
test -n "$databases" || {{ echo "backup: no application database to dump" >&2; exit 1; }}
pg_dumpall --database=postgres --globals-only --no-role-passwords > "$out/globals.sql"
for db in $databases; do
  coproc session {{ psql --dbname="$db" -Atq --set=ON_ERROR_STOP=1; }}
  echo "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT pg_export_snapshot();" >&"${{session[1]}}"
  read -r snapshot <&"${{session[0]}}"
  echo "{counts}; SELECT '--end--';" >&"${{session[1]}}"
  : > "$out/$db.rows"
  while read -r line <&"${{session[0]}}" && [ "$line" != "--end--" ]; do echo "$line" >> "$out/$db.rows"; done
  pg_dump --dbname="$db" --snapshot="$snapshot" --format=custom --compress=0 --file="$out/$db.dump"
  echo 'COMMIT;' >&"${{session[1]}}"
  echo '\\q' >&"${{session[1]}}"
  wait "$session_PID"
done
(cd "$out" && sha256sum -- *.dump *.rows globals.sql > SHA256SUMS)
cd "$out"
restic --no-cache --quiet backup --host "$SPBE_TENANT" --tag {tag} --tag "tenant=$SPBE_TENANT" .
echo "backup spbe-$stamp of $SPBE_TENANT written to the store: $(echo $databases)"
""".format(counts=ROW_COUNTS, tag=BACKUP_TAG)
