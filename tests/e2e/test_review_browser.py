"""The review page (``segcopy review serve``) in a real browser: headless Debian Chromium driven
by Playwright over the variants of a real pipeline run (clicks, keyboard, an edit, a screenshot,
and copy carrying ``<script>`` that must not run). The app over plain HTTP is tested in
tests/integration/test_review_app.py.
"""

import shutil

import polars as pl
import pytest

from segcopy_assets.review.service import ReviewTables, review_queue
from segcopy_assets.storage import review_log as reviews
from segcopy_assets.storage import variant_store
from tests.e2e import browser
from tests.e2e.browser import CHROMIUM_ARGS, PNG_MAGIC, browser_or_skip

SCRIPT = '<script>window.__pwned = 1; document.title = "pwned";</script>'
IMG = '<img src=x onerror="window.__pwned = 2">'


def test_a_missing_browser_fails_under_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setattr(browser, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="chromium is missing"):
        browser_or_skip()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="chromium is missing"):
        browser_or_skip()


@pytest.fixture
def real_variants(tmp_path, sample_tables, make_resources, memory_instance):
    """The sample pipeline's 196 variants, plus one variant rewritten to carry a script."""

    from segcopy_assets.pipeline import run_pipeline

    resources = make_resources(tmp_path, sample_tables)
    with memory_instance() as instance:
        run_pipeline(instance, resources)
    root = str(resources["warehouse"].table_path("description_variants")).rsplit("/", 1)[0]
    t = ReviewTables.under(root)
    segment = "tents--core"
    rows = variant_store.read_segments(t.variants, [segment])
    rows = rows.with_columns(
        pl.when(pl.col("product_id") == "TN-200")
        .then(pl.lit(f"{SCRIPT} {IMG} ") + pl.col("variant_text"))
        .otherwise(pl.col("variant_text"))
        .alias("variant_text")
    )
    variant_store.replace_segments(t.variants, rows, [segment])
    return t


