"""``segcopy review …``: the queue, decisions, CSV round trip, calibration, the review page."""

import argparse
import os
import sys
from pathlib import Path

from segcopy_assets.cli import review_reports, user_commands


def _reviewer(args) -> str:
    import getpass

    return args.reviewer or os.environ.get("SEGCOPY_REVIEWER") or getpass.getuser()


# one message and exit 1 for a segcopy error; the tables under $SEGCOPY_HOME
_review_errors = review_reports.review_errors
_review_tables = review_reports.review_tables
_arm_flags = review_reports.arm_flags
_add_channel_flag = review_reports.add_channel_flag


@_review_errors
def cmd_review_list(args) -> int:
    import polars as pl

    from segcopy_assets.review.service import review_queue

    if args.withheld:
        from segcopy_assets.cli.review_reports import list_withheld

        return list_withheld(args)
    tables = _review_tables(args)
    queue = review_queue(tables)
    if args.segment:
        queue = queue.filter(pl.col("segment_id") == args.segment)
    if args.product:
        queue = queue.filter(pl.col("product_id") == args.product)
    if args.status:
        queue = queue.filter(pl.col("review_status") == args.status)
    if args.batch:
        from segcopy_assets.review.batches import find_batch

        queue = queue.filter(pl.col("input_hash").is_in(find_batch(tables, args.batch).sample))
    counts = queue.group_by("review_status").len().sort("review_status")
    for row in queue.iter_rows(named=True):
        extra = f"  [{row['failed_checks']}]" if row["failed_checks"] else ""
        who = f"  by {row['reviewer']}" if row["reviewer"] else ""
        arm = ""
        if tables.channel:  # a channel's queue has one row per arm
            arm = f" arm {row['variant_index']}" + (f" ({row['angle']})" if row["angle"] else "")
        print(
            f"{row['review_status']:<9} {row['segment_id']:<30} {row['product_id']:<8}{arm}"
            f"{who}{extra}"
        )
    print(
        "total: "
        + (
            ", ".join(f"{r['len']} {r['review_status']}" for r in counts.iter_rows(named=True))
            or "0 (nothing matches)"
        )
    )
    return 0


@_review_errors
def cmd_review_decide(args) -> int:
    from segcopy_assets.review.service import decide

    edited = None
    if args.review_command == "edit":
        try:
            edited = Path(args.text_file).read_text(encoding="utf-8")
        except OSError as exc:
            print(
                f"segcopy review edit: cannot read --text-file {args.text_file}: "
                f"{exc.strerror or exc}",
                file=sys.stderr,
            )
            return 1
    decision = {"approve": "approve", "reject": "reject", "edit": "edit"}[args.review_command]
    tables = _review_tables(args)
    variant = decide(
        tables,
        args.segment,
        args.product,
        decision,
        reviewer=_reviewer(args),
        note=args.note,
        edited_text=edited,
        force=getattr(args, "force", False),
        arm=args.arm,
    )
    effect = {
        "approve": "`segcopy run` publishes it",
        "edit": "`segcopy run` publishes the edited text",
        "reject": "`segcopy run` takes it off the site",
    }[decision]
    if variant["edit_failures"]:
        effect = "it is NOT published: the edited text fails " + "; ".join(variant["edit_failures"])
    what = f"{args.segment}/{args.product}"
    if tables.channel:
        what = f"{tables.channel} {what} arm {variant['variant_index']}"
    print(
        f"recorded {decision} of {what} (variant {variant['input_hash'][:12]}) "
        f"by {_reviewer(args)}; {effect}"
    )
    if variant["failed_checks"] and decision == "approve":
        print(
            f"warning: this variant fails {variant['failed_checks']}; it will not be published "
            "unless edited into shape",
            file=sys.stderr,
        )
    return 0


@_review_errors
def cmd_review_export(args) -> int:
    if args.disagreements:
        from segcopy_assets.quality.corpus import write_cases
        from segcopy_assets.review.calibration import disagreement_cases

        cases = disagreement_cases(_review_tables())  # the description's checks
        n = write_cases(args.disagreements, cases)
        missed = sum(1 for c in cases if c.label == "bad")
        print(
            f"wrote {n} corpus case(s) to {args.disagreements}: {missed} missed by the checks, "
            f"{n - missed} false alarm(s); label the defect classes and add them to the corpus"
        )
        return 0
    from segcopy_assets.review.review_csv import export_csv

    n = export_csv(_review_tables(args), args.csv, status=args.status)
    print(
        f"wrote {n} variant(s) to {args.csv}: fill in decision (approve/reject/edit), edited_text, note"
    )
    return 0


@_review_errors
def cmd_review_import(args) -> int:
    from segcopy_assets.review.review_csv import import_csv

    n = import_csv(_review_tables(args), args.csv, reviewer=_reviewer(args))
    print(f"imported {n} decision(s) from {args.csv}")
    return 0


