"""Database: PostgreSQL with mandatory nightly backups and a weekly restore check.

Backups are not optional (the 2024 PDN incident: 238 of 282 tenants had none usable).
The backup job dumps every database on its own (as a read-only role, over TLS) with the row
counts of each table; the restore check replays the newest dumps into a scratch server inside the
job, stopping at the first error, and compares the row counts.

Where the dumps go is the catalog's ``backup.destination``:

- ``volume`` (up to 2026.12): a volume in the tenant's namespace, from jobs in that namespace;
- ``store`` (2027.01 on): the platform's backup store, outside the tenant and the cluster, from
  jobs the platform runs in its own namespace (``backup.namespace``). The jobs' Secret there holds
  the tenant's append-only store identity and repository password, which the tenant's admins can
  neither read nor use to delete a backup; the tenant's database lets exactly those pods in.
"""

from __future__ import annotations

from typing import Any

from spbe_kit.backups.job import BACKUP_SCRIPT as STORE_BACKUP_SCRIPT
from spbe_kit.backups.job import JOB_PASSWORD_KEY, RESTORE_FROM_STORE, ROW_COUNTS, STORE_ENV, STORE_KEYS
from spbe_kit.desired import workload as w
from spbe_kit.desired.context import TenantContext
from spbe_kit.desired.model import GENERATED_KEYS_ANNOTATION, Manifest
from spbe_kit.desired.network import PORT
from spbe_kit.desired.rbac import service_account
from spbe_kit.request.model import Component
from spbe_kit.request.spec import TenantSpec

COMPONENT = "database"
SECRETS_DIR = "/run/secrets/database"
#: the backup job's login: a read-only role (pg_read_all_data) the spbe_database role creates with the
#: password of this generated Secret; the job never holds the superuser's password
BACKUP_ROLE = "spbe_backup"
BACKUP_SECRET = "database-backup"
BACKUP_SECRETS_DIR = "/run/secrets/database-backup"
#: the metrics exporter's login (pg_monitor only), from inside the pod over TLS
MONITOR_ROLE = "spbe_monitor"
MONITOR_SECRET = "database-monitor"
MONITOR_SECRETS_DIR = "/run/secrets/database-monitor"

# One dump per database (custom format), each with the row counts of its tables taken in the same
# snapshot (a repeatable-read transaction exports it, pg_dump dumps exactly that), plus the roles
# without their passwords. As the read-only backup role, over TLS.
BACKUP_SCRIPT = """set -euo pipefail
export PGHOST=database PGPORT=5432 PGUSER={role} PGSSLMODE=require PGCONNECT_TIMEOUT=30
export PGPASSWORD="$(cat {secrets}/password)"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="/backups/spbe-$stamp"
mkdir "$out.partial"
databases="$(psql --dbname=postgres -Atc "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres' AND has_database_privilege(datname, 'CONNECT') ORDER BY 1")"
test -n "$databases" || {{ echo "backup: no application database to dump" >&2; exit 1; }}
pg_dumpall --database=postgres --globals-only --no-role-passwords > "$out.partial/globals.sql"
for db in $databases; do
  coproc session {{ psql --dbname="$db" -Atq --set=ON_ERROR_STOP=1; }}
  echo "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT pg_export_snapshot();" >&"${{session[1]}}"
  read -r snapshot <&"${{session[0]}}"
  echo "{counts}; SELECT '--end--';" >&"${{session[1]}}"
  : > "$out.partial/$db.rows"
  while read -r line <&"${{session[0]}}" && [ "$line" != "--end--" ]; do echo "$line" >> "$out.partial/$db.rows"; done
  pg_dump --dbname="$db" --snapshot="$snapshot" --format=custom --file="$out.partial/$db.dump"
  echo 'COMMIT;' >&"${{session[1]}}"
  echo '\\q' >&"${{session[1]}}"
  wait "$session_PID"
done
mv "$out.partial" "$out"
ln -sfn "spbe-$stamp" /backups/latest
find /backups -mindepth 1 -maxdepth 1 -name 'spbe-*' -mtime +{retention} -exec rm -rf {{}} +
echo "backup spbe-$stamp written: $(echo $databases)"
"""