@pytest.mark.slow
def test_review_in_a_real_browser(real_variants, tmp_path, review_app_server):
    sync_playwright, chromium = browser_or_skip()
    t = real_variants
    with review_app_server(t, reviewer="marta") as (base, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(15_000)
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            page.goto(f"{base}/queue")
            assert page.title().startswith("Queue")
            assert page.locator("table.queue tbody tr").count() == 196
            with page.expect_navigation():
                page.select_option(
                    "select[name=segment]", "tents--high-value"
                )  # the filter submits itself
            assert page.locator("table.queue tbody tr").count() == 14
            page.locator("a.open").first.click()
            page.wait_for_url("**/variant/tents--high-value/CA-100?segment=tents--high-value")
            assert page.locator("#original").inner_text().startswith("The Aero jersey")
            assert page.locator("#variant ins").count() >= 1
            assert page.locator("#checks tr").count() == 11  # every check but the LLM judge (off)
            assert (
                "tents--high-value" in page.locator("#segment-summary").inner_text()
                or "Tents" in page.locator("#segment-summary").inner_text()
            )

            # approve with a click: the next variant opens
            page.fill("#decision-form input[name=note]", "reads well")
            page.click("#btn-approve")
            page.wait_for_url("**/variant/tents--high-value/CA-200?**")
            assert "Approved: tents--high-value / CA-100" in page.locator("#recorded").inner_text()

            # edit and approve this one
            page.click("#edit-panel summary")
            page.fill("#edited_text", "Stay dry on every ride. " + page.input_value("#edited_text"))
            page.click("#btn-edit")
            page.wait_for_url("**/variant/tents--high-value/EB-100?**")

            log = reviews.read_reviews(t.reviews).sort("decided_at")
            assert log.select(
                "segment_id", "product_id", "decision", "reviewer", "note"
            ).rows() == [
                ("tents--high-value", "CA-100", "approve", "marta", "reads well"),
                ("tents--high-value", "CA-200", "edit", "marta", None),
            ]
            assert log["edited_text"][1].startswith("Stay dry on every ride. ")
            assert set(log["input_hash"]) <= set(review_queue(t)["input_hash"])

            # keyboard: n goes to the next variant, a approves it, r rejects the one after
            page.keyboard.press("n")
            page.wait_for_url("**/variant/tents--high-value/EB-200?**")
            page.keyboard.press("a")
            page.wait_for_url("**/variant/tents--high-value/HF-100?**")
            page.keyboard.press("r")
            page.wait_for_url("**/variant/tents--high-value/HF-200?**")
            decisions = (
                reviews.read_reviews(t.reviews)
                .sort("decided_at")
                .select("product_id", "decision")
                .rows()
            )
            assert decisions[2:] == [("EB-200", "approve"), ("HF-100", "reject")]
            # typing an n into the note field is typing, not navigation
            page.click("#decision-form input[name=note]")
            page.keyboard.type("no")
            assert "/HF-200" in page.url

            shot = tmp_path / "review-view.png"
            page.goto(f"{base}/variant/tents--high-value/CA-200")
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == PNG_MAGIC

            # a variant holding <script> and an onerror handler shows them as text; nothing runs
            page.goto(f"{base}/variant/tents--core/TN-200")
            page.wait_for_timeout(300)
            assert page.evaluate("typeof window.__pwned") == "undefined"
            assert page.title() != "pwned"
            text = page.locator("#variant").inner_text()
            assert SCRIPT in text and IMG in text
            assert page.locator("#variant script, #variant img").count() == 0
            assert errors == []
        finally:
            browser.close()


@pytest.fixture
def channel_variants(
    tmp_path, sample_tables, make_resources, memory_instance, monkeypatch, replace_answer
):
    """The sample pipeline with every channel (issue 24), one subject made far too long."""
    from segcopy_assets.pipeline import run_pipeline

    monkeypatch.delenv("SEGCOPY_CHANNELS", raising=False)
    resources = make_resources(tmp_path, sample_tables)
    with memory_instance() as instance:
        run_pipeline(instance, resources)
    root = str(resources["warehouse"].table_path("description_variants")).rsplit("/", 1)[0]
    long_subject = "Subject: " + "A very long subject line that no inbox shows whole " * 3
    replace_answer(
        f"{root}/email_subject_variants",
        "tents--core",
        "TN-100",
        f"{long_subject}\nPreheader: Two doors.\n\n**Rationale:** long on purpose",
    )
    return ReviewTables.under(root)


@pytest.mark.slow
def test_channel_previews_fit_the_screen(channel_variants, tmp_path, review_app_server):
    """Each channel's preview at a desktop and a phone width: every card inside the window, no
    horizontal scrolling, an inbox row one line high however long its subject, the SMS bubble
    inside its phone, the push title on one line; a screenshot of each."""
    sync_playwright, chromium = browser_or_skip()
    with review_app_server(channel_variants) as (base, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            for width in (1400, 390):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.set_default_timeout(15_000)
                errors = []
                page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
                page.goto(f"{base}/channels")
                assert page.locator("#channel-list tbody tr").count() == 3
                for channel, element in (
                    ("email_subject", ".inbox-row"),
                    ("sms", ".sms-bubble"),
                    ("push", ".push-card"),
                ):
                    page.goto(f"{base}/channels/{channel}?segment=tents--core")
                    assert page.locator(element).count() == 14
                    overflow = page.evaluate(
                        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                    )
                    assert overflow <= 0, (channel, width, overflow)
                    for card in page.locator("li.preview").all():
                        box = card.bounding_box()
                        assert (
                            box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
                        )
                    if channel == "email_subject":
                        # one line on a desktop, three on a phone (sender, subject, preheader):
                        # each line cut, however long the subject
                        rows = page.locator(".inbox-row").all()
                        heights = {round(r.bounding_box()["height"]) for r in rows}
                        assert max(heights) < (48 if width > 640 else 84), heights
                        for part in page.locator(".inbox-subject, .inbox-preheader").all():
                            assert 10 < part.bounding_box()["height"] < 26  # shown, one line
                        long_row = page.locator("#preview-tents--core-TN-100 .inbox-subject")
                        assert long_row.inner_text().endswith("…")
                    if channel == "sms":
                        for phone in page.locator(".phone").all()[:3]:
                            outer = phone.bounding_box()
                            inner = phone.locator(".sms-bubble").bounding_box()
                            assert inner["x"] + inner["width"] <= outer["x"] + outer["width"]
                        assert "1 message · GSM-7" in page.locator(".sms-meta").first.inner_text()
                    if channel == "push":
                        title = page.locator(".push-title").first.bounding_box()
                        assert title["height"] < 30  # one line
                    shot = tmp_path / f"{channel}-{width}.png"
                    page.screenshot(path=str(shot), full_page=True)
                    assert shot.read_bytes()[:8] == PNG_MAGIC
                    assert shot.stat().st_size > 10_000
                assert errors == []
                page.close()
        finally:
            browser.close()


#: the pages a reviewer opens, without a horizontal scrollbar at each of these widths (issue 26)
PAGES = (
    "/queue",
    "/dashboard",
    "/stats",
    "/batches",
    "/bulk",
    "/variant/tents--high-value/TN-100",
)
WIDTHS = (1920, 1280, 390)


@pytest.mark.slow
def test_every_page_fits_desktop_and_phone_widths(real_variants, tmp_path, review_app_server):
    """/queue, /dashboard, /stats, /batches, /bulk and a variant at 1,920 and 1,280 px and on a
    390 px phone: nothing wider than the window (tables collapse or wrap), a screenshot of
    each."""
    from segcopy_assets.core.sampling import SamplingPlan
    from segcopy_assets.review.batches import draw_batches

    draw_batches(real_variants, SamplingPlan(), reviewer="marta")  # /batches lists some
    sync_playwright, chromium = browser_or_skip()
    with review_app_server(real_variants) as (base, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            overflowing = {}
            for width in WIDTHS:
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.set_default_timeout(15_000)
                errors: list[str] = []
                page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
                for path in PAGES:
                    page.goto(f"{base}{path}")
                    overflow = page.evaluate(
                        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                    )
                    if overflow > 0:
                        overflowing[(path, width)] = overflow
                    name = path.strip("/").replace("/", "-")
                    shot = tmp_path / f"{name}-{width}.png"
                    page.screenshot(path=str(shot), full_page=True)
                    assert shot.read_bytes()[:8] == PNG_MAGIC
                assert errors == [], (width, errors)
                page.close()
            assert overflowing == {}, overflowing
        finally:
            browser.close()
