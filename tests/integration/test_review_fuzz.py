"""Random requests against the review page (hypothesis): whatever comes in, the app never answers
500, every answer carries the security headers, and a refused request (status >= 400) writes
nothing (the ``variant_reviews``, ``review_batches`` and ``generation_retries`` tables keep their
Delta versions).

Requests mix methods, the real routes (with random segments and products), random paths,
traversal attempts and percent-encoded bytes, query strings, form bodies (random fields, the
CSRF token right, wrong or missing, some over the size limit), headers (Host variants and
duplicates, Origin, Sec-Fetch-Site, Content-Type, Content-Length, X-Forwarded-*) and cookies,
sent as nobody, a viewer or a reviewer signed in through a users file, and to the single-user
app. ``derandomize=True``: the same examples on every run (and in CI), so a failure reproduces.
"""

from pathlib import Path
from urllib.parse import quote, unquote, urlencode

from argon2 import PasswordHasher
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from segcopy_assets.review import users as review_users
from segcopy_assets.review.web import auth as signin
from segcopy_assets.review.web.app import MAX_FORM_BYTES, SECURITY_HEADERS, create_app
from segcopy_assets.review.web.proxy import parse_proxies

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # fast hashes for tests
# the fuzzed sign-ins try "ana"; the sessions it uses are rhea's and vera's, never locked out
PASSWORDS = {"ana": "ana-secret-1", "rhea": "rhea-secret-1", "vera": "vera-secret-1"}
USER_ROLES = {"ana": "reviewer", "rhea": "reviewer", "vera": "viewer"}
SESSION_USERS = {"reviewer": "rhea", "viewer": "vera"}
FORM = "application/x-www-form-urlencoded"
EXAMPLES = 500

# ---------------------------------------------------------------------------------------------
# strategies


