"""The review page's identity, tested as an attacker would (issue 22): a users file that breaks
fails closed (W1), one normalisation of names (W2), sign-outs and the throttle in the shared
store (W3), per-visitor login CSRF (W6), one password length limit (W9), and the audit trail of
every decision, whose log only ever grows."""

import re
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import deltalake
import polars as pl
import pytest
from argon2 import PasswordHasher

from segcopy_assets import cli
from segcopy_assets.errors import SettingsError
from segcopy_assets.review import users as review_users
from segcopy_assets.review.service import decide
from segcopy_assets.review.web import auth as signin
from segcopy_assets.review.web import server as review_server
from segcopy_assets.review.web.app import create_app
from segcopy_assets.review.web.proxy import parse_proxies
from segcopy_assets.storage import review_log
from segcopy_assets.storage.delta import table_exists, table_version

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORDS = {"ana": "ana-secret-1", "vic": "vic-secret-1"}


def page_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(c, name, password=None):
    """Sign in afresh (a new browser session) through the login form."""
    c.cookies.clear()
    token = page_token(c.get("/login").text)
    password = PASSWORDS[name] if password is None else password
    return c.post("/login", data={"csrf_token": token, "username": name, "password": password})


@pytest.fixture
def tables(tmp_path, make_review_tables):
    return make_review_tables(tmp_path / "warehouse" / "segcopy")


@pytest.fixture
def users_path(tmp_path) -> Path:
    path = tmp_path / "review_users.toml"
    review_users.add_user(path, "ana", PASSWORDS["ana"], "reviewer", hasher=CHEAP)
    review_users.add_user(path, "hdrviewer", PASSWORDS["vic"], "viewer", hasher=CHEAP)
    return path


@contextmanager
def client(tables, users_path, address=("127.0.0.1", 5000), **auth):
    from starlette.testclient import TestClient

    options = {"users": review_users.UsersFile(users_path), "secret": "k" * 40, **auth}
    app = create_app(tables, None, auth=signin.AuthConfig(**options))
    with TestClient(app, base_url="http://127.0.0.1", client=address, follow_redirects=False) as c:
        c.app_state = app.state
        yield c


def log(tables) -> pl.DataFrame:
    return review_log.read_reviews(tables.reviews) if table_exists(tables.reviews) else None


