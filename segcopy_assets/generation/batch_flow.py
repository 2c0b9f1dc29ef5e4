"""Batch generation without Dagster: submit once, re-attach, poll, collect into the journal.

A variants run hands ``prepare`` the pairs it still has to generate (the cache, journal
included, holds none of them). ``prepare``:

1. adopts orphans: an ``intent`` row without a batch id whose batch the provider does list
   (a crash between create and our state write) gets its id;
2. refreshes the open batches covering these pairs (one retrieve each) and collects the ended
   ones: their answers go to the generation journal (the cache), the lines that came back
   without usable copy are recorded on the ``collected`` row;
3. splits what is left: pairs an open batch will answer (the run waits for them), pairs a
   batch failed on (the fallback: ``online`` now, or ``next_batch``: submitted again like any
   new pair, online after ``max_attempts`` failed batches), and new pairs: one submission
   (``split_lines`` files) when the policy says batch.

The intent row is written before the upload and the batch id right after the create, so a
crash anywhere, or a rerun of the same refresh, finds the batch again by its run-stable key
instead of paying twice. Nothing is lost: every pair of a batch ends as a journal row, a
recorded line error, or (while the batch runs) covered by it.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl
from openai.types import Batch

from segcopy_assets.generation import batch_repairs, journal
from segcopy_assets.generation.batch_client import BatchClient
from segcopy_assets.generation.batch_requests import (
    ENDPOINT,
    parse_results,
    request_body,
    request_key,
    request_line,
    split_lines,
)
from segcopy_assets.generation.prompts import PromptSet
from segcopy_assets.generation.repair import Repairer
from segcopy_assets.generation.variants import AnswerProblem, completion_row
from segcopy_assets.storage import batch_store
from segcopy_assets.storage.tables import GENERATION_BATCH_SCHEMA, VARIANT_SCHEMA

MODES = ("online", "batch", "auto")
FALLBACKS = ("online", "next_batch")

Log = Callable[[str], None]


@dataclass(frozen=True)
class BatchPolicy:
    mode: str = "online"
    min_pairs: int = 5_000
    fallback: str = "online"
    max_lines: int = 50_000
    max_bytes: int = 200 * 1024 * 1024
    #: next_batch: batches a request may fail in before it is generated online
    max_attempts: int = 3

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {self.mode!r}")
        if self.fallback not in FALLBACKS:
            raise ValueError(f"fallback must be one of {FALLBACKS}, not {self.fallback!r}")

    def use_batch(self, pairs: int) -> bool:
        """Whether ``pairs`` new requests go to the Batch API (auto: more than ``min_pairs``)."""
        return pairs > 0 and (
            self.mode == "batch" or (self.mode == "auto" and pairs > self.min_pairs)
        )


@dataclass
class BatchRound:
    """What ``prepare`` did and what the run must do next."""

    harvested: pl.DataFrame = field(default_factory=VARIANT_SCHEMA.to_frame)
    collected: list[str] = field(default_factory=list)  # batch ids collected now
    submitted: list[str] = field(default_factory=list)  # batch ids created now
    online: set[str] = field(default_factory=set)  # pairs to generate online now (fallback)
    waiting: pl.DataFrame = field(default_factory=pl.DataFrame)  # open batches to wait for
    waiting_pairs: int = 0

    @property
    def must_wait(self) -> bool:
        return self.waiting_pairs > 0


def _ids(batch: dict) -> dict:
    return {k: batch[k] for k in ("batch_key", "request_key", "part")}


def _state_row(batch: dict, remote: Batch) -> dict:
    counts = remote.request_counts
    errors = remote.errors.data if remote.errors and remote.errors.data else []
    return {
        **_ids(batch),
        "state": remote.status,
        "batch_id": remote.id,
        "input_file_id": remote.input_file_id,
        "output_file_id": remote.output_file_id,
        "error_file_id": remote.error_file_id,
        "completed": counts.completed if counts else None,
        "failed": counts.failed if counts else None,
        "message": "; ".join(f"{e.code}: {e.message}" for e in errors)[:500] or None,
    }


def _changed(batch: dict, row: dict) -> bool:
    keys = ("state", "completed", "failed", "output_file_id", "error_file_id")
    return any(batch.get(k) != row.get(k) for k in keys)


def refresh(store_path: str, client: BatchClient, batch: dict) -> dict:
    """The provider's view of one open batch; a row is appended when it moved."""
    row = _state_row(batch, client.retrieve(batch["batch_id"]))
    if _changed(batch, row):
        batch_store.append(store_path, [row])
    return {**batch, **{k: v for k, v in row.items() if v is not None}}


