"""The ``segcopy`` command: run the pipeline, make sample data, serve a share, preview a variant."""

import argparse
import os
import signal
import sys
from pathlib import Path

from segcopy_assets import settings


def _use_home_instance() -> Path:
    """Keep the Dagster instance under $SEGCOPY_HOME (unless DAGSTER_HOME is set)."""
    home = settings.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").touch(exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _write_sample(customers: int, seed: int, force: bool, only_unconfigured: bool) -> None:
    """The synthetic sample tables, for the sources not configured (or all, for init-sample)."""
    from segcopy_assets.devtools.sample_data import write_sample_customers
    from segcopy_assets.devtools.sample_products import write_sample_products
    from segcopy_assets.storage import delta

    tables = []
    if not (only_unconfigured and settings.cdp_source_configured()):
        tables.append(
            (
                settings.sample_customers_path(),
                lambda p: write_sample_customers(p, n=customers, seed=seed),
            )
        )
    if not (only_unconfigured and settings.products_source_configured()):
        tables.append((settings.sample_products_path(), write_sample_products))
    for path, writer in tables:
        if delta.table_exists(str(path)) and not force:
            if not only_unconfigured:
                print(f"kept existing {path} (use --force to rewrite)")
            continue
        n = writer(str(path))
        print(f"wrote {n:,} synthetic rows to {path}")


def cmd_init_sample(args) -> int:
    _write_sample(args.customers, args.seed, args.force, only_unconfigured=False)
    return 0


def cmd_run(args) -> int:
    _use_home_instance()
    _write_sample(args.customers, args.seed, force=False, only_unconfigured=True)

    import dagster as dg
    import polars as pl

    from segcopy_assets.errors import SegcopyError
    from segcopy_assets.pipeline import run_pipeline
    from segcopy_assets.resources import resources_from_env
    from segcopy_assets.storage.tables import REPORTED

    try:
        resources = resources_from_env()
    except SegcopyError as exc:
        print(f"segcopy run failed:\n{exc}", file=sys.stderr)
        return 1
    print(
        f"segcopy: CDP {resources['cdp'].describe()}; copywriter {resources['copywriter'].describe()}"
    )
    with dg.DagsterInstance.get() as instance:
        try:
            report = run_pipeline(instance, resources, force_regenerate=args.force_regenerate)
        except SegcopyError as exc:
            print(f"segcopy run failed:\n{exc}", file=sys.stderr)
            return 1
    print("\nTables (Delta):")
    for table in REPORTED:
        path = resources["warehouse"].table_path(table)
        rows = pl.scan_delta(path).select(pl.len()).collect().item()
        print(f"  {table:<30} {rows:>9,} rows  {path}")
    m = report.variant_metadata
    if report.segments_added or report.segments_removed:
        print(
            f"\nSegments: {len(report.segments_added)} added, {len(report.segments_removed)} removed"
        )
    print(
        f"\nVariants: {m.get('pairs')} pairs, {m.get('calls_made')} generated, {m.get('reused')} reused, "
        f"{m.get('failed')} failed; backend {m.get('backend')}, model {m.get('model')}, "
        f"prompt hash {m.get('prompt_hash')}"
    )
    failing = [name for name, ok in report.check_results.items() if not ok]
    print(
        f"Checks: {len(report.check_results) - len(failing)}/{len(report.check_results)} passed"
        + (f" (failing: {', '.join(failing)})" if failing else "")
    )
    print(
        f"Published: {report.published} variant(s), {report.withheld} withheld "
        "(review with `segcopy review list`)"
    )
    return 0


