"""A TCP forwarder: the local backup store's S3 port, reachable from the real node's pods.

Dev tooling. The store listens on 127.0.0.1 only (three of its four ports answer anyone); pods
cannot reach the host's loopback. So `spbe cluster up --real-node` runs this beside the store:
it listens on the node's address, on the S3 port only (which takes credentials), and passes bytes
through unchanged (S3 signatures cover the Host header the client sent, which arrives as sent)::

    python -m spbe_kit.devenv.tcpforward LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT
"""

from __future__ import annotations

import asyncio
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except RuntimeError:
            pass


async def _serve(listen: tuple[str, int], target: tuple[str, int]) -> None:
    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))

    server = await asyncio.start_server(handle, *listen, reuse_address=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    listen_host, listen_port, target_host, target_port = argv
    asyncio.run(_serve((listen_host, int(listen_port)), (target_host, int(target_port))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
