"""The spbe_identity role against a real Keycloak (Maven Central distribution): log in through the OIDC clients."""

from __future__ import annotations

import base64
import html
import http.cookiejar
import json
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.services import KeycloakAdmin as Admin
from tests.services import post_form as _post_form

from .ansible_run import run_playbook

REALM = "kab-banyuwangi"
DOMAIN = "banyuwangikab.go.id"
CLIENTS = ("eoffice", "grafana", "webmail")
CALLBACK = {"eoffice": f"https://eoffice.{DOMAIN}/oidc/callback",
            "grafana": f"https://monitoring.{DOMAIN}/login/generic_oauth",
            "webmail": f"https://webmail.{DOMAIN}/oidc/callback"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a browser would follow; the test reads the Location instead


class Browser:
    """Just enough of a browser for Keycloak's login form: cookies, no redirects followed."""

    def __init__(self):
        # Keycloak marks its cookies Secure; browsers treat http://127.0.0.1 as a secure context, so do we
        jar = http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(secure_protocols=("https", "http")))
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())

    def request(self, url: str, form: dict | None = None) -> tuple[int, dict, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(urllib.request.Request(url, data=data), timeout=20) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()


def _claims(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _authorize_url(server, client: str, redirect: str) -> str:
    query = urllib.parse.urlencode({"client_id": client, "redirect_uri": redirect, "response_type": "code",
                                    "scope": "openid", "state": "st-123", "nonce": "n-456"})
    return f"{server.url}/realms/{REALM}/protocol/openid-connect/auth?{query}"


def _login(server, client: str, username: str, password: str) -> tuple[int, dict, str]:
    """Open the client's login page and submit the form, as a browser would."""
    browser = Browser()
    status, _, page = browser.request(_authorize_url(server, client, CALLBACK[client]))
    assert status == 200, page[:500]
    action = html.unescape(re.search(r'<form[^>]+id="kc-form-login"[^>]+action="([^"]+)"', page).group(1))
    return browser.request(action, {"username": username, "password": password, "credentialId": ""})


@pytest.fixture(scope="module")
def setup(keycloak_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("identity")
    (keycloak_server.vault_dir / f"{REALM}_smtp-password").write_text(secrets.token_urlsafe(18))
    variables = {
        "spbe_identity_tenant": REALM, "spbe_identity_domain": DOMAIN,
        "spbe_identity_display_name": "Pemerintah Kabupaten Banyuwangi", "spbe_identity_url": keycloak_server.url,
        "spbe_identity_admin_user": keycloak_server.admin_user,
        "spbe_identity_admin_password": keycloak_server.admin_password,
        "spbe_identity_client_secrets": {c: secrets.token_urlsafe(32) for c in CLIENTS},
        "spbe_identity_smtp_user": f"noreply@{DOMAIN}",
    }
    Admin(keycloak_server).call("DELETE", f"/{REALM}")  # another module may have made it in this Keycloak
    check = run_playbook("identity.yml", variables, tmp, check=True)
    realm_after_check = Admin(keycloak_server).call("GET", f"/{REALM}")[0]
    runs = [check, run_playbook("identity.yml", variables, tmp), run_playbook("identity.yml", variables, tmp)]
    return variables, runs, realm_after_check


@pytest.fixture(scope="module")
def user(keycloak_server, setup):
    """A tenant admin, created the way the pemda's IT team would (admin API), with a policy-compliant password."""
    admin = Admin(keycloak_server)
    password = "Banyuwangi-" + secrets.token_hex(6) + "A1"
    status, _ = admin.call("POST", f"/{REALM}/users", {
        "username": "budi", "email": f"budi@{DOMAIN}", "emailVerified": True, "enabled": True,
        "firstName": "Budi", "lastName": "Santoso",
        "credentials": [{"type": "password", "value": password, "temporary": False}]})
    assert status == 201
    user_id = admin.call("GET", f"/{REALM}/users?username=budi&exact=true")[1][0]["id"]
    group_id = next(g["id"] for g in admin.call("GET", f"/{REALM}/groups")[1] if g["name"] == "tenant-admins")
    assert admin.call("PUT", f"/{REALM}/users/{user_id}/groups/{group_id}")[0] == 204
    return user_id, password


def test_check_mode_on_a_new_keycloak_then_two_runs_converge(setup):
    _, (check, first, second), realm_after_check = setup
    assert check.rc == 0, check.output[-3000:]
    assert realm_after_check == 404, "check mode created the realm"
    assert first.rc == 0 and first.changed > 0, first.output[-3000:]
    assert second.rc == 0 and second.changed == 0, second.output[-3000:]


@pytest.mark.parametrize("client", CLIENTS)
def test_a_tenant_admin_logs_in_through_each_oidc_client(keycloak_server, setup, user, client):
    variables, _, _ = setup
    _, password = user
    status, headers, page = _login(keycloak_server, client, "budi", password)
    assert status == 302, page[:800]
    location = urllib.parse.urlsplit(headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK[client]
    query = urllib.parse.parse_qs(location.query)
    assert query["state"] == ["st-123"]
    status, tokens = _post_form(f"{keycloak_server.url}/realms/{REALM}/protocol/openid-connect/token", {
        "grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": CALLBACK[client],
        "client_id": client, "client_secret": variables["spbe_identity_client_secrets"][client]})
    assert status == 200, tokens
    claims = _claims(tokens["id_token"])
    assert claims["iss"] == f"{keycloak_server.url}/realms/{REALM}"
    assert claims["aud"] == client and claims["nonce"] == "n-456"
    assert claims["preferred_username"] == "budi" and claims["groups"] == ["tenant-admins"]


def test_the_code_is_useless_without_the_client_secret(keycloak_server, user):
    _, password = user
    _, headers, _ = _login(keycloak_server, "eoffice", "budi", password)
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(headers["Location"]).query)["code"][0]
    status, body = _post_form(f"{keycloak_server.url}/realms/{REALM}/protocol/openid-connect/token", {
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK["eoffice"],
        "client_id": "eoffice", "client_secret": "w" * 43})
    assert status == 401 and body["error"] == "unauthorized_client"


def test_redirects_outside_the_tenant_domain_and_password_grants_are_refused(keycloak_server, setup, user):
    variables, _, _ = setup
    status, _, page = Browser().request(_authorize_url(keycloak_server, "eoffice", "https://evil.example.org/cb"))
    assert status == 400 and "redirect_uri" in page
    status, body = _post_form(f"{keycloak_server.url}/realms/{REALM}/protocol/openid-connect/token", {
        "grant_type": "password", "client_id": "eoffice", "username": "budi", "password": user[1],
        "client_secret": variables["spbe_identity_client_secrets"]["eoffice"]})
    assert status in (400, 401) and body["error"] == "unauthorized_client"


def test_the_password_policy_refuses_a_weak_password(keycloak_server, setup):
    status, body = Admin(keycloak_server).call("POST", f"/{REALM}/users", {
        "username": "lemah", "enabled": True, "credentials": [{"type": "password", "value": "banyuwangi1"}]})
    assert status == 400 and "invalidPassword" in json.dumps(body)


def test_brute_force_locks_the_account_after_five_failures(keycloak_server, setup):
    admin = Admin(keycloak_server)
    password = "Kecamatan-" + secrets.token_hex(6) + "Z9"
    assert admin.call("POST", f"/{REALM}/users", {
        "username": "siti", "email": f"siti@{DOMAIN}", "emailVerified": True, "enabled": True,
        "firstName": "Siti", "lastName": "Aminah",
        "credentials": [{"type": "password", "value": password, "temporary": False}]})[0] == 201
    user_id = admin.call("GET", f"/{REALM}/users?username=siti&exact=true")[1][0]["id"]
    for attempt in range(5):
        status, _, _ = _login(keycloak_server, "eoffice", "siti", f"Salah-{attempt}-Sandi")
        assert status == 200  # the form again, with an error
    assert admin.call("GET", f"/{REALM}/attack-detection/brute-force/users/{user_id}")[1]["disabled"]
    status, _, _ = _login(keycloak_server, "eoffice", "siti", password)
    assert status == 200  # the right password no longer gets a code while locked


def test_realm_mail_settings_point_at_the_tenant_mail_with_the_password_in_the_vault(keycloak_server, setup):
    realm = Admin(keycloak_server).call("GET", f"/{REALM}")[1]
    smtp = realm["smtpServer"]
    assert (smtp["host"], smtp["port"], smtp["starttls"], smtp["auth"]) == ("mail", "587", "true", "true")
    assert smtp["from"] == f"noreply@{DOMAIN}" and smtp["password"] == "${vault.smtp-password}"
    assert realm["bruteForceProtected"] and realm["failureFactor"] == 5 and not realm["registrationAllowed"]
    assert realm["eventsEnabled"] and realm["adminEventsEnabled"] and not realm["adminEventsDetailsEnabled"]


def test_secrets_never_reach_the_output(keycloak_server, setup):
    variables, runs, _ = setup
    for run in runs:
        assert keycloak_server.admin_password not in run.output
        for secret in variables["spbe_identity_client_secrets"].values():
            assert secret not in run.output


def test_a_short_client_secret_fails_without_echoing_it(keycloak_server, setup, tmp_path):
    variables, _, _ = setup
    bad = dict(variables, spbe_identity_client_secrets={c: f"pendek-{c}" for c in CLIENTS})
    result = run_playbook("identity.yml", bad, tmp_path)
    assert result.rc != 0 and "pendek-" not in result.output and "spbe_identity_client_secrets" in result.output
