"""Approved copy never leaves the site by accident (issue 21), as a user runs segcopy: an
unreachable endpoint writes nothing, a prompt tweak keeps every approved copy live (identical
text: the approval carried over; changed text: superseded until reviewed), and an edit that
breaks a rule is refused with its reason. (Malformed answers at scale: test_bench_faults_sloppy.)
"""

import re
import shutil
import socket
import subprocess

import polars as pl
import pytest

from segcopy_assets.devtools.fake_openai import FakeOpenAIServer, default_reply
from segcopy_assets.storage.delta import table_version

KEY = "sk-continuity-e2e"
TWEAK = "- Prefer short words."  # the line added to brand_voice.md
CHANGED = ("Basecamp 2 Backpacking Tent", "Homestead 4 Family Tent")  # written anew after it


def versions(warehouse) -> dict[str, int | None]:
    return {p.name: table_version(str(p)) for p in sorted(warehouse.iterdir()) if p.is_dir()}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tweak_aware(body):
    """The fake model: the tweak changes nothing but the two tents' copy (they get a new
    opening); every other answer is word for word what it was before the tweak."""
    user = body["messages"][-1]
    reply = default_reply({**body, "messages": [user]})  # the same answer for the same product
    if TWEAK in body["messages"][0]["content"] and any(n in user["content"] for n in CHANGED):
        return "Short words, long nights outside. " + reply
    return reply