def test_a_users_file_that_breaks_fails_closed(tables, users_path, monkeypatch, tmp_path):
    good = users_path.read_text()
    # at start: the default file (no flag) that no longer parses refuses, naming file and line
    monkeypatch.setenv("SEGCOPY_HOME", str(tmp_path))
    users_path.write_text(good.replace('role = "viewer"', 'role = "Viewer"'))
    with pytest.raises(SettingsError, match=r"review_users.toml, line \d+: user 'hdrviewer'"):
        review_server.auth_from(SimpleNamespace())
    users_path.write_text(good + "\nstray line\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        review_server.auth_from(SimpleNamespace())
    # while running: every request answers 503 until the file is valid again
    users_path.write_text(good)
    with client(tables, users_path) as c:
        assert sign_in(c, "ana").status_code == 303
        users_path.write_text(good + "\nstray line\n")
        for path in ("/queue", "/login", "/variant/s1/P1"):
            answer = c.get(path)
            assert answer.status_code == 503 and "users file" in answer.text
        assert c.post("/login", data={"username": "ana"}).status_code == 503
        assert c.get("/static/review.css").status_code == 200
        users_path.write_text(good)
        assert c.get("/queue").status_code == 200


def test_header_names_are_normalised_and_a_broken_file_gives_nobody_the_default_role(
    tables, users_path
):
    options = {"trusted_proxies": parse_proxies("10.0.0.5"), "header": "X-Forwarded-User"}
    with client(tables, users_path, ("10.0.0.5", 1), **options) as c:
        for name in ("hdrviewer", "HDRVIEWER", "HdrViewer"):
            c.headers["X-Forwarded-User"] = name
            page = c.get("/variant/s1/P1")
            assert page.status_code == 200 and 'class="role">viewer<' in page.text
            who = signin.Identity("hdrviewer", "viewer", "header")  # their own, valid token
            token = signin.user_csrf_token(c.app_state.auth, who)
            form = {"csrf_token": token, "decision": "approve", "input_hash": "h-s1-P1"}
            assert c.post("/variant/s1/P1/decide", data=form).status_code == 403
        c.headers["X-Forwarded-User"] = "Carol"  # not in the file: the header's role
        page = c.get("/variant/s1/P1")
        form = {"csrf_token": page_token(page.text), "decision": "approve", "input_hash": "h-s1-P1"}
        assert c.post("/variant/s1/P1/decide", data=form).status_code == 303
        users_path.write_text(users_path.read_text().replace('"viewer"', '"Viewer"'))
        c.headers["X-Forwarded-User"] = "HDRVIEWER"
        assert c.get("/queue").status_code == 503  # never the header's reviewer role
    assert log(tables)["reviewer"].to_list() == ["carol"]


def test_the_login_form_token_belongs_to_one_visitor(tables, users_path):
    with client(tables, users_path) as attacker, client(tables, users_path) as victim:
        token = page_token(attacker.get("/login").text)
        form = {"csrf_token": token, "username": "ana", "password": PASSWORDS["ana"]}
        # the attacker's token, posted from the victim's browser (a cross-site form): refused
        victim.get("/login")
        assert victim.post("/login", data=form).status_code == 403
        # no session cookie at all (SameSite keeps it from a cross-site POST): refused
        victim.cookies.clear()
        assert victim.post("/login", data=form).status_code == 403
        assert attacker.post("/login", data=form).status_code == 303


def test_one_password_length_limit_for_user_add_and_sign_in(tables, users_path):
    limit = review_users.MAX_PASSWORD_LENGTH
    with pytest.raises(SettingsError, match="too long"):
        review_users.add_user(users_path, "long", "p" * (limit + 1), hasher=CHEAP)
    review_users.add_user(users_path, "long", "p" * limit, hasher=CHEAP)
    with client(tables, users_path) as c:
        assert sign_in(c, "long", "p" * (limit + 1)).status_code == 401  # never truncated
        assert sign_in(c, "long", "p" * limit).status_code == 303


def test_sign_outs_and_failures_are_shared_through_the_warehouse(tables, users_path):
    with client(tables, users_path) as one, client(tables, users_path, ("127.0.0.2", 1)) as two:
        assert sign_in(one, "ana").status_code == 303
        cookie = dict(one.cookies)
        two.cookies.update(cookie)
        assert two.get("/queue").status_code == 200  # the same secret: the session is valid
        token = page_token(one.get("/queue").text)
        assert one.post("/logout", data={"csrf_token": token}).status_code == 303
        two.cookies.clear()
        two.cookies.update(cookie)
        assert two.get("/queue").status_code == 303  # signed out in the other process too
        for k in range(5):
            assert sign_in(one if k % 2 else two, "ANA", "wrong-password").status_code == 401
        assert sign_in(one, "ana").status_code == 429 and sign_in(two, "ana").status_code == 429
    events = pl.read_delta(tables.auth_events)
    assert set(events["kind"]) == {"attempt", "success", "signout"}
    assert "ANA" not in set(events["user_name"])  # normalised
    assert not any(cookie_value in str(events.to_dicts()) for cookie_value in cookie.values())


def test_every_decision_carries_its_audit_trail(tables, users_path, capsys, monkeypatch):
    proxies = parse_proxies("10.0.0.5")
    with client(tables, users_path, ("10.0.0.5", 1), trusted_proxies=proxies) as c:
        c.headers["x-forwarded-for"] = "198.51.100.7"
        assert sign_in(c, "ana").status_code == 303
        page = c.get("/variant/s1/P1")
        form = {"csrf_token": page_token(page.text), "decision": "approve", "input_hash": "h-s1-P1"}
        assert c.post("/variant/s1/P1/decide", data=form).status_code == 303
    decide(tables, "s1", "P2", "reject", reviewer="Bo")  # the command line
    rows = log(tables).sort("decided_at").to_dicts()
    web, cli_row = rows
    assert (web["reviewer"], web["signed_in_via"], web["client_address"]) == (
        "ana",
        "password",
        "198.51.100.7",
    )
    assert re.fullmatch(r"[0-9a-f]{32}", web["session_hash"])
    assert (cli_row["reviewer"], cli_row["signed_in_via"], cli_row["session_hash"]) == (
        "bo",
        "cli",
        None,
    )
    monkeypatch.setenv("SEGCOPY_HOME", str(Path(tables.reviews).parents[2]))
    assert cli.main(["review", "log", "--since", "1d"]) == 0
    out = capsys.readouterr().out
    assert "ana" in out and "password from 198.51.100.7 session " in out and "cli" in out
    assert "total: 2 decision(s)" in out
    assert cli.main(["review", "log", "--since", "yesterday-ish"]) == 1
    assert "--since 'yesterday-ish'" in capsys.readouterr().err


def test_the_review_log_is_append_only_whoever_writes_it(tables):
    from segcopy_assets.review.bulk import BulkFilter, decide_all, select

    decide(tables, "s1", "P1", "approve", reviewer="ana")
    decide_all(tables, select(tables, BulkFilter()), "reject", reviewer="bo")
    review_log.append_reviews(
        tables.reviews, [review_log.make_decision("s2", "P1", "h-s2-P1", "approve", reviewer="cy")]
    )
    before, version = log(tables), table_version(tables.reviews)
    frame = before.head(1).to_arrow()
    attempts = {
        "overwrite": lambda: deltalake.write_deltalake(tables.reviews, frame, mode="overwrite"),
        "delete": lambda: deltalake.DeltaTable(tables.reviews).delete("decision = 'reject'"),
        "update": lambda: deltalake.DeltaTable(tables.reviews).update({"reviewer": "'eve'"}),
        "replace a segment": lambda: deltalake.write_deltalake(
            tables.reviews, frame, mode="overwrite", predicate="segment_id = 's1'"
        ),
    }
    for name, rewrite in attempts.items():
        with pytest.raises(Exception, match="append-only"):
            rewrite()
        assert table_version(tables.reviews) == version, name
    assert log(tables).equals(before)
    # every commit in the history is an append
    history = deltalake.DeltaTable(tables.reviews).history()
    writes = [h for h in history if h["operation"] == "WRITE"]
    assert writes and all(h["operationParameters"]["mode"] == "Append" for h in writes)


def test_refused_attempts_are_not_written_and_the_shared_log_stays_small(tmp_path, monkeypatch):
    from segcopy_assets.review.web.throttle import LoginThrottle
    from segcopy_assets.storage import auth_events

    clock = [1_000_000.0]
    log = auth_events.DeltaEventLog(str(tmp_path / "events"), clock=lambda: clock[0])
    throttle = LoginThrottle(clock=lambda: clock[0], store=log)
    for _ in range(5):
        assert throttle.begin("ana", "192.0.2.1") == 0.0
    written = table_version(log.path)
    for _ in range(50):  # an attacker hammering a locked name: nothing more is written
        assert throttle.begin("ana", "192.0.2.1") > 0
    assert table_version(log.path) == written
    # compaction every COMPACT_EVERY commits: old events deleted, the rest in few files
    monkeypatch.setattr(auth_events, "COMPACT_EVERY", 20)
    clock[0] += auth_events.HORIZON_S + 1
    for k in range(40):
        throttle.begin(f"user{k}", f"198.51.100.{k}")
        throttle.succeeded(f"user{k}", f"198.51.100.{k}")
    table = deltalake.DeltaTable(log.path)
    assert len(table.file_uris()) < 20
    assert min(pl.read_delta(log.path)["at"]).timestamp() > clock[0] - auth_events.HORIZON_S
    assert log.recent(0)  # still readable after compaction


def test_a_non_ascii_token_is_a_mismatch_not_a_server_error(tables, users_path):
    with client(tables, users_path) as c:
        c.get("/login")
        form = {"csrf_token": "é☃", "username": "ana", "password": PASSWORDS["ana"]}
        assert c.post("/login", data=form).status_code == 403
        assert sign_in(c, "ana").status_code == 303
        bad = {"csrf_token": "é", "decision": "approve", "input_hash": "h-s1-P1"}
        assert c.post("/variant/s1/P1/decide", data=bad).status_code == 403
        assert c.post("/logout", data={"csrf_token": "ü"}).status_code == 403
    assert log(tables) is None