def weighted(*options: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of ``options`` (weight, strategy), picked in proportion to the weights."""
    return st.sampled_from([s for w, s in options for _ in range(w)]).flatmap(lambda s: s)


printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=24)
anything = st.text(max_size=16)  # any code point (but surrogates)
quoted = anything.map(lambda t: quote(t, safe=""))
segment = weighted(
    (3, st.sampled_from(["s1", "s2", "s9"])),
    (1, st.sampled_from(["..", ".", "%2e%2e", "%00", "%ff", "P1"])),
    (1, quoted),
)
product = weighted(
    (3, st.sampled_from(["P1", "P2", "P9"])),
    (1, st.sampled_from(["..%2f..%2fapp.py", "%2F", "x" * 300])),
    (1, quoted),
)
PAIRS = ["s1/P1", "s1/P2", "s2/P1"]  # the variants of make_review_tables
GET_ROUTES = ["/", "/queue", "/stats", "/batches", "/bulk", "/dashboard", "/login",
              "/favicon.ico", "/static/review.css", "/static/review.js"]  # fmt: skip
POST_ROUTES = ["/batches/draw", "/bulk/apply", "/retry", "/login", "/logout"]
TRAVERSALS = ["/static/../app.py", "/static/%2e%2e/%2e%2e/app.py", "/static/..%2f..%2fauth.py",
              "/static/%2e%2e%2fguards.py", "/static/", "/static", "//evil.example/x",
              "/%5c%5cevil.example", "/queue/%2e%2e/login", "/%00", "/%ff%fe", "/%c0%af",
              "/variant/s1/P1/decide/extra", "/static/review.css%00.js", "/;x=1", "/queue;"]  # fmt: skip
variant = st.builds(lambda s, p: f"/variant/{s}/{p}", segment, product)
decide = st.builds(lambda s, p: f"/variant/{s}/{p}/decide", segment, product)
any_path = weighted(
    (3, st.sampled_from(GET_ROUTES + POST_ROUTES)),
    (2, variant),
    (2, decide),
    (1, st.builds(lambda s: f"/static/{s}", segment)),
    (2, st.sampled_from(TRAVERSALS)),
    (1, st.lists(segment, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))),
)
any_method = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
# (method, path): mostly what the routes take, else any method on any path
endpoint = weighted(
    (3, st.tuples(st.just("GET"), st.sampled_from(GET_ROUTES))),
    (2, st.tuples(st.just("GET"), variant)),
    (3, st.tuples(st.just("POST"), st.sampled_from(POST_ROUTES))),
    (2, st.tuples(st.just("POST"), decide)),
    (2, st.tuples(st.just("POST"), st.sampled_from([f"/variant/{p}/decide" for p in PAIRS]))),
    (3, st.tuples(any_method, any_path)),
)
FIELDS = ["csrf_token", "decision", "input_hash", "note", "edited_text", "force", "p", "c",
          "all_segments", "segment", "product", "status", "checks", "batch", "expected", "back",
          "username", "password", "next", "q_segment", "q_product", "q_status", "q_batch",
          "retried", "done", "drawn"]  # fmt: skip
VALUES = ["s1", "s2", "P1", "P2", "pending", "approved", "rejected", "failed", "approve",
          "reject", "edit", "passing", "failing", "1", "0", "-1", "3", "nan", "inf", "1e-300",
          "0.9999999", "1e400", "0.2", "0.9", "h-s1-P1", "h-s1-P2", "h-s2-P1", "variant",
          "dashboard", "/queue", "//evil.example", "https://evil.example",
          "<script>alert(1)</script>", "ana", "ana-secret-1", "", "x" * 2000]  # fmt: skip
field_name = weighted((3, st.sampled_from(FIELDS)), (1, printable))
value = weighted((3, st.sampled_from(VALUES)), (1, anything))
query = st.lists(st.tuples(field_name, value), max_size=4).map(lambda pairs: urlencode(pairs))
HOSTS = ["127.0.0.1", "localhost", "[::1]", "127.0.0.1:8000", "LOCALHOST", "evil.example",
         "127.0.0.1.evil.example", "127.0.0.1:x", ""]  # fmt: skip
host = weighted(
    (12, st.none()),  # mostly the client's own
    (2, st.sampled_from(HOSTS).map(lambda h: [h])),
    (1, st.lists(st.sampled_from(HOSTS), min_size=2, max_size=3)),  # more than one
)
ORIGINS = ["http://127.0.0.1", "https://127.0.0.1", "http://localhost", "http://evil.example",
           "null", "http://127.0.0.1:8080", "file://", ""]  # fmt: skip
CONTENT_TYPES = [FORM, f"{FORM}; charset=latin-1", "multipart/form-data; boundary=x",
                 "application/json", "text/plain", "FORM"]  # fmt: skip
optional_headers = {
    "origin": weighted((3, st.sampled_from(ORIGINS)), (1, printable)),
    "sec-fetch-site": st.sampled_from(["same-origin", "none", "same-site", "cross-site", "", "X"]),
    "content-type": weighted((3, st.sampled_from(CONTENT_TYPES)), (1, printable)),
    "content-length": st.sampled_from(["0", "10", "abc", "-1", str(MAX_FORM_BYTES + 1), "9" * 40]),
    "x-forwarded-for": st.sampled_from(["198.51.100.1", "127.0.0.1", "bogus", "1.2.3.4, ::1"]),
    "x-forwarded-proto": st.sampled_from(["https", "http", "https, http", "ftp"]),
    "x-forwarded-host": st.sampled_from(["evil.example", "127.0.0.1"]),
    "x-forwarded-user": st.sampled_from(["ana", "vera", "nobody", "<script>", "ANA", ""]),
    "user-agent": printable,
}
header = st.sampled_from(sorted(optional_headers)).flatmap(
    lambda name: st.tuples(st.just(name), optional_headers[name])
)
# mostly none: most requests should get past the guards to the app
extra_headers = weighted(
    (3, st.just([])), (2, st.lists(header, min_size=1, max_size=3, unique_by=lambda h: h[0]))
)
cookies = weighted(
    (3, st.just([])),
    (1, st.lists(st.tuples(st.sampled_from(["segcopy_review", "x"]) | printable, printable),
                 min_size=1, max_size=2)),
)  # fmt: skip


@st.composite
def body(draw) -> tuple[bytes, str | None]:
    """(bytes, content type): a form with the CSRF token right, wrong or missing, or not a form."""
    kind = draw(st.sampled_from(["form"] * 8 + ["none", "none", "raw", "json", "large"]))
    if kind == "none":
        return b"", None
    if kind == "raw":
        return draw(st.binary(max_size=64)), draw(st.sampled_from(CONTENT_TYPES))
    if kind == "json":
        return b'{"csrf_token": "RIGHT", "decision": "approve"}', "application/json"
    fields = dict(draw(st.lists(st.tuples(field_name, value), max_size=8)))
    fields.pop("csrf_token", None)
    csrf = draw(st.sampled_from(["right", "right", "right", "wrong", "missing"]))
    if csrf == "right":  # RIGHT: replaced by the role's token when sent
        fields["csrf_token"] = "RIGHT"
    elif csrf == "wrong":
        # any text: a non-ASCII token once made compare_digest raise (a 500)
        fields["csrf_token"] = draw(st.sampled_from(["forged", "", "é", "☃" * 3]) | anything)
    if draw(st.booleans()):  # a valid-looking decision
        fields.update(decision=draw(st.sampled_from(["approve", "reject", "edit"])),
                      input_hash=draw(st.sampled_from(["MATCH", "MATCH", "h-s1-P1", "h-s2-P1"])))  # fmt: skip
    if kind == "large":
        fields["note"] = "x" * (MAX_FORM_BYTES + 1)
    return urlencode(fields).encode(), FORM


fuzzed_requests = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["anonymous", "viewer", "reviewer", "local"]),
        "endpoint": endpoint,
        "query": query,
        "body": body(),
        "host": host,
        "headers": extra_headers,
        "cookies": cookies,
        "session_cookie": weighted((8, st.just("own")), (1, st.sampled_from(["none", "garbage"]))),
    }
)


def request(role: str, method: str, path: str, **form: str) -> dict:
    """One request in the form the strategy draws: ``form`` with the role's right CSRF token."""
    body = urlencode({"csrf_token": "RIGHT", **form}).encode()
    return {"role": role, "endpoint": (method, path), "query": "", "body": (body, FORM),
            "host": None, "headers": [], "cookies": [], "session_cookie": "own"}  # fmt: skip


# the write paths, surely (and the tables written before the random requests come)
WRITES = [
    request("reviewer", "POST", "/variant/s1/P1/decide", decision="approve", input_hash="h-s1-P1"),
    request("local", "POST", "/variant/s1/P2/decide", decision="reject", input_hash="h-s1-P2"),
    request("reviewer", "POST", "/batches/draw", p="0.2", c="0.9"),
    request("reviewer", "POST", "/bulk/apply", decision="approve", segment="s2", expected="1"),
    request("reviewer", "POST", "/retry"),
    request("viewer", "POST", "/logout"),
    request("reviewer", "POST", "/variant/s1/P1/decide", decision="edit", input_hash="h-s1-P1",
            edited_text="Nothing like the original."),  # refused: fails an ERROR check
    request("reviewer", "POST", "/batches/draw", p="1e-300"),
    request("viewer", "POST", "/bulk/apply", decision="approve", segment="s1", expected="2"),
    request("local", "POST", "/variant/s1/P1/decide", decision="approve", input_hash="h-s1-P1",
            note="x" * MAX_FORM_BYTES),
]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# the app, signed-in roles, and what a request changed


def delta_version(path: str) -> int | None:
    """The table's latest Delta version (its newest commit file), ``None`` if it does not exist."""
    commits = [int(f.stem) for f in Path(path, "_delta_log").glob("*.json") if f.stem.isdigit()]
    return max(commits) if commits else None


def session_cookie(answer) -> str:
    cookie = answer.cookies.get(signin.SESSION_COOKIE)
    return f"{signin.SESSION_COOKIE}={cookie}" if cookie else ""


def token_of(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


class Roles:
    """Each role's session cookie and CSRF token, signed in again after a fuzzed sign-out."""

    def __init__(self, signer: TestClient, local: TestClient) -> None:
        self.signer = signer
        self.creds: dict[str, tuple[str, str]] = {}
        login = signer.get("/login")  # a visitor before sign-in: the login form's token
        self.creds["anonymous"] = (session_cookie(login), token_of(login.text))
        self.creds["local"] = ("", local.app.state.csrf_token)
        for role in SESSION_USERS:
            self.sign_in(role)

    def sign_in(self, role: str) -> None:
        client = self.signer
        client.cookies.clear()
        login = client.get("/login")
        form = {"csrf_token": token_of(login.text), "username": SESSION_USERS[role],
                "password": PASSWORDS[SESSION_USERS[role]]}  # fmt: skip
        answer = client.post("/login", data=form, headers={"cookie": session_cookie(login)})
        assert answer.status_code == 303, answer.text
        cookie = session_cookie(answer)
        client.cookies.clear()
        page = client.get("/queue", headers={"cookie": cookie})
        assert page.status_code == 200
        self.creds[role] = (cookie, token_of(page.text))

    def refresh(self) -> None:
        """Sign in again whoever a fuzzed ``/logout`` signed out."""
        for role in SESSION_USERS:
            self.signer.cookies.clear()
            still = self.signer.get("/queue", headers={"cookie": self.creds[role][0]})
            if still.status_code != 200:
                self.sign_in(role)


def test_random_requests_never_crash_always_carry_the_headers_and_refusals_write_nothing(
    tmp_path, make_review_tables, monkeypatch
):
    # the dummy hash an unknown user name is checked against: cheap too
    monkeypatch.setattr(review_users, "_hasher", CHEAP, raising=False)
    tables = make_review_tables(tmp_path / "warehouse" / "segcopy")
    users_path = tmp_path / "review_users.toml"
    for name, password in PASSWORDS.items():
        review_users.add_user(users_path, name, password, USER_ROLES[name], hasher=CHEAP)
    config = signin.AuthConfig(
        users=review_users.UsersFile(users_path),
        trusted_proxies=parse_proxies("127.0.0.1"),
        header="X-Forwarded-User",
    )
    team_app, local_app = create_app(tables, None, auth=config), create_app(tables, "ana")
    written = {"variant_reviews": tables.reviews, "review_batches": tables.batches,
               "generation_retries": tables.retries}  # fmt: skip
    options = {"base_url": "http://127.0.0.1", "follow_redirects": False,
               "raise_server_exceptions": False}  # fmt: skip
    with (
        TestClient(team_app, client=("127.0.0.1", 50000), **options) as team,
        TestClient(team_app, client=("127.0.0.2", 50000), **options) as signer,
        TestClient(local_app, client=("127.0.0.1", 50000), **options) as local,
    ):
        roles = Roles(signer, local)

        def one_request(r: dict) -> None:
            client = local if r["role"] == "local" else team
            own_cookie, right_token = roles.creds[r["role"]]
            content, content_type = r["body"]
            method, path = r["endpoint"]
            content = content.replace(b"RIGHT", right_token.encode())
            parts = path.split("/")  # "MATCH": the input hash of the variant the path names
            if len(parts) == 5 and parts[1] == "variant":
                content = content.replace(
                    b"MATCH", quote(f"h-{unquote(parts[2])}-{unquote(parts[3])}").encode()
                )
            headers: list[tuple[str, str]] = [("host", h) for h in r["host"] or []]
            if content_type:
                headers.append(("content-type", content_type))
            headers += r["headers"]
            jar = {"own": own_cookie, "none": "", "garbage": "segcopy_review=garbage.x.y"}
            cookie = "; ".join(
                c for c in [jar[r["session_cookie"]], *(f"{k}={v}" for k, v in r["cookies"])] if c
            )
            if cookie:
                headers.append(("cookie", cookie))
            url = path + (f"?{r['query']}" if r["query"] else "")
            before = {name: delta_version(p) for name, p in written.items()}
            client.cookies.clear()
            answer = client.request(method, url, content=content, headers=headers)
            client.cookies.clear()

            assert answer.status_code != 500, answer.text[:500]
            for name, expected in SECURITY_HEADERS.items():
                got = answer.headers.get_list(name)
                assert len(got) == 1, (name, got)
                if name == "Cache-Control" and got[0] == "no-cache":  # the static files
                    assert answer.status_code in (200, 304) and "/static/" in answer.url.path
                else:
                    assert got[0] == expected, (name, got)
            if answer.status_code >= 400:
                after = {name: delta_version(p) for name, p in written.items()}
                assert after == before, (answer.status_code, before, after)
            if "logout" in path and answer.status_code == 303:
                roles.refresh()

        for case in reversed(WRITES):  # tried first (in this order), then the random requests
            one_request = example(case)(one_request)
        settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )(given(fuzzed_requests)(one_request))()
