"""generation_batches: append-only state rows, the current view, coverage (storage/batch_store.py)."""

from datetime import UTC, datetime, timedelta

import pytest

from segcopy_assets.storage import batch_store


def _pair(h: str, segment: str = "s1") -> dict:
    return {
        "input_hash": h,
        "segment_id": segment,
        "product_id": "p",
        "summary_hash": "x",
        "content_hash": "y",
    }


def test_current_takes_the_highest_state_and_the_latest_values(tmp_path):
    path = str(tmp_path / "generation_batches")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    ids = {"batch_key": "k-0", "request_key": "k", "part": 0}
    batch_store.append(
        path,
        [
            {
                **ids,
                "state": "intent",
                "requests": 2,
                "pairs": [_pair("a"), _pair("b")],
                "segment_ids": ["s1"],
                "recorded_at": t0,
            },
            {
                **ids,
                "state": "submitted",
                "batch_id": "batch_1",
                "recorded_at": t0 + timedelta(seconds=1),
            },
            # the sensor's late "in_progress" after a run already collected: progress never moves back
            {
                **ids,
                "state": "collected",
                "completed": 1,
                "failed": 1,
                "line_errors": [{"input_hash": "b", "error": "x"}],
                "recorded_at": t0 + timedelta(seconds=2),
            },
            {
                **ids,
                "state": "in_progress",
                "completed": 0,
                "recorded_at": t0 + timedelta(seconds=3),
            },
        ],
    )
    batch_store.append(
        path,
        [
            {
                "batch_key": "k2-0",
                "request_key": "k2",
                "part": 0,
                "state": "intent",
                "pairs": [_pair("c", "s2")],
            }
        ],
    )
    current = batch_store.current(path)
    assert current.height == 2
    row = current.filter(current["batch_key"] == "k-0").row(0, named=True)
    assert row["state"] == "collected" and row["batch_id"] == "batch_1" and row["requests"] == 2
    assert batch_store.pair_hashes(row) == ["a", "b"]
    assert row["line_errors"] == [{"input_hash": "b", "error": "x"}]
    assert set(batch_store.covering(current, {"c", "zzz"})["batch_key"]) == {"k2-0"}
    assert set(batch_store.covering(current, {"a", "c"})["batch_key"]) == {"k-0", "k2-0"}
    assert batch_store.covering(current, set()).is_empty()
    assert "batch_1 collected 1/2" in batch_store.summary(current)
    # nothing to poll: k-0 is collected, k2-0 an intent without an id
    assert batch_store.submitted_open(current).is_empty()
    batch_store.append(path, [{"batch_key": "k2-0", "state": "in_progress", "batch_id": "b2"}])
    assert batch_store.submitted_open(batch_store.current(path))["batch_id"].to_list() == ["b2"]


def test_unknown_state_is_refused_and_no_table_reads_empty(tmp_path):
    path = str(tmp_path / "generation_batches")
    assert batch_store.current(path).is_empty()
    with pytest.raises(ValueError, match="unknown batch state"):
        batch_store.append(path, [{"batch_key": "k", "state": "done"}])
    assert batch_store.current(path).is_empty()
