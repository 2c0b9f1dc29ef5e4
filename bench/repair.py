"""The repair loop against a sloppy writer: ``python -m bench.repair [--products 14] [--rate 0.15]
[--bad-repair 0.0] [--seed 11] [--llm-mode online|batch] [--json]``.

The sample CDP (14 segments) and ``--products`` products, the openai backend on the fake
endpoint in its own process answering through ``fake_openai.defective.DefectiveResponder``: a
seeded ``--rate`` of first answers carry one realistic defect (an invented shipping offer, a
persona opener, a changed measurement, tier talk), and a repair request gets the clean answer
(``--bad-repair``: the share of repairs that bring another defect instead). The same pipeline
runs twice on fresh warehouses, side by side: ``SEGCOPY_REPAIR_ATTEMPTS=0`` and ``=1``, each
publishing every variant that passes its ERROR checks (``--auto-approve-passing-checks``).

Reported: pairs; defective first answers; publishable share without and with repairs; of the
defective answers, the share repaired into passing copy with one attempt (target >= 0.9);
published copy that fails an ERROR rule (must be 0: a repair with a new defect is judged and held
back like any answer); calls and estimated cost of the first answers and of the repairs.
"""

import argparse
import tempfile
from pathlib import Path

from bench import (
    PROMPTS,
    FakeServerProcess,
    emit,
    log,
    pipeline_resources,
    ratio,
    synthetic_products,
    table,
)

API_KEY = "sk-repair-bench"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.repair", description=__doc__)
    parser.add_argument("--products", type=int, default=14)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=0.15, help="share of defective first answers")
    parser.add_argument("--bad-repair", type=float, default=0.0, help="share of repairs that fail")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--llm-mode",
        choices=["online", "batch"],
        default="online",
        help="batch: the first answers and their repairs through the Batch API (segcopy run --wait)",
    )
    parser.add_argument("--json", action="store_true", help="last stdout line: the result as JSON")
    return parser.parse_args(argv)


def _published_failing(warehouse, settings) -> int:
    """Published rows whose text fails an ERROR rule, judged again here from the tables."""
    import polars as pl

    from segcopy_assets.quality.judge import ERROR, judge_variant

    published = pl.read_delta(warehouse.table_path("published_variants"))
    products = pl.read_delta(warehouse.table_path("products"))
    segments = {
        s["segment_id"]: s
        for s in pl.read_delta(warehouse.table_path("segment_summaries")).to_dicts()
    }
    originals = dict(zip(products["product_id"], products["description"], strict=True))
    failing = 0
    for row in published.iter_rows(named=True):
        verdicts = judge_variant(
            row["published_text"],
            "-",
            originals[row["product_id"]],
            segments[row["segment_id"]],
            settings,
        )
        failing += any(
            not v.passed and v.severity == ERROR and v.check != "rationale_present"
            for v in verdicts
        )
    return failing


def run_arm(
    tmp: Path, name: str, attempts: int, server, customers: str, products: str, mode: str
) -> dict:
    import dagster as dg
    import polars as pl

    from segcopy_assets import pipeline
    from segcopy_assets.resources import Copywriter

    copywriter = Copywriter(
        backend="openai",
        base_url=server.base_url,
        api_key=API_KEY,
        prompts_dir=str(PROMPTS),
        repair_attempts=attempts,
        mode=mode,
        batch_poll_s=1,
    )
    resources = pipeline_resources(tmp / name, customers, products, copywriter)
    server.reset()
    with dg.instance_for_test() as instance:
        report = pipeline.run_pipeline(
            instance, resources, auto_approve_passing_checks=True, wait=mode == "batch", log=log
        )
    m = report.variant_metadata
    warehouse = resources["warehouse"]
    rows = pl.read_delta(warehouse.table_path("description_variants"))
    verdicts = pl.read_delta(warehouse.table_path("variant_checks"))
    failing = verdicts.filter(~pl.col("passed") & (pl.col("severity") == "ERROR"))
    settings = resources["quality_rules"].settings(str(PROMPTS))
    sent_back = rows.filter(pl.col("first_failures").is_not_null())
    # from the tables, the same way for both modes: repaired = sent back and now passing
    repaired = sent_back.filter(~pl.col("input_hash").is_in(failing["input_hash"].to_list()))
    stats = server.stats()
    batch = mode == "batch"
    return {
        "pairs": rows.height,
        "failing_pairs": failing["input_hash"].n_unique(),
        "published": report.published,
        "published_failing": _published_failing(warehouse, settings),
        "repair_calls": int(sent_back["repair_attempts"].sum() or 0),
        "repaired": repaired.height,
        "sent_back": sent_back.height,
        # the first answers' cost (batch mode's estimate includes its repairs: taken out here)
        "cost_usd": round(
            m["estimated_cost_usd"] - (m["batch_repair_cost_usd"] if batch else 0), 6
        ),
        "repair_cost_usd": m["batch_repair_cost_usd"] if batch else m["repair_cost_usd"],
        "endpoint_calls": stats["calls"] + stats.get("batch_lines", 0),
    }


