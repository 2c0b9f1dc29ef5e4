"""``segcopy retry``: list the pairs whose generation failed, send parked ones again."""

import argparse
import sys


def cmd_retry(args) -> int:
    from segcopy_assets.cli import exit_codes
    from segcopy_assets.errors import SegcopyError
    from segcopy_assets.resources import copywriter_from_env, warehouse_from_env
    from segcopy_assets.review.retries import failing_pairs, retry_parked
    from segcopy_assets.storage import delta
    from segcopy_assets.storage.tables import DESCRIPTION_VARIANTS

    try:
        warehouse, copywriter = warehouse_from_env(), copywriter_from_env()
        if args.channel and args.channel != "web_description":
            return _retry_channel(args, warehouse, copywriter)
        if not delta.table_exists(warehouse.table_path(DESCRIPTION_VARIANTS)):
            print("no description_variants yet: run `segcopy run` first", file=sys.stderr)
            return exit_codes.FAILED
        if args.list:
            failing = failing_pairs(
                warehouse, copywriter, segment=args.segment, product=args.product
            )
            for row in failing.iter_rows(named=True):
                kept = "last good kept" if row["last_good_kept"] else "no variant"
                print(
                    f"{row['state']:<8} {row['segment_id']:<30} {row['product_id']:<8} "
                    f"{row['attempts']} attempt(s), {kept}: {row['last_error']}"
                )
            parked = int((failing["state"] == "parked").sum())
            print(
                f"total: {failing.height} failing, {parked} parked "
                f"(after {copywriter.max_attempts} failed attempts with the same inputs)"
            )
            return exit_codes.OK
        who = args.reviewer or _default_name()
        sent = retry_parked(
            warehouse, copywriter, requested_by=who, segment=args.segment, product=args.product
        )
    except SegcopyError as exc:
        print(f"segcopy retry: {exc}", file=sys.stderr)
        return exit_codes.FAILED
    if sent.is_empty():
        print(
            "no parked pairs match: nothing to send again (`segcopy retry --list` shows failures)"
        )
        return exit_codes.OK
    print(
        f"{sent.height} parked pair(s) will be sent again by the next `segcopy run` (or by "
        f"retry_sensor under `segcopy dev`); requested by {who}"
    )
    return exit_codes.OK


def _retry_channel(args, warehouse, copywriter) -> int:
    """``segcopy retry --channel C``: the channel's failing (or parked) pairs x arms."""
    from segcopy_assets.cli import exit_codes
    from segcopy_assets.review.retries import channel_failing_arms, retry_channel_parked
    from segcopy_assets.storage import delta
    from segcopy_assets.storage.tables import channel_variants_table

    table = channel_variants_table(args.channel)
    copywriter.channel(args.channel)  # an unknown channel: one line naming the known ones
    if not delta.table_exists(warehouse.table_path(table)):
        print(f"no {table} yet: run `segcopy run` first", file=sys.stderr)
        return exit_codes.FAILED
    where = {"segment": args.segment, "product": args.product}
    if args.list:
        failing = channel_failing_arms(warehouse, copywriter, args.channel, **where)
        for row in failing.iter_rows(named=True):
            kept = "last good kept" if row["last_good_kept"] else "no copy"
            print(
                f"{row['state']:<8} {row['segment_id']:<30} {row['product_id']:<8} "
                f"arm {row['variant_index']}: {row['attempts']} attempt(s), {kept}: "
                f"{row['last_error']}"
            )
        parked = int((failing["state"] == "parked").sum())
        print(f"total: {failing.height} failing {args.channel} variant(s), {parked} parked")
        return exit_codes.OK
    who = args.reviewer or _default_name()
    sent = retry_channel_parked(warehouse, copywriter, args.channel, requested_by=who, **where)
    if sent.is_empty():
        print(f"no parked {args.channel} pairs match: nothing to send again")
        return exit_codes.OK
    print(
        f"{sent.height} parked {args.channel} variant(s) will be sent again by the next "
        f"`segcopy run` (or channel_sensor under `segcopy dev`); requested by {who}"
    )
    return exit_codes.OK


def _default_name() -> str:
    import getpass
    import os

    return os.environ.get("SEGCOPY_REVIEWER") or getpass.getuser()


def add_commands(sub: argparse._SubParsersAction) -> None:
    retry = sub.add_parser(
        "retry",
        help="send parked pairs (generation failed SEGCOPY_MAX_ATTEMPTS runs in a row) again",
    )
    retry.add_argument("--segment", help="only this segment's pairs")
    retry.add_argument("--product", help="only this product's pairs")
    retry.add_argument(
        "--list", action="store_true", help="list the failing and parked pairs, change nothing"
    )
    retry.add_argument("--reviewer", help="who asks (default: $SEGCOPY_REVIEWER or your login)")
    retry.add_argument(
        "--channel",
        help="a channel of prompts/channels/ (email_subject, sms, push, ...); default: the "
        "web description",
    )
    retry.set_defaults(func=cmd_retry)
