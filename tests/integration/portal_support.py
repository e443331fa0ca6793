"""What the portal's browser test stands on: the platform realm in a real Keycloak, the portal as a process,
and headless Chromium (Debian) driven through chromedriver (Debian) by Selenium (PyPI)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.services import KeycloakAdmin

REALM = "spbe-platform"
CLIENT = "spbe-portal"


@dataclass
class PlatformRealm:
    issuer: str
    client_secret: str = field(repr=False)
    passwords: dict[str, str] = field(repr=False)


def platform_realm(server, portal_url: str, users: dict[str, list[str]]) -> PlatformRealm:
    """The platform realm as platform admins set it up for the portal: a confidential client that may only
    return to the portal, a `groups` claim in the ID token, one group per role and per pemda."""
    admin = KeycloakAdmin(server)
    admin.call("DELETE", f"/{REALM}")
    assert admin.call("POST", "", {"realm": REALM, "enabled": True})[0] == 201
    secret = secrets.token_urlsafe(32)
    status, body = admin.call("POST", f"/{REALM}/clients", {
        "clientId": CLIENT, "protocol": "openid-connect", "publicClient": False, "secret": secret,
        "standardFlowEnabled": True, "directAccessGrantsEnabled": False, "implicitFlowEnabled": False,
        "redirectUris": [f"{portal_url}/auth/callback"], "webOrigins": [portal_url],
        "attributes": {"pkce.code.challenge.method": "S256"},
        "protocolMappers": [{"name": "groups", "protocol": "openid-connect",
                             "protocolMapper": "oidc-group-membership-mapper",
                             "config": {"full.path": "true", "id.token.claim": "true", "access.token.claim": "true",
                                        "userinfo.token.claim": "true", "claim.name": "groups"}}]})
    assert status == 201, body
    groups = sorted({g for gs in users.values() for g in gs})
    for group in groups:
        assert admin.call("POST", f"/{REALM}/groups", {"name": group})[0] == 201
    ids = {g["name"]: g["id"] for g in admin.call("GET", f"/{REALM}/groups")[1]}
    passwords = {}
    for username, member_of in users.items():
        passwords[username] = "Portal-" + secrets.token_hex(8) + "a1"
        status, body = admin.call("POST", f"/{REALM}/users", {
            "username": username, "email": f"{username}@example.go.id", "emailVerified": True, "enabled": True,
            "firstName": username.capitalize(), "lastName": "Uji",
            "credentials": [{"type": "password", "value": passwords[username], "temporary": False}]})
        assert status == 201, body
        user_id = admin.call("GET", f"/{REALM}/users?username={username}&exact=true")[1][0]["id"]
        for group in member_of:
            assert admin.call("PUT", f"/{REALM}/users/{user_id}/groups/{ids[group]}")[0] == 204
    return PlatformRealm(f"{server.url}/realms/{REALM}", secret, passwords)


class Portal:
    """`spbe portal serve` as a process of its own (its whole process group is what a restart kills)."""

    def __init__(self, home: Path, port: int, env: dict[str, str], args: list[str]) -> None:
        self.home, self.port, self.env, self.args = home, port, env, args
        self.url = f"http://127.0.0.1:{port}"
        self.log = home / "portal.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "spbe_kit", "portal", "serve", "--port", str(self.port), *self.args],
                stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the portal exited: {self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"the portal did not answer: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """A crash: the portal and everything it started, at once."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def chrome(downloads: Path):  # noqa: ANN201
    """Headless Chromium from Debian, through Debian's chromedriver: nothing fetched, nothing guessed."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = os.environ.get("SPBE_CHROMIUM") or shutil.which("chromium")
    driver = os.environ.get("SPBE_CHROMEDRIVER") or shutil.which("chromedriver")
    if not binary or not driver:
        pytest.fail("the portal's browser test needs the Debian packages chromium and chromium-driver "
                    "(apt-get install -y chromium chromium-driver; .ci/run installs them)", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1600", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)
