"""A tenant's live health, claimed only on evidence; what cannot be checked is "unknown".

Read straight from the cluster (read-only), so it works for any tenant whatever state
backend provisioned it. Healthy means all three of:

* **credentials present**: every Secret whose values the kit generates exists and every
  generated key holds a value (an empty Secret is not a credential);
* **workloads Ready**: each Deployment and StatefulSet has its replicas Ready;
* **components answer**: their pods are Ready on a *real* node, where the kubelet ran the
  readiness probes (HTTP/TCP/exec checks of the component itself). Pods on a simulated
  (kwok) node are marked Ready without any probe, so there the answer is "unknown".
"""

from __future__ import annotations

import datetime as dt
import difflib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kubernetes import client
from kubernetes.client.rest import ApiException
from urllib3.exceptions import HTTPError

from spbe_kit.catalog.load import backup_job_location
from spbe_kit.desired.context import LABEL_CATALOG, LABEL_COMPONENT, LABEL_TENANT
from spbe_kit.desired.model import GENERATED_KEYS_ANNOTATION
from spbe_kit.errors import ProvisionError
from spbe_kit.kubeclient import api_client
from spbe_kit.suspension import suspension_of

BACKUP_JOB = "database-backup"
BACKUP_MAX_AGE = dt.timedelta(days=1)
#: kwok manages (simulates) exactly the nodes with this annotation
SIMULATED_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")

HEALTHY, NOT_HEALTHY, UNKNOWN, SUSPENDED = "healthy", "not healthy", "unknown", "suspended"


@dataclass
class WorkloadHealth:
    kind: str
    name: str
    ready: int
    desired: int
    simulated: bool = False  # its pods run on a simulated node: Ready without probes

    @property
    def healthy(self) -> bool:
        return self.desired > 0 and self.ready >= self.desired  # scaled to zero serves nobody


@dataclass
class TenantHealth:
    tenant: str
    namespace_exists: bool
    components: dict[str, list[WorkloadHealth]] = field(default_factory=dict)
    last_backup: str | None = None  # ISO time of the newest successful backup job
    catalog_version: str | None = None  # as labelled on the namespace
    missing_credentials: list[str] = field(default_factory=list)  # "secret/key" without a value
    credentials_checked: int = 0
    missing_objects: list[str] = field(default_factory=list)  # expected (from the stack's record) but absent
    nodes_readable: bool = True  # False: where the pods run cannot be told, so whether they answer is unknown
    suspended: str | None = None  # since when the platform has it suspended (`spbe tenant suspend`)
    unreadable: list[str] = field(default_factory=list)  # Secrets outside the tenant these credentials may not read
    _secret_keys: list[str] = field(default_factory=list, repr=False)  # "secret/key" names found (never values)

    def expect(self, credentials: dict[str, list[str]] | None, workloads: list[str] | None) -> None:
        """Compare with what the stack recorded: a deleted Secret or workload is a problem, not a silence."""
        present = {f"{w.kind}/{w.name}" for ws in self.components.values() for w in ws}
        self.missing_objects += [w for w in workloads or [] if w not in present]
        known = set(self._secret_keys)
        unreadable = {ref.split("/", 1)[1] for ref in self.unreadable}
        for secret, keys in (credentials or {}).items():
            if secret in unreadable:
                continue  # not missing: not to be seen with these credentials (an unknown, below)
            for key in keys:
                if f"{secret}/{key}" not in known:
                    self.credentials_checked += 1
                    self.missing_credentials.append(f"{secret}/{key}")

    @property
    def problems(self) -> list[str]:
        out = [f"credential {c} has no value" for c in self.missing_credentials]
        out += [f"{o} is missing" for o in self.missing_objects]
        out += [f"{w.kind}/{w.name}: {w.ready}/{w.desired} Ready" + (" (scaled to zero)" if w.desired == 0 else "")
                for ws in self.components.values() for w in ws
                if not w.healthy and not (self.suspended and w.desired == 0)]  # what the suspension stopped
        return out

    @property
    def unknowns(self) -> list[str]:
        out = [f"whether Secret {ref} (the backup job's, in the platform's namespace) holds every credential: "
               "it may not be read with these credentials" for ref in self.unreadable]
        if not self.nodes_readable:
            return out + ["whether the components answer: the nodes their pods run on may not be read with these "
                          "credentials, so real and simulated nodes cannot be told apart"]
        simulated = sorted(w.name for ws in self.components.values() for w in ws if w.simulated)
        if simulated:
            out.append(f"whether {', '.join(simulated)} answer: their pods run on simulated (kwok) nodes, "
                       "where no readiness probe runs")
        return out

    @property
    def verdict(self) -> str:
        if not self.namespace_exists or self.problems:
            return NOT_HEALTHY
        if self.suspended:
            return SUSPENDED
        return UNKNOWN if self.unknowns else HEALTHY

    @property
    def healthy(self) -> bool:
        return self.verdict == HEALTHY

    def backup_age(self, now: dt.datetime | None = None) -> dt.timedelta | None:
        if self.last_backup is None:
            return None
        return (now or dt.datetime.now(dt.timezone.utc)) - dt.datetime.fromisoformat(self.last_backup)

    def to_dict(self) -> dict:
        return {
            "tenant": self.tenant,
            "health": self.verdict,
            "healthy": self.healthy,
            "namespaceExists": self.namespace_exists,
            "problems": self.problems,
            "unknown": self.unknowns,
            "credentials": {"checked": self.credentials_checked, "missing": self.missing_credentials},
            "missingObjects": self.missing_objects,
            "components": {c: [{**asdict(w), "healthy": w.healthy} for w in ws] for c, ws in self.components.items()},
            "lastBackup": self.last_backup,
            "namespaceCatalogVersion": self.catalog_version,
            "suspendedSince": self.suspended,
        }