# Every dump of the newest backup restored into a scratch server, stopping at the first error, and
# each restored database's row counts compared with those recorded at backup time.
RESTORE_CHECK_SCRIPT = """set -euo pipefail
test -L /backups/latest || {{ echo "restore check: no backup found" >&2; exit 1; }}
backup="/backups/$(readlink /backups/latest)"
ls "$backup"/*.dump > /dev/null 2>&1 || {{ echo "restore check: $backup holds no dump" >&2; exit 1; }}
initdb --pgdata=/scratch/pgdata --username=postgres --auth=trust > /dev/null
pg_ctl --pgdata=/scratch/pgdata --options="-c listen_addresses='' -k /scratch" --wait start > /dev/null
trap 'pg_ctl --pgdata=/scratch/pgdata --wait stop > /dev/null' EXIT
export PGHOST=/scratch PGUSER=postgres
for dump in "$backup"/*.dump; do
  db="$(basename "$dump" .dump)"
  createdb "$db"
  pg_restore --no-owner --no-privileges --file=- "$dump" | psql --dbname="$db" --quiet --set=ON_ERROR_STOP=1 --single-transaction > /dev/null
  psql --dbname="$db" -Atc "{counts}" > "/scratch/$db.rows"
  diff -u "$backup/$db.rows" "/scratch/$db.rows" || {{ echo "restore check: $db restored with other row counts" >&2; exit 1; }}
  echo "restore check: $db restored from $(basename "$backup"), $(wc -l < "/scratch/$db.rows") table(s) with the rows counted at backup time"
done
"""


#: pg_hba.conf, from the desired state (a ConfigMap file): TLS for every TCP login, each app only to
#: its own database; the server is pointed at it with -c hba_file (baseline image only, see _server)
HBA_FILE = "/etc/spbe-postgres/pg_hba.conf"
HBA_CONFIG_MAP = "database-hba"
#: the login roles' passwords (one file per role), for the baseline image to create them at start
ROLES_DIR = "/run/secrets/database-roles"


def pg_hba(spec: TenantSpec) -> str:
    """Who may log in to the tenant's PostgreSQL, and how (the spbe_database role's pg_hba, for a pod)."""
    lines = [
        "# spbe baseline (desired state): every TCP login over TLS with SCRAM, each app only to its own database",
        "# TYPE    DATABASE  USER  ADDRESS  METHOD",
        "local     all       all   scram-sha-256",
        "hostnossl all       all   0.0.0.0/0  reject",
        "hostnossl all       all   ::/0       reject",
        *(f"hostssl   {app}  {app}  0.0.0.0/0  scram-sha-256" for app in app_databases(spec)),
        f"hostssl   all       {BACKUP_ROLE}  0.0.0.0/0  scram-sha-256",
        "# the metrics exporter beside the server, in the same pod",
        f"hostssl   postgres  {MONITOR_ROLE}  127.0.0.1/32  scram-sha-256",
        "# the superuser only from inside the pod (the spbe_database role comes in through a port-forward)",
        "hostssl   all       postgres  127.0.0.1/32  scram-sha-256",
        "hostssl   all       postgres  ::1/128       scram-sha-256",
    ]
    return "\n".join(lines) + "\n"


def login_roles(spec: TenantSpec, with_monitor: bool = False, backup_secret: str = BACKUP_SECRET) -> dict[str, str]:
    """Role -> the generated Secret holding its password (key ``password``); the metrics exporter's
    role only with the baseline image, which runs the exporter."""
    return {**{app: f"database-{app}" for app in app_databases(spec)}, BACKUP_ROLE: backup_secret,
            **({MONITOR_ROLE: MONITOR_SECRET} if with_monitor else {})}


# -- backups outside the tenant (catalog backup.destination: store) ------------------------------------------
#: the jobs' workload names (their pods' app.kubernetes.io/name in the platform's backup namespace)
STORE_BACKUP_WORKLOAD, STORE_CHECK_WORKLOAD = "backup", "restore-check"
STORE_SECRETS_DIR = "/run/secrets/backup"


def backup_secret_name(spec: TenantSpec, catalog) -> str:
    """The Secret holding the backup role's password: in the tenant's namespace, or (store) in the platform's."""
    return catalog.backup.job_location(spec.tenant_id)[1]


