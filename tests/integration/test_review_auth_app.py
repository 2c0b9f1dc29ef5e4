"""The review page for a team, over HTTP: sign-in with a users file or a trusted proxy's header,
sessions, throttling, roles, and that CSRF and Host checks still refuse.

The app runs on crafted tables (``make_review_tables``) under Starlette's TestClient; the
pure parts (users file, throttle, proxy matching, the serve refusal) are in
tests/unit/test_review_auth.py, a real browser on ``segcopy review serve`` in
tests/e2e/test_review_team_browser.py.
"""

import os
import re
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from argon2 import PasswordHasher
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from segcopy_assets.review import users as review_users
from segcopy_assets.review.web import auth as signin
from segcopy_assets.review.web import server as review_server
from segcopy_assets.review.web.app import create_app
from segcopy_assets.review.web.proxy import parse_proxies
from segcopy_assets.review.web.throttle import LoginThrottle
from segcopy_assets.storage import review_log as reviews
from segcopy_assets.storage import variant_store

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # fast hashes for tests
PASSWORDS = {"ana": "ana-secret-1", "vic": "vic-secret-1", "bo": "bo-secret-12"}
ROLES = {"ana": "reviewer", "vic": "viewer", "bo": "reviewer"}


@pytest.fixture
def tables(tmp_path, make_review_tables):
    return make_review_tables(tmp_path / "warehouse" / "segcopy")


@pytest.fixture
def users_path(tmp_path) -> Path:
    path = tmp_path / "review_users.toml"
    for name, password in PASSWORDS.items():
        review_users.add_user(path, name, password, ROLES[name], hasher=CHEAP)
    return path


@pytest.fixture
def team_client(tables, users_path):
    """``team_client(client=("127.0.0.1", 50000), **auth)`` → a TestClient on an app with
    sign-in by ``users_path`` (and any other AuthConfig fields)."""

    @contextmanager
    def open_client(client=("127.0.0.1", 50000), base_url="http://127.0.0.1", app=None, **auth):
        if app is None:
            options = {"users": review_users.UsersFile(users_path), **auth}
            app = create_app(tables, "flag-name", auth=signin.AuthConfig(**options))
        with TestClient(app, base_url=base_url, client=client, follow_redirects=False) as c:
            c.app_state = app.state
            yield c

    return open_client


def sign_in(client, name, password=None, next_url="/queue"):
    """Sign in afresh in this client (a new browser session) through the login form."""
    client.cookies.clear()
    token = page_token(client.get("/login").text)
    password = PASSWORDS[name] if password is None else password
    form = {"csrf_token": token, "username": name, "password": password}
    return client.post("/login", data={**form, "next": next_url})


def page_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def decide(client, segment, product, token, decision="approve", **extra):
    form = {"csrf_token": token, "decision": decision, "input_hash": f"h-{segment}-{product}"}
    return client.post(f"/variant/{segment}/{product}/decide", data={**form, **extra})


def logged(tables):
    if not variant_store.table_exists(tables.reviews):
        return []
    return reviews.read_reviews(tables.reviews).select("product_id", "decision", "reviewer").rows()


def test_pages_need_a_signed_in_user(team_client, tables):
    with team_client() as c:
        for path, target in [
            ("/queue", "%2Fqueue"),
            ("/", "%2F"),
            ("/stats", "%2Fstats"),
            ("/variant/s1/P1?status=pending", "%2Fvariant%2Fs1%2FP1%3Fstatus%3Dpending"),
        ]:
            answer = c.get(path)
            assert (
                answer.status_code == 303 and answer.headers["location"] == f"/login?next={target}"
            )
        login = c.get("/login")
        assert login.status_code == 200 and 'id="login-form"' in login.text
        assert "script-src 'self'" in login.headers["content-security-policy"]
        assert re.findall(r"<script[^>]*>", login.text) == [
            '<script src="/static/review.js" defer>'
        ]
        assert "Reviewing as" not in login.text and "flag-name" not in login.text
        assert c.get("/static/review.css").status_code == 200  # static files stay public
        refused = decide(c, "s1", "P1", c.app_state.csrf_token)
        assert refused.status_code == 401 and "Sign in" in refused.text
    assert logged(tables) == []


