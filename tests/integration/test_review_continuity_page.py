"""The review page and publication continuity (issue 21), over HTTP: an edit that fails the ERROR
rules is refused (or recorded with force, never shown as approved), superseded copy is badged,
explained and reviewed first, and failed generations are shown with a Retry for parked pairs.

The app runs on crafted tables (``make_review_tables``: ``s1/P1``, ``s1/P2``, ``s2/P1``) under
Starlette's TestClient. A pair is parked when its generation failed ``max_attempts`` times with
the inputs a run would use now; those inputs come from the prompt set, so the tests stand in
``expected_pairs`` with the hashes the variant rows attempted (everything else is the real
``pending_failures`` / ``failing_pairs`` / ``retry_parked``).
"""

import html as html_module
import re
from datetime import UTC, datetime

import polars as pl
import pytest
from argon2 import PasswordHasher
from deltalake import write_deltalake
from starlette.testclient import TestClient

from segcopy_assets.generation import freshness
from segcopy_assets.review import users as review_users
from segcopy_assets.review.service import review_queue
from segcopy_assets.review.web import auth as signin
from segcopy_assets.review.web.app import create_app
from segcopy_assets.storage import retry_requests, variant_store
from segcopy_assets.storage import review_log as reviews
from segcopy_assets.storage.tables import PUBLISHED_SCHEMA, VARIANT_SCHEMA

FAILING_EDIT = "Built for speed. <b>Free shipping</b> today only!"
LAST_ERROR = "the answer had no Rationale <section>"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def tables(tmp_path, make_review_tables):
    return make_review_tables(tmp_path / "warehouse" / "segcopy")


@pytest.fixture
def client(tables):
    app = create_app(tables, "ana")
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as c:
        c.app_state = app.state
        yield c


def form_fields(html: str, form_id: str) -> dict:
    form = re.search(rf'<form[^>]*id="{form_id}".*?</form>', html, re.S).group(0)
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def variant_links(html: str) -> list[str]:
    return re.findall(r'class="open" href="/variant/([^"?]+)', html)


def queue_row(html: str, pair: str) -> str:
    return re.search(rf'<tr>(?:(?!</tr>).)*href="/variant/{pair}[?"].*?</tr>', html, re.S).group(0)


def logged(tables) -> list[tuple]:
    if not variant_store.table_exists(tables.reviews):
        return []
    return reviews.read_reviews(tables.reviews).select("product_id", "decision").rows()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def publish(tables, superseded: dict[tuple[str, str], datetime]) -> None:
    """A ``published_variants`` table: the given pairs superseded since the given times (their
    live copy is an older variant's), every other pair current."""
    rows = []
    for s, p in [("s1", "P1"), ("s1", "P2"), ("s2", "P1")]:
        since = superseded.get((s, p))
        rows.append(
            {
                "segment_id": s,
                "product_id": p,
                "published_text": f"Old approved copy of {s}/{p} <i>live</i>.",
                "input_hash": f"h-old-{s}-{p}" if since else f"h-{s}-{p}",
                "approval": "approve",
                "reviewer": "bo",
                "state": "superseded" if since else "current",
                "superseded_at": since,
                "superseded_by": f"h-{s}-{p}" if since else None,
            }
        )
    frame = pl.DataFrame(rows, schema=PUBLISHED_SCHEMA)
    write_deltalake(tables.published, frame.to_arrow(), mode="overwrite")


def fail_generation(tables, segment: str, product: str, attempts: int, kept: bool = True) -> None:
    """The pair's latest generation failed ``attempts`` times: its ok row kept beside the failure
    (``kept``), or a ``failed`` row that never generated."""
    rows = variant_store.read_segments(tables.variants, [segment])
    mine = (pl.col("product_id") == product) & (pl.col("segment_id") == segment)
    failure = {
        "attempts": attempts,
        "attempted_hash": f"h-{segment}-{product}-new" if kept else f"h-{segment}-{product}",
        "last_error": LAST_ERROR,
        "last_attempt_at": at("2026-11-02T09:30:00"),
    }
    if not kept:
        failure |= {"status": "failed", "error": LAST_ERROR, "variant_text": None}
    rows = rows.with_columns(
        pl.when(mine).then(pl.lit(v, VARIANT_SCHEMA[c])).otherwise(pl.col(c)).alias(c)
        for c, v in failure.items()
    )
    variant_store.replace_segments(tables.variants, rows, [segment])


