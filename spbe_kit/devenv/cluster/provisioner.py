"""The local cluster's platform loop as a background process: ``python -m spbe_kit.devenv.cluster.provisioner``.

It stands in for what the data center's platform runs beside tenants: the storage
provisioner (storage.reconcile) and the ingress controller's status publishing
(ingress.reconcile). Started by `spbe cluster up`, stopped by `spbe cluster down` (pidfile
like every other cluster process). Touches a heartbeat file each pass so
`status` can tell a live loop from a stuck one. Logs to stdout (redirected to its log file).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from spbe_kit.devenv.cluster import ingress, storage
from spbe_kit.devenv.cluster.api import Api, ApiError
from spbe_kit.devenv.cluster.layout import Layout

INTERVAL = 1.0


def heartbeat_file(layout: Layout) -> Path:
    return layout.run / "provisioner.heartbeat"


def _log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spbe-local-provisioner")
    parser.add_argument("--state", required=True, help="the cluster's state directory")
    args = parser.parse_args(argv)

    layout = Layout.load(Path(args.state))

    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    api = Api.for_client(layout, "provisioner")
    layout.volumes.mkdir(parents=True, exist_ok=True)
    beat = heartbeat_file(layout)
    _log(f"provisioning claims of StorageClass {storage.STORAGE_CLASS} on {layout.server}")
    last_error = ""
    while not stopping:
        try:
            created, deleted = storage.reconcile(api, layout.volumes)
            if created or deleted:
                _log(f"created {created} volume(s), deleted {deleted} volume(s)")
            published = ingress.reconcile(api)
            if published:
                _log(f"published the address of {published} ingress(es)")
            last_error = ""
            beat.touch()
        except ApiError as err:
            if str(err) != last_error:  # do not flood the log while the API server is down
                _log(f"API error: {err}")
                last_error = str(err)
        except Exception as err:  # noqa: BLE001 - keep the loop alive, but say why
            _log(f"unexpected error: {err!r}")
        deadline = time.monotonic() + INTERVAL
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.1)
    _log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
