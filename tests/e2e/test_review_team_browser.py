"""The review page for a team, end to end: ``segcopy review user add`` writes a users file,
``segcopy review serve`` runs as its own process with it, and headless Debian Chromium (driven
by Playwright) signs in, approves, signs out; a wrong password is refused; a viewer sees no
decision buttons and a forged POST from their session is refused. ``segcopy review serve
--host 0.0.0.0`` without sign-in refuses to start.

The sign-in over HTTP is in tests/integration/test_review_auth_app.py.
"""

import base64
import json
import stat
import subprocess

import polars as pl
import pytest
import requests

from segcopy_assets.review.service import ReviewTables, review_queue
from segcopy_assets.storage import review_log as reviews
from segcopy_assets.storage import variant_store
from tests.e2e.browser import CHROMIUM_ARGS, browser_or_skip

PASSWORDS = {"marta": "marta-pass-1", "vera": "vera-pass-1"}
SECRET = "e2e-session-secret-" + "x" * 24
VARIANT = ("tents--high-value", "CA-100")


@pytest.fixture
def team_home(tmp_path, sample_tables, make_resources, memory_instance, segcopy_exe, segcopy_env):
    """A SEGCOPY_HOME holding the sample pipeline's variants and a users file (written by
    ``segcopy review user add --password-stdin``): marta (reviewer) and vera (viewer)."""
    from segcopy_assets.pipeline import run_pipeline

    home = tmp_path / "home"
    resources = make_resources(home, sample_tables)
    with memory_instance() as instance:
        run_pipeline(instance, resources)
    users = home / "team_users.toml"
    for name, role in [("marta", "reviewer"), ("vera", "viewer")]:
        done = subprocess.run(
            [segcopy_exe, "review", "user", "add", name, "--role", role, "--password-stdin"],
            input=PASSWORDS[name] + "\n",
            env=segcopy_env(home, SEGCOPY_REVIEW_USERS_FILE=str(users)),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert f"added {name} ({role})" in done.stdout
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
    assert not any(p in users.read_text() for p in PASSWORDS.values())
    return home, users


@pytest.mark.slow
def test_serve_on_all_interfaces_without_sign_in_refuses_to_start(
    tmp_path, segcopy_exe, segcopy_env, free_port
):
    done = subprocess.run(
        [segcopy_exe, "review", "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env=segcopy_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "refusing to serve on 0.0.0.0 without sign-in" in done.stderr


def _session(cookie: dict) -> list[str]:
    """The keys of a signed session cookie's payload (base64 JSON before the signature)."""
    payload = cookie["value"].split(".")[0]
    return sorted(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _sign_in(page, base, name, password):
    page.goto(f"{base}/queue")
    page.wait_for_url("**/login?next=%2Fqueue")
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("#btn-signin")


@pytest.mark.slow
def test_a_team_signs_in_decides_and_viewers_cannot(
    team_home, segcopy_env, free_port, start_review_server
):
    sync_playwright, chromium = browser_or_skip()
    home, users = team_home
    tables = ReviewTables.under(str(home / "warehouse" / "segcopy"))
    input_hash = (
        review_queue(tables)
        .filter((pl.col("segment_id") == VARIANT[0]) & (pl.col("product_id") == VARIANT[1]))
        .item(0, "input_hash")
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = segcopy_env(home, SEGCOPY_REVIEW_SECRET=SECRET)
    proc = start_review_server(env, port, "--users-file", str(users), "--reviewer", "flag-name")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
            try:
                errors: list[str] = []
                # a reviewer: a wrong password first, then signed in, one approval, signed out
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                page.set_default_timeout(15_000)
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                _sign_in(page, base, "marta", "not-her-password")
                assert "Wrong user name or password." in page.locator("#login-error").inner_text()
                # only the login form's pre-session (its CSRF nonce), nobody signed in
                assert [_session(c) for c in context.cookies()] == [["login_nonce"]]
                page.fill("#password", PASSWORDS["marta"])
                page.click("#btn-signin")
                page.wait_for_url(f"{base}/queue")
                assert "Signed in as marta" in page.locator("#who").inner_text()
                (cookie,) = context.cookies()
                assert cookie["name"] == "segcopy_review" and cookie["httpOnly"]
                assert cookie["sameSite"] == "Lax" and not cookie["secure"]

                page.goto(f"{base}/variant/{VARIANT[0]}/{VARIANT[1]}")
                page.fill("#decision-form input[name=note]", "reads well")
                page.click("#btn-approve")
                page.wait_for_url(f"**/variant/{VARIANT[0]}/**decided_product={VARIANT[1]}")
                assert "recorded by marta" in page.locator("#recorded").inner_text()
                log = reviews.read_reviews(tables.reviews)
                assert log.select("segment_id", "product_id", "decision", "reviewer").rows() == [
                    (*VARIANT, "approve", "marta")
                ]
                page.click("#btn-signout")
                page.wait_for_url(f"{base}/login")
                page.goto(f"{base}/queue")
                page.wait_for_url("**/login?next=%2Fqueue")
                context.close()

                # a viewer: every page, no decision buttons, and a forged POST is refused
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                page.set_default_timeout(15_000)
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                _sign_in(page, base, "vera", PASSWORDS["vera"])
                page.wait_for_url(f"{base}/queue")
                assert page.locator("table.queue tbody tr").count() == 196
                page.goto(f"{base}/variant/{VARIANT[0]}/CA-200")
                assert page.locator("#variant").inner_text()
                assert page.locator("#read-only").is_visible()
                for button in ("#btn-approve", "#btn-reject", "#edit-form", "#decision-form"):
                    assert page.locator(button).count() == 0
                page.keyboard.press("a")  # the shortcut has nothing to click
                token = page.locator("#signout-form input[name=csrf_token]").get_attribute("value")
                forged = context.request.post(
                    f"{base}/variant/{VARIANT[0]}/{VARIANT[1]}/decide",
                    form={"csrf_token": token, "decision": "reject", "input_hash": input_hash},
                    max_redirects=0,
                )
                assert forged.status == 403 and "viewer" in forged.text()
                assert errors == []
                context.close()
            finally:
                browser.close()
        # nobody signed in: the same POST is refused
        anonymous = requests.post(
            f"{base}/variant/{VARIANT[0]}/{VARIANT[1]}/decide",
            data={"decision": "reject", "input_hash": input_hash},
            allow_redirects=False,
            timeout=10,
        )
        assert anonymous.status_code == 401
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=15)
    log = reviews.read_reviews(tables.reviews)
    assert log.select("product_id", "decision", "reviewer").rows() == [
        ("CA-100", "approve", "marta")
    ]
    assert variant_store.table_exists(tables.reviews)
    assert "sign-in by users file" in out
    for secret in (SECRET, *PASSWORDS.values()):
        assert secret not in out and secret not in err


@pytest.mark.slow
def test_a_reviewer_reviews_a_sample_to_acceptance_and_the_batch_is_published(
    team_home,
    sample_tables,
    make_resources,
    memory_instance,
    segcopy_env,
    free_port,
    start_review_server,
):
    """Signed in, the reviewer draws batches on the page (p = 20 %, c = 90 %: a sample of 11 of
    a segment's 14), walks one sample approving each variant, sees the batch accepted; the
    publishing run publishes the whole batch with its bound; the dashboard draws its chart."""
    from segcopy_assets.pipeline import run_pipeline

    sync_playwright, chromium = browser_or_skip()
    home, users = team_home
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = segcopy_env(home, SEGCOPY_REVIEW_SECRET=SECRET)
    proc = start_review_server(env, port, "--users-file", str(users), "--reviewer", "flag-name")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
            try:
                errors: list[str] = []
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                page.set_default_timeout(15_000)
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                _sign_in(page, base, "marta", PASSWORDS["marta"])
                page.wait_for_url(f"{base}/queue")
                page.goto(f"{base}/batches")
                page.fill("input[name=p]", "0.2")
                page.fill("input[name=c]", "0.9")
                page.click("#draw-batches")
                page.wait_for_url(f"{base}/batches?drawn=1")
                row = page.locator("#batches tr", has_text="tents--core")
                batch = row.get_attribute("data-batch")
                row.locator("a.open").click()
                page.wait_for_url(f"**/queue?batch={batch}")
                assert page.locator("#batch-banner").is_visible()
                assert page.locator("table.queue tbody tr").count() == 11
                page.click("#link-next")
                for _ in range(11):
                    page.click("#btn-approve")
                    page.wait_for_load_state()
                page.goto(f"{base}/batches")
                accepted = page.locator(f'#batches tr[data-batch="{batch}"] .badge')
                assert accepted.inner_text() == "accepted"
                page.goto(f"{base}/dashboard")
                chart = page.locator("#pass-rate-chart")
                assert chart.is_visible() and chart.locator("rect.bar").count() >= 9
                assert errors == []
            finally:
                browser.close()
    finally:
        proc.terminate()
        proc.communicate(timeout=15)
    log = reviews.read_reviews(ReviewTables.under(str(home / "warehouse" / "segcopy")).reviews)
    assert log.height == 11 and set(log["reviewer"]) == {"marta"}
    with memory_instance() as instance:
        run_pipeline(instance, make_resources(home, sample_tables))  # the publishing run
    published = pl.read_delta(str(home / "warehouse" / "segcopy" / "published_variants"))
    tents = published.filter(pl.col("segment_id") == "tents--core")
    assert tents.height == 14 and (tents["approval"] == "sample").sum() == 3
    assert set(tents.filter(pl.col("approval") == "sample")["batch_id"]) == {batch}