@pytest.fixture
def wanted_now(tables, monkeypatch):
    """A run would generate every pair with the inputs its row last attempted (so a pair that
    failed ``max_attempts`` times is parked, unless someone asked for a retry since)."""

    def expected_pairs(summaries, products, prompt_hash, pairing="all"):
        rows = variant_store.read_segments(tables.variants)
        return rows.select(
            "segment_id",
            "product_id",
            pl.coalesce("attempted_hash", "input_hash").alias("input_hash"),
        )

    monkeypatch.setattr(freshness, "expected_pairs", expected_pairs)


def retry_log(tables) -> list[tuple]:
    return (
        retry_requests.read_requests(tables.retries)
        .select("segment_id", "product_id", "input_hash", "requested_by")
        .rows()
    )


# ---------------------------------------------------------------------------------------------
# edits that fail the ERROR rules


def test_a_failing_edit_is_refused_with_its_reasons_and_the_text_kept(client, tables):
    token = client.app_state.csrf_token
    approve = {"csrf_token": token, "decision": "approve", "input_hash": "h-s1-P2"}
    assert client.post("/variant/s1/P2/decide", data=approve).status_code == 303
    fields = form_fields(client.get("/variant/s1/P1?segment=s1").text, "edit-form")
    assert fields["q_segment"] == "s1"
    answer = client.post(
        "/variant/s1/P1/decide",
        data={**fields, "edited_text": FAILING_EDIT, "note": "shorter <please>"},
    )
    assert answer.status_code == 400
    page = answer.text
    # the variant page again, not the message page
    assert 'id="decision-form"' in page and 'id="edit-refused"' in page
    assert 'class="message"' not in page
    refused = re.search(r'id="edit-refused".*?</div>', page, re.S).group(0)
    text = html_module.unescape(refused)
    assert "fails 2 rules and was" in text and "not</strong> recorded" in text
    assert 'no_invented_offers: offer claims not in the original: "Free shipping"' in text
    assert "facts_preserved: missing facts" in text
    # above the edit form, the panel open, the text and the note kept (escaped), force offered
    assert page.index('id="edit-refused"') < page.index('id="edit-form"')
    assert re.search(r'<details class="edit" id="edit-panel" open>', page)
    assert "&lt;b&gt;Free shipping&lt;/b&gt; today only!</textarea>" in page
    assert 'value="shorter &lt;please&gt;"' in page
    assert re.search(r'<input type="checkbox" name="force" value="1" id="force">', page)
    assert "Record it anyway: it will not be published" in page
    assert form_fields(page, "edit-form")["q_segment"] == "s1"  # the queue filters kept
    # nothing written; the plain page offers no force
    assert logged(tables) == [("P2", "approve")]
    assert 'name="force"' not in client.get("/variant/s1/P1").text