def test_sign_in_sets_a_signed_httponly_cookie_and_sign_out_ends_it(team_client):
    with team_client() as c:
        answer = sign_in(c, "ana", next_url="/variant/s1/P2")
        assert answer.status_code == 303 and answer.headers["location"] == "/variant/s1/P2"
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("segcopy_review=")
        flags = [f.strip().lower() for f in cookie.split(";")]
        assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
        assert f"max-age={12 * 3600}" in flags and "secure" not in flags
        assert "ana-secret" not in cookie
        page = c.get("/queue")
        assert page.status_code == 200 and "Signed in as <strong>ana</strong>" in page.text
        assert 'id="btn-signout"' in page.text
        assert c.get("/login").headers["location"] == "/queue"  # already signed in
        # sign-out needs the user's token
        assert c.post("/logout", data={"csrf_token": "forged"}).status_code == 403
        out = c.post("/logout", data={"csrf_token": page_token(page.text)})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert "expires=thu, 01 jan 1970" in out.headers["set-cookie"].lower()
        assert c.get("/queue").status_code == 303
        # the cookie of a session signed out of is refused even if someone kept a copy
        c.cookies.set("segcopy_review", cookie.split(";")[0].split("=", 1)[1])
        assert c.get("/queue").status_code == 303
        # a forged or tampered cookie is no session
        c.cookies.set("segcopy_review", cookie.split(";")[0].split("=", 1)[1][:-3] + "abc")
        assert c.get("/queue").status_code == 303


def test_next_only_leads_to_this_site(team_client):
    with team_client() as c:
        for evil in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "javascript:x",
        ]:
            assert sign_in(c, "ana", next_url=evil).headers["location"] == "/queue"


def test_wrong_password_and_unknown_user_are_refused_alike(team_client):
    with team_client() as c:
        for name, password in [("ana", "wrong-password"), ("nobody", "whatever-1"), ("", "")]:
            answer = sign_in(c, name, password)
            assert answer.status_code == 401 and "Wrong user name or password." in answer.text
            assert "set-cookie" not in answer.headers
        assert c.get("/queue").status_code == 303


def test_the_login_form_needs_its_csrf_token(team_client):
    with team_client() as c:
        form = {"username": "ana", "password": PASSWORDS["ana"]}
        assert c.post("/login", data=form).status_code == 403
        assert c.post("/login", data={**form, "csrf_token": "forged"}).status_code == 403
        assert (
            c.post("/login", json={**form, "csrf_token": c.app_state.csrf_token}).status_code == 403
        )
        assert c.get("/queue").status_code == 303


def test_five_failures_lock_a_user_and_an_address_for_a_while(team_client, tables, users_path):
    now = [1000.0]
    app = create_app(tables, None, auth=signin.AuthConfig(users=review_users.UsersFile(users_path)))
    app.state.login_throttle = LoginThrottle(clock=lambda: now[0])
    # two browsers on the same server, from two addresses
    with team_client(app=app) as c, team_client(client=("127.0.0.2", 1), app=app) as other:
        for _ in range(5):
            assert sign_in(c, "ana", "wrong-password").status_code == 401
        locked = sign_in(c, "ana")  # the right password, but too late
        assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text
        assert 0 < int(locked.headers["retry-after"]) <= 15 * 60 + 1
        assert "set-cookie" not in locked.headers
        assert sign_in(c, "bo").status_code == 429  # this address is locked too
        assert sign_in(other, "ana").status_code == 429  # and this user from anywhere
        assert sign_in(other, "bo").status_code == 303  # others are not
        now[0] += 15 * 60 + 1
        assert sign_in(c, "ana").status_code == 303


def test_session_cookie_is_secure_behind_tls_or_when_a_trusted_proxy_says_https(team_client):
    with team_client(behind_tls=True) as c:
        assert "secure" in sign_in(c, "ana").headers["set-cookie"].lower().split("; ")
    proxies = parse_proxies("10.0.0.0/24")
    https = {"x-forwarded-proto": "https"}
    with team_client(client=("10.0.0.5", 1), trusted_proxies=proxies) as c:
        c.headers.update(https)
        assert "secure" in sign_in(c, "ana").headers["set-cookie"].lower().split("; ")
    with team_client(client=("192.0.2.7", 1), trusted_proxies=proxies) as c:
        c.headers.update(https)  # not from the proxy: not believed
        assert "secure" not in sign_in(c, "ana").headers["set-cookie"].lower().split("; ")


def test_a_session_ends_when_the_user_is_removed_or_the_password_changes(team_client, users_path):
    with team_client() as c:
        assert sign_in(c, "ana").status_code == 303
        assert c.get("/queue").status_code == 200
        review_users.add_user(users_path, "ana", "a-new-password", hasher=CHEAP)
        assert c.get("/queue").status_code == 303
        assert sign_in(c, "ana", "a-new-password").status_code == 303
        assert c.get("/queue").status_code == 200
        review_users.remove_user(users_path, "ana")
        assert c.get("/queue").status_code == 303


