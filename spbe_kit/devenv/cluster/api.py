"""A minimal Kubernetes API client over urllib, authenticated with a client certificate.

The cluster code only needs a handful of calls (health, create-if-absent, list, delete),
so it does not pull the `kubernetes` package in as a runtime dependency.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spbe_kit.devenv.cluster import certs
from spbe_kit.devenv.cluster.layout import Layout


class ApiError(Exception):
    """An HTTP error (status) or a transport error (status 0) talking to a cluster endpoint."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message


def tls_context(ca_file: Path, cert_file: Path | None = None, key_file: Path | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca_file))
    if cert_file and key_file:
        ctx.load_cert_chain(str(cert_file), str(key_file))
    return ctx


def http_get(url: str, ctx: ssl.SSLContext | None = None, timeout: float = 3.0) -> tuple[int, str]:
    """GET ``url``; return (status, body). Transport failures raise ApiError(0, ...)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=ctx) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")
    except (urllib.error.URLError, OSError, ssl.SSLError) as err:
        reason = getattr(err, "reason", err)
        raise ApiError(0, str(reason)) from None


@dataclass
class Api:
    server: str
    ctx: ssl.SSLContext
    timeout: float = 10.0

    @classmethod
    def for_client(cls, layout: Layout, name: str = "admin") -> Api:
        pair = certs.client(layout.pki, name)
        return cls(layout.server, tls_context(certs.ca(layout.pki).cert, pair.cert, pair.key))

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self.ctx) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            raw = err.read().decode(errors="replace")
            try:
                message = json.loads(raw).get("message", raw)
            except ValueError:
                message = raw
            raise ApiError(err.code, message) from None
        except (urllib.error.URLError, OSError, ssl.SSLError) as err:
            raise ApiError(0, str(getattr(err, "reason", err))) from None
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode(errors="replace")

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def get_or_none(self, path: str) -> Any:
        try:
            return self.get(path)
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    def create(self, collection: str, obj: dict) -> bool:
        """POST ``obj`` to ``collection``; False if it already existed."""
        try:
            self.request("POST", collection, obj)
            return True
        except ApiError as err:
            if err.status == 409:
                return False
            raise

    def delete(self, path: str) -> bool:
        try:
            self.request("DELETE", path)
            return True
        except ApiError as err:
            if err.status == 404:
                return False
            raise

    def text(self, path: str) -> tuple[int, str]:
        return http_get(self.server + path, self.ctx, timeout=self.timeout)
