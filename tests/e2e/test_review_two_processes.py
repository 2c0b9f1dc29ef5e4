"""Two review processes on one warehouse (issue 22): the session state (sign-outs, the login
throttle) lives in the warehouse's review_auth_events table, so a sign-out in one process is
honoured by the other and by a restarted one, and failed sign-ins spread over both lock a name;
a users file that turns invalid makes both answer 503 until it is fixed."""

import re
import subprocess

import pytest
import requests

from segcopy_assets.review import users as review_users

SECRET = "two-process-secret-" + "y" * 24
PASSWORD = "marta-pass-1"


def _stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    try:
        return proc.communicate(timeout=20)[1]
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()[1]


def _sign_in(session: requests.Session, base: str, name: str, password: str):
    page = session.get(f"{base}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    form = {"csrf_token": token, "username": name, "password": password, "next": "/queue"}
    return session.post(f"{base}/login", data=form, allow_redirects=False, timeout=30)


@pytest.fixture
def home(tmp_path, make_review_tables):
    home = tmp_path / "home"
    make_review_tables(home / "warehouse" / "segcopy")
    review_users.add_user(home / "review_users.toml", "marta", PASSWORD)
    review_users.add_user(home / "review_users.toml", "bo", PASSWORD + "b")
    return home


@pytest.mark.slow
def test_sign_outs_and_the_throttle_are_shared_and_survive_a_restart(
    home, segcopy_env, free_port, start_review_server
):
    env = segcopy_env(home, SEGCOPY_REVIEW_SECRET=SECRET)
    port_a, port_b = free_port(), free_port()
    a, b = start_review_server(env, port_a), start_review_server(env, port_b)
    base_a, base_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    try:
        browser = requests.Session()
        assert _sign_in(browser, base_a, "marta", PASSWORD).status_code == 303
        cookie = dict(browser.cookies)
        assert (
            requests.get(f"{base_b}/queue", cookies=cookie, allow_redirects=False).status_code
            == 200
        )
        page = browser.get(f"{base_a}/queue").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
        assert (
            browser.post(
                f"{base_a}/logout", data={"csrf_token": token}, allow_redirects=False
            ).status_code
            == 303
        )
        # the old cookie, replayed against the other process: signed out there too
        assert (
            requests.get(f"{base_b}/queue", cookies=cookie, allow_redirects=False).status_code
            == 303
        )

        # five failures for one name, spread over both processes, lock it on both
        for k in range(5):
            wrong = _sign_in(requests.Session(), base_a if k % 2 else base_b, "MARTA", "wrong-pass")
            assert wrong.status_code == 401
        for base in (base_a, base_b):
            assert _sign_in(requests.Session(), base, "marta", PASSWORD).status_code == 429
        # and the address they came from (every request here is 127.0.0.1), for anyone
        assert _sign_in(requests.Session(), base_b, "bo", PASSWORD + "b").status_code == 429
    finally:
        _stop(a)
        _stop(b)

    # a restart with the same secret: the signed-out cookie stays refused
    c = start_review_server(env, port_a)
    try:
        assert (
            requests.get(f"{base_a}/queue", cookies=cookie, allow_redirects=False).status_code
            == 303
        )
    finally:
        _stop(c)


@pytest.mark.slow
def test_an_invalid_users_file_fails_closed(
    home, segcopy_exe, segcopy_env, free_port, start_review_server
):
    users = home / "review_users.toml"
    good = users.read_text()
    users.write_text(good.replace('role = "reviewer"', 'role = "Reviewer"', 1))
    env = segcopy_env(home, SEGCOPY_REVIEW_SECRET=SECRET)
    refused = subprocess.run(
        [segcopy_exe, "review", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1 and "Reviewing as" not in refused.stdout
    assert str(users) in refused.stderr and re.search(r"line \d+", refused.stderr)
    assert "unknown role 'Reviewer'" in refused.stderr

    users.write_text(good)
    port = free_port()
    proc = start_review_server(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        browser = requests.Session()
        assert _sign_in(browser, base, "marta", PASSWORD).status_code == 303
        users.write_text(good + "\nstray line\n")  # broken while it runs: 503 for everyone
        assert browser.get(f"{base}/queue").status_code == 503
        assert requests.get(f"{base}/login").status_code == 503
        users.write_text(good)  # fixed: back on its own
        assert browser.get(f"{base}/queue").status_code == 200
    finally:
        err = _stop(proc)
    assert "line" in err and str(users) in err  # the reason is in the server's log