def test_a_session_ends_after_its_lifetime(team_client):
    with team_client(session_seconds=1) as c:
        assert sign_in(c, "ana").status_code == 303
        assert c.get("/queue").status_code == 200
        time.sleep(2.2)
        assert c.get("/queue").status_code == 303


def test_a_viewer_reads_every_page_but_cannot_decide(team_client, tables):
    with team_client() as c:
        sign_in(c, "vic")
        page = c.get("/variant/s1/P1")
        assert page.status_code == 200 and "Made for you." in page.text
        assert 'id="read-only"' in page.text and 'class="role">viewer<' in page.text
        for hidden in (
            'id="btn-approve"',
            'id="btn-reject"',
            'id="decision-form"',
            'id="edit-form"',
        ):
            assert hidden not in page.text
        assert c.get("/queue").status_code == 200 and c.get("/stats").status_code == 200
        token = page_token(page.text)  # the viewer's own valid token
        for decision in ("approve", "reject"):
            answer = decide(c, "s1", "P1", token, decision)
            assert answer.status_code == 403 and "viewer" in answer.text
        edit = decide(c, "s1", "P1", token, "edit", edited_text="Mine now.")
        assert edit.status_code == 403
    assert logged(tables) == []


def test_every_state_changing_endpoint_is_closed_to_viewers(team_client, tables, users_path):
    """An endpoint added later is closed to viewers by the middleware even if it forgot the
    check; ``require_reviewer`` / ``reviewer_only`` are the explicit form."""

    async def forgetful(request: Request):
        return PlainTextResponse("changed")

    @signin.reviewer_only
    async def careful(request: Request):
        return PlainTextResponse("changed")

    auth = signin.AuthConfig(users=review_users.UsersFile(users_path))
    app = create_app(tables, None, auth=auth)
    app.router.routes += [
        Route("/bulk", forgetful, methods=["POST"]),
        Route("/batch", careful, methods=["POST", "PUT"]),
    ]
    with team_client(app=app) as c:
        sign_in(c, "vic")
        assert c.post("/bulk").status_code == 403
        assert c.post("/batch").status_code == 403 and c.put("/batch").status_code == 403
        sign_in(c, "ana")
        assert c.post("/bulk").text == "changed" and c.post("/batch").text == "changed"
    # without sign-in (127.0.0.1, one user) the local user is the reviewer
    local = create_app(tables, "ana")
    local.router.routes.append(Route("/batch", careful, methods=["POST"]))
    with TestClient(local, base_url="http://127.0.0.1") as c:
        assert c.post("/batch").text == "changed"


def test_a_decision_is_recorded_under_the_signed_in_user(team_client, tables):
    with team_client() as c:
        sign_in(c, "ana")
        page = c.get("/variant/s1/P1")
        assert 'id="btn-approve"' in page.text
        token = page_token(page.text)
        answer = decide(c, "s1", "P1", token, reviewer="mallory", note="ok")  # no such field
        assert answer.status_code == 303
        assert "recorded by ana" in c.get(answer.headers["location"]).text
        c.post("/logout", data={"csrf_token": token})
        sign_in(c, "bo")
        bo_token = page_token(c.get("/queue").text)
        assert bo_token != token  # per user (and per sign-in)
        assert decide(c, "s1", "P2", bo_token, "reject").status_code == 303
    assert sorted(logged(tables)) == [("P1", "approve", "ana"), ("P2", "reject", "bo")]


def test_csrf_and_host_checks_still_refuse(team_client, tables):
    with team_client() as c:
        sign_in(c, "ana")
        mine = page_token(c.get("/queue").text)
        assert decide(c, "s1", "P1", "forged").status_code == 403
        assert decide(c, "s1", "P1", "").status_code == 403
        # the server-wide token of the login form is no decision token for a signed-in user
        assert decide(c, "s1", "P1", c.app_state.csrf_token).status_code == 403
        assert c.get("/queue", headers={"host": "evil.example"}).status_code == 400
        assert c.get("/login", headers={"host": "evil.example"}).status_code == 400
        assert decide(c, "s1", "P1", mine).status_code == 303
    assert logged(tables) == [("P1", "approve", "ana")]


def test_allowed_hosts_admit_the_names_users_reach_it_by(tables, users_path):
    auth = signin.AuthConfig(users=review_users.UsersFile(users_path))
    hosts = review_server.allowed_hosts_for(
        SimpleNamespace(allowed_host=["Review.Example.com"]), "0.0.0.0"
    )
    assert "review.example.com" in hosts and "127.0.0.1" in hosts and "0.0.0.0" not in hosts
    app = create_app(tables, None, allowed_hosts=hosts, auth=auth)
    with TestClient(app, base_url="http://review.example.com", follow_redirects=False) as c:
        assert c.get("/login").status_code == 200
        assert c.get("/login", headers={"host": "other.example"}).status_code == 400