def cmd_preview(args) -> int:
    import asyncio

    import polars as pl

    from segcopy_assets.errors import SegcopyError
    from segcopy_assets.generation.answer_parsing import split_copy_and_rationale
    from segcopy_assets.resources import copywriter_from_env, warehouse_from_env
    from segcopy_assets.storage.tables import PRODUCTS, SEGMENT_SUMMARIES

    try:
        warehouse, copywriter = warehouse_from_env(), copywriter_from_env()
    except SegcopyError as exc:
        print(f"segcopy preview failed: {exc}", file=sys.stderr)
        return 1
    try:
        summaries = pl.read_delta(warehouse.table_path(SEGMENT_SUMMARIES))
        products = pl.read_delta(warehouse.table_path(PRODUCTS))
    except Exception:
        print("no segment_summaries/products yet: run `segcopy run` first", file=sys.stderr)
        return 1
    segment = summaries.filter(pl.col("segment_id") == args.segment)
    product = products.filter(pl.col("product_id") == args.product)
    if segment.is_empty() or product.is_empty():
        missing = f"segment {args.segment!r}" if segment.is_empty() else f"product {args.product!r}"
        choices = summaries["segment_id"] if segment.is_empty() else products["product_id"]
        print(f"unknown {missing}; known: {', '.join(choices.to_list())}", file=sys.stderr)
        return 1
    seg, prod = segment.row(0, named=True), product.row(0, named=True)
    try:
        prompt_set = copywriter.prompt_set()
        messages = prompt_set.render(seg, prod)
        writer = copywriter.writer(prompt_set)

        async def one():
            async with writer:
                return await writer.write(seg, prod, messages)

        completion = asyncio.run(one())
    except SegcopyError as exc:
        print(f"segcopy preview failed: {exc}", file=sys.stderr)
        return 1
    print(
        f"=== backend {prompt_set.backend}, model {prompt_set.params.name}, prompt hash {prompt_set.hash}"
    )
    for message in messages:
        print(f"\n=== {message['role']} prompt\n{message['content']}")
    parsed = split_copy_and_rationale(completion.text)
    print(f"\n=== original\n{prod['description']}")
    print(f"\n=== variant for {args.segment}\n{parsed.copy}")
    print(f"\n=== rationale\n{parsed.rationale or '(missing)'}")
    print(
        f"\n=== tokens: {completion.prompt_tokens} prompt, {completion.completion_tokens} completion; "
        f"{completion.latency_ms:.0f} ms"
    )
    return 0


def cmd_share_serve(args) -> int:
    from segcopy_assets.devtools.sharing_server import serve

    table = args.table or str(settings.sample_customers_path())
    profile = args.profile or str(settings.segcopy_home() / "share" / "profile.share")
    Path(profile).parent.mkdir(parents=True, exist_ok=True)
    serve(
        table,
        share=args.share,
        schema=args.schema,
        table=args.name,
        host="127.0.0.1",
        port=args.port,
        profile_path=profile,
    )
    return 0


def _review_tables():
    from segcopy_assets.review.service import ReviewTables

    return ReviewTables.from_env()


def _reviewer(args) -> str:
    import getpass

    return args.reviewer or os.environ.get("SEGCOPY_REVIEWER") or getpass.getuser()


def _review_errors(fn):
    """Review commands print a segcopy error as one message and exit 1."""

    def wrapped(args) -> int:
        from segcopy_assets.errors import SegcopyError

        try:
            return fn(args)
        except SegcopyError as exc:
            print(f"segcopy review: {exc}", file=sys.stderr)
            return 1

    return wrapped


@_review_errors
def cmd_review_list(args) -> int:
    import polars as pl

    from segcopy_assets.review.service import review_queue

    queue = review_queue(_review_tables())
    if args.segment:
        queue = queue.filter(pl.col("segment_id") == args.segment)
    if args.product:
        queue = queue.filter(pl.col("product_id") == args.product)
    if args.status:
        queue = queue.filter(pl.col("review_status") == args.status)
    counts = queue.group_by("review_status").len().sort("review_status")
    for row in queue.iter_rows(named=True):
        extra = f"  [{row['failed_checks']}]" if row["failed_checks"] else ""
        who = f"  by {row['reviewer']}" if row["reviewer"] else ""
        print(
            f"{row['review_status']:<9} {row['segment_id']:<30} {row['product_id']:<8}{who}{extra}"
        )
    print(
        "total: "
        + ", ".join(f"{r['len']} {r['review_status']}" for r in counts.iter_rows(named=True))
    )
    return 0