def test_a_forced_failing_edit_is_recorded_and_never_shown_as_approved(client, tables):
    fields = form_fields(client.get("/variant/s1/P1").text, "edit-form")
    answer = client.post(
        "/variant/s1/P1/decide", data={**fields, "edited_text": FAILING_EDIT, "force": "1"}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/variant/s1/P2?decided_segment=s1&decided_product=P1"
    banner = client.get(answer.headers["location"]).text
    assert "✓ Edited, failing: not published: s1 / P1, recorded by ana" in banner
    log = reviews.read_reviews(tables.reviews)
    assert log.select("product_id", "decision", "edited_text", "edit_failed_checks").rows() == [
        ("P1", "edit", FAILING_EDIT, "facts_preserved, no_invented_offers")
    ]
    row = review_queue(tables).filter(pl.col("product_id") == "P1", pl.col("segment_id") == "s1")
    assert row["review_status"][0] == "failed"

    queue = client.get("/queue").text
    mine = queue_row(queue, "s1/P1")
    assert "Edited, failing: not published" in mine and "Approved" not in mine
    assert "edited text fails facts_preserved, no_invented_offers" in mine
    assert variant_links(client.get("/queue?status=approved").text) == []

    page = client.get("/variant/s1/P1").text
    status = re.search(r'<span class="badge[^"]*" id="status">([^<]*)<', page).group(1)
    assert status == "Edited, failing: not published"
    assert "Edited &amp; approved" not in page and ">Approved<" not in page
    assert "Edited text, failing: not published" in page
    assert "published instead of the variant" not in page
    reasons = html_module.unescape(re.search(r'id="edit-failing".*?</div>', page, re.S).group(0))
    assert 'no_invented_offers: offer claims not in the original: "Free shipping"' in reasons
    assert "facts_preserved: missing facts" in reasons
    history = re.search(r'<ol class="history".*?</ol>', page, re.S).group(0)
    assert "Edited, failing: not published" in history
    assert "fails facts_preserved, no_invented_offers" in history


def test_an_edit_that_passes_needs_no_force_and_is_approved(client, tables):
    fields = form_fields(client.get("/variant/s1/P1").text, "edit-form")
    good = "Made for riders. The Aero weighs 8.1 kg. It has a Shimano 105 groupset with 12 speeds."
    answer = client.post("/variant/s1/P1/decide", data={**fields, "edited_text": good})
    assert answer.status_code == 303
    page = client.get("/variant/s1/P1").text
    assert "Edited &amp; approved" in page and 'id="edit-failing"' not in page
    assert reviews.read_reviews(tables.reviews)["edit_failed_checks"].to_list() == [None]
    # the product's description changes: the edit that passed now drops a fact, and the queue
    # says what publication will do (it judges the edit anew), not what was true when recorded
    products = pl.read_delta(tables.products).with_columns(
        pl.when(pl.col("product_id") == "P1")
        .then(pl.col("description") + " It has hydraulic disc brakes.")
        .otherwise(pl.col("description"))
        .alias("description")
    )
    write_deltalake(tables.products, products.to_arrow(), mode="overwrite")
    row = (
        review_queue(tables)
        .filter(pl.col("product_id") == "P1")
        .filter(pl.col("segment_id") == "s1")
        .row(0, named=True)
    )
    assert row["review_status"] == "failed"
    assert row["failed_checks"].startswith("edited text fails facts_preserved")


# ---------------------------------------------------------------------------------------------
# superseded copy


def test_superseded_pairs_are_badged_first_in_the_queue_and_next_follows_the_queue(client, tables):
    publish(tables, {("s1", "P2"): at("2026-11-01T12:00:00")})
    queue = client.get("/queue").text
    assert variant_links(queue) == ["s1/P2", "s1/P1", "s2/P1"]  # superseded first
    assert queue.count('<span class="badge superseded">Superseded copy live</span>') == 1
    assert "Superseded copy live" in queue_row(queue, "s1/P2")
    assert "Superseded copy live" not in queue_row(queue, "s1/P1")
    assert re.search(r'id="link-next" href="/variant/s1/P2"', queue)  # start with it

    def next_of(path: str) -> str:
        return re.search(r'id="link-next" href="([^"]+)"', client.get(path).text).group(1)

    # "next" walks the queue's order, wrapping around (not the order of segment, product)
    assert next_of("/variant/s1/P2") == "/variant/s1/P1"
    assert next_of("/variant/s1/P1") == "/variant/s2/P1"
    assert next_of("/variant/s2/P1") == "/variant/s1/P2"
    assert "1 of 3 in this queue" in client.get("/variant/s1/P2").text

    token = client.app_state.csrf_token
    decide = {"csrf_token": token, "decision": "approve", "q_status": "pending"}
    # the decided variant leaves the pending queue: the next is the one after it in queue order
    answer = client.post("/variant/s1/P2/decide", data={**decide, "input_hash": "h-s1-P2"})
    assert answer.headers["location"] == (
        "/variant/s1/P1?status=pending&decided_segment=s1&decided_product=P2"
    )
    answer = client.post("/variant/s2/P1/decide", data={**decide, "input_hash": "h-s2-P1"})
    assert answer.headers["location"].startswith("/variant/s1/P1?")  # wraps, never itself
    answer = client.post("/variant/s1/P1/decide", data={**decide, "input_hash": "h-s1-P1"})
    assert answer.headers["location"] == "/queue?status=pending&done=1"


def test_the_variant_page_explains_the_superseded_copy_and_its_grace_period(
    client, tables, monkeypatch
):
    publish(tables, {("s2", "P1"): at("2026-11-01T12:00:00")})
    page = client.get("/variant/s2/P1").text
    assert 'id="superseded-badge"' in page
    banner = re.search(r'<div class="banner superseded" id="superseded">.*?</div>\n', page, re.S)
    text = " ".join(html_module.unescape(re.sub(r"<[^>]+>", "", banner.group(0))).split())
    assert (
        "The approved copy of the previous variant of this pair (h-old-s2-P1) stays published "
        "until this variant is approved or rejected, or the grace period of 7 days ends "
        "(2026-11-08 12:00 UTC; superseded since 2026-11-01 12:00 UTC)." in text
    )
    assert "Old approved copy of s2/P1 &lt;i&gt;live&lt;/i&gt;." in banner.group(0)  # escaped
    monkeypatch.setenv("SEGCOPY_SUPERSEDED_GRACE_DAYS", "2.5")
    assert "grace period of 2.5 days ends (2026-11-04 00:00 UTC" in client.get(
        "/variant/s2/P1"
    ).text.replace("\n  ", " ")
    assert 'id="superseded"' not in client.get("/variant/s1/P1").text


def test_an_approval_carried_over_says_so_in_the_history(client, tables):
    carried = reviews.make_decision("s1", "P1", "h-s1-P1", "approve", reviewer="bo")
    carried |= {"carried_from": "h-old-s1-P1-0123456789", "note": "carried over from variant"}
    reviews.append_reviews(tables.reviews, [carried])
    page = client.get("/variant/s1/P1").text
    history = re.search(r'<ol class="history".*?</ol>', page, re.S).group(0)
    assert "Approval carried over (identical text)" in history
    assert "<code>h-old-s1-P1-</code>" in history
    assert "Approval carried over (identical text)" not in client.get("/variant/s1/P2").text


# ---------------------------------------------------------------------------------------------
# failed generations


def test_a_failed_replacement_and_a_pair_that_never_generated_are_explained(
    client, tables, wanted_now
):
    fail_generation(tables, "s1", "P1", attempts=1)
    fail_generation(tables, "s2", "P1", attempts=3, kept=False)
    page = client.get("/variant/s1/P1").text
    failure = html_module.unescape(re.search(r'id="generation-failure".*?</div>', page, re.S)[0])
    assert (
        f"Its new generation failed 1 time(s): {LAST_ERROR}; the last good variant stays current."
        in failure
    )
    assert "The next run tries it again" in failure and 'id="retry-form"' not in page
    assert 'id="btn-approve"' in page  # the last good variant can still be reviewed

    never = client.get("/variant/s2/P1").text
    failure = html_module.unescape(re.search(r'id="generation-failure".*?</div>', never, re.S)[0])
    assert f"This pair never generated: its generation failed 3 time(s): {LAST_ERROR}." in failure
    assert "Parked after 3 failed attempts" in failure and 'id="btn-retry"' in never
    assert 'id="generation-failure"' not in client.get("/variant/s1/P2").text


def test_retry_as_a_reviewer_asks_for_the_parked_pair_again(client, tables, wanted_now):
    fail_generation(tables, "s2", "P1", attempts=3)
    page = client.get("/variant/s2/P1?segment=s2").text
    assert "Parked after 3 failed attempts" in page
    fields = form_fields(page, "retry-form")
    assert fields["segment"] == "s2" and fields["product"] == "P1" and fields["q_segment"] == "s2"
    answer = client.post("/retry", data=fields)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/variant/s2/P1?segment=s2&retried=1"
    assert retry_log(tables) == [("s2", "P1", "h-s2-P1-new", "ana")]
    after = client.get(answer.headers["location"]).text
    assert "Retry requested: 1 parked pair(s) will be sent again by the next run" in after
    assert "Parked after" not in after and "The next run tries it again" in after
    # nothing parked any more: a second retry sends nothing
    again = client.post("/retry", data=fields)
    assert again.headers["location"].endswith("retried=0") and len(retry_log(tables)) == 1


def test_the_dashboard_lists_failures_with_retry_buttons(client, tables, wanted_now):
    assert "No failed generations" in client.get("/dashboard").text
    fail_generation(tables, "s1", "P2", attempts=1)
    fail_generation(tables, "s2", "P1", attempts=4, kept=False)
    page = client.get("/dashboard")
    assert page.status_code == 200 and "No failed generations" not in page.text
    rows = re.findall(r'<tr data-pair="([^"]+)">(.*?)</tr>', page.text, re.S)
    cells = {
        pair: [
            html_module.unescape(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for pair, row in rows
    }
    assert cells["s1/P2"][:7] == [
        "s1", "P2", '<span class="badge pending">retrying</span>', "1", "yes", LAST_ERROR,
        "2026-11-02 09:30 UTC",
    ]  # fmt: skip
    assert cells["s2/P1"][2:5] == ['<span class="badge failed">parked</span>', "4", "no"]
    assert "Retry" not in cells["s1/P2"][7] and "Retry" in cells["s2/P1"][7]
    assert "&lt;section&gt;" in page.text  # the error is escaped
    assert 'id="btn-retry-all"' in page.text
    answer = client.post("/retry", data=form_fields(page.text, "retry-all-form"))
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard?retried=1"
    assert retry_log(tables) == [("s2", "P1", "h-s2-P1", "ana")]
    after = client.get(answer.headers["location"]).text
    assert "Retry requested: 1 parked pair(s)" in after and 'id="btn-retry-all"' not in after


def test_a_setting_that_cannot_be_read_is_a_message_not_an_error(client, tables, monkeypatch):
    monkeypatch.setenv("SEGCOPY_MAX_ATTEMPTS", "three")
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "The failed generations cannot be listed: SEGCOPY_MAX_ATTEMPTS" in page.text
    answer = client.post("/retry", data={"csrf_token": client.app_state.csrf_token})
    assert answer.status_code == 400 and "Cannot retry" in answer.text
    unknown = client.post(
        "/retry", data={"csrf_token": client.app_state.csrf_token, "segment": "s9"}
    )
    assert unknown.status_code == 400
    assert not variant_store.table_exists(tables.retries)


def test_retry_needs_a_csrf_token_and_a_reviewer(tables, tmp_path, wanted_now):
    fail_generation(tables, "s2", "P1", attempts=3)
    users = tmp_path / "review_users.toml"
    review_users.add_user(users, "ana", "ana-secret-1", "reviewer", hasher=CHEAP)
    review_users.add_user(users, "vic", "vic-secret-1", "viewer", hasher=CHEAP)
    auth = signin.AuthConfig(users=review_users.UsersFile(users))
    app = create_app(tables, "flag-name", auth=auth)
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as c:

        def sign_in(name: str, password: str) -> None:
            c.cookies.clear()
            token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)[1]
            form = {"csrf_token": token, "username": name, "password": password, "next": "/"}
            assert c.post("/login", data=form).status_code == 303

        sign_in("vic", "vic-secret-1")
        dashboard = c.get("/dashboard").text
        assert '<tr data-pair="s2/P1">' in dashboard and "parked" in dashboard
        assert 'action="/retry"' not in dashboard  # the list, without buttons
        variant = c.get("/variant/s2/P1").text
        assert "Parked after 3 failed attempts" in variant and 'action="/retry"' not in variant
        token = re.search(r'name="csrf_token" value="([^"]+)"', dashboard)[1]
        refused = c.post("/retry", data={"csrf_token": token, "segment": "s2", "product": "P1"})
        assert refused.status_code == 403
        assert not variant_store.table_exists(tables.retries)

        sign_in("ana", "ana-secret-1")
        fields = form_fields(c.get("/variant/s2/P1").text, "retry-form")
        assert c.post("/retry", data={**fields, "csrf_token": "forged"}).status_code == 403
        assert not variant_store.table_exists(tables.retries)
        assert c.post("/retry", data=fields).status_code == 303
    assert retry_log(tables) == [("s2", "P1", "h-s2-P1-new", "ana")]  # the signed-in reviewer
