"""Table maintenance (issue 23, point 5): the review log after 10,000 single decisions, before and
after one maintenance run, against the same log after 100.

    python -m bench.maintenance [--decisions 10000] [--json] [--store local|moto]
                                [--fill append|decide|writer] [--repeats 7] [--work-dir DIR]

On a scratch warehouse (a local folder, or ``s3://bench-maintenance/<run>`` on moto's S3 server)
the sample pipeline runs once in process (``run_pipeline``, offline writer, 20,000 sample
customers x the 14 sample products = 196 variants). Then decisions are recorded ONE AT A TIME
(one Delta commit, one small file each), cycling over the variants, approve and reject in turn:

1. up to 100 with ``review.service.decide`` (what ``segcopy review approve`` calls);
2. measured: reading the review log (``review_log.read_reviews``) and recording one decision
   (``decide``), median of ``--repeats`` each (the recorded ones count as decisions);
3. up to ``--decisions`` with ``--fill``: ``append`` (default) ``review_log.append_reviews``
   with one row per call, the commit ``decide`` makes without its review-queue read (``decide``
   itself takes ~0.3 s a call and grows with the log: hours for 10,000); ``decide``; or
   ``writer``: ``write_deltalake`` of one row per call on one open table (same commits and
   files, without re-opening the table each time: for the object store);
4. measured again; one maintenance run (``storage.maintenance.maintain_warehouse``, retention
   7 days: every table of the warehouse); measured again.

Reported: the ratios (after 10,000 and maintenance) / (after 100) for read and record; target
<= 2 (issue 23, "Done when"). ``--store moto`` starts ``python -m moto.server`` in its own process
(never in this one) and sets ``AWS_ENDPOINT_URL``, ``AWS_ALLOW_HTTP``, ``AWS_REGION`` and keys for
delta-rs; if the pipeline cannot run on the s3:// warehouse, the bench measures the review log
alone there (``append_reviews`` for a decision; said in the report as ``subject``).
"""

import argparse
import importlib.util
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench import PROMPTS, emit, load_avg, log, machine, pipeline_resources, table, timed

BUCKET = "bench-maintenance"
TARGET_RATIO = 2.0


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="python -m bench.maintenance", description=__doc__.split("\n")[0]
    )
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--decisions", type=int, default=10_000)
    p.add_argument("--store", choices=("local", "moto"), default="local")
    p.add_argument("--fill", choices=("append", "decide", "writer"), default="append")
    p.add_argument("--repeats", type=int, default=7, help="timings per measurement (median)")
    p.add_argument("--customers", type=int, default=20_000, help="sample CDP customers")
    p.add_argument("--work-dir", help="scratch folder (default: a temporary one, removed)")
    args = p.parse_args(argv)
    if args.decisions < 200:
        p.error("--decisions must be at least 200 (the first measurement is at 100)")
    return args


class Moto:
    """moto's S3 server in its own process on a free port, with a bucket."""

    def __init__(self, work: Path):
        self.work, self.proc, self.env = work, None, {}

    def __enter__(self) -> "Moto":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.out = open(self.work / "moto.log", "wb")  # noqa: SIM115 - closed in __exit__
        argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        self.proc = subprocess.Popen(
            argv, stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto exited at start: see {self.work / 'moto.log'}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"moto did not listen on {port} within 60 s")
            time.sleep(0.1)
        self.env = {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ALLOW_HTTP": "true",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench-secret",
        }
        import boto3

        boto3.client(
            "s3",
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            region_name=self.env["AWS_REGION"],
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        ).create_bucket(Bucket=BUCKET)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.out.close()
            self.proc = None


