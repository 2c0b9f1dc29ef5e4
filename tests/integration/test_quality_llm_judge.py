"""The optional LLM judge end to end: the pipeline with the judge on, against the fake
OpenAI-compatible endpoint scripting the judge's answers (right, a quote that is not in the
text, malformed JSON, timeouts), its verdicts in variant_checks and the llm_judge asset check,
publication held back only by quoted failures, and a rerun that pays for nothing."""

import json

import dagster as dg
import polars as pl

from segcopy_assets.devtools.fake_openai import (
    FakeOpenAIServer,
    default_reply,
    is_judge_request,
    judge_reply,
    judged_copy,
)
from segcopy_assets.pipeline import run_pipeline
from segcopy_assets.resources import Judge
from segcopy_assets.review.service import ReviewTables, decide
from segcopy_assets.storage.tables import VARIANT_CHECKS, VERDICT_SCHEMA


def scripted_judge(body):
    """The judge's answer by product: Basecamp 2 fails with a real quote, Homestead 4 with a
    quote that is not in the copy, Alpine 20 gets prose instead of JSON, the rest pass."""
    if not is_judge_request(body):
        return default_reply(body)
    copy = judged_copy(body)
    user = body["messages"][1]["content"]
    if "The Basecamp 2" in user:
        quote = " ".join(copy.split()[:4])
        return judge_reply({"whole_segment_voice": (quote, "copy")})
    if "The Homestead 4" in user:
        return judge_reply({"no_invented_offers": ("free shipping on every order", "copy")})
    if "The Alpine 20" in user:
        return "Looks good to me, publish it!"
    return judge_reply()


def judge_rows(resources) -> pl.DataFrame:
    path = resources["warehouse"].table_path(VARIANT_CHECKS)
    return (
        pl.read_delta(path)
        .select(list(VERDICT_SCHEMA))
        .filter(pl.col("check") == "llm_judge")
        .sort("segment_id", "product_id")
    )


def test_judge_verdicts_publication_and_a_rerun_that_pays_nothing(
    tmp_path, sample_tables, make_resources, prompts_dir, instance
):
    with FakeOpenAIServer(responder=scripted_judge) as srv:
        judge = Judge(
            model="gpt-4o-mini", base_url=srv.base_url, api_key="k",
            prompts_dir=str(prompts_dir), timeout_s=2.0, max_retries=0,
        )  # fmt: skip
        resources = {**make_resources(tmp_path, sample_tables), "judge": judge}
        # two judge calls of one product time out (no retries); which two segments depends on
        # the order calls arrive in, nothing asserted below does
        srv.hang_when(
            lambda body: (
                is_judge_request(body) and "The Scree Low" in body["messages"][1]["content"]
            ),
            count=2,
            seconds=6,
        )
        report = run_pipeline(instance, resources)
        first_calls = srv.success_count

        rows = judge_rows(resources)
        assert rows.height == 196  # one llm_judge verdict per ok variant
        basecamp = rows.filter(pl.col("product_id") == "TN-100")
        assert basecamp["severity"].unique().to_list() == ["ERROR"]
        assert not basecamp["passed"].any()
        assert basecamp["reason"].str.contains('whole_segment_voice: "').all()
        homestead = rows.filter(pl.col("product_id") == "TN-200")
        assert set(homestead["reason"]) == {"judge gave no evidence for no_invented_offers"}
        assert set(homestead["severity"]) == {"WARN"}
        alpine = rows.filter(pl.col("product_id") == "SB-100")
        assert alpine["reason"].str.contains("not the JSON asked for").all()
        timed_out = rows.filter(pl.col("reason").str.starts_with("not judged"))
        assert timed_out.height == 2 and set(timed_out["severity"]) == {"WARN"}

        meta = report.variant_metadata
        assert meta["llm_judge"] == "gpt-4o-mini"
        assert meta["judge_calls"] == 194 and meta["judge_failed"] == 2
        assert meta["judge_prompt_tokens"] > 0 and meta["judge_completion_tokens"] > 0
        assert report.check_results["llm_judge"] is False

        # Only a quoted failure holds copy back: approve both tents of one segment.
        tables = ReviewTables.under(resources["warehouse"].table_path("x").rsplit("/", 1)[0])
        decide(tables, "tents--core", "TN-100", "approve", reviewer="ana")
        decide(tables, "tents--core", "TN-200", "approve", reviewer="ana")
        second = run_pipeline(instance, resources)
        published = pl.read_delta(resources["warehouse"].table_path("published_variants"))
        assert published.filter(pl.col("segment_id") == "tents--core")["product_id"].to_list() == [
            "TN-200"
        ]
        # only the two that timed out: their segments are stale (a failed call carries no rules
        # hash); every other variant keeps its stored verdicts, the judge is not even asked
        assert second.variant_metadata["judge_calls"] == 2
        assert second.variant_metadata["variants_judged"] == 2
        assert second.variant_metadata["segments_run"] <= 2

        # requests received, counted on arrival: the hung calls may still be answering (nobody
        # listens) while the third run goes, so their answers cannot move this count
        received = srv.call_count
        third = run_pipeline(instance, resources)
        assert third.variant_metadata["judge_calls"] == 0
        assert srv.call_count == received  # the third run sent nothing
        assert first_calls >= 194


def test_llm_judge_check_is_error_only_when_quoted(
    tmp_path, sample_tables, make_resources, prompts_dir, instance
):
    """The copy_quality check takes the severity of the judge's verdicts: unquoted failures
    alone are WARN."""

    def unquoted_only(body):
        if is_judge_request(body):
            return judge_reply({"no_refusal": ("I cannot help", "copy")})
        return default_reply(body)

    with FakeOpenAIServer(responder=unquoted_only) as srv:
        judge = Judge(
            model="gpt-4o-mini", base_url=srv.base_url, api_key="k", prompts_dir=str(prompts_dir)
        )
        resources = {**make_resources(tmp_path, sample_tables), "judge": judge}
        run_pipeline(instance, resources)
    key = dg.AssetCheckKey(dg.AssetKey("description_variants"), "copy_quality")
    history = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)
    evaluation = history[0].event.dagster_event.asset_check_evaluation_data
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    rows = judge_rows(resources)
    assert set(rows["severity"]) == {"WARN"} and not rows["passed"].any()


def test_judge_off_costs_nothing_and_says_so(tmp_path, sample_tables, make_resources, instance):
    report = run_pipeline(instance, make_resources(tmp_path, sample_tables))
    assert report.variant_metadata["llm_judge"].startswith("off")
    assert "llm_judge" not in report.check_results  # off: not run, not counted (11 checks)
    assert judge_rows(make_resources(tmp_path, sample_tables)).is_empty()
    json.dumps(report.variant_metadata, default=str)
