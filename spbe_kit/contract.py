"""The contract between pods, roles and verification, checked without a cluster.

Three sources describe the same running tenant: the desired state (what each container mounts, as
which user, with which environment), the configuration plan (which role runs where, with which
variables) and the verification suite (which files it checks). They are written by different
hands; this module reads each of them as it is, never from a list kept here, and says where they
disagree:

* every path a role writes inside a pod is on a writable mount of that container, owned by the
  user the container runs as, and the container has the Python Ansible's modules need; a role that
  runs on the controller (through a port-forward) writes no file at all (the controller is not the
  component);
* every TLS file a client or check expects is mounted where it looks: a role's TLS files are on a
  mount of its container, and a PostgreSQL that a client reaches with ``sslmode=require`` serves TLS
  with a key on a mount;
* every file verify checks is one the plan writes, a desired-state volume provides, or the image
  makes itself (a key the server generates);
* the backup job logs in with the role the database role creates, using the password the plan gives it.

"Paths a role writes" are read from the role's task files: the ``dest``/``path`` of the modules that
write files, following ``import_tasks``/``include_tasks`` and ``block``, with the role's defaults and
the plan's variables filled in, and skipping what a ``when`` rules out for this plan.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import jinja2
import yaml

from spbe_kit.roles import role_defaults, role_vars, roles_dir

#: modules that write a file on the managed host, and the parameter naming it
WRITERS = {
    "template": "dest", "copy": "dest", "file": "path", "lineinfile": "path", "blockinfile": "path",
    "replace": "path", "assemble": "dest", "get_url": "dest", "unarchive": "dest", "ini_file": "path",
    "openssl_privatekey": "path", "openssl_csr": "path", "x509_certificate": "path", "openssl_dhparam": "path",
    "openssl_publickey": "path", "openssh_keypair": "path",
}
INCLUDES = {"import_tasks", "include_tasks"}
BLOCK_KEYS = ("block", "rescue", "always")
#: volume sources a container can write to (ConfigMap, Secret, projected, downwardAPI are always read-only)
WRITABLE_SOURCES = ("emptyDir", "persistentVolumeClaim", "ephemeral", "hostPath")
OMIT = "__omit__"


class _Unknown(Exception):
    """A value that depends on what happens at run time (a registered result, a fact)."""


def _short(module: str) -> str:
    return module.rsplit(".", 1)[-1]


def _env() -> jinja2.Environment:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False)
    env.filters.update({
        "dirname": posixpath.dirname, "basename": posixpath.basename,
        "default": lambda value, default="", boolean=False: default if (boolean and not value) else value,
        "bool": lambda v: v if isinstance(v, bool) else str(v).lower() in ("yes", "true", "1", "on"),
        "regex_escape": re.escape,
    })
    env.tests.update({"match": lambda v, p: re.match(p, str(v)) is not None,
                      "search": lambda v, p: re.search(p, str(v)) is not None})
    return env


_JINJA = _env()


def _render(value: Any, variables: dict) -> Any:
    """A task parameter with the variables filled in; raises _Unknown for run-time values."""
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        whole = re.fullmatch(r"\s*\{\{(.*)\}\}\s*", value, re.S)
        try:
            if whole and "{{" not in whole.group(1):
                return _JINJA.compile_expression(whole.group(1))(**variables)
            return _JINJA.from_string(value).render(**variables)
        except (jinja2.UndefinedError, jinja2.TemplateError, TypeError, KeyError, AttributeError) as exc:
            raise _Unknown(str(exc)) from None
    if isinstance(value, list):
        return [_render(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: _render(v, variables) for k, v in value.items()}
    return value


def role_variables(role: str, variables: dict) -> dict:
    """The role's defaults and vars overridden by the plan's variables, Jinja in the defaults resolved."""
    merged = {**role_defaults(role), **role_vars(role), **variables,
              "ansible_check_mode": False, "omit": OMIT, "role_path": str(roles_dir() / role)}
    for _ in range(5):  # defaults that refer to other defaults
        for name, value in list(merged.items()):
            if isinstance(value, str) and "{{" in value:
                try:
                    merged[name] = _render(value, merged)
                except _Unknown:
                    pass
    return merged


def _condition(when: Any, variables: dict) -> bool:
    """False only when a `when` certainly rules the task out for these variables."""
    for clause in when if isinstance(when, list) else [when]:
        if isinstance(clause, bool):
            if not clause:
                return False
            continue
        try:
            if not _JINJA.compile_expression(str(clause))(**variables):
                return False
        except (jinja2.UndefinedError, jinja2.TemplateError, TypeError, KeyError, AttributeError):
            continue  # depends on the run: the task may run
    return True


@dataclass(frozen=True)
class Write:
    """A file or directory a role's task writes on the host it runs against."""

    role: str
    task: str
    path: str
    owner: str | None = None
    group: str | None = None
    delegated: bool = False  # delegate_to: the controller, not the managed host