def main(argv=None) -> dict:
    args = parse_args(argv)
    from segcopy_assets.devtools.fake_openai.defective import DefectiveResponder
    from segcopy_assets.devtools.sample_data import write_sample_customers

    responder = DefectiveResponder(seed=args.seed, rate=args.rate, bad_repair=args.bad_repair)
    with (
        tempfile.TemporaryDirectory(prefix="segcopy-bench-repair-") as tmp,
        FakeServerProcess(api_key=API_KEY, responder=responder, batch_polls=1) as server,
    ):
        tmp = Path(tmp)
        customers, products = str(tmp / "customers"), str(tmp / "products")
        write_sample_customers(customers, n=args.customers)
        synthetic_products(args.products).write_delta(products)
        log("without repairs (SEGCOPY_REPAIR_ATTEMPTS=0) ...")
        off = run_arm(tmp, "off", 0, server, customers, products, args.llm_mode)
        log("with one repair (SEGCOPY_REPAIR_ATTEMPTS=1) ...")
        on = run_arm(tmp, "on", 1, server, customers, products, args.llm_mode)
    defective = on["sent_back"]
    result = {
        "llm_mode": args.llm_mode,
        "pairs": on["pairs"],
        "defect_rate_asked": args.rate,
        "bad_repair_asked": args.bad_repair,
        "defective_first_answers": defective,
        "publishable_share_without_repair": ratio(
            off["pairs"] - off["failing_pairs"], off["pairs"]
        ),
        "publishable_share_with_repair": ratio(on["pairs"] - on["failing_pairs"], on["pairs"]),
        "repaired_share": ratio(on["repaired"], defective),
        "published_failing_without_repair": off["published_failing"],
        "published_failing_with_repair": on["published_failing"],
        "calls_without_repair": off["endpoint_calls"],
        "calls_with_repair": on["endpoint_calls"],
        "repair_calls": on["repair_calls"],
        "cost_usd": on["cost_usd"],
        "repair_cost_usd": on["repair_cost_usd"],
        "target_repaired_share": 0.9,
    }
    result["target_met"] = (result["repaired_share"] or 0) >= 0.9 and on["published_failing"] == 0
    text = table(
        ["", "no repair", "one repair"],
        [
            ["pairs", off["pairs"], on["pairs"]],
            ["failing an ERROR rule", off["failing_pairs"], on["failing_pairs"]],
            ["published (auto-approve)", off["published"], on["published"]],
            ["published but failing", off["published_failing"], on["published_failing"]],
            ["calls", off["endpoint_calls"], on["endpoint_calls"]],
            ["cost of first answers", off["cost_usd"], on["cost_usd"]],
            ["cost of repairs", "-", on["repair_cost_usd"]],
        ],
    )
    text += (
        f"\n\n{defective} defective first answers, {on['repaired']} repaired into passing copy "
        f"with one attempt (share {result['repaired_share']}, target 0.9)"
    )
    emit(text, result, args.json)
    return result


if __name__ == "__main__":
    main()
