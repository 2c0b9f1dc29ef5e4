"""Tests of the fake server's Files and Batch APIs, driven through the official openai client."""

from __future__ import annotations

import json
import time

import openai
import pytest

from segcopy_assets.devtools.fake_openai import FakeOpenAIServer

KEY = "sk-test-key"
MODEL = "gpt-4o-mini"
URL = "/v1/chat/completions"


def client(srv: FakeOpenAIServer, **kwargs) -> openai.OpenAI:
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=srv.base_url, **kwargs)


def body(i: int, model: str = MODEL, **extra) -> dict:
    user = f"<segment>weekend hikers</segment>\n<product_description>Tent {i}, 2 kg.</product_description>"
    return {"model": model, "messages": [{"role": "user", "content": user}], **extra}


def line(i: int, **kwargs) -> dict:
    return {"custom_id": f"req-{i}", "method": "POST", "url": URL, "body": body(i, **kwargs)}


def upload(c: openai.OpenAI, lines: list, purpose: str = "batch"):
    raw = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    return c.files.create(file=("batch.jsonl", raw.encode()), purpose=purpose)  # type: ignore[arg-type]


def create(c: openai.OpenAI, lines: list, **kwargs):
    file_id = upload(c, lines).id
    return c.batches.create(input_file_id=file_id, endpoint=URL, completion_window="24h", **kwargs)


def wait(c: openai.OpenAI, batch_id: str, polls: int = 10):
    """Retrieve until the batch ended; the statuses seen."""
    seen = []
    for _ in range(polls):
        batch = c.batches.retrieve(batch_id)
        seen.append(batch.status)
        if batch.status in ("completed", "failed", "expired", "cancelled"):
            return batch, seen
    raise AssertionError(f"batch did not end: {seen}")


def read_jsonl(c: openai.OpenAI, file_id: str | None) -> list[dict]:
    if file_id is None:
        return []
    return [json.loads(x) for x in c.files.content(file_id).text.splitlines()]


@pytest.fixture(scope="module")
def shared_srv():
    with FakeOpenAIServer(api_key=KEY) as server:
        yield server


@pytest.fixture
def srv(shared_srv):
    shared_srv.clear_faults()
    shared_srv.reset_stats()
    shared_srv.reset_batches()
    shared_srv.batch_polls = 2
    shared_srv.batch_line_error_rate = 0.0
    shared_srv.batch_cancel_completed_fraction = 0.0
    return shared_srv


def test_batch_runs_like_online_requests_and_output_is_shuffled(srv):
    c = client(srv)
    lines = [line(i) for i in range(30)] + [line(30, max_tokens=5)]
    batch = create(c, lines, metadata={"segcopy_key": "k"})
    assert batch.status == "validating" and batch.metadata == {"segcopy_key": "k"}
    assert batch.expires_at == batch.created_at + 24 * 3600
    assert srv.batches[0]["status"] == "validating"  # the view does not advance
    done, seen = wait(c, batch.id)
    assert seen == ["in_progress", "completed"]
    assert done.request_counts.model_dump() == {"total": 31, "completed": 31, "failed": 0}
    assert done.error_file_id is None and done.errors is None
    assert done.in_progress_at and done.finalizing_at and done.completed_at
    assert done.usage is not None and done.usage.input_tokens > 0 and done.usage.output_tokens > 0
    assert c.files.retrieve(done.output_file_id).purpose == "batch_output"

    out = read_jsonl(c, done.output_file_id)
    ids = [o["custom_id"] for o in out]
    assert sorted(ids) == sorted(x["custom_id"] for x in lines)
    assert ids != [x["custom_id"] for x in lines]  # unordered, like the real output
    assert {o["error"] for o in out} == {None}
    assert len({o["id"] for o in out}) == 31 and all(o["id"].startswith("batch_req_") for o in out)
    by_id = {o["custom_id"]: o["response"] for o in out}
    for src in (lines[3], lines[30]):
        response = by_id[src["custom_id"]]
        assert response["status_code"] == 200 and response["request_id"].startswith("req_")
        online = c.chat.completions.with_raw_response.create(**src["body"]).http_response.json()
        got = response["body"]
        for key in ("id", "created"):
            got.pop(key), online.pop(key)
        assert got == online
    assert by_id["req-30"]["body"]["choices"][0]["finish_reason"] == "length"
    assert by_id["req-3"]["body"]["usage"]["completion_tokens"] > 0
    assert sum(o["response"]["body"]["usage"]["prompt_tokens"] for o in out) == (
        done.usage.input_tokens
    )

    assert srv.batch_lines_executed == 31 and srv.batch_create_count == 1
    assert srv.call_count == 2  # only the two online requests count as chat calls
    assert c.batches.retrieve(batch.id).output_file_id == done.output_file_id
    assert srv.batch_lines_executed == 31  # ended batches never run again
    assert srv.batch_requests(batch.id) == lines