def _module(task: dict) -> tuple[str, Any] | None:
    for key, value in task.items():
        if _short(key) in WRITERS or _short(key) in INCLUDES:
            return key, value
    return None


def _loop_items(task: dict, variables: dict) -> list[Any]:
    loop = task.get("loop", task.get("with_items"))
    if loop is None:
        return [None]
    try:
        items = _render(loop, variables)
    except _Unknown:
        return [None]
    return list(items) if isinstance(items, list) else [None]


def _tasks(role: str, path: Path, variables: dict, when: list) -> Iterator[tuple[dict, list]]:
    for task in yaml.safe_load(path.read_text()) or []:
        conditions = when + ([task["when"]] if "when" in task else [])
        if any(key in task for key in BLOCK_KEYS):
            for key in BLOCK_KEYS:
                yield from _tasks_in(role, task.get(key) or [], path, variables, conditions)
            continue
        yield task, conditions


def _tasks_in(role: str, tasks: list, path: Path, variables: dict, when: list) -> Iterator[tuple[dict, list]]:
    for task in tasks:
        conditions = when + ([task["when"]] if "when" in task else [])
        if any(key in task for key in BLOCK_KEYS):
            for key in BLOCK_KEYS:
                yield from _tasks_in(role, task.get(key) or [], path, variables, conditions)
            continue
        yield task, conditions


def role_writes(role: str, variables: dict, tasks_from: str = "main") -> list[Write]:
    """The files and directories the role's tasks (from tasks/<tasks_from>.yml) write for these variables."""
    merged = role_variables(role, variables)
    writes: list[Write] = []
    tasks_dir = roles_dir() / role / "tasks"

    def walk(path: Path, when: list) -> None:
        for task, conditions in _tasks(role, path, merged, when):
            found = _module(task)
            if found is None or not _condition(conditions, merged):
                continue
            module, params = found
            if _short(module) in INCLUDES:
                target = params if isinstance(params, str) else params.get("file")
                walk(tasks_dir / _render(target, merged), conditions)
                continue
            params = params or {}
            if _short(module) == "file" and params.get("state") == "absent":
                continue
            for item in _loop_items(task, merged):
                scope = {**merged, **({"item": item} if item is not None else {})}
                key = WRITERS[_short(module)]
                raw = params.get(key, params.get("dest", params.get("path")))
                try:
                    target = _render(raw, scope)
                except _Unknown:
                    target = f"<unresolved: {raw}>"
                owner, group = (_maybe(params.get(k), scope) for k in ("owner", "group"))
                writes.append(Write(role, task.get("name", module), str(target), owner, group,
                                    delegated=task.get("delegate_to") in ("localhost", "127.0.0.1")))

    walk(tasks_dir / f"{tasks_from}.yml", [])
    return writes


