"""Small helpers the component checks share."""

from __future__ import annotations

import ipaddress
import socket
import struct


WILDCARDS = ("0.0.0.0", "::")


def _addresses(address: str) -> set[str]:
    """The ways a listener on `address` shows up: Java binds IPv4 as v4-mapped IPv6 (::ffff:127.0.0.1), and a
    dual-stack wildcard listens as `::`."""
    if address in WILDCARDS:
        return set(WILDCARDS)
    return {address, f"::ffff:{address}"}


def _proc_address(hex_address: str) -> str:
    """An address of /proc/net/tcp{,6}: 32-bit words in the kernel's (little-endian) byte order."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(struct.pack("<I", struct.unpack(">I", raw[i:i + 4])[0]) for i in range(0, len(raw), 4))
    if len(words) == 4:
        return socket.inet_ntop(socket.AF_INET, words)
    address = ipaddress.IPv6Address(words)
    return str(address) if address.ipv4_mapped is None else f"::ffff:{address.ipv4_mapped}"


def listeners(node, port: int) -> set[str]:
    """Addresses with a TCP listener on `port`, from the kernel's own tables (/proc/net/tcp, tcp6): the
    baseline images carry neither ss nor netstat, and the tables are the same everywhere."""
    out = set()
    result = node.run("cat /proc/net/tcp /proc/net/tcp6")
    for line in result.stdout.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != "0A" or ":" not in fields[1]:  # 0A: LISTEN
            continue
        hex_address, _, hex_port = fields[1].partition(":")
        if int(hex_port, 16) == port:
            out.add(_proc_address(hex_address))
    return out


def listens_as_configured(node, address: str, port: int) -> tuple[bool, str]:
    found = listeners(node, port)
    if not found & (_addresses(address) | set(WILDCARDS)):
        return False, f"nothing listens on {address}:{port}"
    if address not in WILDCARDS and found & set(WILDCARDS):
        return False, f"port {port} is open on every address, expected {address} only"
    return True, ""


def private(node, path: str, mode: int) -> tuple[bool, str]:
    """The file exists and grants nothing beyond ``mode`` (a stricter mode is fine)."""
    f = node.file(path)
    if not f.exists:
        return False, f"{path} is missing"
    if f.is_symlink:  # a mounted Secret's file is a link into its ..data directory: the target's mode counts
        f = node.file(f.linked_to)
    if f.mode & 0o007:
        return False, f"{path} is readable by everyone (mode {f.mode:04o})"
    if f.mode & ~mode:
        return False, f"{path} has mode {f.mode:04o}, more than {mode:04o}"
    return True, ""