class ReviewLog:
    """What is measured: reading the review log and recording one decision on it."""

    def __init__(self, path: str, pairs: list[tuple[str, str, str]], tables=None):
        self.path, self.pairs, self.tables = path, pairs, tables  # tables: the pipeline's
        self.count = 0
        self._writer = None

    def _next(self) -> tuple[str, str, str, str]:
        segment, product, input_hash = self.pairs[self.count % len(self.pairs)]
        decision = ("approve", "reject")[(self.count // len(self.pairs)) % 2]
        self.count += 1
        return segment, product, input_hash, decision

    def read(self) -> int:
        from segcopy_assets.storage.review_log import read_reviews

        return read_reviews(self.path).height

    def record(self) -> None:
        """Recording a decision as ``segcopy review approve`` does (``decide``), or on the log
        alone (no pipeline on the store) as ``decide`` commits it."""
        if self.tables is None:
            return self.append()
        from segcopy_assets.review.service import decide

        segment, product, _, decision = self._next()
        decide(self.tables, segment, product, decision, reviewer="bench")

    def append(self) -> None:
        from segcopy_assets.storage.review_log import append_reviews, make_decision

        segment, product, input_hash, decision = self._next()
        append_reviews(
            self.path, [make_decision(segment, product, input_hash, decision, reviewer="bench")]
        )

    def write(self) -> None:
        """One decision, one commit, on one open table (``append``'s commit and file, without
        opening the table three times)."""
        import polars as pl
        from deltalake import DeltaTable, write_deltalake

        from segcopy_assets.storage.review_log import make_decision
        from segcopy_assets.storage.tables import REVIEW_SCHEMA

        if self._writer is None:
            self._writer = DeltaTable(self.path)
        segment, product, input_hash, decision = self._next()
        row = make_decision(segment, product, input_hash, decision, reviewer="bench")
        frame = pl.DataFrame([row], schema=REVIEW_SCHEMA)
        write_deltalake(self._writer, frame.to_arrow(), mode="append")

    def files(self) -> int:
        from deltalake import DeltaTable

        return len(DeltaTable(self.path).file_uris())


def setup_pipeline(work: Path, root: str, customers: int) -> ReviewLog:
    """The sample pipeline's tables in a warehouse at ``root``; the review log to measure."""
    import dagster as dg

    from segcopy_assets.devtools.sample_data import write_sample_customers
    from segcopy_assets.devtools.sample_products import write_sample_products
    from segcopy_assets.pipeline import run_pipeline
    from segcopy_assets.resources import Copywriter, Warehouse
    from segcopy_assets.review.service import ReviewTables, review_queue
    from segcopy_assets.storage.io_manager import warehouse_io_manager

    customers_path, products_path = str(work / "cdp_customers"), str(work / "products")
    write_sample_customers(customers_path, n=customers)
    write_sample_products(products_path)
    copywriter = Copywriter(backend="offline", prompts_dir=str(PROMPTS))
    resources = pipeline_resources(work, customers_path, products_path, copywriter)
    resources["warehouse"] = Warehouse(root=root)
    resources["warehouse_io_manager"] = warehouse_io_manager(root)
    with dg.instance_for_test() as instance:
        run_pipeline(instance, resources, log=lambda message: None)
    tables = ReviewTables.for_warehouse(resources["warehouse"])
    queue = review_queue(tables).filter(status="ok")
    pairs = list(queue.select("segment_id", "product_id", "input_hash").iter_rows())
    return ReviewLog(tables.reviews, pairs, tables)


def measure(subject: ReviewLog, repeats: int, label: str) -> dict:
    reads, records = [], []
    rows, files = 0, subject.files()  # as read (the recorded decisions add theirs after)
    for _ in range(repeats):
        with timed() as t:
            rows = subject.read()
        reads.append(t.wall_s * 1000)
    for _ in range(repeats):
        with timed() as t:
            subject.record()
        records.append(t.wall_s * 1000)
    point = {
        "point": label,
        "decisions_read": rows,
        "files": files,
        "read_ms": round(statistics.median(reads), 1),
        "record_ms": round(statistics.median(records), 1),
        "read_ms_all": [round(x, 1) for x in reads],
        "record_ms_all": [round(x, 1) for x in records],
    }
    log(
        f"  {label}: {rows:,} decisions in {point['files']:,} files; read "
        f"{point['read_ms']} ms, record {point['record_ms']} ms"
    )
    return point


def fill(subject: ReviewLog, upto: int, how: str) -> float:
    """Decisions one at a time until ``upto``; seconds taken."""
    step = {"append": subject.append, "decide": subject.record, "writer": subject.write}[how]
    started, last = time.perf_counter(), time.perf_counter()
    while subject.count < upto:
        step()
        if subject.count % 1000 == 0:
            now = time.perf_counter()
            log(f"  {subject.count:,} decisions ({(now - last):.1f} s for the last 1,000)")
            last = now
    return time.perf_counter() - started


def run(args, work: Path, root: str) -> dict:
    from segcopy_assets.resources import Warehouse
    from segcopy_assets.storage.maintenance import maintain_warehouse

    result: dict = {"store": args.store, "warehouse": root, "fill": args.fill}
    log(f"setting up the sample pipeline's tables in {root} ...")
    try:
        with timed() as t:
            subject = setup_pipeline(work, root, args.customers)
        result.update(subject="pipeline (decide)", setup_s=round(t.wall_s, 1))
    except Exception as exc:  # the warehouse cannot hold the pipeline there: the log alone
        if args.store == "local":
            raise
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        log(f"the pipeline failed on {root} ({reason}): measuring the review log alone")
        from segcopy_assets.storage.delta import join

        path = join(root, "segcopy", "variant_reviews")
        pairs = [(f"seg-{i % 14}", f"P-{i // 14}", f"hash-{i}") for i in range(196)]
        subject = ReviewLog(path, pairs)
        result.update(subject=f"review log alone (append_reviews): {reason}")
    log(f"{len(subject.pairs)} variants; deciding one at a time up to 100 ...")
    while subject.count < 100:
        subject.record()
    points = [measure(subject, args.repeats, "after 100")]
    log(f"filling to {args.decisions:,} decisions one at a time ({args.fill}) ...")
    result["fill_s"] = round(fill(subject, args.decisions, args.fill), 1)
    points.append(measure(subject, args.repeats, f"after {args.decisions:,}"))
    log("one maintenance run (every table, retention 7 days) ...")
    with timed() as t:
        if subject.tables is not None:
            tables = maintain_warehouse(Warehouse(root=root), retention_days=7)
        else:
            from segcopy_assets.storage.maintenance import maintain_table

            tables = [maintain_table("variant_reviews", subject.path, retention_days=7)]
    for outcome in tables:
        log(f"  {outcome.line()}")
    result["maintenance_s"] = round(t.wall_s, 2)
    result["maintenance"] = [o.metadata() for o in tables if o.status != "missing"]
    points.append(measure(subject, args.repeats, f"after {args.decisions:,} + maintenance"))
    base, before, after = points
    result.update(
        points=points,
        decisions=subject.count,
        read_ratio=round(after["read_ms"] / base["read_ms"], 2),
        record_ratio=round(after["record_ms"] / base["record_ms"], 2),
        read_ratio_without_maintenance=round(before["read_ms"] / base["read_ms"], 2),
        record_ratio_without_maintenance=round(before["record_ms"] / base["record_ms"], 2),
    )
    result["target_met"] = max(result["read_ratio"], result["record_ratio"]) <= TARGET_RATIO
    return result


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.store == "moto" and (
        importlib.util.find_spec("moto") is None or importlib.util.find_spec("boto3") is None
    ):
        print("moto not installed: pip install 'moto[server]'", file=sys.stderr)
        sys.exit(2)
    import os

    started = {"load_avg_start": load_avg()}
    with tempfile.TemporaryDirectory(prefix="segcopy-bench-maintenance-") as tmp:
        work = Path(args.work_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.store == "local":
            result = run(args, work, str(work / "warehouse"))
        else:
            with Moto(work) as moto:
                os.environ.update(moto.env)
                result = run(args, work, f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}")
    result = {**started, **result, "load_avg_end": load_avg(), "machine": machine()}
    report(result, args)
    return result


def report(r: dict, args) -> None:
    rows = [
        [p["point"], p["decisions_read"], p["files"], p["read_ms"], p["record_ms"]]
        for p in r["points"]
    ]
    compacted = [
        [m["table"], m["status"], m["files_before"], m["files_after"], m["rows_after"]]
        for m in r["maintenance"]
    ]
    text = [
        f"table maintenance: {r['store']} warehouse {r['warehouse']}; subject {r['subject']}; "
        f"fill {r['fill']} ({r['fill_s']} s)",
        "",
        table(["point", "decisions", "files", "read ms", "record ms"], rows),
        "",
        f"maintenance run: {r['maintenance_s']} s",
        table(["table", "status", "files before", "files after", "rows"], compacted),
        "",
        f"read after {args.decisions:,} + maintenance / after 100: {r['read_ratio']} "
        f"(without maintenance {r['read_ratio_without_maintenance']})",
        f"record one decision, same: {r['record_ratio']} "
        f"(without maintenance {r['record_ratio_without_maintenance']})",
        f"target <= {TARGET_RATIO:g} each: {'met' if r['target_met'] else 'NOT met'}",
    ]
    emit("\n".join(text), r, args.json)


if __name__ == "__main__":
    main()