def test_header_sign_in_from_a_trusted_proxy(team_client, tables):
    proxies = parse_proxies("10.0.0.0/24,127.0.0.1")
    options = {"trusted_proxies": proxies, "header": "X-Forwarded-User"}
    with team_client(client=("10.0.0.5", 4000), **options) as c:
        c.headers["X-Forwarded-User"] = "carol@example.com"
        page = c.get("/variant/s1/P1")
        assert (
            page.status_code == 200
            and "Signed in as <strong>carol@example.com</strong>" in page.text
        )
        assert 'id="btn-signout"' not in page.text  # the proxy signs people out
        assert decide(c, "s1", "P1", page_token(page.text)).status_code == 303
        c.headers["X-Forwarded-User"] = "vic"  # in the users file: their role
        vic_page = c.get("/variant/s1/P2")
        assert 'id="btn-approve"' not in vic_page.text
        vic = signin.Identity("vic", "viewer", "header")
        forged = decide(c, "s1", "P2", signin.user_csrf_token(c.app_state.auth, vic))
        assert forged.status_code == 403 and "viewer" in forged.text
        del c.headers["X-Forwarded-User"]
        assert c.get("/queue").status_code == 303  # no header: not signed in
        c.headers["X-Forwarded-User"] = "<script>"
        assert c.get("/queue").status_code == 303  # not a user name
    with team_client(client=("::ffff:10.0.0.9", 1), header_role="viewer", **options) as c:
        c.headers["X-Forwarded-User"] = "dan"
        page = c.get("/variant/s1/P2")
        assert page.status_code == 200 and 'class="role">viewer<' in page.text
        dan = signin.user_csrf_token(c.app_state.auth, signin.Identity("dan", "viewer", "header"))
        assert decide(c, "s1", "P2", dan).status_code == 403
    assert logged(tables) == [("P1", "approve", "carol@example.com")]


def test_the_header_is_ignored_from_an_untrusted_address(team_client, tables):
    options = {"trusted_proxies": parse_proxies("10.0.0.5"), "header": "X-Forwarded-User"}
    for address in ("10.0.0.6", "192.0.2.1", "testclient"):
        with team_client(client=(address, 4000), **options) as c:
            c.headers["X-Forwarded-User"] = "ana"
            assert c.get("/queue").status_code == 303
            assert decide(c, "s1", "P1", "anything").status_code == 401
    # two header values (one appended by the client) are nobody
    with team_client(client=("10.0.0.5", 1), **options) as c:
        answer = c.get("/queue", headers=[("X-Forwarded-User", "ana"), ("X-Forwarded-User", "bo")])
        assert answer.status_code == 303
    assert logged(tables) == []


def test_the_login_throttle_counts_the_browser_behind_a_trusted_proxy(team_client):
    proxies = parse_proxies("10.0.0.5")
    with team_client(client=("10.0.0.5", 1), trusted_proxies=proxies) as c:
        for i in range(5):
            c.headers["x-forwarded-for"] = "198.51.100.1"
            assert sign_in(c, "nobody", f"wrong-{i}x").status_code == 401
        assert sign_in(c, "ana").status_code == 429  # that browser's address is locked
        c.headers["x-forwarded-for"] = "198.51.100.2"  # another browser through the same proxy
        assert sign_in(c, "ana").status_code == 303


def test_cmd_review_serve_passes_the_sign_in_on(monkeypatch, make_review_tables, users_path):
    make_review_tables(Path(os.environ["SEGCOPY_HOME"]) / "warehouse" / "segcopy")
    calls = []
    monkeypatch.setattr(review_server, "serve", lambda *a, **kw: calls.append((a, kw)))
    args = SimpleNamespace(
        port=8123,
        reviewer="flag",
        host="0.0.0.0",
        users_file=str(users_path),
        allowed_host=["r.example"],
    )
    assert review_server.cmd_review_serve(args) == 0
    (positional, options) = calls[-1]
    assert positional[1] is None and options["host"] == "0.0.0.0"  # no --reviewer with sign-in
    assert options["auth"].users.path == users_path and options["auth"].secret == ""
    assert "r.example" in options["allowed_hosts"]
    monkeypatch.setenv("SEGCOPY_REVIEW_SECRET", "s" * 40)
    assert review_server.cmd_review_serve(args) == 0
    assert calls[-1][1]["auth"].secret == "s" * 40 and "s" * 40 not in repr(calls[-1][1]["auth"])
