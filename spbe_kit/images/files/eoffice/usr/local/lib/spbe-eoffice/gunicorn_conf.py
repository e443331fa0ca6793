"""gunicorn's settings for e-office: Mayan EDMS has no metrics of its own, so its web server counts them.

Every worker records each request it answers (method, status code, time taken) into files under
PROMETHEUS_MULTIPROC_DIR (emptied by the entrypoint before gunicorn starts); the gunicorn master serves the sum of all workers, with the workers'
process figures, as Prometheus text on EOFFICE_METRICS_PORT (not on 8080, which the ingress
publishes). A worker that exits leaves its counters in the sum; its gauges go.
"""

import os
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, start_http_server

METRICS_PORT = int(os.environ.get("EOFFICE_METRICS_PORT", "9102"))

REQUESTS = Counter("eoffice_http_requests_total", "HTTP requests e-office answered",
                   ["method", "code"])
LATENCY = Histogram("eoffice_http_request_duration_seconds", "Time e-office took to answer an HTTP request",
                    ["method"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
IN_FLIGHT = Gauge("eoffice_http_requests_in_progress", "HTTP requests e-office is answering",
                  multiprocess_mode="livesum")


def when_ready(server):
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(METRICS_PORT, registry=registry)
    server.log.info("e-office metrics on :%s/metrics", METRICS_PORT)


def pre_request(worker, req):
    req.spbe_started = time.monotonic()
    IN_FLIGHT.inc()


def post_request(worker, req, environ, resp):
    IN_FLIGHT.dec()
    code = getattr(resp, "status_code", None) or str(resp.status or "").split(" ", 1)[0] or "unknown"
    REQUESTS.labels(req.method, str(code)).inc()
    LATENCY.labels(req.method).observe(time.monotonic() - getattr(req, "spbe_started", time.monotonic()))


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)
