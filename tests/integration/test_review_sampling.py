"""Acceptance sampling through the pipeline: draw batches, review their samples, publish."""

import polars as pl

from segcopy_assets.core.sampling import SamplingPlan
from segcopy_assets.pipeline import run_pipeline
from segcopy_assets.review.batches import batches, draw_batches
from segcopy_assets.review.bulk import BulkFilter, decide_all, select
from segcopy_assets.review.service import ReviewTables, decide, review_queue


def tables_of(resources) -> ReviewTables:
    return ReviewTables.under(resources["warehouse"].table_path("x").rsplit("/", 1)[0])


def names(tables, hashes):
    queue = review_queue(tables)
    return [
        tuple(r)
        for r in queue.filter(pl.col("input_hash").is_in(hashes))
        .select("segment_id", "product_id")
        .iter_rows()
    ]


def test_an_accepted_sample_publishes_its_batch_and_a_rejected_one_nothing(
    tmp_path, sample_tables, make_resources, instance
):
    resources = make_resources(tmp_path, sample_tables)
    run_pipeline(instance, resources)
    tables = tables_of(resources)
    plan = SamplingPlan(p=0.2, c=0.9)  # n = 11 of a segment's 14 variants
    drawn = {b.segment_id: b for b in draw_batches(tables, plan, reviewer="ana")}
    assert len(drawn) == 14 and all(len(b.sample) == 11 for b in drawn.values())
    again = {b.segment_id: b for b in draw_batches(tables, plan, reviewer="bo")}
    assert {s: b.sample for s, b in again.items()} == {s: b.sample for s, b in drawn.items()}

    accepted, rejected, edited = (
        drawn["tents--core"],
        drawn["e-bikes--core"],
        drawn["road-bikes--core"],
    )
    for seg, prod in names(tables, accepted.sample):
        decide(tables, seg, prod, "approve", reviewer="ana")
    first, *rest = names(tables, rejected.sample)
    decide(tables, *first, "reject", reviewer="ana", note="too pushy")
    for seg, prod in rest:
        decide(tables, seg, prod, "approve", reviewer="ana")
    seg, prod = names(tables, edited.sample)[0]
    decide(
        tables,
        seg,
        prod,
        "edit",
        reviewer="ana",
        edited_text=review_queue(tables).filter(
            (pl.col("segment_id") == seg) & (pl.col("product_id") == prod)
        )["variant_text"][0],
    )
    for s, p in names(tables, edited.sample)[1:]:
        decide(tables, s, p, "approve", reviewer="ana")

    states = {b.segment_id: b.outcome.state for b in batches(tables)}
    assert (states["tents--core"], states["e-bikes--core"], states["road-bikes--core"]) == (
        "accepted", "rejected", "rejected")  # fmt: skip

    report = run_pipeline(instance, resources)
    published = pl.read_delta(resources["warehouse"].table_path("published_variants"))
    tents = published.filter(pl.col("segment_id") == "tents--core")
    assert tents.height == 14  # the whole batch: 11 reviewed, 3 by the sample
    by_sample = tents.filter(pl.col("approval") == "sample")
    assert by_sample.height == 3
    assert set(by_sample["batch_id"]) == {accepted.batch_id}
    assert set(by_sample["sample_size"]) == {11} and set(by_sample["sample_rejections"]) == {0}
    assert set(by_sample["bound"]) == {"≤ 20 % defective at 90 % confidence"}
    ebikes = published.filter(pl.col("segment_id") == "e-bikes--core")
    assert (
        ebikes.height == 10 and "sample" not in ebikes["approval"].to_list()
    )  # only its own approvals
    road = published.filter(pl.col("segment_id") == "road-bikes--core")
    assert road.height == 11 and "sample" not in road["approval"].to_list()  # edit + 10 approvals
    assert report.published == published.height


def test_a_regenerated_variant_leaves_its_batch(
    tmp_path, sample_tables, make_resources, instance, prompts_dir
):
    resources = make_resources(tmp_path, sample_tables)
    run_pipeline(instance, resources)
    tables = tables_of(resources)
    [batch] = draw_batches(
        tables, SamplingPlan(p=0.2, c=0.9), reviewer="ana", segment="tents--core"
    )
    decide_all(
        tables,
        select(tables, BulkFilter(batch=batch.batch_id)).filter(
            pl.col("input_hash").is_in(batch.sample)
        ),
        "approve",
        reviewer="ana",
    )
    assert batches(tables)[0].outcome.state == "accepted"
    # change one product's description: its variants get new input hashes
    products = pl.read_delta(sample_tables["products"])
    changed = products.with_columns(
        pl.when(pl.col("product_id") == "TN-100").then(pl.col("description") + " It is green.")
        .otherwise(pl.col("description")).alias("description"))  # fmt: skip
    path = tmp_path / "products_changed"
    changed.write_delta(str(path))
    from segcopy_assets.resources import ProductRepository

    resources = {**resources, "product_repository": ProductRepository(path=str(path))}
    run_pipeline(instance, resources)
    published = pl.read_delta(resources["warehouse"].table_path("published_variants"))
    tents = published.filter(pl.col("segment_id") == "tents--core")
    assert "TN-100" not in tents["product_id"].to_list()  # regenerated: needs a review of its own
    assert tents.height == 13


def test_bulk_decisions_select_by_filter_and_record_one_row_each(
    tmp_path, sample_tables, make_resources, instance
):
    resources = make_resources(tmp_path, sample_tables)
    run_pipeline(instance, resources)
    tables = tables_of(resources)
    rows = select(tables, BulkFilter(segment="tents--core", checks="passing"))
    assert rows.height == 14
    assert decide_all(tables, rows, "approve", reviewer="ana", note="bulk") == 14
    assert select(tables, BulkFilter(segment="tents--core", status="approved")).height == 14
    assert (
        decide_all(tables, rows.head(2), "reject", reviewer="bo") == 2
    )  # an undo: a later decision
    assert select(tables, BulkFilter(segment="tents--core", status="rejected")).height == 2
    log = pl.read_delta(tables.reviews)
    assert log.height == 16 and set(log["reviewer"]) == {"ana", "bo"}
