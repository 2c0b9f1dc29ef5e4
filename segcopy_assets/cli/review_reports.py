"""``segcopy review log`` (the audit trail), ``review stats`` (calibration) and ``review list
--withheld`` (what the next publication leaves out, and why)."""

import argparse
import sys


def review_errors(fn):
    """Review commands print a segcopy error as one message and exit 1."""

    def wrapped(args) -> int:
        from segcopy_assets.errors import SegcopyError

        try:
            return fn(args)
        except SegcopyError as exc:
            print(f"segcopy review: {exc}", file=sys.stderr)
            return 1

    return wrapped


def review_tables(args=None):
    """The review tables of the warehouse under ``$SEGCOPY_HOME``: the description's, or those
    of the channel ``--channel`` names (checked against ``prompts/channels/``)."""
    from segcopy_assets.generation.channels import WEB_DESCRIPTION
    from segcopy_assets.review.service import ReviewTables

    channel = getattr(args, "channel", None)
    if channel in (None, WEB_DESCRIPTION):
        return ReviewTables.from_env()
    from segcopy_assets.review.channel_review import load_review_channel

    load_review_channel(channel)  # an unknown channel: one line naming the known ones
    return ReviewTables.from_env(channel)


def arm_flags(tables, row: dict) -> str:
    """`` --channel C --arm N`` for a channel's row (empty for the description's)."""
    if not tables.channel:
        return ""
    return f" --channel {tables.channel} --arm {row.get('variant_index') or 0}"


def add_channel_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--channel",
        help="a channel of prompts/channels/ (email_subject, sms, push, ...); default: the "
        "web description",
    )


def _since(text: str):
    """``--since``: an ISO date or time (UTC unless it says), or an age: ``30m``, ``24h``, ``7d``."""
    import re
    from datetime import UTC, datetime, timedelta

    from segcopy_assets.errors import SettingsError

    age = re.fullmatch(r"\s*(\d+)\s*([mhd])\s*", text or "")
    if age:
        unit = {"m": "minutes", "h": "hours", "d": "days"}[age.group(2)]
        return datetime.now(UTC) - timedelta(**{unit: int(age.group(1))})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SettingsError(
            f"--since {text!r}: give a date or time (2026-12-01, 2026-12-01T09:30) or an age "
            "(30m, 24h, 7d)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@review_errors
def cmd_review_log(args) -> int:
    """The audit trail: every decision since a time, with who, how and from where."""
    import polars as pl

    from segcopy_assets.storage.review_log import read_reviews

    since = _since(args.since) if args.since else None
    log = read_reviews(review_tables().reviews).with_row_index("_order")
    if since is not None:
        log = log.filter(pl.col("decided_at") >= since)
    for column, value in (("segment_id", args.segment), ("product_id", args.product)):
        if value:
            log = log.filter(pl.col(column) == value)
    if args.reviewer:
        from segcopy_assets.core.user_names import normalise_name

        log = log.filter(pl.col("reviewer") == normalise_name(args.reviewer))
    for r in log.sort("decided_at", "_order").iter_rows(named=True):
        how = r["signed_in_via"] or "unknown"
        where = f" from {r['client_address']}" if r["client_address"] else ""
        session = f" session {r['session_hash'][:12]}" if r["session_hash"] else ""
        extra = f"  carried from {r['carried_from'][:12]}" if r["carried_from"] else ""
        note = f"  \u201c{r['note']}\u201d" if r["note"] and not r["carried_from"] else ""
        print(
            f"{r['decided_at']:%Y-%m-%d %H:%M:%S} {r['reviewer']:<16} {how:<8}{where}{session}  "
            f"{r['decision']:<7} {r['segment_id']}/{r['product_id']} "
            f"{r['input_hash'][:12]}{extra}{note}"
        )
    print(
        f"total: {log.height} decision(s)" + (f" since {since:%Y-%m-%d %H:%M} UTC" if since else "")
    )
    return 0


def list_withheld(args) -> int:
    """Every current variant not published as current copy, with why (what the next
    publication would do, from the tables as they are now)."""
    import polars as pl

    from segcopy_assets.review.publication_state import compute_publication

    tables = review_tables(args)
    state = compute_publication(
        tables, **_publication_settings(args.auto_approve_passing_checks, tables.channel)
    )
    withheld = state.withheld
    if args.segment:
        withheld = withheld.filter(pl.col("segment_id") == args.segment)
    if args.product:
        withheld = withheld.filter(pl.col("product_id") == args.product)
    for row in withheld.iter_rows(named=True):
        note = (
            "  (older approved copy stays published: superseded)" if row["superseded_live"] else ""
        )
        print(f"{row['segment_id']:<30} {row['product_id']:<8} {row['reason']}{note}")
    live = int(withheld["superseded_live"].sum())
    print(
        f"total: {withheld.height} withheld ({live} with superseded copy live), "
        f"{state.published.height} published"
    )
    return 0


def _publication_settings(auto_approve: bool, channel: str | None = None) -> dict:
    from datetime import timedelta

    from segcopy_assets.resources import copywriter_from_env, publication_from_env
    from segcopy_assets.review.edit_rules import check_settings

    copywriter = copywriter_from_env()
    spec = copywriter.channel(channel) if channel else None
    return {
        "prompt_hash": spec.hash if spec else copywriter.prompt_set().hash,
        "settings": check_settings(),
        "grace": timedelta(days=publication_from_env().superseded_grace_days),
        "auto_approve_passing_checks": auto_approve,
        "channel": spec,
        "variants_per_pair": copywriter.variants_per_pair,
    }


@review_errors
def cmd_review_stats(args) -> int:
    import polars as pl

    from segcopy_assets.review.calibration import ALL_CHECKS, calibration_stats

    stats = calibration_stats(review_tables())
    if stats.is_empty():
        print("no review decisions on current variants yet")
        return 0
    for (prompt_hash,), group in stats.group_by("prompt_hash", maintain_order=True):
        total = group.filter(pl.col("check") == ALL_CHECKS).row(0, named=True)
        print(
            f"prompt {prompt_hash}: {total['reviewed']} reviewed, {total['rejected_or_edited']} "
            f"rejected or edited; missed by every check: {total['missed']}; approved although a "
            f"check failed: {total['false_alarms']}"
        )
        print(f"  {'check':<22} {'failed':>7} {'false alarms':>13} {'agreed':>7}")
        for row in group.filter(pl.col("check") != ALL_CHECKS).iter_rows(named=True):
            print(
                f"  {row['check']:<22} {row['failed']:>7} {row['false_alarms']:>13} "
                f"{row['rejected_or_edited']:>7}"
            )
    return 0


def add_commands(review_sub: argparse._SubParsersAction) -> None:
    audit = review_sub.add_parser(
        "log", help="the audit trail: decisions with who, how they signed in, from where"
    )
    audit.add_argument("--since", help="a date or time (2026-12-01T09:00) or an age (24h, 7d)")
    audit.add_argument("--segment")
    audit.add_argument("--product")
    audit.add_argument("--reviewer", help="only this reviewer's decisions")
    audit.set_defaults(func=cmd_review_log)
    stats = review_sub.add_parser(
        "stats", help="how often reviewers disagreed with each check, per prompt hash"
    )
    stats.set_defaults(func=cmd_review_stats)