def _maybe(value: Any, scope: dict) -> str | None:
    if value is None:
        return None
    try:
        rendered = _render(value, scope)
    except _Unknown:
        return f"<unresolved: {value}>"
    return None if rendered in (OMIT, "", None) else str(rendered)


# --- the desired state's side ---------------------------------------------------------------

def workload_containers(state) -> Iterator[tuple[Any, dict, dict]]:
    """(manifest, pod spec, container) of every Deployment, StatefulSet and CronJob."""
    for manifest in state.manifests:
        if manifest.kind in ("Deployment", "StatefulSet"):
            pod = manifest.body["spec"]["template"]["spec"]
        elif manifest.kind == "CronJob":
            pod = manifest.body["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        else:
            continue
        for container in pod["containers"]:
            yield manifest, pod, container


def container_of(state, component: str, name: str) -> tuple[dict, dict]:
    for manifest, pod, container in workload_containers(state):
        if manifest.component == component and manifest.kind != "CronJob" and container["name"] == name:
            return pod, container
    raise KeyError(f"no container {name} in component {component}")


@dataclass(frozen=True)
class Mount:
    path: str
    volume: dict
    writable: bool
    sub_path: str = ""


def mounts(pod: dict, container: dict) -> list[Mount]:
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    out = []
    for m in container.get("volumeMounts", []):
        volume = volumes[m["name"]]
        writable = not m.get("readOnly") and any(k in volume for k in WRITABLE_SOURCES) and \
            not volume.get("persistentVolumeClaim", {}).get("readOnly")
        out.append(Mount(m["mountPath"], volume, writable, m.get("subPath", "")))
    return out


def _under(path: str, directory: str) -> bool:
    path, directory = posixpath.normpath(path), posixpath.normpath(directory)
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def mount_for(path: str, pod: dict, container: dict) -> Mount | None:
    """The innermost mount holding `path`."""
    holding = [m for m in mounts(pod, container) if _under(path, m.path)]
    return max(holding, key=lambda m: len(m.path)) if holding else None


def _volume_files(state, mount: Mount) -> set[str]:
    """Files a ConfigMap or Secret volume puts under its mount (Secret values are not in the desired
    state, only their key names)."""
    volume = mount.volume
    source = volume.get("configMap") or volume.get("secret")
    if not source:
        return set()
    name = source.get("name") or source.get("secretName")
    keys: set[str] = set()
    for manifest in state.manifests:
        if manifest.kind in ("ConfigMap", "Secret") and manifest.name == name:
            keys = set(manifest.body.get("data", {})) | set(manifest.generated_keys)
    items = source.get("items")
    files = {i["path"]: i["key"] for i in items} if items else {k: k for k in keys}
    if mount.sub_path:
        return {mount.path} if mount.sub_path in files else set()
    return {posixpath.join(mount.path, f) for f in files}


def provided_by_volumes(state, pod: dict, container: dict) -> set[str]:
    out: set[str] = set()
    for mount in mounts(pod, container):
        out |= _volume_files(state, mount)
    return out


def _env(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def _recipe(catalog, image_key: str):
    from spbe_kit.images.recipes import RECIPES

    entry = catalog.images.get(image_key)
    return RECIPES.get(entry.recipe) if entry is not None and entry.recipe else None


def _entrypoint_text(recipe) -> str:
    from importlib import resources

    # the image's own files (spbe_kit/images/files/<recipe>/), its entrypoint among them
    script = Path(str(resources.files("spbe_kit.images") / "files" / recipe.name)) / recipe.config.entrypoint[0].lstrip("/")
    return script.read_text() if script.is_file() else ""


_ASSIGN = re.compile(r'^\s*(?:local\s+)?([A-Za-z_]\w*)="?([^"\s;]*)"?\s*$')
_PARAM = re.compile(r'\$\{(\w+)(?::[-=]([^}]*))?\}|\$(\w+)')
_WRITE_TARGETS = (
    re.compile(r'(?<![<0-9&])>>?\s*"([^"]+)"'),            # > "file", >> "file"
    re.compile(r'-(?:keyout|out)\s+"([^"]+)"'),             # openssl -keyout/-out "file"
)
_WRITE_DIRS = (re.compile(r'--directory="([^"]+)"'),)       # opendkim-genkey --directory="dir"


def _expand(text: str, variables: dict[str, str]) -> str | None:
    """Shell parameters replaced from ``variables`` (with ${X:-default}); None when one is unknown."""
    unknown = False

    def one(match: re.Match) -> str:
        nonlocal unknown
        name = match.group(1) or match.group(3)
        if name in variables:
            return variables[name]
        if match.group(2) is not None:
            return _expand(match.group(2), variables) or ""
        unknown = True
        return ""

    out = _PARAM.sub(one, text)
    return None if unknown else out


def image_writes(catalog, container: dict) -> tuple[set[str], set[str]]:
    """Files and directories the container's baseline image writes at start (its entrypoint script),
    with the container's environment; empty for an upstream image (not known here)."""
    key = _image_key(catalog, container)
    recipe = _recipe(catalog, key) if key else None
    if recipe is None:
        return set(), set()
    env = _env(container)
    variables = dict(env)
    files: set[str] = set()
    dirs: set[str] = set()
    for line in _entrypoint_text(recipe).splitlines():
        line = line.split(" #", 1)[0]
        assigned = _ASSIGN.match(line)
        if assigned and assigned.group(1) not in env:  # the pod's environment wins over the script's defaults
            value = _expand(assigned.group(2), variables)
            if value is not None:
                variables[assigned.group(1)] = value
            continue
        if line.lstrip().startswith("mkdir "):
            dirs |= {d for d in (_expand(a.strip('"'), variables) for a in line.split()[1:] if not a.startswith("-"))
                     if d and d.startswith("/")}
        for pattern, into in [*((p, files) for p in _WRITE_TARGETS), *((p, dirs) for p in _WRITE_DIRS)]:
            for target in pattern.findall(line):
                path = _expand(target, variables)
                if path and path.startswith("/") and not path.startswith("/dev/"):
                    into.add(path.removesuffix(".partial"))
    return files, dirs


def postgres_tls_key(catalog, container: dict) -> str | None:
    """Where the PostgreSQL container keeps the key it serves TLS with, or None when it serves no TLS.

    Either the container's arguments turn TLS on (``-c ssl=on -c ssl_key_file=...``), or the image's
    own entrypoint does (the baseline image writes ``ssl = on`` and a key into ``$PGDATA`` at initdb)."""
    args = container.get("args", []) + container.get("command", [])
    settings = dict(a.split("=", 1) for a in args if re.fullmatch(r"[a-z_]+=.*", a))
    if settings.get("ssl") in ("on", "true", "1"):
        return settings.get("ssl_key_file", posixpath.join(_env(container).get("PGDATA", ""), "server.key"))
    recipe = _recipe(catalog, "postgres") if container["image"] == catalog.image("postgres") else None
    if recipe is not None:
        text = _entrypoint_text(recipe)
        if re.search(r"^ssl = on$", text, re.M) and '"$PGDATA/server.key"' in text:
            return posixpath.join(_env(container).get("PGDATA", "/var/lib/postgresql/data/pgdata"), "server.key")
    return None


def _image_key(catalog, container: dict) -> str | None:
    for key in catalog.images:
        if catalog.image(key) == container["image"]:
            return key
    return None


def has_python(catalog, container: dict) -> bool | None:
    """Whether Ansible's modules can run in the container (None: an upstream image, not known here)."""
    key = _image_key(catalog, container)
    recipe = _recipe(catalog, key) if key else None
    if recipe is None:
        return None
    return any(p == "python3" or p.startswith("python3.") for p in recipe.packages) or bool(recipe.python_lock)


# --- the contract ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Violation:
    rule: str       # writable | owner | python | controller | tls | verify | backup
    component: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.component}: {self.detail}"


def _requires_tls(value: str) -> bool:
    return bool(re.search(r"sslmode[=:]\s*(require|verify-ca|verify-full)\b", value))


def check(spec, catalog, state, plan) -> list[Violation]:
    """Every disagreement between the desired state, the configuration plan and verify's facts."""
    from spbe_kit.verify.hosts import CONTAINER
    from spbe_kit.verify.targets import production_targets

    problems: list[Violation] = []
    written: dict[str, set[str]] = {}  # component -> paths the plan writes in its pods
    uid = str(catalog.platform.run_as_user)

    for run in plan:
        variables = role_variables(run.role, run.variables)
        writes = role_writes(run.role, run.variables)
        if run.connection.get("ansible_connection") == "kubernetes.core.kubectl":
            pod, container = container_of(state, run.component, run.connection["ansible_kubectl_container"])
            if writes and has_python(catalog, container) is False:
                problems.append(Violation("python", run.component, (
                    f"{run.role} runs Ansible modules in container {container['name']}, whose image has no Python")))
            for write in (w for w in writes if not w.delegated):
                mount = mount_for(write.path, pod, container)
                root_writable = not container.get("securityContext", {}).get("readOnlyRootFilesystem", False)
                if (mount and mount.writable) or (mount is None and root_writable):
                    written.setdefault(run.component, set()).add(write.path)  # only what can land counts
                else:
                    where = f"read-only mount {mount.path}" if mount else "the read-only root filesystem"
                    problems.append(Violation("writable", run.component, (
                        f"{run.role} writes {write.path} ({write.task!r}), on {where} of container {container['name']}")))
                for who in sorted({w for w in (write.owner, write.group) if w is not None}):
                    if who != uid:
                        problems.append(Violation("owner", run.component, (
                            f"{run.role} makes {write.path} owned by {who!r}, but container {container['name']} "
                            f"runs as uid {uid} without the capability to chown")))
            for name, path in sorted(variables.items()):
                if re.search(r"_(tls|ssl)_(cert|key|ca)_file$|_ca_file$", name) and isinstance(path, str) and path:
                    if mount_for(path, pod, container) is not None or path in written.get(run.component, set()):
                        continue
                    problems.append(Violation("tls", run.component, (
                        f"{run.role} expects its TLS file {path} ({name}), but nothing is mounted there in "
                        f"container {container['name']}")))
        else:
            for write in (w for w in writes if not w.delegated):
                problems.append(Violation("controller", run.component, (
                    f"{run.role} runs on the controller (through a port-forward) but writes {write.path} "
                    f"({write.task!r}) there: that file never reaches the component")))

    problems += _database_tls(catalog, state, plan)
    problems += _trusted_certificates(state)
    problems += _verify_files(state, catalog, written, production_targets, CONTAINER)
    problems += _backup(state, plan)
    return problems


def _database_tls(catalog, state, plan) -> list[Violation]:
    clients = [f"{m.kind}/{m.name} ({e['name']})" for m, _, c in workload_containers(state)
               for e in c.get("env", []) if isinstance(e.get("value"), str) and _requires_tls(e["value"])]
    for run in plan:
        if run.role == "spbe_database":
            mode = role_variables(run.role, run.variables).get("spbe_database_login_ssl_mode", "")
            if mode in ("require", "verify-ca", "verify-full"):
                clients.append(f"role {run.role} (ssl_mode {mode})")
    if not clients or not any(m.component == "database" for m in state.manifests):
        return []
    pod, container = container_of(state, "database", "postgres")
    key = postgres_tls_key(catalog, container)
    if key is None:
        return [Violation("tls", "database", (
            f"{', '.join(sorted(clients))} require TLS, but the PostgreSQL container serves none "
            f"(image {container['image'].split('@')[0]}: no ssl=on in its arguments or its entrypoint)"))]
    if mount_for(key, pod, container) is None:
        return [Violation("tls", "database", f"the server's TLS key {key} is on no volume of the container")]
    return []


#: environment variables naming the certificate files a client trusts
TRUST_ENV = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "KC_TRUSTSTORE_PATHS")


