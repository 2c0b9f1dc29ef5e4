"""``generation.batch_repairs``: how one repair of a batch answer settles its pair."""

from segcopy_assets.generation import batch_repairs as br


def first_answer() -> dict:
    row = {
        "input_hash": "h1",
        "variant_text": "Free shipping on it.",
        "rationale": "r",
        "raw_output": "Free shipping on it.\n\n**Rationale:** r",
        "status": "ok",
        "error": None,
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "batch_id": "batch_1",
    }
    return br.pending_row(row, ["no_invented_offers: free shipping", "facts_preserved: 8 kg"])


def answer(text: str, status: str = "ok") -> dict:
    return {
        "input_hash": "h1",
        "variant_text": text,
        "rationale": "r",
        "raw_output": f"{text}\n\n**Rationale:** r",
        "status": status,
        "error": None if status == "ok" else "no rationale",
        "prompt_tokens": 180,
        "completion_tokens": 60,
        "batch_id": "batch_2",
    }


def test_a_failing_first_answer_waits_with_its_reasons():
    row = first_answer()
    assert row["status"] == br.NEEDS_REPAIR and row["repair_attempts"] == 0
    assert br.current_reasons(row) == ["no_invented_offers: free shipping", "facts_preserved: 8 kg"]
    assert row["first_failures"] == "no_invented_offers: free shipping; facts_preserved: 8 kg"


def test_a_repair_that_passes_settles_the_pair_with_its_first_answer_and_costs_apart():
    settled = br.settle(first_answer(), answer("Clean copy."), [], attempts=1)
    assert settled["status"] == "ok" and settled["error"] is None
    assert settled["variant_text"] == "Clean copy." and settled["batch_id"] == "batch_2"
    assert settled["first_answer"].startswith("Free shipping") and settled["repair_attempts"] == 1
    assert (settled["prompt_tokens"], settled["completion_tokens"]) == (100, 50)
    assert (settled["repair_prompt_tokens"], settled["repair_completion_tokens"]) == (180, 60)


def test_a_repair_that_still_fails_waits_for_the_next_attempt_or_stands_when_none_is_left():
    again = br.settle(first_answer(), answer("Still free."), ["no_invented_offers: free"], 2)
    assert again["status"] == br.NEEDS_REPAIR and again["repair_attempts"] == 1
    assert br.current_reasons(again) == ["no_invented_offers: free"]
    assert again["first_failures"].startswith("no_invented_offers: free shipping")
    last = br.settle(again, answer("Free again."), ["no_invented_offers: free"], 2)
    assert last["status"] == "ok" and last["variant_text"] == "Free again."
    assert last["repair_attempts"] == 2 and last["repair_prompt_tokens"] == 360


def test_a_failed_or_unusable_repair_keeps_the_answer_before_it():
    failed_call = br.settle(first_answer(), None, None, attempts=3)
    assert failed_call["status"] == "ok" and failed_call["variant_text"] == "Free shipping on it."
    assert failed_call["repair_attempts"] == 1
    unusable = br.settle(first_answer(), answer("", status="failed"), None, attempts=2)
    assert unusable["status"] == br.NEEDS_REPAIR
    assert unusable["variant_text"] == "Free shipping on it." and unusable["repair_attempts"] == 1
    spent = br.settle(first_answer(), answer("", status="failed"), None, attempts=1)
    assert spent["status"] == "ok" and spent["variant_text"] == "Free shipping on it."


def test_a_repair_submission_is_keyed_by_pair_attempt_and_reasons():
    row = first_answer()
    other = {**row, "error": "whole_segment_voice: persona"}
    later = {**row, "repair_attempts": 1}
    keys = {br.repair_key_ids([r])[0] for r in (row, other, later)}
    assert len(keys) == 3 and br.repair_key_ids([row]) == br.repair_key_ids([dict(row)])
    assert br.purpose_attempt(br.purpose(2)) == 2 and br.purpose_attempt(None) == 0
