"""The guards around the whole review app (:mod:`segcopy_assets.review.web.guards`): the security
headers on every response (framework errors included), one Host header, the streamed body
limits, the Origin / Sec-Fetch-Site check of state changes; and the sampling plan's bounds
(web form, environment, CLI) and the viewer's read-only bulk page.

The app runs on crafted tables (``make_review_tables``) under Starlette's TestClient, or is
called as a bare ASGI app where a test must see how much of a body was read. Random requests
against the same properties: tests/integration/test_review_fuzz.py.
"""

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from starlette.requests import Request
from starlette.routing import Route
from starlette.testclient import TestClient

from segcopy_assets.cli import main
from segcopy_assets.core.sampling import SamplingPlan
from segcopy_assets.review import users as review_users
from segcopy_assets.review.web import auth as signin
from segcopy_assets.review.web.app import MAX_FORM_BYTES, SECURITY_HEADERS, create_app
from segcopy_assets.review.web.proxy import parse_proxies
from segcopy_assets.storage import review_log as reviews
from segcopy_assets.storage import variant_store

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # fast hashes for tests
PASSWORDS = {"ana": "ana-secret-1", "vic": "vic-secret-1"}
ROLES = {"ana": "reviewer", "vic": "viewer"}
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def tables(tmp_path, make_review_tables):
    return make_review_tables(tmp_path / "warehouse" / "segcopy")


@pytest.fixture
def local(tables):
    """A TestClient on the single-user app (no sign-in; the local user is the reviewer ana)."""
    app = create_app(tables, "ana")
    with TestClient(
        app, base_url="http://127.0.0.1", follow_redirects=False, raise_server_exceptions=False
    ) as c:
        c.app_state = app.state
        yield c


@pytest.fixture
def team(tables, tmp_path):
    """``with team(**auth) as c:`` a TestClient on an app with sign-in (ana reviews, vic views)."""
    path = tmp_path / "review_users.toml"
    for name, password in PASSWORDS.items():
        review_users.add_user(path, name, password, ROLES[name], hasher=CHEAP)

    @contextmanager
    def open_client(client=("127.0.0.1", 50000), **auth) -> Iterator[TestClient]:
        config = signin.AuthConfig(users=review_users.UsersFile(path), **auth)
        app = create_app(tables, None, auth=config)
        with TestClient(
            app, base_url="http://127.0.0.1", client=client, follow_redirects=False
        ) as c:
            c.app_state = app.state
            yield c

    return open_client


def page_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, name):
    client.cookies.clear()
    token = page_token(client.get("/login").text)
    form = {"csrf_token": token, "username": name, "password": PASSWORDS[name], "next": "/queue"}
    assert client.post("/login", data=form).status_code == 303
    return page_token(client.get("/queue").text)


def decide_form(token: str, product="P1", **extra) -> dict[str, str]:
    return {"csrf_token": token, "decision": "approve", "input_hash": f"h-s1-{product}", **extra}


def logged(tables):
    if not variant_store.table_exists(tables.reviews):
        return []
    return reviews.read_reviews(tables.reviews).select("product_id", "decision", "reviewer").rows()


def assert_security_headers(answer, cache="no-store"):
    for name, value in SECURITY_HEADERS.items():
        expected = cache if name == "Cache-Control" else value
        assert answer.headers.get(name) == expected, (answer.status_code, name, answer.headers)


# ---------------------------------------------------------------------------------------------
# W4: the security headers on every response


def test_framework_answers_carry_the_security_headers_too(local):
    async def boom(request: Request):
        raise RuntimeError("a bug")

    local.app.router.routes.append(Route("/boom", boom))
    answers = {
        "router 404": local.get("/no-such-page"),
        "router 405": local.post("/queue"),
        "static 404": local.get("/static/no-such-file.css"),
        "host 400": local.get("/queue", headers={"host": "evil.example"}),
        "server error 500": local.get("/boom"),
        "redirect 302": local.get("/"),
        "no content 204": local.get("/favicon.ico"),
        "page 200": local.get("/queue"),
    }
    statuses = {what: answer.status_code for what, answer in answers.items()}
    assert statuses == {"router 404": 404, "router 405": 405, "static 404": 404, "host 400": 400,
                        "server error 500": 500, "redirect 302": 302, "no content 204": 204,
                        "page 200": 200}  # fmt: skip
    for answer in answers.values():
        assert_security_headers(answer)
    # headers a response sets itself are kept: the static files may be cached (and revalidated)
    assert_security_headers(local.get("/static/review.css"), cache="no-cache")


def test_sign_in_answers_carry_the_security_headers(team):
    with team() as c:
        assert_security_headers(c.get("/queue"))  # 303 to /login
        assert_security_headers(c.post("/bulk/apply"))  # 401
        assert_security_headers(c.post("/login", data={"csrf_token": "forged"}))  # 403