def cmd_review_serve(args) -> int:
    from segcopy_assets.review.web.server import cmd_review_serve as serve_review

    return serve_review(args)


def _plan(args):
    from segcopy_assets.core.sampling import SamplingPlan
    from segcopy_assets.errors import SettingsError

    def value(flag: float | None, name: str, default: float) -> float:
        if flag is not None:
            return flag
        text = os.environ.get(name) or ""
        try:
            return float(text) if text.strip() else default
        except ValueError:
            raise SettingsError(f"{name} must be a number, not {text!r}") from None

    p = value(args.p, "SEGCOPY_SAMPLE_P", 0.05)
    c = value(args.c, "SEGCOPY_SAMPLE_C", 0.95)
    try:
        return SamplingPlan(p, c)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


@_review_errors
def cmd_review_sample(args) -> int:
    from segcopy_assets.review.batches import draw_batches
    from segcopy_assets.review.service import review_queue

    tables = _review_tables(args)
    plan = _plan(args)
    drawn = draw_batches(
        tables, plan, reviewer=_reviewer(args), all_segments=args.all_segments, segment=args.segment
    )
    if not drawn:
        print("no publishable variants (every current variant fails a check or failed to generate)")
        return 0
    queue = review_queue(tables)
    names = {r["input_hash"]: r for r in queue.iter_rows(named=True)}
    print(
        f"plan: zero defects in the sample bound the defect rate at {plan.p:.0%} with "
        f"{plan.c:.0%} confidence (n = {plan.n} for a large batch; a batch of n or fewer "
        "variants is reviewed whole); decisions count from the draw on"
    )
    small = [b for b in drawn if len(b.members) <= plan.n]
    if small and not args.all_segments and len(drawn) > 1:
        total = sum(len(b.members) for b in drawn)
        print(
            f"{len(small)} of {len(drawn)} batches have {plan.n} variants or fewer: each is "
            f"reviewed whole. `segcopy review sample --all-segments` draws one batch per prompt "
            f"across segments ({total} variants, a sample of {min(plan.n, total)} or fewer)"
        )
    for b in drawn:
        o = b.outcome
        print(
            f"\nbatch {b.batch_id}  segment {b.segment_id}  prompt {b.prompt_hash}: "
            f"{len(b.members)} variants, sample {len(b.sample)}; {o.state.upper()} "
            f"({o.approved} approved, {o.rejections} rejected or edited, {o.pending} to review)"
        )
        if o.state == "pending":
            for h in b.sample:
                if h in names:
                    r = names[h]
                    print(
                        f"  segcopy review approve {r['segment_id']} {r['product_id']}"
                        f"{_arm_flags(tables, r)}   (or reject / edit)"
                    )
        elif o.state == "accepted":
            print(f"  accepted: `segcopy run` publishes its variants ({b.bound})")
        else:
            print("  rejected: its variants need their own review, or a prompt change")
    return 0


