"""The portal's pages (Flask): request form, review queue, provisioning status, auditors' evidence."""

from __future__ import annotations

import csv
import hmac
import io
import re
import secrets
from datetime import timedelta
from functools import wraps
from pathlib import Path
from typing import Any, Callable

from flask import Flask, Response, abort, g, redirect, render_template, request, send_file, session, url_for
from jinja2 import ChoiceLoader, PackageLoader
from werkzeug.exceptions import HTTPException

from spbe_kit.catalog.load import catalog_for, load_catalog
from spbe_kit.desired import desired_state
from spbe_kit.errors import CatalogError, RegionError
from spbe_kit.portal import form as request_form
from spbe_kit.portal.auth import User, user_from_claims
from spbe_kit.portal.problem_words import in_language
from spbe_kit.portal.settings import PortalSettings
from spbe_kit.portal.store import JobState, Status, Store
from spbe_kit.portal.words import LANGS, drift_summary, word
from spbe_kit.regions import find_region

MAX_BODY_BYTES = 64 * 1024
MAX_COMMENT_CHARS = 2000
SESSION_HOURS = 8  # a role removed in Keycloak is gone at the next sign-in, at most this long after
_LOCAL_PATH = re.compile(r"^/(?!/)[A-Za-z0-9_./-]*$")