# ---------------------------------------------------------------------------------------------
# W10: one Host header


@pytest.mark.parametrize(
    "hosts",
    [["127.0.0.1", "evil.example"], ["127.0.0.1", "127.0.0.1"], ["localhost", "127.0.0.1"]],
)
def test_two_host_headers_are_refused(local, tables, hosts):
    headers = [("host", h) for h in hosts]
    answer = local.get("/queue", headers=headers)
    assert answer.status_code == 400
    assert_security_headers(answer)
    token = local.app_state.csrf_token
    refused = local.post("/variant/s1/P1/decide", data=decide_form(token), headers=headers)
    assert refused.status_code == 400
    assert logged(tables) == []
    assert local.get("/queue", headers={"host": hosts[0]}).status_code == 200


# ---------------------------------------------------------------------------------------------
# W8: streamed body limits


def asgi_call(app, path, headers, chunks, method="POST"):
    """Call ``app`` as a server would, feeding the body from ``chunks`` (an iterator) one message
    at a time; → (status, headers, body, how many body messages the app asked for)."""
    messages: list[dict] = []
    asked = 0
    chunks = iter(chunks)

    async def receive():
        nonlocal asked
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.disconnect"}
        asked += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message):
        messages.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        "headers": [(b"host", b"127.0.0.1"), *((k.encode(), v.encode()) for k, v in headers)],
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    answer_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], answer_headers, body, asked


def endless(first: bytes, size: int = 16 * 1024) -> Iterator[bytes]:
    yield first
    for _ in range(10_000):  # 160 MiB if nothing stopped reading
        yield b"x" * size


def test_a_declared_length_over_the_limit_is_refused_before_reading(local, tables):
    limits = [("/variant/s1/P1/decide", MAX_FORM_BYTES), ("/login", signin.MAX_FORM_BYTES)]
    for path, limit in limits:
        headers = [("content-type", FORM), ("content-length", str(limit + 1))]
        status, answer_headers, _, asked = asgi_call(local.app, path, headers, endless(b"x="))
        assert (status, asked) == (413, 0)
        assert answer_headers["x-frame-options"] == "DENY"
    answer = local.post("/variant/s1/P1/decide", content=b"x" * (MAX_FORM_BYTES + 1),
                        headers={"content-type": FORM})  # fmt: skip
    assert answer.status_code == 413
    assert_security_headers(answer)
    for bad in ("abc", "-1", "1, 2"):
        answer = local.post("/variant/s1/P1/decide", content=b"", headers={"content-length": bad})
        assert answer.status_code == 400
    assert logged(tables) == []


def test_a_streamed_body_is_cut_at_the_limit(local, tables):
    app, token = local.app, local.app_state.csrf_token
    form = f"csrf_token={token}&decision=approve&input_hash=h-s1-P1&note=".encode()
    status, headers, _, asked = asgi_call(
        app, "/variant/s1/P1/decide", [("content-type", FORM)], endless(form)
    )
    assert status == 413 and headers["cache-control"] == "no-store"
    assert asked <= MAX_FORM_BYTES // (16 * 1024) + 2  # read up to the limit, not the whole body
    assert logged(tables) == []


def test_the_sign_in_forms_have_the_smaller_limit(team, tables):
    with team() as c:
        app = c.app
        token = c.app_state.csrf_token
        form = f"csrf_token={token}&username=ana&password=".encode()
        status, _, _, asked = asgi_call(app, "/login", [("content-type", FORM)], endless(form))
        assert status == 413
        assert asked <= signin.MAX_FORM_BYTES // (16 * 1024) + 2
        # without a Content-Length (chunked): counted as it comes
        body = b"csrf_token=" + token.encode() + b"&username=ana&password=" + b"x" * 70_000
        answer = c.post("/login", content=iter([body]), headers={"content-type": FORM})
        assert answer.status_code == 413 and "set-cookie" not in answer.headers
        assert_security_headers(answer)


def test_a_form_up_to_the_limit_is_read_whole(local, tables):
    token = local.app_state.csrf_token
    head = f"csrf_token={token}&decision=approve&input_hash=h-s1-P1&pad=".encode()
    exact = head + b"x" * (MAX_FORM_BYTES - len(head))
    chunked = local.post("/variant/s1/P1/decide", content=iter([exact[:1000], exact[1000:]]),
                         headers={"content-type": FORM})  # fmt: skip
    assert chunked.status_code == 303  # exactly the limit: read whole, recorded
    over = local.post("/variant/s1/P2/decide", content=iter([exact, b"x"]),
                      headers={"content-type": FORM})  # fmt: skip
    assert over.status_code == 413
    assert [row[0] for row in logged(tables)] == ["P1"]