def _simulated_nodes(core: client.CoreV1Api) -> set[str] | None:
    """Names of the simulated nodes; None when nodes may not be listed (namespace-scoped access)."""
    key, value = SIMULATED_NODE_ANNOTATION
    try:
        nodes = core.list_node().items
    except ApiException as exc:
        if exc.status in (401, 403):
            return None
        raise
    return {n.metadata.name for n in nodes if (n.metadata.annotations or {}).get(key) == value}


def _credentials(core: client.CoreV1Api, tenant_id: str, health: TenantHealth) -> None:
    secrets = list(core.list_namespaced_secret(tenant_id, label_selector=f"{LABEL_TENANT}={tenant_id}").items)
    where, name = backup_job_location(tenant_id, health.catalog_version)
    if where != tenant_id:  # the backup job's Secret, in the platform's backup namespace
        try:
            secrets.append(core.read_namespaced_secret(name, where))
        except ApiException as exc:
            if exc.status == 403:
                health.unreadable.append(f"{where}/{name}")
            elif exc.status != 404:
                raise
    for secret in secrets:
        keys = (secret.metadata.annotations or {}).get(GENERATED_KEYS_ANNOTATION)
        if not keys:
            continue
        data = secret.data or {}
        for key in keys.split(","):
            health.credentials_checked += 1
            health._secret_keys.append(f"{secret.metadata.name}/{key}")
            if not data.get(key):
                health.missing_credentials.append(f"{secret.metadata.name}/{key}")


def _last_backup(batch: client.BatchV1Api, tenant_id: str, catalog_version: str | None) -> str | None:
    """When the backup CronJob last succeeded, counting Jobs made from it by hand; None: never (or no job)."""
    namespace, name = backup_job_location(tenant_id, catalog_version)
    try:
        job = batch.read_namespaced_cron_job(name, namespace)
        times = [job.status.last_successful_time] if job.status and job.status.last_successful_time else []
        # a backup run by hand (`kubectl create job --from=cronjob/...`) is a backup too: the CronJob owns that
        # Job, but only counts its own schedule in lastSuccessfulTime
        times += [j.status.completion_time for j in batch.list_namespaced_job(namespace).items
                  if j.status and j.status.succeeded and j.status.completion_time
                  and any(o.kind == "CronJob" and o.name == name for o in j.metadata.owner_references or [])]
    except ApiException as exc:
        if exc.status not in (403, 404):
            raise
        return None
    last = max(times) if times else None
    return last.astimezone(dt.timezone.utc).isoformat() if last else None