@_review_errors
def cmd_review_decide(args) -> int:
    from segcopy_assets.review.service import decide

    edited = None
    if args.review_command == "edit":
        edited = Path(args.text_file).read_text(encoding="utf-8")
    decision = {"approve": "approve", "reject": "reject", "edit": "edit"}[args.review_command]
    variant = decide(
        _review_tables(),
        args.segment,
        args.product,
        decision,
        reviewer=_reviewer(args),
        note=args.note,
        edited_text=edited,
    )
    print(
        f"recorded {decision} of {args.segment}/{args.product} (variant {variant['input_hash'][:12]}) "
        f"by {_reviewer(args)}; `segcopy run` publishes it"
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
    from segcopy_assets.review.service import export_csv

    n = export_csv(_review_tables(), args.csv, status=args.status)
    print(
        f"wrote {n} variant(s) to {args.csv}: fill in decision (approve/reject/edit), edited_text, note"
    )
    return 0


@_review_errors
def cmd_review_import(args) -> int:
    from segcopy_assets.review.service import import_csv

    n = import_csv(_review_tables(), args.csv, reviewer=_reviewer(args))
    print(f"imported {n} decision(s) from {args.csv}")
    return 0


def cmd_review_serve(args) -> int:
    from segcopy_assets.review.web.server import cmd_review_serve as serve_review

    return serve_review(args)


def cmd_dev(args) -> int:
    """``dagster dev`` on 127.0.0.1 with the instance under $SEGCOPY_HOME."""
    _use_home_instance()
    _write_sample(args.customers, args.seed, force=False, only_unconfigured=True)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a background parent may have set it to ignore
    workspace = Path(__file__).resolve().parent.parent / "workspace.yaml"
    dagster = Path(sys.executable).parent / "dagster"
    argv = [str(dagster), "dev", "-w", str(workspace), "-h", "127.0.0.1", "-p", str(args.port)]
    os.execv(argv[0], argv)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="segcopy", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="materialize every asset in process (sample data by default)")
    run.add_argument(
        "--customers", type=int, default=20_000, help="sample size if sample data is made"
    )
    run.add_argument("--seed", type=int, default=7)
    run.add_argument(
        "--force-regenerate", action="store_true", help="call the model even for cached pairs"
    )
    run.set_defaults(func=cmd_run)

    init = sub.add_parser("init-sample", help="write the synthetic CDP and product tables")
    init.add_argument("--customers", type=int, default=20_000)
    init.add_argument("--seed", type=int, default=7)
    init.add_argument("--force", action="store_true", help="rewrite existing sample tables")
    init.set_defaults(func=cmd_init_sample)

    preview = sub.add_parser("preview", help="render the prompt and generate one variant")
    preview.add_argument("--segment", required=True)
    preview.add_argument("--product", required=True)
    preview.set_defaults(func=cmd_preview)

    share = sub.add_parser("share", help="Delta Sharing server for local use and tests")
    share_sub = share.add_subparsers(dest="share_command", required=True)
    serve = share_sub.add_parser("serve", help="serve a Delta table on 127.0.0.1")
    serve.add_argument("--table", help="Delta table path (default: the sample CDP table)")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--profile", help="where to write the profile file")
    serve.add_argument("--share", default="segcopy")
    serve.add_argument("--schema", default="cdp")
    serve.add_argument("--name", default="customers", help="table name in the share")
    serve.set_defaults(func=cmd_share_serve)

    review = sub.add_parser(
        "review", help="review variants: list, approve, reject, edit, CSV round trip"
    )
    review_sub = review.add_subparsers(dest="review_command", required=True)
    listing = review_sub.add_parser("list", help="the review queue")
    listing.add_argument("--segment")
    listing.add_argument("--product")
    listing.add_argument("--status", choices=["pending", "approved", "rejected", "failed"])
    listing.set_defaults(func=cmd_review_list)
    for name in ("approve", "reject", "edit"):
        p = review_sub.add_parser(name, help=f"{name} the current variant of SEGMENT × PRODUCT")
        p.add_argument("segment")
        p.add_argument("product")
        p.add_argument("--note")
        p.add_argument("--reviewer", help="default: $SEGCOPY_REVIEWER or your user name")
        if name == "edit":
            p.add_argument("--text-file", required=True, help="file with the edited copy")
        p.set_defaults(func=cmd_review_decide)
    export = review_sub.add_parser("export", help="write the queue as CSV for a spreadsheet")
    export.add_argument("--csv", required=True)
    export.add_argument("--status", choices=["pending", "approved", "rejected", "failed"])
    export.set_defaults(func=cmd_review_export)
    imp = review_sub.add_parser("import", help="read decisions back from a CSV (all rows or none)")
    imp.add_argument("--csv", required=True)
    imp.add_argument("--reviewer")
    imp.set_defaults(func=cmd_review_import)
    page = review_sub.add_parser("serve", help="the review page in your browser (127.0.0.1)")
    page.add_argument("--port", type=int, default=8000)
    page.add_argument("--reviewer", help="default: $SEGCOPY_REVIEWER or your user name")
    page.set_defaults(func=cmd_review_serve)

    dev = sub.add_parser("dev", help="start the Dagster UI on 127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument(
        "--customers", type=int, default=20_000, help="sample size if sample data is made"
    )
    dev.add_argument("--seed", type=int, default=7)
    dev.set_defaults(func=cmd_dev)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