@_review_errors
def cmd_review_bulk(args) -> int:
    from segcopy_assets.review.bulk import BulkFilter, decide_all, select, summary

    tables = _review_tables(args)
    f = BulkFilter(args.segment, args.product, args.status, args.checks, args.batch)
    rows = select(tables, f)
    if rows.is_empty():
        unknown = _unknown_filter(tables, args)
        if unknown:
            print(f"segcopy review bulk: {unknown}", file=sys.stderr)
            return 1
        print(f"nothing matches ({f.describe()})")
        return 0
    print(f"{args.decision} {rows.height} variant(s) matching {f.describe()}:")
    for seg, status, n in summary(rows).iter_rows():
        print(f"  {seg:<32} {status:<9} {n}")
    if not args.yes:
        answer = input(f"record {rows.height} {args.decision} decision(s)? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("nothing recorded")
            return 1
    n = decide_all(tables, rows, args.decision, reviewer=_reviewer(args), note=args.note)
    print(
        f"recorded {n} {args.decision} decision(s) by {_reviewer(args)}; an undo is a later decision"
    )
    return 0


def _unknown_filter(tables, args) -> str | None:
    """A --segment or --product that names nothing in the queue: what is wrong, with the known
    ones (a typo must not read as "nothing to do")."""
    from segcopy_assets.review.service import review_queue

    queue = review_queue(tables)
    for flag, column, value in (
        ("--segment", "segment_id", args.segment),
        ("--product", "product_id", args.product),
    ):
        known = sorted(set(queue[column].to_list()))
        if value and value not in known:
            shown = ", ".join(known[:20]) + (" …" if len(known) > 20 else "")
            return f"{flag} {value!r} is not in the review queue; known: {shown}"
    return None


def add_commands(sub: argparse._SubParsersAction) -> None:
    review = sub.add_parser(
        "review", help="review variants: list, approve, reject, edit, CSV round trip"
    )
    review_sub = review.add_subparsers(dest="review_command", required=True)
    listing = review_sub.add_parser("list", help="the review queue")
    listing.add_argument("--segment")
    listing.add_argument("--product")
    listing.add_argument("--status", choices=["pending", "approved", "rejected", "failed"])
    listing.add_argument("--batch", help="only this batch's sample (`segcopy review sample`)")
    listing.add_argument(
        "--withheld",
        action="store_true",
        help="every current variant the next publication leaves out, with why",
    )
    listing.add_argument(
        "--auto-approve-passing-checks",
        action="store_true",
        help="with --withheld: as `segcopy run --auto-approve-passing-checks` would publish",
    )
    _add_channel_flag(listing)
    listing.set_defaults(func=cmd_review_list)
    for name in ("approve", "reject", "edit"):
        p = review_sub.add_parser(name, help=f"{name} the current variant of SEGMENT × PRODUCT")
        p.add_argument("segment")
        p.add_argument("product")
        p.add_argument("--note")
        p.add_argument("--reviewer", help="default: $SEGCOPY_REVIEWER or your user name")
        _add_channel_flag(p)
        p.add_argument(
            "--arm",
            type=int,
            help="with --channel and SEGCOPY_VARIANTS_PER_PAIR > 1: which arm (0, 1, ...)",
        )
        if name == "edit":
            p.add_argument("--text-file", required=True, help="file with the edited copy")
            p.add_argument(
                "--force",
                action="store_true",
                help="record an edited text that fails ERROR rules (it is not published)",
            )
        p.set_defaults(func=cmd_review_decide)
    export = review_sub.add_parser(
        "export",
        help="write the queue as CSV for a spreadsheet, or the checks' disagreements with "
        "reviewers as corpus cases",
    )
    target = export.add_mutually_exclusive_group(required=True)
    target.add_argument("--csv")
    target.add_argument(
        "--disagreements",
        metavar="JSONL",
        help="corpus cases (tests/data/copy_eval.jsonl format) of every variant reviewers and "
        "checks disagree on",
    )
    export.add_argument("--status", choices=["pending", "approved", "rejected", "failed"])
    _add_channel_flag(export)
    export.set_defaults(func=cmd_review_export)
    sample = review_sub.add_parser(
        "sample", help="acceptance sampling: draw each batch's sample and show where batches stand"
    )
    sample.add_argument("--segment", help="only this segment's batch")
    sample.add_argument(
        "--all-segments", action="store_true", help="one batch per prompt hash across every segment"
    )
    sample.add_argument(
        "--p", type=float, help="defect rate to bound (default 0.05, $SEGCOPY_SAMPLE_P)"
    )
    sample.add_argument("--c", type=float, help="confidence (default 0.95, $SEGCOPY_SAMPLE_C)")
    sample.add_argument("--reviewer", help="default: $SEGCOPY_REVIEWER or your user name")
    _add_channel_flag(sample)
    sample.set_defaults(func=cmd_review_sample)
    bulk = review_sub.add_parser(
        "bulk", help="approve or reject every variant a filter selects (after a confirmation)"
    )
    bulk.add_argument("decision", choices=["approve", "reject"])
    bulk.add_argument("--segment")
    bulk.add_argument("--product")
    bulk.add_argument("--status", choices=["pending", "approved", "rejected", "failed"])
    bulk.add_argument("--checks", choices=["passing", "failing"], help="state of the ERROR checks")
    bulk.add_argument("--batch", help="a batch id (its members)")
    bulk.add_argument("--note")
    bulk.add_argument("--reviewer", help="default: $SEGCOPY_REVIEWER or your user name")
    bulk.add_argument("--yes", action="store_true", help="no confirmation prompt")
    _add_channel_flag(bulk)
    bulk.set_defaults(func=cmd_review_bulk)
    imp = review_sub.add_parser("import", help="read decisions back from a CSV (all rows or none)")
    imp.add_argument("--csv", required=True)
    imp.add_argument("--reviewer")
    _add_channel_flag(imp)
    imp.set_defaults(func=cmd_review_import)
    page = review_sub.add_parser("serve", help="the review page in your browser (127.0.0.1)")
    page.add_argument("--port", type=int, default=8000)
    page.add_argument("--reviewer", help="default: $SEGCOPY_REVIEWER or your user name")
    page.add_argument("--host", default="127.0.0.1", help="not loopback: needs sign-in (below)")
    page.add_argument("--users-file", help="sign-in with passwords (segcopy review user add)")
    page.add_argument("--auth-header", help="sign-in by a proxy's header, e.g. X-Forwarded-User")
    page.add_argument("--trusted-proxy", help="ADDR|CIDR[,...] whose X-Forwarded-* are believed")
    page.add_argument("--header-role", choices=["reviewer", "viewer"], help="default: reviewer")
    page.add_argument("--behind-tls", action="store_true", help="HTTPS in front: Secure cookie")
    page.add_argument("--allowed-host", action="append", help="a Host name users reach it by")
    page.set_defaults(func=cmd_review_serve)
    review_reports.add_commands(review_sub)
    user_commands.add_commands(review_sub)
