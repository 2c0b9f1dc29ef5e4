"""``segcopy run``, ``init-sample``, ``preview``, ``share serve`` and ``dev``."""

import argparse
import os
import signal
import sys
from pathlib import Path

from segcopy_assets import settings


def _use_home_instance() -> Path:
    """The Dagster instance under $SEGCOPY_HOME (or DAGSTER_HOME if set): SQLite, or PostgreSQL
    while SEGCOPY_DAGSTER_PG_URL is set (``segcopy_assets.instance``). Raises SettingsError."""
    from segcopy_assets.instance import print_notice, use_home_instance

    home_instance = use_home_instance()
    print_notice(home_instance)
    # Write the events Dagster can batch (materializations, observations, planned events) in
    # batches: at 250 segments a full run took 86 s instead of 146 s on SQLite (bench.scale).
    # Inherited by `dagster dev`'s daemon and run workers; a user's own value wins.
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", str(settings.DAGSTER_EVENT_BATCH_SIZE))
    return home_instance.home


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
    if args.churn < 0:
        print(f"--churn must be 0 or more, got {args.churn}", file=sys.stderr)
        return 2
    _write_sample(args.customers, args.seed, args.force, only_unconfigured=False)
    if args.churn:
        from segcopy_assets.devtools.sample_churn import write_churn

        path = str(settings.sample_customers_path())
        done = write_churn(path, args.churn, seed=args.seed)
        print(
            f"wrote {args.churn:,} synthetic changes to {path} as version {done.version}: "
            f"{done.inserted:,} new, {done.updated:,} changed, {done.deleted:,} deleted customers"
        )
    return 0


def cmd_run(args) -> int:
    from segcopy_assets.errors import SegcopyError

    try:
        _use_home_instance()
    except SegcopyError as exc:
        print(f"segcopy run failed:\n{exc}", file=sys.stderr)
        return 1
    _write_sample(args.customers, args.seed, force=False, only_unconfigured=True)

    from segcopy_assets.resources import resources_from_env
    from segcopy_assets.resources.env import env_flag

    # the settings first: the code location (imported below) builds its resources from them
    try:
        resources = resources_from_env()
        auto_approve = args.auto_approve_passing_checks or env_flag(
            "SEGCOPY_AUTO_APPROVE_PASSING_CHECKS"
        )
    except SegcopyError as exc:
        print(f"segcopy run failed:\n{exc}", file=sys.stderr)
        return 1

    from segcopy_assets.instance import open_instance
    from segcopy_assets.pipeline import run_pipeline

    print(
        f"segcopy: CDP {resources['cdp'].describe()}; copywriter {resources['copywriter'].describe()}"
    )
    try:
        with open_instance() as instance:
            report = run_pipeline(
                instance,
                resources,
                force_regenerate=args.force_regenerate,
                auto_approve_passing_checks=auto_approve,
                wait=args.wait,
            )
    except SegcopyError as exc:
        print(f"segcopy run failed:\n{exc}", file=sys.stderr)
        return 1
    from segcopy_assets.cli.run_report import print_report

    return print_report(report, resources, auto_approve)


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
        channel = copywriter.channel(args.channel)
        if channel.own_templates:
            from segcopy_assets.cli.channel_preview import preview_channel

            return preview_channel(copywriter, channel, seg, prod)
        prompt_set = copywriter.prompt_set()
        messages = prompt_set.render(seg, prod)
        writer = copywriter.writer(prompt_set)
        copywriter.preflight()  # unreachable, bad key, unknown model: one line, no long retries

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


def cmd_dev(args) -> int:
    """``dagster dev`` on 127.0.0.1 with the instance under $SEGCOPY_HOME."""
    from segcopy_assets.errors import SegcopyError

    try:
        _use_home_instance()
    except SegcopyError as exc:
        print(f"segcopy dev failed:\n{exc}", file=sys.stderr)
        return 1
    _write_sample(args.customers, args.seed, force=False, only_unconfigured=True)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a background parent may have set it to ignore
    workspace = Path(__file__).resolve().parents[2] / "workspace.yaml"
    dagster = Path(sys.executable).parent / "dagster"
    argv = [str(dagster), "dev", "-w", str(workspace), "-h", "127.0.0.1", "-p", str(args.port)]
    os.execve(argv[0], argv, _dev_environment(os.environ))
    return 0


#: Dagster 1.13 warns on every `dagster dev` that the command is superseded by `dg dev`; `dg`
#: (dagster-dg-cli) is not one of segcopy's dependencies and a `dg` project would not load the
#: workspace.yaml that `segcopy dev` and `dagster dev -w` share, so the advice does not apply.
_DEV_SUPERSEDED = "ignore:Function `dev_command` is superseded"


def _dev_environment(environ) -> dict[str, str]:
    """``environ`` with the superseded-command warning of ``dagster dev`` filtered out (a
    user's own PYTHONWARNINGS kept, before ours)."""
    env = dict(environ)
    mine = env.get("PYTHONWARNINGS", "")
    env["PYTHONWARNINGS"] = f"{mine},{_DEV_SUPERSEDED}" if mine else _DEV_SUPERSEDED
    return env


def add_commands(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="materialize every asset in process (sample data by default)")
    run.add_argument(
        "--customers", type=int, default=20_000, help="sample size if sample data is made"
    )
    run.add_argument("--seed", type=int, default=7)
    run.add_argument(
        "--force-regenerate", action="store_true", help="call the model even for cached pairs"
    )
    run.add_argument(
        "--wait",
        action="store_true",
        help="in batch mode (SEGCOPY_LLM_MODE), poll the submitted batches every "
        "SEGCOPY_BATCH_POLL_S seconds until they end, then collect and publish",
    )
    run.add_argument(
        "--auto-approve-passing-checks",
        action="store_true",
        help="publish every unreviewed variant that passes the ERROR checks, without review "
        "(for trials and scale tests; also SEGCOPY_AUTO_APPROVE_PASSING_CHECKS=1)",
    )
    run.set_defaults(func=cmd_run)

    init = sub.add_parser("init-sample", help="write the synthetic CDP and product tables")
    init.add_argument("--customers", type=int, default=20_000)
    init.add_argument("--seed", type=int, default=7)
    init.add_argument("--force", action="store_true", help="rewrite existing sample tables")
    init.add_argument(
        "--churn",
        type=int,
        default=0,
        metavar="N",
        help="then write N realistic changes (new, re-scored, moved and deleted customers) to "
        "the sample CDP table as ONE new version (deterministic with --seed)",
    )
    init.set_defaults(func=cmd_init_sample)

    preview = sub.add_parser("preview", help="render the prompt and generate one variant")
    preview.add_argument("--segment", required=True)
    preview.add_argument("--product", required=True)
    preview.add_argument(
        "--channel",
        default="web_description",
        help="a channel of prompts/channels/ (web_description, email_subject, sms, push, ...)",
    )
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

    dev = sub.add_parser("dev", help="start the Dagster UI on 127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument(
        "--customers", type=int, default=20_000, help="sample size if sample data is made"
    )
    dev.add_argument("--seed", type=int, default=7)
    dev.set_defaults(func=cmd_dev)
