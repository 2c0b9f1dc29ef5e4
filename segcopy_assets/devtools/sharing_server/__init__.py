"""A small Delta Sharing server for local Delta tables.

segcopy reads CDP segments through the official ``delta-sharing`` connector. The reference server
(Scala) is not installable here, so this package implements the protocol (delta-io/delta-sharing
PROTOCOL.md) over local Delta tables with Starlette + uvicorn: enough for every public call of
connector 1.4.2 (listing, table version, metadata, ``load_as_pandas`` in parquet and
``responseformat=delta``, time travel, ``limit``, and change data feed on CDF-enabled tables).
It backs the tests, the benchmarks and local demos.

- Snapshots are rebuilt by replaying ``_delta_log`` (JSON commits after the newest complete
  classic checkpoint), so per-file ``stats`` are exactly what the writer recorded. Not supported:
  v2/sidecar checkpoints, deletion vectors, column mapping (parquet-format requests on such tables
  answer 400), ``predicateHints``/``jsonPredicateHints`` (ignored; they are only hints).
- Data files are served by the same app under URLs it signs itself: HMAC over file and expiry in
  ``X-Amz-Signature``, absolute expiry (epoch seconds) in ``X-Amz-Expires`` (the delta-kernel reader
  fetches http URLs only when they look presigned). That route takes no bearer token but checks the
  signature, and serves only files inside the shared table's directory.
- Client mistakes answer 4xx JSON errors (the connector retries 5xx for ~100 s). The bearer token is
  never logged, printed or echoed.

Modules: ``delta_log`` (reading ``_delta_log``), ``api`` (the protocol endpoints and signed file
URLs), ``errors`` (the protocol's JSON errors), ``server`` (the app, profile file, ``serve`` and
``running_server``).
"""

from .api import URL_TTL_SECONDS, SharedTable
from .delta_log import DeltaLog, Snapshot
from .errors import ApiError
from .server import PREFIX, create_app, running_server, serve, write_profile

__all__ = [
    "PREFIX",
    "URL_TTL_SECONDS",
    "ApiError",
    "DeltaLog",
    "SharedTable",
    "Snapshot",
    "create_app",
    "running_server",
    "serve",
    "write_profile",
]
