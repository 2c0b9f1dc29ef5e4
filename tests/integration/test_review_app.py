"""The review page (``segcopy review serve``) over HTTP: queue, review view, decisions, safety.

The app runs on crafted warehouse tables (Starlette's TestClient, or a real uvicorn server on a
free port for the concurrency tests). Its pure parts (the word diff) are in
tests/unit/test_review_web.py; a real browser drives it in tests/e2e/test_review_browser.py.
"""

import os
import re
import threading
from contextlib import suppress
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest
import requests
from deltalake import write_deltalake
from starlette.testclient import TestClient

from segcopy_assets.review.service import ReviewTables, review_queue
from segcopy_assets.review.web import server as review_server
from segcopy_assets.review.web.app import create_app
from segcopy_assets.storage import review_log as reviews
from segcopy_assets.storage import variant_store
from segcopy_assets.storage.tables import VARIANT_SCHEMA, VERDICT_SCHEMA

ORIGINAL = {
    "P1": "The Aero weighs 8.1 kg. It has a Shimano 105 groupset with 12 speeds.",
    "P2": "The Basecamp tent sleeps two. Its fly is 20D ripstop nylon.",
    "P3": "The Ridge boot is waterproof. It weighs 540 g per boot.",
}
SCRIPT = '<script>window.__pwned = 1; document.title = "pwned";</script>'
IMG = '<img src=x onerror="window.__pwned = 2">'
CHECKS = ["facts_preserved", "no_invented_offers", "length_in_bounds"]


def _variant(segment, product, text, status="ok", rationale="Because the segment likes speed."):
    return {
        "segment_id": segment,
        "product_id": product,
        "variant_text": text if status == "ok" else None,
        "rationale": rationale if status == "ok" else None,
        "raw_output": text,
        "backend": "openai",
        "model": "m-1",
        "prompt_hash": "p",
        "summary_hash": "s",
        "content_hash": "c",
        "input_hash": f"h-{segment}-{product}",
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "latency_ms": 5.0,
        "generated_at": None,
        "status": status,
        "error": None if status == "ok" else "HTTP 500 from the model",
    }


def _verdicts(segment, product, failing=()):
    return [
        {
            "segment_id": segment,
            "product_id": product,
            "input_hash": f"h-{segment}-{product}",
            "check": c,
            "passed": c not in failing,
            "severity": "WARN" if c == "length_in_bounds" else "ERROR",
            "reason": "missing facts: 8.1 kg" if c in failing else "",
        }
        for c in CHECKS
    ]


def write_tables(root: Path) -> ReviewTables:
    """Two segments × products: good copy, a ``<script>`` variant, a failing check, a failed pair."""
    tables = ReviewTables.under(str(root))
    variants = [
        _variant("s1", "P1", "Built to go fast. " + ORIGINAL["P1"]),
        _variant(
            "s1",
            "P2",
            f"{SCRIPT} {IMG} Camp in comfort. " + ORIGINAL["P2"],
            rationale=f"Rationale with markup {SCRIPT}",
        ),
        _variant("s1", "P3", "The Ridge boot keeps feet dry."),
        _variant("s2", "P1", "", status="failed"),
        _variant("s2", "P2", "Sleep well outdoors. " + ORIGINAL["P2"]),
    ]
    frame = pl.DataFrame(variants, schema=VARIANT_SCHEMA).with_columns(
        pl.lit("2026-11-01T10:00:00")
        .str.to_datetime(time_unit="us", time_zone="UTC")
        .alias("generated_at")
    )
    variant_store.replace_segments(tables.variants, frame, ["s1", "s2"])
    verdicts = (
        _verdicts("s1", "P1")
        + _verdicts("s1", "P2")
        + _verdicts("s1", "P3", failing=["facts_preserved"])
        + _verdicts("s2", "P2")
    )
    variant_store.replace_segments(
        tables.verdicts,
        pl.DataFrame(verdicts, schema=VERDICT_SCHEMA),
        ["s1", "s2"],
        schema=VERDICT_SCHEMA,
    )
    products = pl.DataFrame(
        {
            "product_id": list(ORIGINAL),
            "name": ["Aero Bike", "Basecamp Tent", "Ridge Boot"],
            "description": list(ORIGINAL.values()),
        }
    )
    write_deltalake(tables.products, products.to_arrow())
    summaries = pl.DataFrame(
        {
            "segment_id": ["s1", "s2"],
            "segment_description": ["Road cyclists <b>who ride</b> a lot.", "Campers."],
        }
    )
    write_deltalake(os.path.join(str(root), "segment_summaries"), summaries.to_arrow())
    return tables