def tenant_health(tenant_id: str, kubeconfig: Path, context: str | None = None) -> TenantHealth:
    """Credentials, Ready replicas of every workload by component (and where they run), the newest backup."""
    api = api_client(kubeconfig, context)
    core, apps, batch = client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api)
    selector = f"{LABEL_TENANT}={tenant_id}"
    try:
        try:
            namespace = core.read_namespace(tenant_id)
        except ApiException as exc:
            if exc.status == 404:
                return TenantHealth(tenant_id, namespace_exists=False)
            raise
        labels = namespace.metadata.labels or {}
        health = TenantHealth(tenant_id, namespace_exists=True, catalog_version=labels.get(LABEL_CATALOG))
        record = suspension_of({"metadata": {"annotations": namespace.metadata.annotations}})
        health.suspended = record.at if record else None
        _credentials(core, tenant_id, health)
        simulated_nodes = _simulated_nodes(core)
        health.nodes_readable = simulated_nodes is not None
        pods = core.list_namespaced_pod(tenant_id).items
        workloads = [(d, "Deployment") for d in apps.list_namespaced_deployment(tenant_id, label_selector=selector).items]
        workloads += [(s, "StatefulSet") for s in apps.list_namespaced_stateful_set(tenant_id, label_selector=selector).items]
        for obj, kind in sorted(workloads, key=lambda w: (w[0].metadata.labels.get(LABEL_COMPONENT, ""), w[0].metadata.name)):
            component = obj.metadata.labels.get(LABEL_COMPONENT, "unknown")
            match = obj.spec.selector.match_labels or {}
            nodes = {p.spec.node_name for p in pods
                     if p.spec.node_name and all((p.metadata.labels or {}).get(k) == v for k, v in match.items())}
            health.components.setdefault(component, []).append(
                WorkloadHealth(kind, obj.metadata.name, obj.status.ready_replicas or 0, obj.spec.replicas or 0,
                               simulated=bool(nodes) and simulated_nodes is not None and nodes <= simulated_nodes)
            )
        health.last_backup = _last_backup(batch, tenant_id, health.catalog_version)
        return health
    except ApiException as exc:
        raise ProvisionError(f"cannot read tenant {tenant_id} from the cluster: HTTP {exc.status} {exc.reason}") from None
    except HTTPError as exc:
        raise ProvisionError(f"cannot reach the cluster: {exc}", hint="is it running? `spbe cluster status`") from None


def tenant_namespaces(kubeconfig: Path, context: str | None = None) -> list[str]:
    """Names of the namespaces that carry a tenant label (for "did you mean")."""
    core = client.CoreV1Api(api_client(kubeconfig, context))
    try:
        items = core.list_namespace(label_selector=LABEL_TENANT).items
    except (ApiException, HTTPError):
        return []
    return sorted(n.metadata.name for n in items)


def suggestion(name: str, known: list[str]) -> str | None:
    """The closest known tenant id to a mistyped one."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    return close[0] if close else None


def wait_ready(tenant_id: str, kubeconfig: Path, context: str | None = None, timeout: float = 600.0,
               progress=lambda _: None) -> TenantHealth:
    """Wait until every workload of the tenant is Ready (the engine awaits only what it changed).

    Raises ProvisionError naming what is still not Ready when ``timeout`` runs out.
    """
    deadline = time.monotonic() + timeout
    said = ""
    while True:
        live = tenant_health(tenant_id, kubeconfig, context)
        waiting = [f"{w.kind}/{w.name} {w.ready}/{w.desired}" for ws in live.components.values() for w in ws
                   if not w.healthy]
        if not waiting and live.namespace_exists:
            return live
        if time.monotonic() >= deadline:
            raise ProvisionError(f"tenant {tenant_id} is not ready after {timeout:.0f}s: {', '.join(waiting) or 'no namespace'}",
                                 hint=f"look at its pods: kubectl -n {tenant_id} get pods; run `spbe tenant up` again once fixed")
        line = ", ".join(waiting)
        if line != said:
            progress(f"waiting for workloads to be Ready: {line}")
            said = line
        time.sleep(1.0)
