"""The review page's sign-in, its pure parts: the users file, the login throttle, which
addresses are trusted proxies, the ``segcopy review user`` commands and when ``segcopy review
serve`` refuses to start.

The sign-in over HTTP is in tests/integration/test_review_auth_app.py, a real browser in
tests/e2e/test_review_team_browser.py.
"""

import io
import os
import stat
import threading
from types import SimpleNamespace

import pytest
from argon2 import PasswordHasher
from starlette.requests import Request

from segcopy_assets.cli import main
from segcopy_assets.errors import SettingsError
from segcopy_assets.review import users as review_users
from segcopy_assets.review.web import server as review_server
from segcopy_assets.review.web.proxy import client_address, is_https, is_trusted, parse_proxies
from segcopy_assets.review.web.throttle import LoginThrottle
from segcopy_assets.storage.auth_events import MemoryEventLog

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# ---------------------------------------------------------------------------------------------
# the users file


def test_users_file_add_verify_remove(tmp_path):
    path = tmp_path / "conf" / "review_users.toml"
    assert review_users.add_user(path, "ana", "correct horse", "reviewer") is True
    assert review_users.add_user(path, "vic@example.com", "viewer pass", "viewer", CHEAP) is True
    text = path.read_text()
    assert "correct horse" not in text and "viewer pass" not in text
    assert text.count("$argon2id$") == 2
    assert mode(path) == 0o600
    users = review_users.UsersFile(path)
    assert {u.name: u.role for u in users.users().values()} == {
        "ana": "reviewer",
        "vic@example.com": "viewer",
    }
    assert "$argon2" not in repr(users.get("ana"))  # the hash stays out of logs
    assert users.verify("ana", "correct horse").name == "ana"
    assert users.verify("ana", "correct horsE") is None
    assert users.verify("nobody", "correct horse") is None
    assert users.verify("vic@example.com", "viewer pass").role == "viewer"
    # a new password and role replace the old ones; the server sees it without a restart
    assert review_users.add_user(path, "ana", "battery staple", "viewer", CHEAP) is False
    assert users.verify("ana", "correct horse") is None
    assert users.verify("ana", "battery staple").role == "viewer"
    assert review_users.remove_user(path, "ana") is True
    assert review_users.remove_user(path, "ana") is False
    assert users.get("ana") is None and list(users.users()) == ["vic@example.com"]
    assert mode(path) == 0o600
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_users_file_is_0600_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        path = tmp_path / "users.toml"
        review_users.add_user(path, "ana", "correct horse", hasher=CHEAP)
    finally:
        os.umask(old)
    assert mode(path) == 0o600
    os.chmod(path, 0o644)
    assert review_users.loose_permissions(path)
    review_users.add_user(path, "bo", "correct horse", hasher=CHEAP)  # rewritten: 0600 again
    assert mode(path) == 0o600 and not review_users.loose_permissions(path)


def test_bad_names_roles_passwords_and_files_are_refused(tmp_path):
    path = tmp_path / "users.toml"
    for name in ["", "ana smith", '"]\nrole = "reviewer', "-ana", "a" * 129]:
        with pytest.raises(SettingsError, match="user name"):
            review_users.add_user(path, name, "correct horse", hasher=CHEAP)
    with pytest.raises(SettingsError, match="role"):
        review_users.add_user(path, "ana", "correct horse", "admin", CHEAP)
    with pytest.raises(SettingsError, match="too short"):
        review_users.add_user(path, "ana", "short", hasher=CHEAP)
    assert not path.exists()
    path.write_text("[users.ana\nrole=")
    with pytest.raises(SettingsError, match="not valid TOML"):
        review_users.read_users(path)
    # a server whose file turns bad fails closed: neither the old users nor none (which would
    # turn sign-in off): an error naming the file and the line, answered 503 by the page
    path.write_text('# users\n[users.ana]\nrole = "Viewer"\n')
    with pytest.raises(SettingsError, match=r"line 2: user 'ana' has unknown role 'Viewer'"):
        review_users.read_users(path)
    with pytest.raises(review_users.UsersFileInvalid, match="line 2"):
        review_users.UsersFile(path).users()
    path.write_text('[users.ana]\nrole = "viewer"\nstray line\n')
    with pytest.raises(review_users.UsersFileInvalid, match="line 3"):
        review_users.UsersFile(path).verify("ana", "x")
    assert review_users.UsersFile(tmp_path / "missing.toml").verify("ana", "x") is None