@pytest.fixture
def tables(tmp_path):
    return write_tables(tmp_path / "warehouse" / "segcopy")


@pytest.fixture
def client(tables):
    app = create_app(tables, "ana")
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as c:
        c.app_state = app.state
        yield c


def variant_links(html: str) -> list[str]:
    return re.findall(r'class="open" href="/variant/([^"?]+)', html)


def text_of(html: str) -> str:
    """What a reader sees: tags dropped (the diff splits sentences into spans), entities decoded."""
    import html as html_module

    return html_module.unescape(re.sub(r"<[^>]+>", "", html))


def post(client, path, token, **fields):
    data = {"csrf_token": token, **fields} if token is not None else fields
    return client.post(path, data=data)


def form_fields(html: str, form_id: str) -> dict:
    form = re.search(rf'<form[^>]*id="{form_id}".*?</form>', html, re.S).group(0)
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def test_queue_filters_by_segment_product_and_status(client):
    page = client.get("/queue")
    assert page.status_code == 200
    assert variant_links(page.text) == ["s1/P1", "s1/P2", "s1/P3", "s2/P1", "s2/P2"]
    assert variant_links(client.get("/queue?segment=s2").text) == ["s2/P1", "s2/P2"]
    assert variant_links(client.get("/queue?product=P2").text) == ["s1/P2", "s2/P2"]
    assert variant_links(client.get("/queue?segment=s1&product=P3").text) == ["s1/P3"]
    assert variant_links(client.get("/queue?status=failed").text) == ["s1/P3", "s2/P1"]
    assert variant_links(client.get("/queue?status=pending").text) == ["s1/P1", "s1/P2", "s2/P2"]
    assert variant_links(client.get("/queue?status=approved").text) == []
    assert "No variants match" in client.get("/queue?status=rejected").text
    assert client.get("/queue?status=maybe").status_code == 400
    assert client.get("/").headers["location"] == "/queue"
    # after decisions the status filter follows the log
    page = client.get("/variant/s1/P1")
    token = form_fields(page.text, "decision-form")["csrf_token"]
    post(client, "/variant/s1/P1/decide", token, decision="approve", input_hash="h-s1-P1")
    post(client, "/variant/s2/P2/decide", token, decision="reject", input_hash="h-s2-P2")
    assert variant_links(client.get("/queue?status=approved").text) == ["s1/P1"]
    assert variant_links(client.get("/queue?status=rejected").text) == ["s2/P2"]
    assert variant_links(client.get("/queue?status=pending").text) == ["s1/P2"]
    counts = client.get("/queue?segment=s1").text
    assert re.search(r"Approved <b>1</b>", counts) and re.search(r"Failed checks <b>1</b>", counts)


def test_review_view_shows_original_variant_diff_rationale_summary_and_checks(client):
    page = client.get("/variant/s1/P3")
    assert page.status_code == 200
    html = page.text
    seen = text_of(html)
    assert "The Ridge boot is waterproof." in seen and "The Ridge boot keeps feet dry." in seen
    assert "<del>" in html and "<ins>" in html  # word-level diff
    assert "Because the segment likes speed." in html  # rationale
    assert (
        "Road cyclists &lt;b&gt;who ride&lt;/b&gt; a lot." in html
    )  # segment_description, escaped
    for check in CHECKS:
        assert f"<code>{check}</code>" in html
    assert "missing facts: 8.1 kg" in html
    assert html.count(">Pass<") == 2 and html.count(">Fail<") == 1
    assert "Fails facts_preserved" in html  # the warning next to the buttons
    assert 'id="btn-approve"' in html and 'id="btn-reject"' in html and 'id="edit-form"' in html
    assert "Ridge Boot" in html and "3 of 5 in this queue" in html
    # a variant that failed to generate has nothing to approve
    failed = client.get("/variant/s2/P1").text
    assert (
        "Generation failed: HTTP 500 from the model" in failed and 'id="btn-approve"' not in failed
    )
    assert client.get("/variant/s9/P1").status_code == 404


