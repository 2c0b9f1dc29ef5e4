"""The repair loop in batch mode (issue 25, point 3): a batch's answer that fails an ERROR rule
goes back in the next submission, not to the cache as it is; collecting the repairs settles
the pairs; a rerun pays for nothing twice; repairs are counted apart in the metadata."""

import shutil

import polars as pl
import pytest

from segcopy_assets.devtools.fake_openai import FakeOpenAIServer
from segcopy_assets.devtools.fake_openai.defective import DefectiveResponder
from segcopy_assets.pipeline import run_pipeline
from segcopy_assets.resources import Copywriter
from segcopy_assets.storage import batch_store
from segcopy_assets.storage.tables import (
    DESCRIPTION_VARIANTS,
    GENERATION_BATCHES,
    GENERATION_JOURNAL,
    VARIANT_CHECKS,
)

KEY = "sk-batch-repair"
PAIRS = 196
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _fast_wait(monkeypatch):
    import segcopy_assets.batch_waiting as waiting

    monkeypatch.setattr(waiting.time, "sleep", lambda _s: None)


def batch_writer(fake, prompts_dir, attempts: int) -> Copywriter:
    return Copywriter(
        backend="openai",
        base_url=fake.base_url,
        api_key=KEY,
        prompts_dir=str(prompts_dir),
        mode="batch",
        batch_poll_s=1,
        max_retries=0,
        repair_attempts=attempts,
    )


def resources_for(tmp_path, sample_tables, make_resources, prompts_dir, fake, attempts):
    root = tmp_path / "w"
    tables = {}
    for name in ("customers", "products"):
        shutil.copytree(sample_tables[name], root / name)
        tables[name] = str(root / name)
    return make_resources(root, tables, copywriter=batch_writer(fake, prompts_dir, attempts))


def read(resources, table):
    return pl.read_delta(resources["warehouse"].table_path(table))


def test_batch_answers_that_fail_are_repaired_in_the_next_submission(
    tmp_path, sample_tables, make_resources, prompts_dir, instance
):
    responder = DefectiveResponder(seed=3, rate=0.3)
    with FakeOpenAIServer(api_key=KEY, batch_polls=1, responder=responder) as fake:
        resources = resources_for(tmp_path, sample_tables, make_resources, prompts_dir, fake, 1)
        run_pipeline(instance, resources)  # submits the first answers
        assert fake.batch_create_count == 1

        run_pipeline(instance, resources)  # collects them, sends the failing back
        assert fake.batch_create_count == 2 and fake.call_count == 0
        current = batch_store.current(resources["warehouse"].table_path(GENERATION_BATCHES))
        repair = current.filter(pl.col("purpose") == "repair1").row(0, named=True)
        assert 30 <= repair["requests"] <= 90  # about 30 % of the 196 first answers
        # the repair request is the conversation: the first answer, then the reasons
        [line] = fake.batch_requests(repair["batch_id"])[:1]
        roles = [message["role"] for message in line["body"]["messages"]]
        assert roles[-2:] == ["assistant", "user"]
        # the failing answers wait in the journal, the cache does not take them
        journal = read(resources, GENERATION_JOURNAL)
        assert journal.filter(pl.col("status") == "needs_repair").height == repair["requests"]

        report = run_pipeline(instance, resources, auto_approve_passing_checks=True)
        rows = read(resources, DESCRIPTION_VARIANTS)
        assert rows.height == PAIRS and (rows["status"] == "ok").all()
        repaired = rows.filter(pl.col("first_failures").is_not_null())
        assert repaired.height == repair["requests"]
        assert repaired["repair_attempts"].unique().to_list() == [1]
        assert set(repaired["batch_id"]) == {repair["batch_id"]}
        assert (repaired["first_answer"] != repaired["raw_output"]).all()
        assert (repaired["repair_prompt_tokens"] > 0).all()
        verdicts = read(resources, VARIANT_CHECKS)
        assert verdicts.filter(~pl.col("passed") & (pl.col("severity") == "ERROR")).is_empty()
        assert report.published == PAIRS
        m = report.variant_metadata
        assert m["batch_repair_requests"] == m["batch_repaired_pairs"] == repaired.height
        assert m["batch_repair_cost_usd"] > 0
        assert m["estimated_cost_usd"] > m["batch_repair_cost_usd"]
        assert fake.batch_lines_executed == PAIRS + repaired.height and fake.call_count == 0

        run_pipeline(instance, resources)  # nothing stale: nothing sent again
        assert fake.batch_create_count == 2 and fake.call_count == 0


def test_a_batch_repair_with_a_new_defect_is_kept_for_review_not_published(
    tmp_path, sample_tables, make_resources, prompts_dir, instance
):
    responder = DefectiveResponder(seed=3, rate=0.3, bad_repair=1.0)
    with FakeOpenAIServer(api_key=KEY, batch_polls=1, responder=responder) as fake:
        resources = resources_for(tmp_path, sample_tables, make_resources, prompts_dir, fake, 1)
        report = run_pipeline(instance, resources, wait=True, auto_approve_passing_checks=True)
        assert fake.batch_create_count == 2  # the first answers, then one repair submission
    rows = read(resources, DESCRIPTION_VARIANTS)
    repaired = rows.filter(pl.col("first_failures").is_not_null())
    assert repaired.height >= 30 and (rows["status"] == "ok").all()
    failing = read(resources, VARIANT_CHECKS).filter(
        ~pl.col("passed") & (pl.col("severity") == "ERROR")
    )
    assert set(failing["input_hash"]) == set(repaired["input_hash"])
    assert report.published == PAIRS - repaired.height


def test_answers_waiting_for_a_repair_stand_as_they_are_once_repairs_are_off(
    tmp_path, sample_tables, make_resources, prompts_dir, instance
):
    responder = DefectiveResponder(seed=3, rate=0.3)
    with FakeOpenAIServer(api_key=KEY, batch_polls=1, responder=responder) as fake:
        resources = resources_for(tmp_path, sample_tables, make_resources, prompts_dir, fake, 1)
        run_pipeline(instance, resources)
        run_pipeline(instance, resources)  # collected; the failing ones sent for repair
        assert fake.batch_create_count == 2
        # the same warehouse, repairs turned off: the waiting answers are taken as they are
        off = {**resources, "copywriter": batch_writer(fake, prompts_dir, 0)}
        run_pipeline(instance, off, wait=True)
        assert fake.batch_create_count == 2 and fake.call_count == 0  # nothing paid again
    rows = read(resources, DESCRIPTION_VARIANTS)
    assert rows.height == PAIRS and (rows["status"] == "ok").all()
    assert rows["first_failures"].is_not_null().sum() >= 30