def create_app(settings: PortalSettings, store: Store | None = None) -> Flask:
    from authlib.integrations.flask_client import OAuth

    app = Flask(__name__)
    app.jinja_loader = ChoiceLoader([PackageLoader("spbe_kit", "templates/portal")])
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_BODY_BYTES,
        MAX_FORM_PARTS=200,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_NAME="spbe_portal",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
    )
    store = store or Store(settings.database_url)
    app.extensions["spbe_store"] = store
    app.extensions["spbe_settings"] = settings
    oauth = OAuth(app)
    oauth.register("keycloak", client_id=settings.oidc.client_id, client_secret=settings.oidc.client_secret,
                   server_metadata_url=settings.oidc.metadata_url,
                   client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256"})

    def lang() -> str:
        return session.get("lang", "id")

    def t(key: str) -> str:
        return word(key, lang())

    def csrf_token() -> str:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
        return session["csrf"]

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {"t": t, "lang": lang(), "user": g.get("user"), "csrf_token": csrf_token, "Status": Status,
                "localized": lambda problem: in_language(problem, lang()),
                "drift_words": lambda summary: drift_summary(summary, lang()),
                "status_word": lambda s: t(f"status_{s.value if hasattr(s, 'value') else s}")}

    @app.before_request
    def _load_user_and_check_csrf() -> None:
        g.user = User.from_session(session.get("user"))
        if g.user is not None and not store.session_valid(session.get("sid", "")):
            session.clear()  # signed out, expired, or revoked: the cookie alone is not enough
            g.user = None
        if request.method == "POST":
            sent = request.form.get("csrf_token", "")
            if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
                abort(400, description="csrf")

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = ("default-src 'self'; img-src 'self' data:; style-src 'self' "
                                                       "'unsafe-inline'; form-action 'self' " + _origin(settings))
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(HTTPException)
    def _error(exc: HTTPException):  # noqa: ANN202
        key = {400: "csrf" if exc.description == "csrf" else "not_found", 403: "forbidden", 404: "not_found",
               413: "too_large"}.get(exc.code or 500, "not_found")
        if exc.code == 403 and g.get("user"):
            store.audit(g.user.name, "access.denied", request.path)
        return render_template("error.html", message=t(key), code=exc.code), exc.code

    def signed_in(*roles: str) -> Callable:
        def decorate(view: Callable) -> Callable:
            @wraps(view)
            def wrapper(*args: Any, **kwargs: Any):  # noqa: ANN202
                if g.user is None:
                    session["next"] = request.path
                    return redirect(url_for("sign_in"))
                if roles and not any(getattr(g.user, role) for role in roles):
                    abort(403)
                return view(*args, **kwargs)
            return wrapper
        return decorate

    def visible_request(request_id: int):  # noqa: ANN202
        record = store.request(request_id)
        if record is None:
            abort(404)
        if not g.user.may_see(record.region_code):
            abort(403)
        return record

    # -- sign in / out, language ---------------------------------------------------------------------------
    @app.get("/masuk")
    def sign_in():  # noqa: ANN202
        return oauth.keycloak.authorize_redirect(url_for("callback", _external=True))

    @app.get("/auth/callback")
    def callback():  # noqa: ANN202
        token = oauth.keycloak.authorize_access_token()
        user = user_from_claims(token.get("userinfo") or {}, settings.oidc)
        keep = {k: session[k] for k in ("lang",) if k in session}
        target = _local_path(session.get("next", "/"))
        session.clear()  # a new session on sign-in: nothing from before carries over
        session.update(keep)
        session.permanent = True
        session["user"] = user.to_session()
        session["sid"] = store.open_session(user.name, timedelta(hours=SESSION_HOURS))
        store.audit(user.name, "sign-in", user.name, f"roles: {', '.join(user.roles) or 'none'}")
        return redirect(target)

    @app.post("/keluar")
    def sign_out():  # noqa: ANN202
        if g.user:
            store.close_session(session.get("sid", ""))
            store.audit(g.user.name, "sign-out", g.user.name)
        keep = session.get("lang")
        session.clear()
        if keep:
            session["lang"] = keep
        return redirect(url_for("home"))

    @app.get("/bahasa/<code>")
    def set_language(code: str):  # noqa: ANN202
        if code in LANGS:
            session["lang"] = code
        return redirect(_local_path(request.args.get("next", "/")))

    # -- pages -----------------------------------------------------------------------------------------------
    @app.get("/")
    def home():  # noqa: ANN202
        if g.user is None:
            return render_template("home.html", requests=[])
        if not g.user.has_role:
            return render_template("error.html", message=t("no_role"), code=403), 403
        regions = None if (g.user.ops or g.user.auditor) else g.user.regions
        return render_template("home.html", requests=store.requests(region_codes=regions))

    @app.get("/permohonan/baru")
    @signed_in("requester")
    def new_request():  # noqa: ANN202
        query = request.args.get("q", "")[: request_form.MAX_FIELD_CHARS]
        code = request.args.get("wilayah", "")[:16]
        allowed = g.user.regions
        if code:
            region = _region_or_none(code)
            if region is None or region.code not in allowed or region.is_administrative:
                abort(403)
            catalog = load_catalog(settings.catalog_version)
            result = request_form.FormResult(request_form.defaults_for(region, catalog), {"eoffice", "mail"}, "")
            return render_template("form.html", form=result, region=region, catalog=catalog, action="check")
        matches = request_form.search_regions(query, frozenset(allowed))
        return render_template("search.html", query=query, regions=matches)

    @app.post("/permohonan/periksa")
    @signed_in("requester")
    def check_request():  # noqa: ANN202
        catalog = load_catalog(settings.catalog_version)
        upload = request.files.get("berkas")
        if upload is not None and upload.filename:
            result = request_form.read_upload(upload.read(request_form.MAX_UPLOAD_BYTES + 1), catalog)
        else:
            result = request_form.read_form(request.form, request.form.getlist("component"), catalog)
        return _form_or_preview(result, catalog, action="check")

    @app.post("/permohonan/ajukan")
    @signed_in("requester")
    def submit_request():  # noqa: ANN202
        catalog = load_catalog(settings.catalog_version)
        result = request_form.read_form(request.form, request.form.getlist("component"), catalog)
        if not result.valid:
            return _form_or_preview(result, catalog, action="check")
        spec = result.spec
        if spec.pemda.region_code not in g.user.regions:
            abort(403)
        record = store.add_request(spec.tenant_id, spec.pemda.region_code, spec.pemda.name, g.user.name,
                                   result.request_yaml)
        store.audit(g.user.name, "request.submit", record.number, f"tenant {record.tenant_id}")
        return redirect(url_for("show_request", request_id=record.id))

    def _form_or_preview(result: request_form.FormResult, catalog, action: str, record=None):  # noqa: ANN001, ANN202
        region = _region_or_none(result.values.get(request_form.REGION_FIELD, ""))
        if region is not None and region.code not in g.user.regions:
            abort(403)
        if not result.valid:
            return render_template("form.html", form=result, region=region, catalog=catalog, action=action,
                                   record=record), 422
        spec = result.spec
        try:
            tenant_catalog = catalog_for(spec, settings.catalog_version, None)
        except CatalogError as exc:
            return render_template("error.html", message=str(exc), code=422), 422
        state = desired_state(spec, tenant_catalog)
        return render_template("preview.html", form=result, spec=spec, catalog=tenant_catalog,
                               quota=tenant_catalog.tiers[spec.tier].quota, endpoints=state.endpoints(),
                               components=[c.value for c in spec.components], action=action, record=record)

    @app.get("/permohonan/<int:request_id>")
    @signed_in()
    def show_request(request_id: int):  # noqa: ANN202
        record = visible_request(request_id)
        jobs = store.jobs_of(record.id)
        refresh = record.status in (Status.APPROVED, Status.PROVISIONING)
        return render_template("request.html", record=record, jobs=jobs, job=jobs[0] if jobs else None,
                               refresh=refresh, busy=store.tenant_busy(record.tenant_id),
                               credentials=_credentials_of(record, jobs[0] if jobs else None))

    @app.get("/api/permohonan/<int:request_id>")
    @signed_in()
    def request_json(request_id: int):  # noqa: ANN202
        """The request's status for machines (the same rights as its page; never a credential value)."""
        record = visible_request(request_id)
        jobs = store.jobs_of(record.id)
        job = jobs[0] if jobs else None
        outputs = ((job.result if job else None) or {}).get("outputs") or {}
        return {
            "number": record.number, "tenant": record.tenant_id, "regionCode": record.region_code,
            "status": record.status.value, "requester": record.requester, "comment": record.comment,
            "updatedAt": record.updated_at.isoformat(),
            "job": None if job is None else {
                "state": job.state.value, "attempts": job.attempts, "seconds": job.seconds, "error": job.error,
                "startedAt": job.started_at.isoformat() if job.started_at else None,
                "finishedAt": job.finished_at.isoformat() if job.finished_at else None},
            "catalogVersion": outputs.get("catalogVersion"),
            "endpoints": outputs.get("endpoints") or {},
            "credentials": [{"namespace": ns, "secret": name, "keys": list(keys)}
                            for ns, name, keys in _credentials_of(record, job)],
        }

    @app.get("/permohonan/<int:request_id>/ubah")
    @signed_in("requester")
    def edit_request(request_id: int):  # noqa: ANN202
        record = visible_request(request_id)
        if record.status != Status.RETURNED or record.region_code not in g.user.regions:
            abort(403)
        catalog = load_catalog(settings.catalog_version)
        result = request_form.read_upload(record.request_yaml.encode(), catalog)
        return render_template("form.html", form=result, region=_region_or_none(record.region_code), catalog=catalog,
                               action="resubmit", record=record)

    @app.post("/permohonan/<int:request_id>/ajukan-ulang")
    @signed_in("requester")
    def resubmit_request(request_id: int):  # noqa: ANN202
        record = visible_request(request_id)
        if record.region_code not in g.user.regions:  # ops or auditors may see it; only its pemda may change it
            abort(403)
        catalog = load_catalog(settings.catalog_version)
        result = request_form.read_form(request.form, request.form.getlist("component"), catalog)
        if not result.valid or request.form.get("confirm") != "1":
            return _form_or_preview(result, catalog, action="resubmit", record=record)
        if result.spec.tenant_id != record.tenant_id:
            abort(403)
        if not store.replace_request_yaml(record.id, result.request_yaml):
            abort(403)
        store.audit(g.user.name, "request.resubmit", record.number)
        return redirect(url_for("show_request", request_id=record.id))

    @app.get("/antrean")
    @signed_in("ops")
    def review_queue():  # noqa: ANN202
        return render_template("queue.html", submitted=store.requests(status=Status.SUBMITTED),
                               others=[r for r in store.requests() if r.status != Status.SUBMITTED])

    def queue_job(request_id: int, queue: Callable, action: str):  # noqa: ANN202
        """Approve or retry: the request's `tenant up` into the queue, unless its tenant is being built."""
        record = visible_request(request_id)
        if store.tenant_busy(record.tenant_id):
            return render_template("error.html", message=t("busy_tenant"), code=409), 409
        job = queue(record.id)
        if job is None:
            abort(403)
        store.audit(g.user.name, action, record.number, f"job {job.id}: tenant up {record.tenant_id}")
        return redirect(url_for("show_request", request_id=record.id))

    @app.post("/permohonan/<int:request_id>/setujui")
    @signed_in("ops")
    def approve_request(request_id: int):  # noqa: ANN202
        return queue_job(request_id, store.approve, "request.approve")

    @app.post("/permohonan/<int:request_id>/kembalikan")
    @signed_in("ops")
    def return_request(request_id: int):  # noqa: ANN202
        record = visible_request(request_id)
        comment = request.form.get("comment", "").strip()
        if not comment or len(comment) > MAX_COMMENT_CHARS:
            abort(400)
        if not store.set_status(record.id, Status.RETURNED, comment, only_from=(Status.SUBMITTED,)):
            abort(403)
        store.audit(g.user.name, "request.return", record.number, comment[:200])
        return redirect(url_for("show_request", request_id=record.id))

    @app.post("/permohonan/<int:request_id>/coba-lagi")
    @signed_in("ops")
    def retry_request(request_id: int):  # noqa: ANN202
        return queue_job(request_id, store.retry, "request.retry")

    # -- auditors --------------------------------------------------------------------------------------------
    @app.get("/audit")
    @signed_in("auditor", "ops")
    def audit_index():  # noqa: ANN202
        rows = []
        for tenant_id in store.tenants():
            rows.append((tenant_id, store.last_job_of_tenant(tenant_id), store.last_drift(tenant_id)))
        return render_template("audit_index.html", rows=rows)

    @app.get("/audit/tenant/<tenant_id>")
    @signed_in("auditor", "ops")
    def audit_tenant(tenant_id: str):  # noqa: ANN202
        records = store.requests(tenant_id=tenant_id)
        if not records:
            abort(404)
        jobs = [j for r in records for j in store.jobs_of(r.id) if j.state in (JobState.DONE, JobState.FAILED)]
        last_up = max(jobs, key=lambda j: j.id) if jobs else None
        drift = store.last_drift(tenant_id)
        store.audit(g.user.name, "audit.view", tenant_id)
        return render_template("audit_tenant.html", tenant_id=tenant_id, records=records, last_up=last_up,
                               drift=drift, catalog_version=_catalog_version_of(last_up))

    @app.get("/audit/tenant/<tenant_id>/bukti/<name>")
    @signed_in("auditor", "ops")
    def evidence_file(tenant_id: str, name: str):  # noqa: ANN202
        drift = store.last_drift(tenant_id)
        if drift is None or name not in drift.files:
            abort(404)
        path = Path(drift.evidence_dir) / name
        if not path.is_file():
            abort(404)
        store.audit(g.user.name, "evidence.download", f"{tenant_id}/{name}", f"sha256 {drift.files[name]}")
        return send_file(path, as_attachment=True, download_name=f"{tenant_id}-{name}")

    @app.get("/audit/jejak")
    @signed_in("auditor", "ops")
    def audit_trail():  # noqa: ANN202
        return render_template("audit_trail.html", records=store.audit_trail(limit=500))

    @app.get("/audit/jejak.csv")
    @signed_in("auditor", "ops")
    def audit_trail_csv():  # noqa: ANN202
        store.audit(g.user.name, "audit.export", "audit trail")
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["id", "at", "who", "action", "subject", "detail"])
        for r in reversed(store.audit_trail()):
            writer.writerow([r.id, r.at.isoformat(), *(_cell(v) for v in (r.who, r.action, r.subject, r.detail))])
        return Response(buffer.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=spbe-portal-audit.csv"})

    return app


def _local_path(target: str) -> str:
    """Where to go back to: a path on this site, never anywhere else."""
    return target if isinstance(target, str) and _LOCAL_PATH.match(target) else "/"


def _cell(value: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _region_or_none(code: str):  # noqa: ANN202
    try:
        return find_region(code) if code else None
    except RegionError:
        return None


def _credentials_of(record, job) -> list[tuple[str, str, tuple[str, ...]]]:  # noqa: ANN001
    """(namespace, Secret, keys) of every credential `tenant up` reported, each in the namespace it is in."""
    from spbe_kit.request import parse_request

    outputs = ((job.result if job else None) or {}).get("outputs") or {}
    reported = outputs.get("credentials") or {}
    if not reported:
        return []
    spec = parse_request(record.request_yaml, source=record.number)
    located = desired_state(spec, catalog_for(spec, outputs.get("catalogVersion"), None)).credentials()
    return [(located.get(name, (outputs.get("namespace"), ()))[0], name, tuple(keys))
            for name, keys in sorted(reported.items())]


def _catalog_version_of(job) -> str | None:  # noqa: ANN001
    result = job.result if job else None
    outputs = (result or {}).get("outputs") or {}
    return outputs.get("catalogVersion")


def _origin(settings: PortalSettings) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(settings.oidc.issuer)
    return f"{parts.scheme}://{parts.netloc}"