def test_llm_text_is_escaped_and_scripts_are_not_allowed(client):
    for path in ("/variant/s1/P2", "/queue"):
        page = client.get(path)
        assert "<script>window" not in page.text and "<img src=x" not in page.text
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert page.headers["x-frame-options"] == "DENY"
    html = client.get("/variant/s1/P2").text
    assert (
        "&lt;script&gt;window.__pwned = 1; document.title = &#34;pwned&#34;;&lt;/script&gt;" in html
    )
    assert "&lt;img src=x onerror=&#34;window.__pwned = 2&#34;&gt;" in html
    # the only scripts on the page are this server's own file
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/review.js" defer>']
    assert "Rationale with markup &lt;script&gt;" in html
    # the edit box holds the text, escaped, not markup
    assert re.search(r"<textarea[^>]*>&lt;script&gt;", html)


def test_static_files_are_served_with_the_page_headers(client):
    for name, media_type, needle in [
        ("review.css", "text/css", ".badge.pending"),
        ("review.js", "text/javascript", '"btn-approve"'),
    ]:
        answer = client.get(f"/static/{name}")
        assert answer.status_code == 200 and needle in answer.text
        assert answer.headers["content-type"].split(";")[0] == media_type
        assert (
            answer.headers["content-security-policy"]
            == client.get("/queue").headers["content-security-policy"]
        )
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-cache"
    assert client.get("/static/app.py").status_code == 404
    assert client.get("/static/../app.py").status_code == 404


def test_get_never_changes_state(client, tables):
    before = review_queue(tables)
    paths = [
        "/",
        "/queue",
        "/queue?status=pending",
        "/variant/s1/P1",
        "/variant/s1/P2?decision=approve",
        "/variant/s2/P1",
        "/variant/s1/P1/decide?decision=approve&input_hash=h-s1-P1",
        "/static/review.js",
        "/static/review.css",
    ]
    for path in paths:
        client.get(path)
        client.head(path)
    assert client.get("/variant/s1/P1/decide").status_code == 405
    assert not variant_store.table_exists(tables.reviews)
    assert review_queue(tables).equals(before)


def test_post_without_or_with_a_wrong_csrf_token_is_refused(client, tables):
    fields = {"decision": "approve", "input_hash": "h-s1-P1"}
    assert post(client, "/variant/s1/P1/decide", None, **fields).status_code == 403
    assert post(client, "/variant/s1/P1/decide", "forged", **fields).status_code == 403
    assert post(client, "/variant/s1/P1/decide", "", **fields).status_code == 403
    token = client.app_state.csrf_token
    assert (
        client.post("/variant/s1/P1/decide", json={"csrf_token": token, **fields}).status_code
        == 403
    )
    assert not variant_store.table_exists(tables.reviews)
    # a fresh server has a fresh token: an old page's form does not work against it
    other = create_app(tables, "bo").state.csrf_token
    assert other != token and len(token) >= 32


def test_approve_reject_and_edit_go_to_the_review_log(client, tables):
    page = client.get("/variant/s1/P1?status=pending")
    fields = form_fields(page.text, "decision-form")
    assert fields["q_status"] == "pending" and fields["input_hash"] == "h-s1-P1"
    answer = client.post(
        "/variant/s1/P1/decide", data={**fields, "decision": "approve", "note": "nice <b>"}
    )
    assert answer.status_code == 303
    # on to the next pending variant, with the filters kept
    assert (
        answer.headers["location"]
        == "/variant/s1/P2?status=pending&decided_segment=s1&decided_product=P1"
    )
    shown = client.get(answer.headers["location"]).text
    assert "Approved: s1 / P1, recorded by ana" in shown

    edit_fields = form_fields(client.get("/variant/s2/P2").text, "edit-form")
    assert edit_fields["decision"] == "edit"
    answer = client.post(
        "/variant/s2/P2/decide",
        data={
            **edit_fields,
            "edited_text": "Sleep well, <i>really</i>. The Basecamp tent sleeps two. Its fly is 20D ripstop nylon.",
            "note": "shorter",
        },
    )
    assert answer.status_code == 303 and answer.headers["location"].startswith("/variant/s1/P1?")
    post(
        client,
        "/variant/s1/P2/decide",
        client.app_state.csrf_token,
        decision="reject",
        input_hash="h-s1-P2",
    )

    log = reviews.read_reviews(tables.reviews).sort("decided_at")  # file order is not commit order
    assert log.select("segment_id", "product_id", "input_hash", "decision", "reviewer").rows() == [
        ("s1", "P1", "h-s1-P1", "approve", "ana"),
        ("s2", "P2", "h-s2-P2", "edit", "ana"),
        ("s1", "P2", "h-s1-P2", "reject", "ana"),
    ]
    assert log["note"].to_list() == ["nice <b>", "shorter", None]
    assert log["edited_text"][1] == (
        "Sleep well, <i>really</i>. The Basecamp tent sleeps two. Its fly is 20D ripstop nylon."
    )
    statuses = {
        (r[0], r[1]): r[2]
        for r in review_queue(tables)
        .select("segment_id", "product_id", "review_status")
        .iter_rows()
    }
    assert statuses == {
        ("s1", "P1"): "approved",
        ("s1", "P2"): "rejected",
        ("s1", "P3"): "failed",
        ("s2", "P1"): "failed",
        ("s2", "P2"): "approved",
    }
    edited_page = client.get("/variant/s2/P2").text
    assert "Edited text, published instead of the variant" in edited_page
    assert "Sleep well, &lt;i&gt;really&lt;/i&gt;." in edited_page
    assert "Edited &amp; approved" in edited_page and "shorter" in edited_page