def test_batch_polls_zero_one_and_three(srv):
    c = client(srv)
    srv.batch_polls = 0
    assert create(c, [line(1)]).status == "completed"
    srv.batch_polls = 1
    assert wait(c, create(c, [line(1)]).id)[1] == ["completed"]
    srv.batch_polls = 3
    assert wait(c, create(c, [line(1)]).id)[1] == ["in_progress", "finalizing", "completed"]


def test_files_upload_list_retrieve_content_delete(srv):
    c = client(srv)
    a = upload(c, [line(1)])
    b = upload(c, ["not json"], purpose="user_data")
    assert a.id.startswith("file-fake") and a.status == "processed" and a.purpose == "batch"
    assert a.filename == "batch.jsonl" and a.bytes == len(json.dumps(line(1))) + 1
    assert [f.id for f in c.files.list()] == [b.id, a.id]  # newest first
    assert [f.id for f in c.files.list(order="asc")] == [a.id, b.id]
    assert [f.id for f in c.files.list(purpose="batch")] == [a.id]
    page = c.files.list(limit=1)
    assert [f.id for f in page.data] == [b.id] and page.has_more
    assert [f.id for f in c.files.list(limit=1)] == [b.id, a.id]  # auto-pagination
    assert c.files.retrieve(a.id) == a
    assert c.files.content(b.id).content == b"not json\n"
    assert srv.file_content(b.id) == b"not json\n"
    deleted = c.files.delete(a.id)
    assert deleted.deleted and deleted.id == a.id
    for call in (c.files.retrieve, c.files.content, c.files.delete):
        with pytest.raises(openai.NotFoundError):
            call(a.id)
    assert [f["id"] for f in srv.files] == [b.id]
    assert srv.file_upload_count == 2
    with pytest.raises(openai.BadRequestError):
        c.files.create(file=("x.jsonl", b"{}"), purpose="nonsense")  # type: ignore[arg-type]


def test_batch_list_paginates_newest_first_without_advancing(srv):
    c = client(srv)
    ids = [create(c, [line(i)], metadata={"segcopy_key": f"k{i}"}).id for i in range(5)]
    page = c.batches.list(limit=2)
    assert [b.id for b in page.data] == ids[::-1][:2] and page.has_more
    listed = list(c.batches.list(limit=2))
    assert [b.id for b in listed] == ids[::-1]
    assert [b.metadata for b in listed] == [{"segcopy_key": f"k{i}"} for i in range(5)][::-1]
    assert {b.status for b in listed} == {"validating"}
    assert [b["id"] for b in srv.batches] == ids
    assert c.batches.retrieve(ids[0]).status == "in_progress"


def test_line_error_rate_is_deterministic_per_custom_id():
    def failed_ids(order: list[int]) -> tuple[set[str], int]:
        with FakeOpenAIServer(batch_line_error_rate=0.3, batch_polls=1) as server:
            c = client(server)
            done, _ = wait(c, create(c, [line(i) for i in order]).id)
            errors = read_jsonl(c, done.error_file_id)
            ok = read_jsonl(c, done.output_file_id)
            counts = done.request_counts
            assert counts.completed + counts.failed == counts.total == len(order)
            assert (len(ok), len(errors)) == (counts.completed, counts.failed)
            assert {e["response"]["status_code"] for e in errors} == {500}
            assert {e["response"]["body"]["error"]["type"] for e in errors} == {"server_error"}
            assert {e["error"] for e in errors} == {None}
            assert done.status == "completed"
            return {e["custom_id"] for e in errors}, server.batch_lines_executed

    forward, executed = failed_ids(list(range(40)))
    backward, _ = failed_ids(list(range(39, -1, -1)))
    assert forward == backward and 0 < len(forward) < 40 and executed == 40