def test_a_password_longer_than_sign_in_accepts_is_refused_by_user_add(tmp_path):
    path = tmp_path / "users.toml"
    limit = review_users.MAX_PASSWORD_LENGTH
    with pytest.raises(SettingsError, match="too long"):
        review_users.add_user(path, "ana", "x" * (limit + 1), hasher=CHEAP)
    review_users.add_user(path, "ana", "x" * limit, hasher=CHEAP)
    assert review_users.UsersFile(path).verify("ana", "x" * limit).name == "ana"


def test_one_normalisation_of_names_in_the_file_and_on_lookup(tmp_path):
    path = tmp_path / "users.toml"
    review_users.add_user(path, "Vic.Viewer", "viewer pass", "viewer", hasher=CHEAP)
    users = review_users.UsersFile(path)
    assert set(users.users()) == {"vic.viewer"}
    assert users.get("VIC.VIEWER").role == users.get(" vic.viewer").role == "viewer"
    assert users.verify("Vic.Viewer", "viewer pass").name == "vic.viewer"
    path.write_text('[users.ana]\nrole = "viewer"\n\n[users.ANA]\nrole = "reviewer"\n')
    with pytest.raises(SettingsError, match=r"line 4: user 'ANA' is listed twice"):
        review_users.read_users(path)


