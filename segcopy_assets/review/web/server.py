"""``segcopy review serve``: the review page (:mod:`segcopy_assets.review.web.app`) on uvicorn.

The server listens on 127.0.0.1 only and accepts only Host headers naming this machine. The
reviewer is ``--reviewer``, else ``$SEGCOPY_REVIEWER``, else the login name; the tables are the
ones under ``$SEGCOPY_HOME`` (:meth:`ReviewTables.from_env`).
"""

import getpass
import os
import sys
from typing import Any

import uvicorn

from segcopy_assets.review.service import ReviewTables
from segcopy_assets.review.web.app import LOCAL_HOSTS, create_app
from segcopy_assets.storage import delta


def make_server(
    tables: ReviewTables,
    reviewer: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "warning",
) -> uvicorn.Server:
    """A uvicorn server for the app (``.run()`` blocks; set ``.should_exit`` to stop it)."""
    hosts = sorted({*LOCAL_HOSTS, host})
    app = create_app(tables, reviewer, allowed_hosts=hosts)
    return uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,
            lifespan="off",
            server_header=False,
        )
    )


def serve(tables: ReviewTables, reviewer: str, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the review page until interrupted (Ctrl+C)."""
    print(
        f"segcopy review: http://{host}:{port}/queue  (reviewing as {reviewer}; Ctrl+C stops)",
        flush=True,
    )
    make_server(tables, reviewer, host, port, log_level="info").run()


def cmd_review_serve(args: Any) -> int:
    """``segcopy review serve [--port N] [--reviewer NAME]``."""
    reviewer = (
        getattr(args, "reviewer", None) or os.environ.get("SEGCOPY_REVIEWER") or getpass.getuser()
    )
    tables = ReviewTables.from_env()
    if not delta.table_exists(tables.variants):
        print(
            "segcopy review: no description_variants yet: run `segcopy run` first", file=sys.stderr
        )
        return 1
    serve(tables, reviewer, host="127.0.0.1", port=args.port)
    return 0
