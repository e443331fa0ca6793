"""Run inside the e-office container by Mayan's own Python: prints, as JSON, what the checks look at.

Only names, flags and labels are printed, never a password or key. It reads Mayan's effective
settings (from the pod's MAYAN_* environment), asks the tenant database whether this very
connection is encrypted, fetches the OIDC discovery document Mayan logs in with, and lists the
correspondence baseline through Mayan's models.
"""

import json
import os
import sys
import urllib.request

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mayan.settings.production")
os.environ.setdefault("MAYAN_CELERY_BROKER_URL", "memory://")
os.environ.setdefault("MAYAN_CELERY_RESULT_BACKEND", "cache+memory://")

import django  # noqa: E402

django.setup()

from django.apps import apps  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from mayan.apps.authentication.settings import (  # noqa: E402
    setting_authentication_backend, setting_authentication_backend_arguments
)

facts = {}
database = settings.DATABASES["default"]
with connection.cursor() as cursor:
    cursor.execute("select ssl from pg_stat_ssl where pid = pg_backend_pid()")
    row = cursor.fetchone()
facts["database"] = {"sslmode": (database.get("OPTIONS") or {}).get("sslmode", ""),
                     "ssl_in_use": bool(row and row[0]), "name": database.get("NAME", "")}

arguments = setting_authentication_backend_arguments.value or {}
discovery_url = arguments.get("oidc_discovery_url", "")
issuer, why = "", ""
if discovery_url:
    try:
        with urllib.request.urlopen(discovery_url, timeout=15) as response:
            issuer = json.load(response).get("issuer", "")
    except OSError as exc:
        why = f"the discovery document does not answer: {exc}"
facts["oidc"] = {"backend": setting_authentication_backend.value, "discovery_url": discovery_url,
                 "client_id": arguments.get("oidc_rp_client_id", ""), "issuer": issuer, "why": why,
                 "sign_algo": arguments.get("oidc_rp_sign_algo", "")}

facts["email"] = {"host": settings.EMAIL_HOST, "port": int(settings.EMAIL_PORT),
                  "use_tls": bool(settings.EMAIL_USE_TLS), "use_ssl": bool(settings.EMAIL_USE_SSL),
                  "user": settings.EMAIL_HOST_USER or "", "has_password": bool(settings.EMAIL_HOST_PASSWORD)}

DocumentType = apps.get_model("documents", "DocumentType")
facts["document_types"] = {
    document_type.label: {link.metadata_type.name: bool(link.required)
                          for link in document_type.metadata.select_related("metadata_type")}
    for document_type in DocumentType.objects.all()}

Workflow = apps.get_model("document_states", "Workflow")
facts["workflows"] = {
    workflow.internal_name: {
        "auto_launch": bool(workflow.auto_launch),
        "states": sorted(state.label for state in workflow.states.all()),
        "initial": [state.label for state in workflow.states.filter(initial=True)],
        "transitions": sorted(f"{t.origin_state.label} -> {t.destination_state.label}"
                              for t in workflow.transitions.select_related("origin_state", "destination_state")),
        "document_types": sorted(d.label for d in workflow.document_types.all())}
    for workflow in Workflow.objects.all()}

AutoAdminSingleton = apps.get_model("autoadmin", "AutoAdminSingleton")
kept = AutoAdminSingleton.objects.filter(password__isnull=False).exclude(password="").exists()
facts["installer_password_kept"] = kept

sys.stdout.write("\nSPBE-FACTS " + json.dumps(facts) + "\n")