def _trusted_certificates(state) -> list[Violation]:
    """A certificate a client is told to trust is on a volume of its container."""
    problems = []
    for manifest, pod, container in workload_containers(state):
        env = _env(container)
        provided = provided_by_volumes(state, pod, container)
        for name in TRUST_ENV:
            for path in filter(None, env.get(name, "").split(",")):
                if path not in provided:
                    problems.append(Violation("tls", manifest.component, (
                        f"container {container['name']} trusts {path} ({name}), but no volume puts it there")))
    return problems


def _verify_files(state, catalog, written, production_targets, containers) -> list[Violation]:
    components = sorted({m.component for m in state.manifests} & set(containers))
    targets = production_targets(state, {c: f"kubectl://{c}" for c in components})
    problems = []
    for component, target in sorted(targets.targets.items()):
        pod, container = container_of(state, component, containers[component])
        provided = set(written.get(component, set())) | provided_by_volumes(state, pod, container)
        generated_files, generated_dirs = image_writes(catalog, container)
        provided |= {f for f in generated_files if (m := mount_for(f, pod, container)) and m.writable}
        generated_dirs = {d for d in generated_dirs if (m := mount_for(d, pod, container)) and m.writable}
        if component == "database":
            key = postgres_tls_key(catalog, container)
            if key:
                provided.add(key)
        for name, value in sorted(vars(target.facts).items()):
            if not (name.endswith(("_file", "_dir")) or name == "server_key") or not value:
                continue
            if name.endswith("_dir"):
                ok = any(_under(p, value) and p != value for p in provided)
            else:
                ok = value in provided or any(_under(value, d) and value != d for d in generated_dirs)
            if not ok:
                problems.append(Violation("verify", component, (
                    f"verify checks {value} ({name}), but neither the plan nor the desired state nor the image "
                    f"puts anything there in container {container['name']}")))
    return problems