def store_job_names(tenant_id: str) -> tuple[str, str]:
    """The tenant's backup and restore-check CronJobs in the platform's backup namespace."""
    return f"{tenant_id}-backup", f"{tenant_id}-restore-check"


def exports_metrics(ctx: TenantContext) -> bool:
    """The baseline's own PostgreSQL image carries the metrics exporter (catalog 2026.11's upstream one does not)."""
    return ctx.catalog.images["postgres"].recipe is not None


def _exporter(ctx: TenantContext) -> dict[str, Any]:
    """prometheus-postgres-exporter (Debian, in the baseline image) beside the server: pg_monitor's view of
    it on METRICS_PORT, logged in as MONITOR_ROLE over TLS to 127.0.0.1 (the password from a file)."""
    container = w.container(ctx, COMPONENT, w.ContainerSpec(
        name="metrics",
        image=ctx.catalog.image("postgres"),
        command=["prometheus-postgres-exporter"],
        args=[f"--web.listen-address=:{PORT['database-metrics']}", "--log.level=warn"],
        ports={"metrics": PORT["database-metrics"]},
        env={"DATA_SOURCE_URI": "127.0.0.1:5432/postgres?sslmode=require",
             "DATA_SOURCE_USER": MONITOR_ROLE,
             "DATA_SOURCE_PASS_FILE": f"{MONITOR_SECRETS_DIR}/password"},
        mounts={"monitor": MONITOR_SECRETS_DIR},
        read_only_mounts=frozenset({"monitor"}),
        # its web server answers whether or not PostgreSQL does: the pod's readiness stays the server's
        liveness=w.http_probe("/", "metrics"),
        readiness=w.tcp_probe("metrics"),
    ))
    # a small helper: it does not share the server's size
    container["resources"] = {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}
    return container


def app_databases(spec: TenantSpec) -> list[str]:
    """Applications that get their own database and least-privilege role."""
    return ["identity"] + (["eoffice"] if spec.has(Component.EOFFICE) else [])


def _server(ctx: TenantContext) -> list[Manifest]:
    managed_hba = ctx.catalog.images["postgres"].recipe is not None  # the baseline's own image
    container = w.container(ctx, COMPONENT, w.ContainerSpec(
        name="postgres",
        image=ctx.catalog.image("postgres"),
        ports={"postgres": PORT["database"]},
        env={
            "POSTGRES_USER": "postgres",
            "POSTGRES_PASSWORD_FILE": f"{SECRETS_DIR}/password",
            "PGDATA": "/var/lib/postgresql/data/pgdata",
        },
        mounts={"data": "/var/lib/postgresql/data", "superuser": SECRETS_DIR, "run": "/var/run/postgresql", "tmp": "/tmp"},
        read_only_mounts=frozenset({"superuser"}),
        liveness=w.exec_probe(["pg_isready", "--host=127.0.0.1", "--username=postgres"]),
        readiness=w.exec_probe(["pg_isready", "--host=127.0.0.1", "--username=postgres"], period=5),
        # the baseline image serves TLS from its first start; pg_hba comes from the desired state (catalog
        # 2026.11's upstream image, already rolled out, keeps its own)
        args=["-c", f"hba_file={HBA_FILE}"] if managed_hba else None,
    ))
    volumes = {
        "data": w.claim_volume("database-data"),
        "superuser": w.secret_volume("database-superuser"),
        "run": w.empty_dir("16Mi"),
        "tmp": w.empty_dir(),
    }
    hba = []
    if managed_hba:
        # a file of its own (subPath), root-owned, readable by the server's group only
        volumes["hba"] = {"configMap": {"name": HBA_CONFIG_MAP, "defaultMode": 0o440,
                                        "items": [{"key": "pg_hba.conf", "path": "pg_hba.conf", "mode": 0o640}]}}
        container["volumeMounts"].append({"name": "hba", "mountPath": HBA_FILE, "subPath": "pg_hba.conf", "readOnly": True})
        hba = [w.config_map(ctx, COMPONENT, HBA_CONFIG_MAP, {"pg_hba.conf": pg_hba(ctx.spec)})]
        # the roles the apps and the backup job log in as exist from the first start (the image
        # creates them from these files), so identity and e-office start before any configuration run
        volumes["roles"] = {"projected": {"defaultMode": 0o440, "sources": [
            {"secret": {"name": secret, "items": [{"key": "password", "path": role}]}}
            for role, secret in login_roles(ctx.spec, with_monitor=exports_metrics(ctx)).items()
            # a password kept in the platform's namespace (backups to the store) is not the pod's to mount:
            # the spbe_database role gives that role its password
            if not (role == BACKUP_ROLE and ctx.catalog.backup.to_store)]}}
        container["volumeMounts"].append({"name": "roles", "mountPath": ROLES_DIR, "readOnly": True})
    containers = [container]
    ports = {"postgres": (5432, PORT["database"])}
    if exports_metrics(ctx):
        containers.append(_exporter(ctx))
        volumes["monitor"] = w.secret_volume(MONITOR_SECRET)
        ports["metrics"] = (PORT["database-metrics"], PORT["database-metrics"])
    pod = w.pod_spec(ctx, COMPONENT, containers, volumes)
    return [
        *hba,
        w.volume_claim(ctx, COMPONENT, "database-data", ctx.size(COMPONENT).storage or ""),
        w.service(ctx, COMPONENT, COMPONENT, ports),
        w.service(ctx, COMPONENT, COMPONENT, {"postgres": (5432, PORT["database"])}, headless=True),
        w.statefulset(ctx, COMPONENT, COMPONENT, pod),
        w.disruption_budget(ctx, COMPONENT, COMPONENT),
    ]