def test_concurrent_adds_keep_every_user(tmp_path):
    path = tmp_path / "users.toml"
    threads = [
        threading.Thread(
            target=review_users.add_user, args=(path, f"user{i}", "correct horse", "viewer", CHEAP)
        )
        for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(review_users.read_users(path)) == sorted(f"user{i}" for i in range(8))


def test_users_path_from_flag_environment_or_home(tmp_path, monkeypatch):
    home = os.environ["SEGCOPY_HOME"]
    assert review_users.users_path() == (review_users.default_users_path(), False)
    assert str(review_users.default_users_path()).startswith(home)
    monkeypatch.setenv("SEGCOPY_REVIEW_USERS_FILE", str(tmp_path / "env.toml"))
    assert review_users.users_path() == (tmp_path / "env.toml", True)
    assert review_users.users_path(str(tmp_path / "flag.toml")) == (tmp_path / "flag.toml", True)


def test_user_commands(tmp_path, monkeypatch, capsys):
    path = tmp_path / "users.toml"
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\n"))
    assert (
        main(["review", "user", "add", "ana", "--password-stdin", "--users-file", str(path)]) == 0
    )
    monkeypatch.setenv("SEGCOPY_REVIEW_USERS_FILE", str(path))
    answers = iter(["viewer pass", "viewer pass"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["review", "user", "add", "vic", "--role", "viewer"]) == 0
    answers = iter(["one password", "another one"])
    assert main(["review", "user", "add", "eve"]) == 1  # typed twice, differently
    assert "differ" in capsys.readouterr().err
    assert main(["review", "user", "list"]) == 0
    listing = capsys.readouterr().out
    assert listing.split() == ["ana", "reviewer", "vic", "viewer"]
    assert "argon2" not in listing
    users = review_users.UsersFile(path)
    assert users.verify("ana", "correct horse") and users.verify("vic", "viewer pass")
    assert main(["review", "user", "remove", "vic"]) == 0
    assert main(["review", "user", "remove", "vic"]) == 1
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["review", "user", "add", "bo", "--password-stdin"]) == 1
    assert "too short" in capsys.readouterr().err
    assert sorted(review_users.read_users(path)) == ["ana"]


# ---------------------------------------------------------------------------------------------
# the login throttle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_five_failures_within_15_minutes_lock_a_user_name():
    clock = Clock()
    t = LoginThrottle(clock=clock)
    for i in range(5):
        assert t.begin("ana", f"10.0.0.{i}") == 0.0  # counted as failures (never succeeded)
        clock.now += 60
    wait = t.begin("ANA ", "10.0.0.9")  # names are matched without case
    assert wait == pytest.approx(15 * 60 - 5 * 60)
    assert t.begin("bo", "10.0.0.9") == 0.0  # another user, another address
    clock.now += wait + 0.01  # the first failure is older than the window: one more try
    assert t.begin("ana", "10.0.0.9") == 0.0
    assert t.begin("ana", "10.0.0.9") > 0


def test_five_failures_lock_an_address_and_refusals_do_not_extend_the_lock():
    clock = Clock()
    t = LoginThrottle(clock=clock)
    for i in range(5):
        assert t.begin(f"user{i}", "192.0.2.1") == 0.0
    for _ in range(20):
        assert t.begin("someone", "192.0.2.1") == pytest.approx(15 * 60)
    assert t.begin("someone", "192.0.2.2") == 0.0
    clock.now += 15 * 60 + 1
    assert t.begin("someone", "192.0.2.1") == 0.0


def test_a_success_resets_the_users_counter():
    t = LoginThrottle(clock=Clock())
    for i in range(4):
        t.begin("ana", f"10.0.0.{i}")
    t.begin("ana", "10.0.1.1")
    t.succeeded("ana", "10.0.1.1")
    for i in range(4):
        assert t.begin("ana", f"10.0.2.{i}") == 0.0
    # the address keeps its failures, but not the successful attempt
    for _ in range(5):
        t.begin("bo", "10.0.1.1")
    assert t.begin("cy", "10.0.1.1") > 0


def test_parallel_attempts_cannot_pass_the_limit():
    t = LoginThrottle()
    start = threading.Barrier(20)
    allowed = []

    def attempt():
        start.wait()
        allowed.append(t.begin("ana", "10.0.0.1") == 0.0)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert allowed.count(True) == 5


def test_the_in_memory_log_is_bounded():
    log = MemoryEventLog(max_events=100)
    t = LoginThrottle(clock=Clock(), store=log)
    for i in range(1000):
        t.begin(f"user{i}", f"10.{i // 256}.{i % 256}.1")
    assert len(log) == 100


def test_two_throttles_on_one_log_count_together_like_two_review_processes():
    clock, log = Clock(), MemoryEventLog()
    first, second = LoginThrottle(clock=clock, store=log), LoginThrottle(clock=clock, store=log)
    for i in range(5):
        assert (first if i % 2 else second).begin("Ana", f"10.0.0.{i}") == 0.0
        clock.now += 1
    assert first.begin("ana", "10.9.9.9") > 0 and second.begin("ANA", "10.9.9.8") > 0
    assert first.begin("bo", "10.9.9.9") == 0.0


# ---------------------------------------------------------------------------------------------
# trusted proxies


def request(client, headers=(), scheme="http"):
    raw = [(k.lower().encode(), v.encode()) for k, v in headers]
    scope = {"type": "http", "client": client, "headers": raw, "scheme": scheme, "method": "GET"}
    return Request(scope)


def test_trusted_proxies_by_address_or_network():
    proxies = parse_proxies(" 10.0.0.5, 127.0.0.1,192.168.0.0/16 , fd00::/8,")
    assert len(proxies) == 4
    for address in ["10.0.0.5", "127.0.0.1", "192.168.3.4", "fd00::1", "::ffff:192.168.0.9"]:
        assert is_trusted(address, proxies), address
    for address in ["10.0.0.6", "127.0.0.2", "192.169.0.1", "fe80::1", "", "testclient", "x"]:
        assert not is_trusted(address, proxies), address
    with pytest.raises(ValueError):
        parse_proxies("10.0.0.300")
    with pytest.raises(ValueError):
        parse_proxies("proxy.example.com")


def test_the_browsers_address_behind_a_trusted_proxy():
    proxies = parse_proxies("10.0.0.0/24")
    xff = [("X-Forwarded-For", "6.6.6.6, 198.51.100.7, 10.0.0.3")]
    # from the proxy: the last address that is not a proxy (the first ones a client may forge)
    assert client_address(request(("10.0.0.5", 1), xff), proxies) == "198.51.100.7"
    # from anyone else the header is ignored
    assert client_address(request(("198.51.100.9", 1), xff), proxies) == "198.51.100.9"
    assert client_address(request(("10.0.0.5", 1)), proxies) == "10.0.0.5"
    garbage = [("X-Forwarded-For", "not-an-address")]
    assert client_address(request(("10.0.0.5", 1), garbage), proxies) == "10.0.0.5"


def test_https_is_believed_from_a_trusted_proxy_or_behind_tls():
    proxies = parse_proxies("10.0.0.5")
    https = [("X-Forwarded-Proto", "https")]
    assert is_https(request(("10.0.0.5", 1), https).scope, proxies)
    assert not is_https(request(("10.0.0.6", 1), https).scope, proxies)
    assert not is_https(request(("10.0.0.5", 1)).scope, proxies)
    assert is_https(request(("10.0.0.6", 1)).scope, proxies, behind_tls=True)


# ---------------------------------------------------------------------------------------------
# when `segcopy review serve` refuses to start


def serve_args(**kw):
    base = {
        "port": 8123,
        "reviewer": None,
        "host": "127.0.0.1",
        "users_file": None,
        "auth_header": None,
        "trusted_proxy": None,
        "header_role": None,
        "behind_tls": False,
        "allowed_host": None,
    }
    return SimpleNamespace(**{**base, **kw})


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "review.example.com"])
def test_serve_refuses_a_non_loopback_host_without_sign_in(host, capsys, monkeypatch):
    monkeypatch.setattr(review_server, "serve", lambda *a, **kw: pytest.fail("served"))
    assert review_server.cmd_review_serve(serve_args(host=host)) == 1
    err = capsys.readouterr().err
    assert f"refusing to serve on {host} without sign-in" in err
    assert "segcopy review user add" in err and "--auth-header" in err


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ({"auth_header": "X-Forwarded-User"}, {}, "--auth-header needs --trusted-proxy"),
        ({"auth_header": "X-User", "trusted_proxy": "10.0.0.300"}, {}, "--trusted-proxy"),
        ({"users_file": "/nonexistent/users.toml"}, {}, "there is no users file"),
        ({}, {"SEGCOPY_REVIEW_USERS_FILE": "/nonexistent/u.toml"}, "there is no users file"),
        (
            {"auth_header": "X-User", "trusted_proxy": "10.0.0.5"},
            {"SEGCOPY_REVIEW_SECRET": "tiny-s3cret"},
            "too short",
        ),
        ({"auth_header": "X-User", "trusted_proxy": "10.0.0.5", "allowed_host": ["*"]}, {}, "*"),
    ],
)
def test_serve_refuses_unusable_sign_in_settings(args, env, message, capsys, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(review_server, "serve", lambda *a, **kw: pytest.fail("served"))
    assert review_server.cmd_review_serve(serve_args(**args)) == 1
    err = capsys.readouterr().err
    assert message in err
    assert "SEGCOPY_REVIEW_SECRET" not in env or env["SEGCOPY_REVIEW_SECRET"] not in err


def test_serve_sign_in_settings_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGCOPY_REVIEW_AUTH_HEADER", "X-Forwarded-User")
    monkeypatch.setenv("SEGCOPY_REVIEW_TRUSTED_PROXIES", "10.0.0.5,10.1.0.0/16")
    monkeypatch.setenv("SEGCOPY_REVIEW_HEADER_ROLE", "viewer")
    monkeypatch.setenv("SEGCOPY_REVIEW_BEHIND_TLS", "1")
    auth = review_server.auth_from(serve_args())
    assert auth.header == "X-Forwarded-User" and auth.header_role == "viewer" and auth.behind_tls
    assert [str(n) for n in auth.trusted_proxies] == ["10.0.0.5/32", "10.1.0.0/16"]
    assert auth.users is None  # no users file at the default place
    # the default users file counts once it has users
    review_users.add_user(review_users.default_users_path(), "ana", "correct horse", hasher=CHEAP)
    monkeypatch.delenv("SEGCOPY_REVIEW_AUTH_HEADER")
    assert review_server.auth_from(serve_args()).users.path == review_users.default_users_path()


def test_loopback_without_sign_in_is_as_before():
    assert review_server.auth_from(serve_args()) is None
    assert review_server.allowed_hosts_for(serve_args(), "127.0.0.1") is None
    for host in ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"]:
        assert review_server.is_loopback(host)
    for host in ["0.0.0.0", "::", "10.0.0.1", "example.com"]:
        assert not review_server.is_loopback(host)


def test_a_users_file_that_disappears_fails_closed(tmp_path):
    path = tmp_path / "users.toml"
    review_users.add_user(path, "vic", "viewer pass", "viewer", hasher=CHEAP)
    users = review_users.UsersFile(path)
    assert users.get("vic").role == "viewer"
    path.unlink()  # a proxy's viewer must not become --header-role's reviewer
    with pytest.raises(review_users.UsersFileInvalid, match="disappeared"):
        users.users()
    review_users.add_user(path, "vic", "viewer pass", "viewer", hasher=CHEAP)
    assert users.get("vic").role == "viewer"
    assert review_users.UsersFile(tmp_path / "never.toml").users() == {}  # never there: no users