def _backup(state, plan) -> list[Violation]:
    """The backup job logs in as the role spbe_database creates, with the password the plan gives it (the job in
    the tenant's namespace up to 2026.12; from 2027.01 the platform's, in its backup namespace)."""
    from spbe_kit.desired.database import BACKUP_SECRET, store_job_names

    database = next((r for r in plan if r.role == "spbe_database"), None)
    names = {"database-backup": BACKUP_SECRET, store_job_names(state.tenant_id)[0]: f"{state.tenant_id}-backup"}
    found = next(((m, c) for m, _, c in workload_containers(state) if m.kind == "CronJob" and m.name in names), None)
    if database is None or found is None:
        return []
    manifest, job = found
    variables = role_variables("spbe_database", database.variables)
    role = variables["spbe_database_backup_role"]
    script = " ".join(job.get("command", []) + job.get("args", []))
    problems = []
    users = set(re.findall(r"--username[= ](\S+)", script)) | set(re.findall(r"\bPGUSER=\"?([A-Za-z_][\w]*)", script))
    users |= {e["value"] for e in job.get("env", []) if e.get("name") == "PGUSER" and "value" in e}
    if users != {role}:
        problems.append(Violation("backup", "database", (
            f"the backup job logs in as {', '.join(sorted(users)) or 'nobody named'}, not as {role}, the read-only "
            "role spbe_database creates for it")))
    secrets = {v["secret"]["secretName"] for _, pod, c in workload_containers(state) if c is job
               for v in pod.get("volumes", []) if "secret" in v}
    wanted = names[manifest.name]  # the Secret whose password the plan gives the role (spbe_database_backup_password)
    if wanted not in secrets:
        problems.append(Violation("backup", "database", (
            f"the backup job mounts {', '.join(sorted(secrets)) or 'no Secret'}, not {wanted}, whose password "
            "the plan gives the backup role")))
    return problems
