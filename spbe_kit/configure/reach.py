"""Reaching a tenant's components from the controller: port-forwards for API roles, exec for pod roles.

Each way is proven before anything is configured (an HTTP answer through the Keycloak and Mayan
tunnels, a PostgreSQL SSL answer through the database tunnel, `true` run in the mail and e-office
pods); a component that does not answer is named with the reason, and nothing is configured."""

from __future__ import annotations

import re
import select
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from spbe_kit.configure.plan import Reach
from spbe_kit.request import Component, TenantSpec
from spbe_kit.verify.hosts import CONTAINER, running_pods

FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+)")


@dataclass
class Reachability:
    reach: Reach | None
    problems: dict[str, str] = field(default_factory=dict)  # component -> why it cannot be reached


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@contextmanager
def _relay(dial: Callable[[], tuple[socket.socket, Callable[[], None]]]) -> Iterator[int]:
    """A local port whose every connection is carried over a connection `dial` makes for it alone.

    kubectl's port-forward ends as soon as the pod side resets one connection (PostgreSQL's backends
    do, on a refused login and often on a plain close over TLS), and every other connection through
    it dies too: a backup's pg_restore lost its reconnect every time, and the spbe_database role its
    second task twice. A forward per connection keeps them apart.
    """
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    stop = threading.Event()

    def carry(client: socket.socket) -> None:
        try:
            upstream, close = dial()
        except OSError:
            client.close()
            return
        try:
            other = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
            other.start()
            _pipe(client, upstream)
            other.join(timeout=30)
        finally:
            client.close()
            upstream.close()
            close()

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=carry, args=(client,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        server.close()


class Kubectl:
    """kubectl against one namespace of one cluster: exec and port-forwards (shared by the roles and the backups)."""

    def __init__(self, kubectl: Path, kubeconfig: Path, context: str | None, namespace: str) -> None:
        self.base = [str(kubectl), "--kubeconfig", str(kubeconfig), "--namespace", namespace,
                     *(["--context", context] if context else [])]

    def exec_works(self, pod: str, container: str) -> tuple[bool, str]:
        proc = subprocess.run([*self.base, "exec", pod, "-c", container, "--", "true"],
                              capture_output=True, text=True, timeout=60)
        return proc.returncode == 0, proc.stderr.strip()[-300:]

    def _forward(self, service: str, local: int, port: int) -> tuple[subprocess.Popen, int | None]:
        proc = subprocess.Popen([*self.base, "port-forward", "--address", "127.0.0.1", f"svc/{service}", f"{local or ''}:{port}"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        found = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                match = FORWARDING.search(proc.stdout.readline())
                if match:
                    found = int(match.group(1))
                    break
        # keep reading what kubectl prints per connection, or its pipe fills and the tunnel stalls
        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
        return proc, found

    @contextmanager
    def port_forward(self, service: str, port: int) -> Iterator[int | None]:
        """A local port for the Service, or None when kubectl cannot forward to it at all.

        Every connection made to that port gets a kubectl port-forward of its own (see _relay), tried
        up to three times: one reset connection then ends only its own forward."""
        proc, local = self._forward(service, 0, port)  # can it be forwarded at all?
        _end(proc)
        if local is None:
            yield None
            return

        def dial() -> tuple[socket.socket, Callable[[], None]]:
            for attempt in range(1, 4):
                forward, forwarded = self._forward(service, 0, port)
                if forwarded is not None:
                    try:
                        sock = socket.create_connection(("127.0.0.1", forwarded), timeout=20)
                        sock.settimeout(None)  # a long restore may leave a connection quiet for minutes
                        return sock, lambda: _end(forward)
                    except OSError:
                        pass
                _end(forward)
                time.sleep(0.5 * attempt)
            raise OSError(f"kubectl could not forward to svc/{service}")

        with _relay(dial) as relayed:
            yield relayed


def _end(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _http_answers(url: str | urllib.request.Request) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status < 500, f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return exc.code < 500, f"HTTP {exc.code}"
    except OSError as exc:
        return False, f"no answer through the port-forward ({exc})"


def _mayan_answers(port: int) -> tuple[bool, str]:
    """Mayan's API root answers once the app is up; it serves only its ALLOWED_HOSTS."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v4/", headers={"Host": "eoffice"})
    return _http_answers(request)


def _postgres_answers(port: int) -> tuple[bool, str]:
    """PostgreSQL answers an SSLRequest; the TLS handshake is finished and closed cleanly so the server
    sees no torn connection."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"\x00\x00\x00\x08\x04\xd2\x16\x2f")  # SSLRequest
            answer = sock.recv(1)
            if answer == b"S":
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # only "does it answer"
                with context.wrap_socket(sock) as tls:
                    tls.unwrap()
        return answer in (b"S", b"N"), f"answered {answer!r}"
    except OSError as exc:
        return False, f"no answer through the port-forward ({exc})"


@contextmanager
def reach_components(spec: TenantSpec, kubectl: Path, kubeconfig: Path, context: str | None = None) -> Iterator[Reachability]:
    """Open and prove the ways in; they stay open for the duration of the `with` block."""
    k = Kubectl(kubectl, kubeconfig, context, spec.tenant_id)
    problems: dict[str, str] = {}
    pods = running_pods(spec.tenant_id, [c.value for c in spec.ordered_components], kubeconfig, context)
    pod_roles = {}
    for component in [c for c in (Component.MAIL, Component.EOFFICE) if spec.has(c)]:
        name = component.value
        if name not in pods:
            problems[name] = "no running pod"
            continue
        ok, why = k.exec_works(pods[name], CONTAINER[name])
        if ok:
            pod_roles[name] = (pods[name], CONTAINER[name])
        else:
            problems[name] = f"cannot run commands in pod {pods[name]}: {why}"
    with ExitStack() as stack:
        identity_port = stack.enter_context(k.port_forward("identity", 8080))
        database_port = stack.enter_context(k.port_forward("database", 5432))
        ways = [("identity", identity_port, lambda p: _http_answers(f"http://127.0.0.1:{p}/realms/master")),
                ("database", database_port, _postgres_answers)]
        eoffice_port = None
        if spec.has(Component.EOFFICE):
            eoffice_port = stack.enter_context(k.port_forward("eoffice", 8080))
            ways.append(("eoffice", eoffice_port, _mayan_answers))
        for name, port, probe in ways:
            if port is None:
                problems.setdefault(name, "kubectl port-forward did not start")
                continue
            ok, why = probe(port)
            if not ok:
                problems.setdefault(name, why)  # a pod that cannot exec says so first
        if problems:
            yield Reachability(None, problems)
        else:
            yield Reachability(Reach(f"http://127.0.0.1:{identity_port}", "127.0.0.1", database_port, pod_roles,
                                     f"http://127.0.0.1:{eoffice_port}" if eoffice_port else ""))