# ---------------------------------------------------------------------------------------------
# cross-site requests: Origin and Sec-Fetch-Site


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.example"},
        {"origin": "null", "sec-fetch-site": "cross-site"},  # e.g. a sandboxed frame elsewhere
        {"origin": "null", "sec-fetch-site": "same-site"},
        # a page elsewhere with Referrer-Policy no-referrer (ours is same-origin: our own forms
        # carry our origin), or a sandboxed frame, on plain HTTP with no Sec-Fetch-Site
        {"origin": "null"},
        {"origin": "null", "sec-fetch-site": "same-origin"},
        {"origin": "http://127.0.0.1:8080"},  # another port is another origin
        {"origin": "http://127.0.0.1.evil.example"},
        {"origin": "http://127.0.0.1/queue"},  # not an origin
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"sec-fetch-site": "same-origin", "origin": "http://evil.example"},
        {"origin": "http://127.0.0.1", "sec-fetch-site": "cross-site"},
    ],
)
def test_a_cross_site_state_change_is_refused(local, tables, headers):
    token = local.app_state.csrf_token
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        answer = local.request(method, "/variant/s1/P1/decide", data=decide_form(token),
                               headers=headers)  # fmt: skip
        assert answer.status_code == 403, (method, answer.status_code)
        assert answer.headers["content-type"].startswith("text/plain")
        assert_security_headers(answer)
    assert local.get("/queue", headers=headers).status_code == 200  # reading is not refused
    assert logged(tables) == []


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl, scripts: the CSRF token still applies
        {"origin": "http://127.0.0.1", "sec-fetch-site": "same-origin"},
        {"origin": "http://127.0.0.1:80"},
        {"origin": "HTTP://127.0.0.1"},
        {"sec-fetch-site": "none"},  # typed by the user
        {"origin": "https://127.0.0.1"},  # plain HTTP here: maybe a TLS proxy we were not told of
    ],
)
def test_a_same_origin_state_change_goes_through(local, tables, headers):
    answer = local.post("/variant/s1/P1/decide", data=decide_form(local.app_state.csrf_token),
                        headers=headers)  # fmt: skip
    assert answer.status_code == 303
    assert logged(tables) == [("P1", "approve", "ana")]


def sign_in_by_header(client, name, **headers) -> tuple[str, dict[str, str]]:
    """Sign in with the session cookie sent by hand (a Secure cookie on an http:// client):
    → (the user's token, the cookie header)."""

    def cookie(answer) -> dict[str, str]:
        found = re.search(r"segcopy_review=([^;]+)", answer.headers.get("set-cookie", ""))
        return {"cookie": f"segcopy_review={found.group(1)}"} if found else {}

    client.cookies.clear()
    login = client.get("/login", headers=headers)
    form = {"csrf_token": page_token(login.text), "username": name, "password": PASSWORDS[name]}
    answer = client.post("/login", data=form, headers={**headers, **cookie(login)})
    assert answer.status_code == 303
    session = cookie(answer)
    client.cookies.clear()
    return page_token(client.get("/queue", headers={**headers, **session}).text), session


def test_the_origin_must_use_https_when_the_browser_did(team, tables):
    with team(behind_tls=True) as c:
        token, session = sign_in_by_header(c, "ana")
        plain = c.post("/variant/s1/P1/decide", data=decide_form(token),
                       headers={**session, "origin": "http://127.0.0.1"})  # fmt: skip
        assert plain.status_code == 403
        tls = c.post("/variant/s1/P1/decide", data=decide_form(token),
                     headers={**session, "origin": "https://127.0.0.1"})  # fmt: skip
        assert tls.status_code == 303
    proxies = parse_proxies("10.0.0.5")
    with team(client=("10.0.0.5", 1), trusted_proxies=proxies) as c:
        https = {"x-forwarded-proto": "https"}
        token, session = sign_in_by_header(c, "ana", **https)
        refused = c.post("/variant/s1/P2/decide", data=decide_form(token, "P2"),
                         headers={**https, **session, "origin": "http://127.0.0.1"})  # fmt: skip
        assert refused.status_code == 403
        ok = c.post("/variant/s1/P2/decide", data=decide_form(token, "P2"),
                    headers={**https, **session, "origin": "https://127.0.0.1"})  # fmt: skip
        assert ok.status_code == 303
    assert sorted(logged(tables)) == [("P1", "approve", "ana"), ("P2", "approve", "ana")]