def test_refused_decisions_write_nothing(client, tables):
    token = client.app_state.csrf_token
    empty_edit = post(
        client,
        "/variant/s1/P1/decide",
        token,
        decision="edit",
        edited_text="  ",
        input_hash="h-s1-P1",
    )
    assert empty_edit.status_code == 400 and "edited text" in empty_edit.text
    failed = post(client, "/variant/s2/P1/decide", token, decision="approve", input_hash="h-s2-P1")
    assert failed.status_code == 400 and "failed to generate" in failed.text
    unknown = post(client, "/variant/s1/P1/decide", token, decision="maybe", input_hash="h-s1-P1")
    assert unknown.status_code == 400
    stale = post(client, "/variant/s1/P1/decide", token, decision="approve", input_hash="h-old")
    assert stale.status_code == 409 and "regenerated" in stale.text
    assert (
        post(client, "/variant/s9/P1/decide", token, decision="approve", input_hash="x").status_code
        == 404
    )
    assert not variant_store.table_exists(tables.reviews)


def test_the_last_variant_leads_back_to_the_queue(client):
    token = client.app_state.csrf_token
    answer = post(
        client,
        "/variant/s1/P2/decide",
        token,
        decision="approve",
        input_hash="h-s1-P2",
        q_segment="s1",
        q_status="pending",
    )
    assert (
        answer.headers["location"]
        == "/variant/s1/P1?segment=s1&status=pending&decided_segment=s1&decided_product=P2"
    )
    answer = post(
        client,
        "/variant/s1/P1/decide",
        token,
        decision="approve",
        input_hash="h-s1-P1",
        q_segment="s1",
        q_status="pending",
    )
    assert answer.headers["location"] == "/queue?segment=s1&status=pending&done=1"
    assert "end of this queue" in client.get(answer.headers["location"]).text


def test_foreign_host_header_is_refused(client):
    assert client.get("/queue", headers={"host": "evil.example"}).status_code == 400


def test_no_variants_yet_is_a_clear_page(tmp_path):
    app = create_app(ReviewTables.under(str(tmp_path / "empty")), "ana")
    with TestClient(app, base_url="http://127.0.0.1") as c:
        page = c.get("/queue")
    assert page.status_code == 503 and "segcopy run" in page.text


def _line_up_writes(monkeypatch, parties):
    """Each log write waits (up to 0.5 s) for the others before committing, so writes that the
    app let overlap would race on the Delta commit."""
    meet = threading.Barrier(parties, timeout=0.5)
    append = reviews.append_reviews

    def lined_up(path, decisions):
        with suppress(threading.BrokenBarrierError):
            meet.wait()
        return append(path, decisions)

    monkeypatch.setattr(reviews, "append_reviews", lined_up)