def collect(
    store_path: str,
    journal_path: str,
    client: BatchClient,
    batch: dict,
    answer_problem: AnswerProblem | None = None,
    repairs: "batch_repairs.Repairs | None" = None,
    pending: dict[str, dict] | None = None,
) -> pl.DataFrame:
    """An ended batch's answers into the journal; the rest (and, with ``answer_problem``, the
    answers it finds unusable: a channel's missing field) recorded as line errors.

    With ``repairs``, an answer of the run's pairs that fails an ERROR rule is journalled as
    ``needs_repair`` (``generation.batch_repairs``); a repair batch's answers settle the
    ``pending`` rows they repair. Returns the ``ok`` rows. A crash before the ``collected`` row
    only means collecting again: the journal then holds the answers twice, and its readers keep
    the first row of an input hash (a repair already settled is not settled twice)."""
    results = parse_results(
        client.download(batch["output_file_id"]), client.download(batch["error_file_id"])
    )
    attempt = batch_repairs.purpose_attempt(batch.get("purpose"))
    rows: list[dict] = []
    waiting: list[dict] = []
    errors: list[dict] = []
    for pair in batch["pairs"]:
        ihash = pair["input_hash"]
        result = results.get(ihash)
        base = {
            **pair,
            "backend": "openai",
            "model": batch["model"],
            "prompt_hash": batch["prompt_hash"],
        }
        answer = None
        if result is not None and result.completion is not None:
            answer = completion_row(
                base, result.completion, batch_id=batch["batch_id"], answer_problem=answer_problem
            )
        if attempt:  # a repair: settles its pair's pending row (once)
            prior = (pending or {}).get(ihash)
            if repairs is None or prior is None or batch_repairs.next_attempt(prior) != attempt:
                continue
            reasons = None
            if answer is not None and answer["status"] == "ok":
                reasons = repairs.reasons(answer)
            settled = batch_repairs.settle(prior, answer, reasons, repairs.repairer.attempts)
            (rows if settled["status"] == "ok" else waiting).append(settled)
            continue
        if answer is None or answer["status"] != "ok":
            reason = answer["error"] if answer else None
            if reason is None:
                reason = (
                    result.error if result else f"missing from the {batch['state']} batch's output"
                )
            errors.append({"input_hash": ihash, "error": reason})
            continue
        reasons = repairs.reasons(answer) if repairs is not None else None
        if reasons:
            waiting.append(batch_repairs.pending_row(answer, reasons))
        else:
            rows.append(answer)
    if rows or waiting:
        journal.append_rows(journal_path, rows + waiting)
    batch_store.append(
        store_path,
        [
            {
                **_ids(batch),
                "state": "collected",
                "completed": len(rows) + len(waiting),
                "failed": len(errors),
                "line_errors": errors,
            }
        ],
    )
    return pl.DataFrame(rows, schema=VARIANT_SCHEMA) if rows else VARIANT_SCHEMA.to_frame()


def adopt_orphan(
    store_path: str, client: BatchClient, batch: dict, log: Log = print
) -> dict | None:
    """An intent without a batch id: the provider's batch of that key, recorded; else None."""
    remote = client.find(batch["request_key"], batch["part"])
    if remote is None:
        return None
    log(f"re-attached to batch {remote.id} found under key {batch['batch_key']} (no id recorded)")
    row = _state_row(batch, remote)
    batch_store.append(store_path, [row])
    return {**batch, **{k: v for k, v in row.items() if v is not None}}


def cancel(store_path: str, client: BatchClient, batch: dict) -> dict:
    """Ask the provider to stop an open batch; what it finished is collected as usual and the
    rest falls back like the lines of an expired batch."""
    row = _state_row(batch, client.cancel(batch["batch_id"]))
    batch_store.append(store_path, [row])
    return {**batch, **{k: v for k, v in row.items() if v is not None}}


def poll_open(store_path: str, client: BatchClient, log: Log = print) -> pl.DataFrame:
    """Refresh every submitted, open batch; returns every batch (``current``'s rows) as it is
    now, so callers filter the ended or still open ones without reading the table again."""
    batches = batch_store.current(store_path)
    polled = set(batch_store.submitted_open(batches)["batch_key"])
    rows = []
    for batch in batches.iter_rows(named=True):
        if batch["batch_key"] in polled:
            batch = refresh(store_path, client, batch)
            done = f"{batch['completed'] or 0}/{batch['requests']}"
            log(f"batch {batch['batch_id']}: {batch['state']}, {done} done")
        rows.append(batch)
    return pl.DataFrame(rows, schema=GENERATION_BATCH_SCHEMA) if rows else batches


