"""``segcopy batch list|cancel``: the provider batches of batch mode (SEGCOPY_LLM_MODE), the
description's (``generation_batches``) and every channel's (``<channel>_batches``).

``list`` prints one line per batch: its channel, id, state, counts and segments; ``--channel``
narrows it to one channel, ``--refresh`` asks the provider first. ``cancel`` stops open batches
(found by id in any channel's table): what they finished is collected by the next run, the rest
falls back (SEGCOPY_BATCH_FALLBACK) like an expired batch.
"""

import argparse
import sys


def _stores(channel: str | None) -> list[tuple[str, str]]:
    """``(channel, its batch table)``: of ``channel``, or of the description and every channel
    defined under prompts/channels/ (a table never written lists nothing). Reads no resource,
    so the listing starts without Dagster."""
    from segcopy_assets import settings
    from segcopy_assets.errors import SettingsError
    from segcopy_assets.generation.channels import WEB_DESCRIPTION, channel_names
    from segcopy_assets.storage.delta import join
    from segcopy_assets.storage.tables import GENERATION_BATCHES, channel_batches_table

    known = list(dict.fromkeys([WEB_DESCRIPTION, *channel_names(settings.prompts_dir())]))
    if channel is not None and channel not in known:
        raise SettingsError(f"--channel: no channel {channel!r}; defined: {', '.join(known)}")
    root = settings.warehouse_uri()
    return [
        (
            name,
            join(
                root,
                settings.WAREHOUSE_SCHEMA,
                GENERATION_BATCHES if name == WEB_DESCRIPTION else channel_batches_table(name),
            ),
        )
        for name in ([channel] if channel else known)
    ]


def cmd_batch_list(args) -> int:
    import polars as pl

    from segcopy_assets.errors import SegcopyError
    from segcopy_assets.storage import batch_store

    try:
        stores = _stores(args.channel)
        open_stores = [
            path
            for _, path in stores
            if args.refresh and not batch_store.submitted_open(batch_store.current(path)).is_empty()
        ]
        if open_stores:  # nothing open: no provider to ask (and no API key needed)
            from segcopy_assets.generation import batch_flow
            from segcopy_assets.resources import copywriter_from_env

            with copywriter_from_env().batch_client() as client:
                for path in open_stores:
                    batch_flow.poll_open(path, client, log=lambda _m: None)
    except SegcopyError as exc:
        print(f"segcopy batch list failed: {exc}", file=sys.stderr)
        return 1
    listed = []
    for channel, path in stores:
        batches = batch_store.current(path)
        if not args.all:
            batches = batches.filter(pl.col("state") != "collected")
        listed += [(channel, b) for b in batches.iter_rows(named=True)]
    if not listed:
        what = "" if args.all else "open or uncollected "
        where = (
            stores[0][1]
            if len(stores) == 1
            else "the batch tables of " + ", ".join(c for c, _ in stores)
        )
        print(f"no {what}batches in {where}")
        return 0
    width = max(len(c) for c, _ in listed)
    print(
        f"{'channel':<{width}} {'batch':<28} {'state':<12} {'done':>7} {'failed':>7} "
        f"{'requests':>8}  segments"
    )
    for channel, b in listed:
        segments = b["segment_ids"] or []
        shown = ", ".join(segments[:3]) + (f" (+{len(segments) - 3})" if len(segments) > 3 else "")
        print(
            f"{channel:<{width}} "
            f"{b['batch_id'] or '(intent: ' + b['batch_key'][:18] + ')':<28} {b['state']:<12} "
            f"{b['completed'] or 0:>7} {b['failed'] or 0:>7} {b['requests'] or 0:>8}  {shown}"
        )
    return 0


def cmd_batch_cancel(args) -> int:

    from segcopy_assets.errors import SegcopyError
    from segcopy_assets.storage import batch_store

    try:
        stores = _stores(args.channel)
    except SegcopyError as exc:
        print(f"segcopy batch cancel failed: {exc}", file=sys.stderr)
        return 1
    open_batches = [
        (path, b)
        for _, path in stores
        for b in batch_store.submitted_open(batch_store.current(path)).iter_rows(named=True)
    ]
    if args.batch_ids:
        unknown = set(args.batch_ids) - {b["batch_id"] for _, b in open_batches}
        if unknown:
            print(f"not an open batch: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 1
        open_batches = [(p, b) for p, b in open_batches if b["batch_id"] in args.batch_ids]
    elif not args.all:
        print("name the batches to cancel, or --all", file=sys.stderr)
        return 1
    if not open_batches:
        print("no open batches")
        return 0
    try:
        from segcopy_assets.generation import batch_flow
        from segcopy_assets.resources import copywriter_from_env

        with copywriter_from_env().batch_client() as client:
            for path, batch in open_batches:
                done = batch_flow.cancel(path, client, batch)
                print(f"{done['batch_id']}: {done['state']}")
    except SegcopyError as exc:
        print(f"segcopy batch cancel failed: {exc}", file=sys.stderr)
        return 1
    return 0


def _channel_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--channel",
        help="one channel's batches (web_description, email_subject, sms, push, ...); "
        "default: every channel's",
    )


def add_commands(sub: argparse._SubParsersAction) -> None:
    batch = sub.add_parser("batch", help="the provider batches of batch mode (SEGCOPY_LLM_MODE)")
    batch_sub = batch.add_subparsers(dest="batch_command", required=True)
    listing = batch_sub.add_parser("list", help="batches not collected yet (--all: every one)")
    listing.add_argument("--all", action="store_true", help="collected batches too")
    listing.add_argument(
        "--refresh", action="store_true", help="ask the provider for the open batches' state"
    )
    _channel_flag(listing)
    listing.set_defaults(func=cmd_batch_list)
    cancel = batch_sub.add_parser("cancel", help="stop open batches (their finished lines stay)")
    cancel.add_argument("batch_ids", nargs="*", metavar="BATCH_ID")
    cancel.add_argument("--all", action="store_true", help="every open batch")
    _channel_flag(cancel)
    cancel.set_defaults(func=cmd_batch_cancel)
