"""Small helpers the component checks share."""

from __future__ import annotations


WILDCARDS = ("0.0.0.0", "::")


def _addresses(address: str) -> set[str]:
    """The ways a listener on `address` shows up: Java binds IPv4 as v4-mapped IPv6 (::ffff:127.0.0.1), and a
    dual-stack wildcard listens as `::`."""
    if address in WILDCARDS:
        return set(WILDCARDS)
    return {address, f"::ffff:{address}"}


def listeners(node, port: int) -> set[str]:
    """Addresses with a TCP listener on `port`."""
    out = set()
    for spec in node.socket.get_listening_sockets():
        if spec.startswith("tcp://"):
            host, _, listen_port = spec[len("tcp://"):].rpartition(":")
            if listen_port == str(port):
                out.add(host.strip("[]"))
    return out


def listens_as_configured(node, address: str, port: int) -> tuple[bool, str]:
    found = listeners(node, port)
    if not found & (_addresses(address) | set(WILDCARDS)):
        return False, f"nothing listens on {address}:{port}"
    if address not in WILDCARDS and found & set(WILDCARDS):
        return False, f"port {port} is open on every address, expected {address} only"
    return True, ""


def private(node, path: str, mode: int) -> tuple[bool, str]:
    f = node.file(path)
    if not f.exists:
        return False, f"{path} is missing"
    if f.mode & 0o007:
        return False, f"{path} is readable by everyone (mode {f.mode:04o})"
    if f.mode != mode:
        return False, f"{path} has mode {f.mode:04o}, expected {mode:04o}"
    return True, ""