def _filename(batch_key: str) -> str:
    return f"segcopy-{batch_key}.jsonl"


def _open_key(store_path: str, base: str) -> str:
    """The key of a submission of these requests: the base key while none of its batches has
    ended (a rerun re-attaches); after one ended (an expired batch sent again, say) a new
    attempt ``base.N`` so it gets batches of its own."""
    keys = batch_store.current(store_path).filter(pl.col("request_key").str.starts_with(base))
    done = set(keys.filter(pl.col("state").is_in([*batch_store.ENDED, "collected"]))["request_key"])
    attempts = sorted(set(keys["request_key"]))
    for key in attempts:
        if key not in done:
            return key
    return base if not attempts else f"{base}.{len(attempts)}"


def submit(
    store_path: str,
    client: BatchClient,
    pairs: dict[str, tuple[dict, dict]],
    prompt_set: PromptSet,
    policy: BatchPolicy,
    log: Log = print,
    *,
    messages: dict[str, list[dict[str, str]]] | None = None,
    key_ids: list[str] | None = None,
    purpose: str | None = None,
) -> list[dict]:
    """One submission for these pairs (several files past the limits); returns its batches.

    ``messages``: each pair's conversation (default: the prompt set's), ``key_ids``: what
    identifies the requests (default: the pairs' input hashes), ``purpose``: the submission's
    kind (null: first answers; ``batch_repairs.purpose(n)``: repairs).

    Re-attaches to whatever a crashed or earlier run of the same requests left: a recorded
    batch id, a batch the provider lists under our key, an uploaded file of our name."""
    params = prompt_set.params
    key = _open_key(
        store_path, request_key(key_ids or list(pairs), params.name, prompt_set.hash, ENDPOINT)
    )
    ordered = sorted(pairs)
    lines = [
        request_line(
            ihash,
            request_body(
                params.name,
                params.temperature,
                params.max_tokens,
                messages[ihash] if messages else prompt_set.render(*pairs[ihash]),
            ),
        )
        for ihash in ordered
    ]
    chunks = split_lines(lines, policy.max_lines, policy.max_bytes)
    known = {
        b["batch_key"]: b
        for b in batch_store.current(store_path)
        .filter(pl.col("request_key") == key)
        .iter_rows(named=True)
    }
    out, start = [], 0
    for part, chunk in enumerate(chunks):
        hashes = ordered[start : start + len(chunk)]
        start += len(chunk)
        batch_key = f"{key}-{part}"
        batch = known.get(batch_key)
        if batch is not None and batch["batch_id"]:
            log(f"re-attached to batch {batch['batch_id']} ({batch['state']}) of key {batch_key}")
            out.append(batch)
            continue
        if batch is None:
            batch = {
                "batch_key": batch_key,
                "request_key": key,
                "part": part,
                "parts": len(chunks),
                "state": "intent",
                "purpose": purpose,
                "model": params.name,
                "prompt_hash": prompt_set.hash,
                "requests": len(chunk),
                "segment_ids": sorted({pairs[h][0]["segment_id"] for h in hashes}),
                "pairs": [
                    {
                        "input_hash": h,
                        "segment_id": pairs[h][0]["segment_id"],
                        "product_id": pairs[h][1]["product_id"],
                        "summary_hash": pairs[h][0]["summary_hash"],
                        "content_hash": pairs[h][1]["content_hash"],
                    }
                    for h in hashes
                ],
            }
            batch_store.append(store_path, [batch])  # the intent: before anything is paid for
            remote, file_id = None, None
        else:  # an intent of an earlier, interrupted run: its batch or file may exist already
            remote = client.find(key, part)
            file_id = client.find_file(_filename(batch_key)) if remote is None else None
        if remote is None:
            file_id = file_id or client.upload(b"".join(chunk), _filename(batch_key))
            remote = client.create(file_id, key, part)
            log(f"submitted batch {remote.id}: {len(chunk)} request(s), file {file_id}")
        else:
            log(f"re-attached to batch {remote.id} found under key {batch_key}")
        row = _state_row(batch, remote)
        batch_store.append(store_path, [row])
        out.append({**batch, **{k: v for k, v in row.items() if v is not None}})
    return out


