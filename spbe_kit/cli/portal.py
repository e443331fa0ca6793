"""`spbe portal serve`: the request portal for pemda IT teams, platform ops and auditors."""

from __future__ import annotations

from pathlib import Path

import click

from spbe_kit.cli.output import warn


@click.group()
def portal() -> None:
    """The web portal: pemda request a tenant, ops approve it, auditors read the evidence."""


@portal.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--database-url", default=None,
              help="SQLAlchemy URL (default: $SPBE_PORTAL_DATABASE_URL, else SQLite under the state directory), "
                   "e.g. postgresql+psycopg2://portal@db/portal")
@click.option("--oidc-issuer", default=None, help="The platform Keycloak's realm URL (default: $SPBE_PORTAL_OIDC_ISSUER).")
@click.option("--oidc-client-id", default=None, help="OpenID Connect client (default: $SPBE_PORTAL_OIDC_CLIENT_ID, else spbe-portal).")
@click.option("--oidc-client-secret-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File holding the client secret (default: $SPBE_PORTAL_OIDC_CLIENT_SECRET).")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Cluster the approved tenants are built on (default: $SPBE_KUBECONFIG, else the local cluster).")
@click.option("--context", default=None, help="Context in the kubeconfig.")
@click.option("--catalog-version", default=None, help="Catalog version for new tenants (default: newest).")
@click.option("--secure-cookies", is_flag=True, help="Send the session cookie over HTTPS only (behind a TLS proxy).")
@click.option("--no-worker", is_flag=True, help="Serve pages only; another replica runs the approved jobs.")
def serve(host, port, database_url, oidc_issuer, oidc_client_id, oidc_client_secret_file, kubeconfig, context,
          catalog_version, secure_cookies, no_worker) -> None:
    """Serve the portal until interrupted; approved requests are provisioned in the background."""
    import logging

    from waitress.server import create_server

    from spbe_kit.portal.app import create_app
    from spbe_kit.portal.settings import PortalSettings
    from spbe_kit.portal.store import Store
    from spbe_kit.portal.worker import Provisioner

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = PortalSettings.resolve(database_url, oidc_issuer, oidc_client_id, oidc_client_secret_file, kubeconfig,
                                      context, catalog_version, secure_cookies)
    store = Store(settings.database_url)
    app = create_app(settings, store)
    worker = None if no_worker else Provisioner(store, settings)
    if worker:
        worker.start()
    warn(f"portal: http://{host}:{port}/ (database {settings.database_url.split(':', 1)[0]}, "
         f"home {settings.home}, worker {'off' if no_worker else 'on'})")
    try:
        # waitress: a production WSGI server (no access log, so no query string can reach a log)
        create_server(app, host=host, port=port, threads=8, ident="spbe-portal", max_request_body_size=256 * 1024,
                      clear_untrusted_proxy_headers=True).run()
    finally:
        if worker:
            worker.stop()