@pytest.fixture(scope="module")
def offline_home(tmp_path_factory, segcopy_exe, segcopy_env, repo_root):
    """A SEGCOPY_HOME after `segcopy run` with the offline writer (196 ok variants), shared by
    the tests below: each checks only what its own commands change."""
    home = tmp_path_factory.mktemp("continuity") / "home"
    done = subprocess.run(
        [segcopy_exe, "run"], cwd=repo_root, env=segcopy_env(home), capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return home


@pytest.mark.slow
def test_an_unreachable_endpoint_writes_nothing_and_names_the_variable(offline_home, segcopy):
    home = offline_home
    warehouse = home / "warehouse" / "segcopy"
    before = versions(warehouse)
    down = {
        "SEGCOPY_LLM_BACKEND": "openai",
        "SEGCOPY_LLM_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1",
        "SEGCOPY_LLM_API_KEY": "sk-secret-never-shown",
    }
    for command in (["run"], ["preview", "--segment", "tents--core", "--product", "TN-100"]):
        done = segcopy(*command, home=home, env_extra=down)
        assert done.returncode == 1, done.stdout[-2000:]
        errors = done.stderr.strip().splitlines()
        assert len(errors) <= 3 and "SEGCOPY_LLM_BASE_URL" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and "sk-secret" not in done.stdout + done.stderr
    assert versions(warehouse) == before  # not a table written
    variants = pl.read_delta(str(warehouse / "description_variants"))
    assert variants.height == 196 and (variants["status"] == "ok").all()


@pytest.mark.slow
def test_a_prompt_tweak_keeps_every_approved_copy_published(tmp_path, segcopy, repo_root):
    home = tmp_path / "home"
    prompts = tmp_path / "prompts"
    shutil.copytree(repo_root / "prompts", prompts)
    warehouse = home / "warehouse" / "segcopy"
    with FakeOpenAIServer(api_key=KEY, responder=tweak_aware) as srv:
        env = {
            "SEGCOPY_LLM_BASE_URL": srv.base_url,
            "SEGCOPY_LLM_API_KEY": KEY,
            "SEGCOPY_PROMPTS_DIR": str(prompts),
        }
        assert segcopy("run", home=home, env_extra=env).returncode == 0
        approve = segcopy("review", "bulk", "approve", "--yes", home=home, env_extra=env)
        assert approve.returncode == 0, approve.stderr
        first = segcopy("run", home=home, env_extra=env)
        assert "Published: 196 variant(s)" in first.stdout, first.stdout[-2000:]
        before = pl.read_delta(str(warehouse / "published_variants"))

        voice = prompts / "brand_voice.md"
        voice.write_text(voice.read_text(encoding="utf-8") + f"\n{TWEAK}\n", encoding="utf-8")
        tweaked = segcopy("run", home=home, env_extra=env)
        assert tweaked.returncode == 0, tweaked.stdout[-2000:] + tweaked.stderr[-2000:]
        assert "196 pairs, 196 generated" in tweaked.stdout
        assert re.search(r"Published: 196 variant\(s\) \(28 superseded", tweaked.stdout)
        after = pl.read_delta(str(warehouse / "published_variants"))
        assert after.height == 196
        superseded = after.filter(pl.col("state") == "superseded")
        assert sorted(set(superseded["product_id"])) == ["TN-100", "TN-200"]
        assert superseded.height == 28
        # what is live for the changed pairs is the copy that was approved, word for word
        key = ["segment_id", "product_id"]
        old = before.join(superseded.select(key), on=key).sort(key)
        assert superseded.sort(key)["published_text"].to_list() == old["published_text"].to_list()
        carried = after.filter(pl.col("state") == "current")
        assert carried.height == 168 and set(carried["approval"]) == {"approve"}
        log = pl.read_delta(str(warehouse / "variant_reviews"))
        assert log.filter(pl.col("carried_from").is_not_null()).height == 168

        # the review queue puts the superseded pairs first; approving one makes it current
        queue = segcopy("review", "list", "--status", "pending", home=home, env_extra=env)
        first_lines = queue.stdout.splitlines()[:28]
        assert all(" TN-100 " in line or " TN-200 " in line for line in first_lines), queue.stdout
        decided = segcopy("review", "approve", "tents--core", "TN-100", home=home, env_extra=env)
        assert decided.returncode == 0, decided.stderr
        segcopy("run", home=home, env_extra=env)
        final = pl.read_delta(str(warehouse / "published_variants"))
        row = final.filter(
            (pl.col("segment_id") == "tents--core") & (pl.col("product_id") == "TN-100")
        )
        assert row["state"].to_list() == ["current"]
        assert row["published_text"][0].startswith("Short words, long nights outside.")


@pytest.mark.slow
def test_an_edit_that_breaks_a_rule_is_refused_with_its_reason(offline_home, tmp_path, segcopy):
    home = offline_home
    warehouse = home / "warehouse" / "segcopy"
    variants = pl.read_delta(str(warehouse / "description_variants"))
    text = variants.filter(
        (pl.col("segment_id") == "tents--core") & (pl.col("product_id") == "TN-100")
    )["variant_text"][0]
    offer = tmp_path / "offer.txt"
    offer.write_text(text + " Now 30% off with free shipping.", encoding="utf-8")
    log_version = table_version(str(warehouse / "variant_reviews"))

    refused = segcopy(
        "review", "edit", "tents--core", "TN-100", "--text-file", str(offer), home=home
    )
    assert refused.returncode == 1 and "no_invented_offers" in refused.stderr, refused.stderr
    assert "--force" in refused.stderr and "Traceback" not in refused.stderr
    assert table_version(str(warehouse / "variant_reviews")) == log_version  # nothing written

    forced = segcopy(
        "review", "edit", "tents--core", "TN-100", "--text-file", str(offer), "--force", home=home
    )
    assert forced.returncode == 0 and "NOT published" in forced.stdout, forced.stderr
    listed = segcopy("review", "list", "--segment", "tents--core", "--product", "TN-100", home=home)
    assert "failed" in listed.stdout and "edited text fails no_invented_offers" in listed.stdout
    run = segcopy("run", home=home)
    assert run.returncode == 0, run.stderr[-2000:]
    published = pl.read_delta(str(warehouse / "published_variants"))
    assert published.filter(pl.col("product_id") == "TN-100").is_empty()
    withheld = segcopy("review", "list", "--withheld", "--segment", "tents--core", home=home)
    line = next(x for x in withheld.stdout.splitlines() if " TN-100 " in x)
    assert "edited text fails no_invented_offers" in line and '"30% off"' in line