def test_fail_lines_and_unknown_model_give_error_lines(srv):
    c = client(srv)
    srv.fail_lines(["req-1"], status=503)
    lines = [line(0), line(1), line(2, model="gpt-nonexistent")]
    done, _ = wait(c, create(c, lines).id)
    assert done.status == "completed"
    assert done.request_counts.model_dump() == {"total": 3, "completed": 1, "failed": 2}
    errors = {e["custom_id"]: e["response"] for e in read_jsonl(c, done.error_file_id)}
    assert errors["req-1"]["status_code"] == 503
    assert errors["req-2"]["status_code"] == 404
    assert errors["req-2"]["body"]["error"]["code"] == "model_not_found"
    assert [o["custom_id"] for o in read_jsonl(c, done.output_file_id)] == ["req-0"]
    srv.clear_faults()  # fail_lines are batch faults too
    assert wait(c, create(c, lines[:2]).id)[0].request_counts.completed == 2


def test_expired_batch_has_partial_output(srv):
    c = client(srv)
    srv.expire_next_batch(completed_fraction=0.4)
    done, seen = wait(c, create(c, [line(i) for i in range(10)]).id)
    assert seen == ["in_progress", "expired"] and done.expired_at and not done.completed_at
    assert done.request_counts.model_dump() == {"total": 10, "completed": 4, "failed": 6}
    ok = read_jsonl(c, done.output_file_id)
    assert sorted(o["custom_id"] for o in ok) == [f"req-{i}" for i in range(4)]
    errors = read_jsonl(c, done.error_file_id)
    assert sorted(e["custom_id"] for e in errors) == sorted(f"req-{i}" for i in range(4, 10))
    assert {e["error"]["code"] for e in errors} == {"batch_expired"}
    assert {e["response"] for e in errors} == {None}
    assert srv.batch_lines_executed == 4
    assert wait(c, create(c, [line(1)]).id)[0].status == "completed"  # only the next batch


def test_invalid_input_fails_at_first_retrieve(srv):
    c = client(srv)
    bad = [line(0), "{not json", {**line(1), "method": "GET"}, line(0)]
    batch = create(c, bad)
    assert batch.status == "validating"
    done, seen = wait(c, batch.id)
    assert seen == ["failed"] and done.failed_at
    assert done.output_file_id is None and done.error_file_id is None
    assert [(e.line, e.code) for e in done.errors.data] == [
        (2, "invalid_request"),
        (3, "invalid_request"),
        (4, "invalid_request"),
    ]
    assert "Duplicate custom_id" in done.errors.data[2].message
    assert srv.batch_lines_executed == 0


def test_fail_next_batch(srv):
    c = client(srv)
    srv.fail_next_batch("boom")
    done, seen = wait(c, create(c, [line(0)]).id)
    assert seen == ["failed"] and done.output_file_id is None
    assert done.errors.data[0].message == "boom" and done.request_counts.completed == 0
    assert srv.batch_lines_executed == 0