def _click_at_once(clicks):
    """POST every (url, form) at the same moment; returns the status codes in order."""
    start = threading.Barrier(len(clicks))
    answers = [None] * len(clicks)

    def click(i, url, form):
        with requests.Session() as session:
            start.wait()
            answers[i] = session.post(url, data=form, allow_redirects=False, timeout=30).status_code

    threads = [threading.Thread(target=click, args=(i, *c)) for i, c in enumerate(clicks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return answers


@pytest.mark.parametrize("log_exists", [False, True], ids=["first-decisions", "existing-log"])
def test_two_reviewers_at_once_are_both_recorded_and_the_latest_wins(
    tables, log_exists, monkeypatch, review_app_server
):
    if log_exists:
        reviews.append_reviews(
            tables.reviews, [reviews.make_decision("s2", "P2", "h-s2-P2", "approve", reviewer="cy")]
        )
    _line_up_writes(monkeypatch, 2)
    # two reviewers, each with their own review page (server), deciding the same variant at once
    with (
        review_app_server(tables, "ana") as (base_a, server_a),
        review_app_server(tables, "bo") as (base_b, server_b),
    ):
        form = {"input_hash": "h-s1-P1"}
        codes = _click_at_once(
            [
                (
                    f"{base_a}/variant/s1/P1/decide",
                    {
                        **form,
                        "decision": "approve",
                        "csrf_token": server_a.config.app.state.csrf_token,
                    },
                ),
                (
                    f"{base_b}/variant/s1/P1/decide",
                    {
                        **form,
                        "decision": "reject",
                        "csrf_token": server_b.config.app.state.csrf_token,
                    },
                ),
            ]
        )
        assert codes == [303, 303]
        log = reviews.read_reviews(tables.reviews).filter(pl.col("product_id") == "P1")
        assert sorted(log.select("decision", "reviewer").rows()) == [
            ("approve", "ana"),
            ("reject", "bo"),
        ]
        latest = log.sort("decided_at").row(-1, named=True)
        status = review_queue(tables).filter(
            (pl.col("segment_id") == "s1") & (pl.col("product_id") == "P1")
        )
        assert (
            status["review_status"][0]
            == {"approve": "approved", "reject": "rejected"}[latest["decision"]]
        )
        assert status["reviewer"][0] == latest["reviewer"]
        for base in (base_a, base_b):  # both pages agree on the decision in force
            page = requests.get(f"{base}/variant/s1/P1", timeout=10).text
            assert page.count("<li><strong>") == 2 and "in force" in page
            assert (
                f'id="status">{"Approved" if latest["decision"] == "approve" else "Rejected"}<'
                in page
            )


def test_many_clicks_at_once_on_a_new_log_are_all_recorded(tables, monkeypatch, review_app_server):
    # three or more first commits to a Delta table at once conflict; the app serializes and retries
    _line_up_writes(monkeypatch, 4)
    with review_app_server(tables, "ana") as (base, server):
        token = server.config.app.state.csrf_token
        clicks = [
            (
                f"{base}/variant/s1/{p}/decide",
                {"csrf_token": token, "decision": d, "input_hash": f"h-s1-{p}"},
            )
            for p, d in [("P1", "approve"), ("P1", "reject"), ("P2", "approve"), ("P3", "reject")]
        ]
        assert _click_at_once(clicks) == [303] * 4
    log = reviews.read_reviews(tables.reviews)
    assert sorted(log.select("product_id", "decision").rows()) == [
        ("P1", "approve"),
        ("P1", "reject"),
        ("P2", "approve"),
        ("P3", "reject"),
    ]


def test_cmd_review_serve_reviewer_and_tables(tmp_path, monkeypatch):
    args = SimpleNamespace(port=8123, reviewer=None)
    assert review_server.cmd_review_serve(args) == 1  # no variants yet under $SEGCOPY_HOME
    root = Path(os.environ["SEGCOPY_HOME"]) / "warehouse" / "segcopy"
    write_tables(root)
    calls = []
    monkeypatch.setattr(
        review_server,
        "serve",
        lambda tables, reviewer, host, port: calls.append((tables, reviewer, host, port)),
    )
    monkeypatch.setenv("SEGCOPY_REVIEWER", "dee")
    assert review_server.cmd_review_serve(args) == 0
    assert review_server.cmd_review_serve(SimpleNamespace(port=9000, reviewer="eve")) == 0
    assert [c[1:] for c in calls] == [("dee", "127.0.0.1", 8123), ("eve", "127.0.0.1", 9000)]
    assert calls[0][0] == ReviewTables.under(str(root))
    monkeypatch.delenv("SEGCOPY_REVIEWER")
    assert review_server.cmd_review_serve(args) == 0 and calls[-1][1]  # the login name
