"""``segcopy batch list|cancel``: the provider batches of batch mode (SEGCOPY_LLM_MODE).

``list`` prints ``generation_batches`` (one line per batch: its state, counts, segments);
``--refresh`` asks the provider first. ``cancel`` stops open batches: what they finished is
collected by the next run, the rest falls back (SEGCOPY_BATCH_FALLBACK) like an expired batch.
"""

import argparse
import sys


def _store_path() -> str:
    from segcopy_assets.resources import warehouse_from_env
    from segcopy_assets.storage.tables import GENERATION_BATCHES

    return warehouse_from_env().table_path(GENERATION_BATCHES)


def cmd_batch_list(args) -> int:
    import polars as pl

    from segcopy_assets.errors import SegcopyError
    from segcopy_assets.generation import batch_flow
    from segcopy_assets.resources import copywriter_from_env
    from segcopy_assets.storage import batch_store

    path = _store_path()
    try:
        if args.refresh:
            with copywriter_from_env().batch_client() as client:
                batch_flow.poll_open(path, client, log=lambda _m: None)
    except SegcopyError as exc:
        print(f"segcopy batch list failed: {exc}", file=sys.stderr)
        return 1
    batches = batch_store.current(path)
    if not args.all:
        batches = batches.filter(pl.col("state") != "collected")
    if batches.is_empty():
        print(f"no {'' if args.all else 'open or uncollected '}batches in {path}")
        return 0
    print(f"{'batch':<28} {'state':<12} {'done':>7} {'failed':>7} {'requests':>8}  segments")
    for b in batches.iter_rows(named=True):
        segments = b["segment_ids"] or []
        shown = ", ".join(segments[:3]) + (f" (+{len(segments) - 3})" if len(segments) > 3 else "")
        print(
            f"{b['batch_id'] or '(intent: ' + b['batch_key'][:18] + ')':<28} {b['state']:<12} "
            f"{b['completed'] or 0:>7} {b['failed'] or 0:>7} {b['requests'] or 0:>8}  {shown}"
        )
    return 0


def cmd_batch_cancel(args) -> int:
    import polars as pl

    from segcopy_assets.errors import SegcopyError
    from segcopy_assets.generation import batch_flow
    from segcopy_assets.resources import copywriter_from_env
    from segcopy_assets.storage import batch_store

    path = _store_path()
    batches = batch_store.submitted_open(batch_store.current(path))
    if args.batch_ids:
        unknown = set(args.batch_ids) - set(batches["batch_id"].to_list())
        if unknown:
            print(f"not an open batch: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 1
        batches = batches.filter(pl.col("batch_id").is_in(args.batch_ids))
    elif not args.all:
        print("name the batches to cancel, or --all", file=sys.stderr)
        return 1
    try:
        with copywriter_from_env().batch_client() as client:
            for batch in batches.iter_rows(named=True):
                done = batch_flow.cancel(path, client, batch)
                print(f"{done['batch_id']}: {done['state']}")
    except SegcopyError as exc:
        print(f"segcopy batch cancel failed: {exc}", file=sys.stderr)
        return 1
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    batch = sub.add_parser("batch", help="the provider batches of batch mode (SEGCOPY_LLM_MODE)")
    batch_sub = batch.add_subparsers(dest="batch_command", required=True)
    listing = batch_sub.add_parser("list", help="batches not collected yet (--all: every one)")
    listing.add_argument("--all", action="store_true", help="collected batches too")
    listing.add_argument(
        "--refresh", action="store_true", help="ask the provider for the open batches' state"
    )
    listing.set_defaults(func=cmd_batch_list)
    cancel = batch_sub.add_parser("cancel", help="stop open batches (their finished lines stay)")
    cancel.add_argument("batch_ids", nargs="*", metavar="BATCH_ID")
    cancel.add_argument("--all", action="store_true", help="every open batch")
    cancel.set_defaults(func=cmd_batch_cancel)