def test_cancel(srv):
    c = client(srv)
    batch = create(c, [line(i) for i in range(4)])
    assert c.batches.retrieve(batch.id).status == "in_progress"
    cancelling = c.batches.cancel(batch.id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at
    assert c.batches.cancel(batch.id).status == "cancelling"  # idempotent
    done = c.batches.retrieve(batch.id)
    assert done.status == "cancelled" and done.cancelled_at and done.output_file_id is None
    errors = read_jsonl(c, done.error_file_id)
    assert {e["error"]["code"] for e in errors} == {"batch_cancelled"} and len(errors) == 4
    with pytest.raises(openai.BadRequestError, match="status 'cancelled'"):
        c.batches.cancel(batch.id)
    srv.batch_cancel_completed_fraction = 0.5
    batch = create(c, [line(i) for i in range(4)])
    c.batches.cancel(batch.id)
    done = c.batches.retrieve(batch.id)
    assert done.request_counts.model_dump() == {"total": 4, "completed": 2, "failed": 2}
    assert sorted(o["custom_id"] for o in read_jsonl(c, done.output_file_id)) == ["req-0", "req-1"]
    srv.batch_polls = 0
    with pytest.raises(openai.BadRequestError, match="status 'completed'"):
        c.batches.cancel(create(c, [line(0)]).id)


def test_every_new_endpoint_checks_the_key(srv):
    c, bad = client(srv), client(srv, api_key="sk-wrong")
    file_id = upload(c, [line(0)]).id
    batch_id = create(c, [line(0)]).id
    calls = [
        lambda: bad.files.create(file=("b.jsonl", b"{}"), purpose="batch"),
        lambda: bad.files.list(),
        lambda: bad.files.retrieve(file_id),
        lambda: bad.files.content(file_id),
        lambda: bad.files.delete(file_id),
        lambda: bad.batches.create(input_file_id=file_id, endpoint=URL, completion_window="24h"),
        lambda: bad.batches.list(),
        lambda: bad.batches.retrieve(batch_id),
        lambda: bad.batches.cancel(batch_id),
    ]
    for call in calls:
        with pytest.raises(openai.AuthenticationError) as exc_info:
            call()
        assert exc_info.value.status_code == 401
    assert len(srv.files) == 2 and srv.batches[0]["status"] == "validating"


def test_bad_create_arguments(srv):
    c = client(srv)
    file_id = upload(c, [line(0)]).id
    other = upload(c, [line(0)], purpose="user_data").id
    bad = [
        {"endpoint": "/v1/embeddings"},
        {"completion_window": "48h"},
        {"metadata": {f"k{i}": "v" for i in range(17)}},
        {"input_file_id": other},
    ]
    for args in bad:
        params = {"input_file_id": file_id, "endpoint": URL, "completion_window": "24h", **args}
        with pytest.raises(openai.BadRequestError):
            c.batches.create(**params)
    with pytest.raises(openai.NotFoundError):
        c.batches.create(input_file_id="file-nope", endpoint=URL, completion_window="24h")
    with pytest.raises(openai.NotFoundError):
        c.batches.retrieve("batch_nope")
    assert srv.batches == [] and srv.batch_create_count == 5


def test_hang_after_create_records_the_batch_the_client_never_saw():
    with FakeOpenAIServer(api_key=KEY) as srv:
        c = client(srv)
        file_id = upload(c, [line(0)]).id
        srv.hang_next_batch_create(30, after_create=True)
        with pytest.raises(openai.APITimeoutError):
            client(srv, timeout=0.5).batches.create(
                input_file_id=file_id,
                endpoint=URL,
                completion_window="24h",
                metadata={"segcopy_key": "k"},
            )
        assert len(srv.batches) == 1 and srv.batch_create_count == 1
        found = [b for b in c.batches.list() if (b.metadata or {}).get("segcopy_key") == "k"]
        assert [b.id for b in found] == [srv.batches[0]["id"]]
        started = time.monotonic()
    assert time.monotonic() - started < 5  # stop cuts the hang short


def test_hang_before_create_records_nothing():
    with FakeOpenAIServer(api_key=KEY) as srv:
        c = client(srv)
        file_id = upload(c, [line(0)]).id
        srv.hang_next_batch_create(1.0, after_create=False)
        args = {"input_file_id": file_id, "endpoint": URL, "completion_window": "24h"}
        with pytest.raises(openai.APITimeoutError):
            client(srv, timeout=0.3).batches.create(**args)
        assert srv.batches == [] and srv.batch_create_count == 1
        time.sleep(1.0)  # the hang is over, but the client had gone: still nothing
        assert srv.batches == []
        assert c.batches.create(**args).status == "validating"  # the hang was used up
        assert len(srv.batches) == 1


@pytest.mark.parametrize("after_store", [True, False])
def test_hang_file_upload(after_store):
    with FakeOpenAIServer(api_key=KEY) as srv:
        srv.hang_next_file_upload(30, after_store=after_store)
        with pytest.raises(openai.APITimeoutError):
            upload(client(srv, timeout=0.5), [line(0)])
        assert srv.file_upload_count == 1
        assert len(srv.files) == (1 if after_store else 0)
        assert len(client(srv).files.list().data) == (1 if after_store else 0)


def test_reset_stats_clears_batch_counters_not_batches(srv):
    c = client(srv)
    wait(c, create(c, [line(0)]).id)
    srv.reset_stats()
    assert (srv.batch_create_count, srv.file_upload_count, srv.batch_lines_executed) == (0, 0, 0)
    assert len(srv.batches) == 1 and len(srv.files) == 2
    srv.reset_batches()
    assert srv.batches == [] and srv.files == []
