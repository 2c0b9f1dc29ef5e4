"""Acceptance sampling as a reviewer does it on the command line: `segcopy run`, `segcopy review
sample`, the sampled variants approved (one batch) or one rejected (another) through the CSV
round trip, `segcopy run` again: the accepted batch is published with its bound, the rejected
one is not."""

import csv
import re
import subprocess

import polars as pl
import pytest


@pytest.mark.slow
def test_sample_review_then_run_publishes_the_accepted_batch_only(
    tmp_path, segcopy_exe, segcopy_env, repo_root
):
    home = tmp_path / "home"

    def segcopy(*args):
        done = subprocess.run([segcopy_exe, *args], cwd=repo_root, env=segcopy_env(home),
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
        return done.stdout

    segcopy("run")
    drawn = segcopy("review", "sample", "--p", "0.2", "--c", "0.9")  # n = 11 of each segment's 14
    ids = dict(re.findall(r"batch (\w+)  segment (\S+)", drawn))
    by_segment = {seg: bid for bid, seg in ids.items()}
    assert len(by_segment) == 14 and "11 to review" in drawn

    accept, reject = by_segment["tents--core"], by_segment["e-bikes--core"]
    sample_of = {}
    for bid in (accept, reject):
        listing = segcopy("review", "list", "--batch", bid)
        sample_of[bid] = set(re.findall(r"^pending\s+(\S+)\s+(\S+)", listing, re.M))
        assert len(sample_of[bid]) == 11
    export = tmp_path / "queue.csv"
    segcopy("review", "export", "--csv", str(export))
    with export.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rejected_one = sorted(sample_of[reject])[0]
    for row in rows:
        pair = (row["segment_id"], row["product_id"])
        if pair in sample_of[accept] or pair in sample_of[reject]:
            row["decision"] = "reject" if pair == rejected_one else "approve"
    with export.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    segcopy("review", "import", "--csv", str(export), "--reviewer", "ana")

    status = segcopy("review", "sample", "--p", "0.2", "--c", "0.9")
    assert f"batch {accept}  segment tents--core" in status
    assert re.search(rf"batch {accept} .*ACCEPTED", status) and re.search(
        rf"batch {reject} .*REJECTED", status
    )
    segcopy("run")
    published = pl.read_delta(str(home / "warehouse" / "segcopy" / "published_variants"))
    tents = published.filter(pl.col("segment_id") == "tents--core")
    assert tents.height == 14
    sampled = tents.filter(pl.col("approval") == "sample")
    assert sampled.height == 3 and set(sampled["batch_id"]) == {accept}
    assert set(sampled["bound"]) == {"≤ 20 % defective at 90 % confidence"}
    ebikes = published.filter(pl.col("segment_id") == "e-bikes--core")
    assert ebikes.height == 10 and set(ebikes["approval"]) == {"approve"}  # its own approvals only