def test_a_cross_site_sign_in_or_out_is_refused(team):
    with team() as c:
        token = page_token(c.get("/login").text)  # a valid sign-in form...
        form = {"csrf_token": token, "username": "ana", "password": PASSWORDS["ana"]}
        answer = c.post("/login", data=form, headers={"origin": "http://evil.example"})
        assert answer.status_code == 403 and "set-cookie" not in answer.headers
        assert answer.text.startswith("Cross-site request refused")  # ...posted from elsewhere
        user_token = sign_in(c, "ana")
        out = c.post("/logout", data={"csrf_token": user_token},
                     headers={"sec-fetch-site": "cross-site"})  # fmt: skip
        assert out.status_code == 403
        assert c.get("/queue").status_code == 200  # still signed in


# ---------------------------------------------------------------------------------------------
# W5: the sampling plan's bounds


@pytest.mark.parametrize(
    "p, c",
    [
        ("1e-300", ""), ("1e-17", ""), ("0.00009", ""), ("0.9999999", ""), ("0.51", ""),
        ("nan", ""), ("inf", ""), ("-inf", ""), ("1e400", ""), ("-0.05", ""), ("abc", ""),
        ("", "1"), ("", "0.9999999"), ("", "0.4"), ("", "nan"), ("", "1e400"),
    ],
)  # fmt: skip
def test_an_unusable_sampling_plan_is_a_400(local, tables, p, c):
    answer = local.post("/batches/draw",
                        data={"csrf_token": local.app_state.csrf_token, "p": p, "c": c})  # fmt: skip
    assert answer.status_code == 400, answer.status_code
    assert "sampling plan" in answer.text
    assert not variant_store.table_exists(tables.batches)


def test_a_sampling_plan_within_the_bounds_is_drawn(local, tables):
    form = {"csrf_token": local.app_state.csrf_token, "p": "0.0001", "c": "0.9999"}
    assert local.post("/batches/draw", data=form).status_code == 303
    assert variant_store.table_exists(tables.batches)


def test_sampling_plan_bounds():
    assert SamplingPlan(0.0001, 0.9999).n == 92099 and SamplingPlan(0.5, 0.5).n == 1
    for p, c in [(1e-300, 0.95), (0.9999999, 0.95), (0.05, 0.99999), (0.05, 0.49),
                 (float("nan"), 0.95), (0.05, float("inf"))]:  # fmt: skip
        with pytest.raises(ValueError, match=r"0\.0001 <= p <= 0\.5 .* 0\.5 <= c <= 0\.9999"):
            SamplingPlan(p, c)


def test_unusable_sampling_settings_are_a_clear_page(local, tables, monkeypatch):
    monkeypatch.setenv("SEGCOPY_SAMPLE_P", "0.9")
    answer = local.get("/batches")
    assert answer.status_code == 503 and "SEGCOPY_SAMPLE_P" in answer.text
    monkeypatch.setenv("SEGCOPY_SAMPLE_P", "five")
    answer = local.post("/batches/draw", data={"csrf_token": local.app_state.csrf_token})
    assert answer.status_code == 503 and "SEGCOPY_SAMPLE_P" in answer.text
    assert not variant_store.table_exists(tables.batches)


def test_the_cli_refuses_an_unusable_plan_in_one_line(make_review_tables, capsys, monkeypatch):
    home = Path(__import__("os").environ["SEGCOPY_HOME"])
    tables = make_review_tables(home / "warehouse" / "segcopy")
    assert main(["review", "sample", "--p", "1e-300", "--reviewer", "ana"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "0.0001 <= p <= 0.5" in err, err
    monkeypatch.setenv("SEGCOPY_SAMPLE_C", "0.99999")
    assert main(["review", "sample", "--reviewer", "ana"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "c=0.99999" in err, err
    assert not variant_store.table_exists(tables.batches)


# ---------------------------------------------------------------------------------------------
# W7: a viewer's bulk page is read-only


def test_a_viewer_sees_the_bulk_counts_but_no_confirmation(team, tables):
    with team() as c:
        token = sign_in(c, "vic")
        for decision, label in [("approve", "Approve"), ("reject", "Reject")]:
            page = c.get(f"/bulk?decision={decision}&segment=s1")
            assert page.status_code == 200 and 'id="bulk-counts"' in page.text
            assert 'id="read-only"' in page.text and "reviewer role" in page.text
            for hidden in ('id="confirm-bulk"', 'action="/bulk/apply"', f"{label} 2<"):
                assert hidden not in page.text
        queue = c.get("/queue").text
        assert 'id="bulk-approve"' not in queue and 'id="bulk-reject"' not in queue
        assert 'id="queue-read-only"' in queue
        form = {"csrf_token": token, "decision": "approve", "segment": "s1", "expected": "2"}
        assert c.post("/bulk/apply", data=form).status_code == 403
        token = sign_in(c, "ana")
        page = c.get("/bulk?decision=approve&segment=s1").text
        assert 'id="confirm-bulk"' in page and "Approve 2<" in page and 'id="read-only"' not in page
        assert 'id="bulk-approve"' in c.get("/queue").text
    assert logged(tables) == []