def _cronjob(ctx: TenantContext, workload: str, schedule: str, script: str, volumes: dict[str, Any], mounts: dict[str, str]) -> Manifest:
    container = w.container(ctx, "database-backup", w.ContainerSpec(
        name=workload.removeprefix("database-"),
        image=ctx.catalog.image("postgres"),
        command=["bash", "-c", script],
        mounts=mounts,
        read_only_mounts=frozenset({"credentials"}),
    ))
    pod = w.pod_spec(ctx, workload, [container], volumes)
    pod["restartPolicy"] = "Never"
    return _cronjob_body(ctx, workload, workload, schedule, pod)


def _cronjob_body(ctx: TenantContext, name: str, workload: str, schedule: str, pod: dict[str, Any]) -> Manifest:
    body = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": ctx.metadata(name, COMPONENT, workload),
        "spec": {
            "schedule": schedule,
            "timeZone": "Asia/Jakarta",
            # stated, not left to the server default, so a suspended backup is drift
            "suspend": False,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 3600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": ctx.labels(COMPONENT, workload)},
                "spec": {
                    "backoffLimit": 2,
                    "activeDeadlineSeconds": 6 * 3600,
                    "template": w.template(ctx, COMPONENT, workload, pod),
                },
            },
        },
    }
    return Manifest(body, COMPONENT)


def _backups(ctx: TenantContext) -> list[Manifest]:
    schedule = ctx.spec.backup.schedule or ctx.catalog.backup.schedule
    retention = ctx.spec.backup.retention_days or ctx.catalog.backup.retention_days
    backup = _cronjob(
        ctx, "database-backup", schedule,
        BACKUP_SCRIPT.format(role=BACKUP_ROLE, secrets=BACKUP_SECRETS_DIR, retention=retention, counts=ROW_COUNTS),
        {"backups": w.claim_volume("database-backups"), "credentials": w.secret_volume(BACKUP_SECRET), "tmp": w.empty_dir()},
        {"backups": "/backups", "credentials": BACKUP_SECRETS_DIR, "tmp": "/tmp"},
    )
    check = _cronjob(
        ctx, "database-restore-check", ctx.catalog.backup.restore_check_schedule,
        RESTORE_CHECK_SCRIPT.format(counts=ROW_COUNTS),
        {"backups": w.claim_volume("database-backups", read_only=True), "scratch": w.empty_dir("20Gi"), "tmp": w.empty_dir()},
        {"backups": "/backups", "scratch": "/scratch", "tmp": "/tmp"},
    )
    return [
        w.volume_claim(ctx, COMPONENT, "database-backups", ctx.size("database-backup").storage or ""),
        service_account(ctx, COMPONENT, "database-backup"),
        service_account(ctx, COMPONENT, "database-restore-check"),
        backup,
        check,
    ]


