"""The review page's channel previews over HTTP (issue 24, point 4): every channel listed with
its counts, each variant as it will look with its lengths against the limits, an SMS's messages
and encoding, and failing checks shown; an unknown channel is one clear message."""

import os

import pytest
from starlette.testclient import TestClient

from segcopy_assets.pipeline import run_pipeline
from segcopy_assets.review.service import ReviewTables
from segcopy_assets.review.web.app import create_app

LONG = "Ridgeline Cycle & Camp: the Basecamp 2 – a freestanding tent for two with two doors and two vestibules, 1.6 kg packed. Reply STOP to opt out"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, sample_tables, make_resources, memory_instance, replace_answer):
    """The sample pipeline with every channel, one SMS made too long (UCS-2 by its en dash)."""
    tmp = tmp_path_factory.mktemp("previews")
    before = os.environ.pop("SEGCOPY_CHANNELS", None)
    try:
        resources = make_resources(tmp, sample_tables)
        with memory_instance() as instance:
            run_pipeline(instance, resources)
    finally:
        if before is not None:
            os.environ["SEGCOPY_CHANNELS"] = before
    root = str(resources["warehouse"].table_path("sms_variants")).rsplit("/", 1)[0]
    replace_answer(
        f"{root}/sms_variants", "tents--core", "TN-100", f"{LONG}\n\n**Rationale:** long on purpose"
    )
    return root


@pytest.fixture
def client(warehouse):
    app = create_app(ReviewTables.under(warehouse), "ana")
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as c:
        yield c


def test_channels_are_listed_with_their_counts(client):
    page = client.get("/channels")
    assert page.status_code == 200
    for name in ("email_subject", "sms", "push"):
        assert f'<a href="/channels/{name}">{name}</a>' in page.text
    assert page.text.count("<td>196</td>") == 3
    assert '<a href="/channels">Channels</a>' in page.text  # in the navigation of every page


def test_each_channel_as_it_will_look(client):
    inbox = client.get("/channels/email_subject?segment=tents--core")
    assert inbox.status_code == 200
    assert inbox.text.count('class="inbox-row"') == 14
    assert inbox.text.count('<span class="inbox-sender">Ridgeline Cycle &amp; Camp</span>') == 14
    push = client.get("/channels/push?segment=tents--core")
    assert push.text.count('class="push-card"') == 14 and 'class="push-title"' in push.text
    sms = client.get("/channels/sms?segment=tents--core")
    assert sms.text.count('class="sms-bubble"') == 14
    assert sms.text.count("1 message · GSM-7") == 13
    assert '<div class="sms-meta over">3 messages · UCS-2 · 140/70</div>' in sms.text


def test_an_unknown_channel_says_which_exist(client):
    page = client.get("/channels/mms")
    assert page.status_code == 400
    assert "no channel &#39;mms&#39; with previews" in page.text
    assert "email_subject, push, sms" in page.text


def test_a_channel_without_variants_yet(tmp_path):
    app = create_app(ReviewTables.under(str(tmp_path / "empty")), "ana")
    with TestClient(app, base_url="http://127.0.0.1") as c:
        page = c.get("/channels/sms")
    assert page.status_code == 200 and 'id="no-variants"' in page.text


def test_a_reviewer_decides_each_arm_on_the_channel_page(warehouse, tmp_path):
    """Approve and reject from the channel page: into the channel's own log, with the page's
    CSRF token; a stale page (the copy regenerated since) records nothing; a viewer sees no
    buttons."""
    import re
    import shutil

    from segcopy_assets.storage import review_log
    from segcopy_assets.storage.tables import VARIANT_REVIEWS

    root = str(tmp_path / "segcopy")
    shutil.copytree(warehouse, root)
    app = create_app(ReviewTables.under(root), "ana")
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as c:
        page = c.get("/channels/push?segment=tents--core").text
        assert page.count('class="arm-decide"') == 14 and page.count(">Pending</span>") == 14
        form = re.search(r'id="arm-tents--core-TN-100-0".*?</form>', page, re.S).group(0)
        fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
        assert fields["csrf_token"] and fields["input_hash"]

        stale = c.post("/channels/push/decide", data={**fields, "input_hash": "x" * 12})
        assert stale.status_code == 409
        forged = c.post("/channels/push/decide", data={**fields, "csrf_token": "nope"})
        assert forged.status_code == 403
        done = c.post("/channels/push/decide", data=fields | {"decision": "approve"})
        assert done.status_code == 303
        assert done.headers["location"].endswith("#arm-tents--core-TN-100-0")
        rejected = dict(fields, product_id="TN-200")
        rejected["input_hash"] = re.search(
            r'id="arm-tents--core-TN-200-0".*?name="input_hash" value="([^"]+)"', page, re.S
        ).group(1)
        assert (
            c.post("/channels/push/decide", data=rejected | {"decision": "reject"}).status_code
            == 303
        )
        after = c.get("/channels/push?segment=tents--core").text
        assert after.count(">Approved</span>") == 1 and after.count(">Rejected</span>") == 1

    log = review_log.read_reviews(f"{root}/push_reviews").sort("decided_at")
    assert log.select("product_id", "decision", "reviewer", "signed_in_via").rows() == [
        ("TN-100", "approve", "ana", "local"),
        ("TN-200", "reject", "ana", "local"),
    ]
    assert not os.path.exists(f"{root}/{VARIANT_REVIEWS}")  # the description's log untouched


def test_a_viewer_sees_the_channel_page_without_buttons_and_cannot_decide(warehouse, tmp_path):
    import re

    from argon2 import PasswordHasher

    from segcopy_assets.review import users as review_users
    from segcopy_assets.review.web import auth as signin

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

    users = tmp_path / "review_users.toml"
    review_users.add_user(users, "vic", "vic-secret-1", "viewer", hasher=cheap)
    app = create_app(
        ReviewTables.under(warehouse),
        None,
        auth=signin.AuthConfig(users=review_users.UsersFile(users)),
    )
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as c:
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)[1]
        form = {"csrf_token": token, "username": "vic", "password": "vic-secret-1", "next": "/"}
        assert c.post("/login", data=form).status_code == 303
        page = c.get("/channels/sms?segment=tents--core").text
        assert page.count('class="sms-bubble"') == 14 and 'class="arm-decide"' not in page
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
        fields = {"csrf_token": token, "segment_id": "tents--core", "product_id": "TN-100"}
        refused = c.post("/channels/sms/decide", data=fields | {"decision": "approve"})
        assert refused.status_code == 403
    assert not os.path.exists(f"{warehouse}/sms_reviews")
