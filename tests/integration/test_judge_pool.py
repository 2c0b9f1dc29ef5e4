"""The judge pool (a spawned worker judging variants as they complete) gives exactly the
verdicts of in-process judging."""

import polars as pl

from segcopy_assets.core.segments import SegmentationSpec, compute_segment_summaries
from segcopy_assets.devtools.sample_data import generate_customers
from segcopy_assets.devtools.sample_products import sample_products_frame
from segcopy_assets.quality.judge import CheckSettings, judge_partition
from segcopy_assets.quality.judge_pool import JudgePool


def test_pool_verdicts_equal_in_process_verdicts():
    products = sample_products_frame()
    originals = dict(zip(products["product_id"], products["description"]))
    customers = pl.concat(generate_customers(n=3000, seed=3))
    segment = compute_segment_summaries(customers.lazy(), SegmentationSpec()).row(0, named=True)
    rows = []
    for k, (pid, text) in enumerate(originals.items()):
        copy = text if k % 3 else "Now 20% off! " + text  # some fail no_invented_offers
        rows.append(
            {
                "segment_id": "s1",
                "product_id": pid,
                "input_hash": f"h{k}",
                "variant_text": copy,
                "rationale": "Because the segment rides in California.",
                "status": "ok",
                "error": None,
            }
        )
    settings = CheckSettings()
    with JudgePool(originals, {"s1": segment}, settings, "R") as pool:
        for row in rows:
            pool.add(row)
        pooled = pool.verdicts()
    in_process = judge_partition(
        pl.DataFrame(rows),
        [("s1", p) for p in originals],
        originals,
        {"s1": segment},
        settings,
        rules_hash="R",
    ).filter(~pl.col("check").is_in(["coverage", "well_formed"]))
    key = ["product_id", "check"]
    assert pooled.height == in_process.height == len(rows) * 9
    assert pooled.sort(key).equals(in_process.sort(key))
    assert not pooled.filter(pl.col("check") == "no_invented_offers")["passed"].all()