def _in_backup_namespace(ctx: TenantContext, manifest: Manifest) -> Manifest:
    """The same object in the platform's backup namespace (still labelled as this tenant's)."""
    body = {**manifest.body, "metadata": {**manifest.body["metadata"], "namespace": ctx.catalog.backup.namespace}}
    return Manifest(body, manifest.component, manifest.generated_keys, manifest.certificate_names, manifest.platform_keys)


def _store_backups(ctx: TenantContext) -> list[Manifest]:
    """The nightly backup and the weekly restore check, run by the platform in its own namespace, into and out
    of the platform's store; their Secret (the backup role's password, the tenant's store identity) stays there."""
    tenant = ctx.spec.tenant_id
    secret = backup_secret_name(ctx.spec, ctx.catalog)
    backup_name, check_name = store_job_names(tenant)
    env = {"SPBE_TENANT": tenant, "SPBE_BACKUP_WORK": "/work", "PGHOST": f"database.{tenant}.svc",
           "PGPORT": PORT["database"], "PGUSER": BACKUP_ROLE, "PGSSLMODE": "require", "HOME": "/tmp"}
    prelude = STORE_ENV.format(secrets=STORE_SECRETS_DIR)
    dumps = ctx.size("database-backup").storage or "1Gi"
    jobs = [
        (backup_name, STORE_BACKUP_WORKLOAD, ctx.spec.backup.schedule or ctx.catalog.backup.schedule,
         prelude + STORE_BACKUP_SCRIPT, {"work": w.empty_dir(dumps), "tmp": w.empty_dir()},
         {"work": "/work", "tmp": "/tmp"}),
        (check_name, STORE_CHECK_WORKLOAD, ctx.catalog.backup.restore_check_schedule,
         prelude + RESTORE_FROM_STORE + RESTORE_CHECK_SCRIPT.format(counts=ROW_COUNTS).replace("/backups", "/scratch/backups"),
         {"scratch": w.empty_dir(dumps), "tmp": w.empty_dir()}, {"scratch": "/scratch", "tmp": "/tmp"}),
    ]
    out = [_in_backup_namespace(ctx, Manifest(
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": ctx.metadata(secret, COMPONENT, annotations={
             GENERATED_KEYS_ANNOTATION: ",".join((JOB_PASSWORD_KEY, *STORE_KEYS))})},
        COMPONENT, generated_keys=(JOB_PASSWORD_KEY, *STORE_KEYS), platform_keys=STORE_KEYS))]
    for name, workload, schedule, script, volumes, mounts in jobs:
        out.append(_in_backup_namespace(ctx, service_account(ctx, COMPONENT, name)))  # one account per job
        container = w.container(ctx, "database-backup", w.ContainerSpec(
            name=workload, image=ctx.catalog.image("backup"), command=["bash", "-c", script], env=dict(env),
            mounts={**mounts, "credentials": STORE_SECRETS_DIR}, read_only_mounts=frozenset({"credentials"})))
        pod = w.pod_spec(ctx, name, [container], {**volumes, "credentials": w.secret_volume(secret)})
        pod["restartPolicy"] = "Never"
        job = _cronjob_body(ctx, name, workload, schedule, pod)
        out.append(_in_backup_namespace(ctx, job))
    return out


def build(ctx: TenantContext) -> list[Manifest]:
    """PostgreSQL server, credentials per application, backup and restore-check jobs."""
    secrets = [w.generated_secret(ctx, COMPONENT, "database-superuser", ("password",))]
    if not ctx.catalog.backup.to_store:
        secrets.append(w.generated_secret(ctx, COMPONENT, BACKUP_SECRET, ("password",)))
    secrets += [w.generated_secret(ctx, COMPONENT, f"database-{app}", ("password",)) for app in app_databases(ctx.spec)]
    if exports_metrics(ctx):
        secrets.append(w.generated_secret(ctx, COMPONENT, MONITOR_SECRET, ("password",)))
    backups = _store_backups(ctx) if ctx.catalog.backup.to_store else _backups(ctx)
    return [service_account(ctx, COMPONENT, COMPONENT), *secrets, *_server(ctx), *backups]
