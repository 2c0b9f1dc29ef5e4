"""Calibration from reviewers: disagreements between decisions and checks are counted per
prompt hash and check (CLI and review page) and exported as corpus cases."""

import polars as pl
from starlette.testclient import TestClient

from segcopy_assets.devtools.fake_openai import FakeOpenAIServer, default_reply
from segcopy_assets.pipeline import run_pipeline
from segcopy_assets.quality.corpus import load_cases, write_cases
from segcopy_assets.resources import Copywriter
from segcopy_assets.review.calibration import ALL_CHECKS, calibration_stats, disagreement_cases
from segcopy_assets.review.service import ReviewTables, decide
from segcopy_assets.review.web.app import create_app


def offer_for_tents(body):
    """Copy with an invented discount for the Basecamp 2, the default reply otherwise."""
    reply = default_reply(body)
    if "The Basecamp 2" in body["messages"][1]["content"]:
        copy, rationale = reply.split("\n\n**Rationale:**", 1)
        return f"{copy} Now 20% off this week.\n\n**Rationale:**{rationale}"
    return reply


def test_missed_defects_and_false_alarms_are_counted_exported_and_shown(
    tmp_path, sample_tables, make_resources, prompts_dir, instance
):
    with FakeOpenAIServer(responder=offer_for_tents) as srv:
        copywriter = Copywriter(
            backend="openai", base_url=srv.base_url, api_key="k", prompts_dir=str(prompts_dir)
        )
        resources = make_resources(tmp_path, sample_tables, copywriter=copywriter)
        run_pipeline(instance, resources)
    tables = ReviewTables.under(resources["warehouse"].table_path("x").rsplit("/", 1)[0])
    decide(tables, "tents--core", "TN-100", "approve", reviewer="ana")  # fails no_invented_offers
    decide(tables, "tents--core", "TN-200", "reject", reviewer="bo", note="too long-winded")
    decide(tables, "tents--core", "SB-100", "approve", reviewer="ana")  # agreement

    stats = calibration_stats(tables)
    [prompt_hash] = stats["prompt_hash"].unique().to_list()
    total = stats.filter(pl.col("check") == ALL_CHECKS).row(0, named=True)
    assert (
        total["reviewed"],
        total["rejected_or_edited"],
        total["missed"],
        total["false_alarms"],
    ) == (3, 1, 1, 1)
    offers = stats.filter(pl.col("check") == "no_invented_offers").row(0, named=True)
    assert (offers["failed"], offers["false_alarms"]) == (1, 1)

    cases = disagreement_cases(tables)
    by_product = {c.product_id: c for c in cases}
    assert set(by_product) == {"TN-100", "TN-200"}
    assert (
        by_product["TN-200"].label == "bad" and by_product["TN-200"].defect_class == "unclassified"
    )
    assert "too long-winded" in by_product["TN-200"].note
    assert (
        by_product["TN-100"].label == "good" and "no_invented_offers" in by_product["TN-100"].note
    )
    assert (
        by_product["TN-100"].original
        and by_product["TN-100"].segment["segment_id"] == "tents--core"
    )
    path = tmp_path / "disagreements.jsonl"
    write_cases(path, cases)
    assert [c.id for c in load_cases(path)] == [c.id for c in cases]  # the corpus format

    with TestClient(create_app(tables, "ana"), base_url="http://127.0.0.1") as client:
        page = client.get("/stats")
        queue = client.get("/queue")
    assert page.status_code == 200
    assert f"Prompt {prompt_hash}" in page.text
    assert "missed by every check: <strong>1</strong>" in page.text
    assert queue.text.count('href="/stats"') == 1