def prepare(
    *,
    store_path: str,
    journal_path: str,
    client: BatchClient,
    policy: BatchPolicy,
    todo: dict[str, tuple[dict, dict]],
    prompt_set: PromptSet,
    segment_ids: list[str] | None = None,
    log: Log = print,
    answer_problem: AnswerProblem | None = None,
    repairer: Repairer | None = None,
) -> BatchRound:
    """Adopt, refresh, collect, then decide (module docstring). ``todo``: input hash → pair.

    ``segment_ids``: the run's segments; an ended batch of theirs is collected even when none
    of its answers is wanted any more (its segment moved meanwhile), so it does not stay open.
    ``repairer``: collected answers that fail an ERROR rule are repaired in a repair submission
    (``generation.batch_repairs``); None accepts any answer still waiting for a repair as it is.
    """
    result = BatchRound()
    repairs = batch_repairs.Repairs(repairer, todo) if repairer is not None else None
    pending = batch_repairs.read_pending(journal_path, set(todo))
    if pending and repairs is None:  # repairs turned off since: the answers stand as they are
        accepted = [{**row, "status": "ok", "error": None} for row in pending.values()]
        journal.append_rows(journal_path, accepted)
        result.harvested = pl.DataFrame(accepted, schema=VARIANT_SCHEMA)
        pending = {}
    current = batch_store.current(store_path)
    batches = batch_store.covering(current, set(todo))
    if segment_ids:
        wanted = set(segment_ids)
        stale_ended = current.filter(
            pl.col("state").is_in(batch_store.ENDED)
            & ~pl.col("batch_key").is_in(batches["batch_key"].to_list())
            & pl.col("segment_ids").list.eval(pl.element().is_in(list(wanted))).list.any()
        )
        batches = pl.concat([batches, stale_ended])
    live = []
    for batch in batches.iter_rows(named=True):
        if batch["state"] == "intent" and not batch["batch_id"]:
            batch = adopt_orphan(store_path, client, batch, log) or batch
        if batch["state"] in batch_store.OPEN and batch["batch_id"]:
            batch = refresh(store_path, client, batch)
        if batch["state"] in batch_store.ENDED:
            rows = collect(
                store_path, journal_path, client, batch, answer_problem, repairs, pending
            )
            result.harvested = pl.concat([result.harvested, rows])
            result.collected.append(batch["batch_id"])
            log(f"collected batch {batch['batch_id']} ({batch['state']}): {rows.height} variant(s)")
            continue
        live.append(batch)

    remaining = set(todo) - set(result.harvested["input_hash"])
    if repairs is not None and result.collected:  # what this round's collecting left to repair
        pending = batch_repairs.read_pending(journal_path, remaining)
    waiting = [b for b in live if b["state"] in batch_store.OPEN and b["batch_id"]]
    covered = {h for b in waiting for h in batch_store.pair_hashes(b)} & remaining
    failures = Counter(
        e["input_hash"]
        for b in batch_store.covering(batch_store.current(store_path), remaining).iter_rows(
            named=True
        )
        if b["state"] == "collected"
        for e in b["line_errors"] or []
    )
    rest = remaining - covered
    if repairs is not None:
        to_repair = [pending[h] for h in sorted(rest) if h in pending]
        for attempt in sorted({batch_repairs.next_attempt(r) for r in to_repair}):
            group = [r for r in to_repair if batch_repairs.next_attempt(r) == attempt]
            submitted = submit(
                store_path,
                client,
                {r["input_hash"]: todo[r["input_hash"]] for r in group},
                prompt_set,
                policy,
                log,
                messages={r["input_hash"]: repairs.messages(prompt_set, r) for r in group},
                key_ids=batch_repairs.repair_key_ids(group),
                purpose=batch_repairs.purpose(attempt),
            )
            log(f"sent {len(group)} answer(s) that fail an ERROR rule for repair {attempt}")
            result.submitted += [b["batch_id"] for b in submitted]
            waiting.extend(submitted)
            covered |= {r["input_hash"] for r in group}
        rest -= covered
    # next_batch sends a failed request again, but not forever: a request the provider keeps
    # refusing (a permanent 400, say) goes online after max_attempts batches, where it ends ok
    # or as a failed row with its reason, and its segment is written
    limit = 1 if policy.fallback == "online" else policy.max_attempts
    result.online = {h for h in rest if failures[h] >= limit}
    new = rest - result.online
    if policy.use_batch(len(new)):
        submitted = submit(store_path, client, {h: todo[h] for h in new}, prompt_set, policy, log)
        result.submitted += [b["batch_id"] for b in submitted]
        waiting.extend(submitted)
        covered |= new
    result.waiting = (
        pl.DataFrame(waiting, schema=GENERATION_BATCH_SCHEMA, strict=False)
        if waiting
        else GENERATION_BATCH_SCHEMA.to_frame()
    )
    result.waiting_pairs = len(covered)
    return result
