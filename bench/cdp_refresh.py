"""Incremental vs full CDP refresh, side by side (issue 23): ``cdp_customers``,
``segment_summaries`` and ``customer_segments`` materialized through Dagster after each new
source version, once incrementally (change data feed + MERGE) and once in full
(``full_refresh``), on the local folder and on moto's S3 server.

    python -m bench.cdp_refresh [--json] [--rows 10000000] [--churn 0.001] [--versions 3]
                                [--store local,moto] [--data-dir .segcopy/bench]

Per store: a copy of the cached synthetic CDP table (``bench.summaries.customers_table``, with
its change data feed on) is the source; two warehouses are filled once in full; then for each
version ``sample_churn.write_churn`` writes ``rows × churn`` changes (new, re-scored, moved and
deleted customers) as ONE source version, and the two refreshes run, alternating which goes
first. Measured per refresh: wall seconds of the whole ``dg.materialize`` (Dagster included)
and of each asset's step; bytes read: locally this process's ``rchar`` (read syscalls, page
cache hits included), on S3 the bytes moto sent back through a counting proxy in its own
process; physical rows written (a MERGE rewrites whole files: it also writes the unchanged
rows of every file holding a changed one; the summaries' segment cube counts too). After each
version the two warehouses must hold the same rows (assigned_at aside). Moto's server runs in
its own process (``python -m moto.server``). ``--mix new``: new customers only (appends), the
case where no data file has to be rewritten.
"""

import argparse
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import DEFAULT_DATA_DIR, emit, load_avg, log, machine, table

CDP = ["cdp_customers", "segment_summaries", "customer_segments"]
BUCKET = "segcopy-bench"
FEED = "delta.enableChangeDataFeed"
MIXES: dict[str, dict[str, float] | None] = {"realistic": None, "new": {"new": 1.0}}


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="python -m bench.cdp_refresh", description=__doc__.split("\n")[0]
    )
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--rows", type=int, default=10_000_000, help="customers in the source table")
    p.add_argument("--churn", type=float, default=0.001, help="share of customers per version")
    p.add_argument("--versions", type=int, default=3, help="source versions (refresh pairs)")
    p.add_argument("--store", default="local,moto", help="comma-separated: local, moto")
    p.add_argument(
        "--mix",
        default="realistic",
        choices=["realistic", "new"],
        help="the changes: sample_churn.CHURN_MIX, or new customers only",
    )
    p.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help="cache and work directory")
    return p.parse_args(argv)


# ------------------------------------------------------------------ moto and its counting proxy


def _proxy(conn, target_port: int) -> None:  # runs in a spawned process
    import asyncio

    counts = {"down": 0, "up": 0}

    async def pipe(reader, writer, key):
        try:
            while data := await reader.read(1 << 17):
                counts[key] += len(data)
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def handle(client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(
            pipe(client_reader, server_writer, "up"), pipe(server_reader, client_writer, "down")
        )

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        conn.send(server.sockets[0].getsockname()[1])
        loop = asyncio.get_running_loop()
        while (command := await loop.run_in_executor(None, conn.recv)) != "stop":
            conn.send(dict(counts) if command == "stats" else None)
        server.close()

    asyncio.run(main())


class MotoS3:
    """``python -m moto.server`` in its own process, reached through a byte-counting proxy."""

    def __enter__(self) -> "MotoS3":
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if self.server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("moto's server did not start (pip install 'moto[server]')")
            time.sleep(0.1)
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proxy = ctx.Process(target=_proxy, args=(child, port), daemon=True)
        self.proxy.start()
        proxy_port = self.conn.recv()
        self.env = {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy_port}",
            "AWS_ALLOW_HTTP": "true",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "segcopy-bench",
            "AWS_SECRET_ACCESS_KEY": "segcopy-bench-secret",
        }
        self.saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        self.client().create_bucket(Bucket=BUCKET)
        return self

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            region_name=self.env["AWS_REGION"],
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        )

    def downloaded(self) -> int:
        self.conn.send("stats")
        return int(self.conn.recv()["down"])

    def upload(self, local: Path, prefix: str) -> None:
        client = self.client()
        for file in sorted(p for p in local.rglob("*") if p.is_file()):
            client.upload_file(str(file), BUCKET, f"{prefix}/{file.relative_to(local)}")

    def __exit__(self, *exc) -> None:
        self.conn.send("stop")
        self.proxy.join(10)
        self.server.terminate()
        self.server.wait(15)
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# ------------------------------------------------------------------------------------- refreshes


def rchar() -> int:
    with open("/proc/self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("rchar:"))


def refresh(resources: dict, instance, full: bool, bytes_read) -> dict:
    """One refresh of the three assets; what it cost and what it did."""
    import dagster as dg

    from segcopy_assets.defs.cdp.assets import cdp_customers, segment_definitions, segment_summaries
    from segcopy_assets.defs.publishing.assets import customer_segments

    read_before, started = bytes_read(), time.perf_counter()
    result = dg.materialize(
        [cdp_customers, segment_summaries, segment_definitions, customer_segments],
        selection=CDP,
        resources=resources,
        instance=instance,
        run_config={
            "ops": {"cdp_customers": {"config": {"full_refresh": full}}},
            "loggers": {"console": {"config": {"log_level": "WARNING"}}},
        },
    )
    wall = time.perf_counter() - started
    read = bytes_read() - read_before
    meta = {
        asset: {
            k: v.value for k, v in result.asset_materializations_for_node(asset)[0].metadata.items()
        }
        for asset in CDP
    }
    steps = {
        e.step_key: round(e.event_specific_data.duration_ms / 1000, 3)
        for e in result.all_events
        if e.event_type_value == "STEP_SUCCESS"
    }
    written = {
        "cdp_customers": meta["cdp_customers"]["rows_written"],
        # the IO manager rewrites the summaries; the refresh rewrites the segment cube it keeps
        "segment_summaries": meta["segment_summaries"]["row_count"]
        + meta["segment_summaries"]["cube_rows_written"],
        "customer_segments": meta["customer_segments"]["rows_written"],
    }
    return {
        "wall_s": round(wall, 3),
        "steps_s": steps,
        "bytes_read": read,
        "rows_written": sum(written.values()),
        "rows_written_by_asset": written,
        "refresh": {asset: meta[asset]["refresh"] for asset in CDP},
        "changed_customers": meta["cdp_customers"].get("customers_inserted", 0)
        + meta["cdp_customers"].get("customers_updated", 0)
        + meta["cdp_customers"].get("customers_deleted", 0),
    }


def same_tables(a, b) -> bool:
    """Both warehouses hold the same rows in the three tables (assigned_at aside)."""
    import polars as pl

    for name, key in zip(CDP, ["customer_id", "segment_id", "customer_id"]):
        x, y = (pl.read_delta(w.table_path(name)).drop("assigned_at", strict=False) for w in (a, b))
        if x.columns != y.columns or not x.sort(key).equals(y.sort(key)):
            return False
    return True


def run_store(store: str, args, base: Path, work: Path, moto: MotoS3 | None) -> dict:
    import dagster as dg
    from deltalake import DeltaTable

    from segcopy_assets.devtools.sample_churn import write_churn
    from segcopy_assets.resources import CdpSource, Segmentation, Warehouse
    from segcopy_assets.storage.io_manager import warehouse_io_manager

    if moto is None:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        source = str(work / "source")
        shutil.copytree(base, source)
        roots = {kind: str(work / kind) for kind in ("incremental", "full")}
        bytes_read = rchar
    else:
        log(f"{store}: uploading the source table to s3://{BUCKET}/source ...")
        moto.upload(base, "source")
        source = f"s3://{BUCKET}/source"
        roots = {kind: f"s3://{BUCKET}/{kind}" for kind in ("incremental", "full")}
        bytes_read = moto.downloaded
    table = DeltaTable(source)
    if table.metadata().configuration.get(FEED) != "true":
        table.alter.set_table_properties({FEED: "true"})
    warehouses = {kind: Warehouse(root=root) for kind, root in roots.items()}
    resources = {
        kind: {
            "cdp": CdpSource(delta_path=source),
            "segmentation": Segmentation(),
            "warehouse": wh,
            "warehouse_io_manager": warehouse_io_manager(wh.root),
        }
        for kind, wh in warehouses.items()
    }
    changes = max(1, round(args.rows * args.churn))
    runs: list[dict] = []
    # one Dagster instance per warehouse: an asset's last materialization is its warehouse's
    with dg.DagsterInstance.ephemeral() as inc, dg.DagsterInstance.ephemeral() as full:
        instances = {"incremental": inc, "full": full}
        first = {}
        for kind in ("incremental", "full"):
            log(f"{store}: first (full) refresh of the {kind} warehouse ...")
            first[kind] = refresh(resources[kind], instances[kind], True, bytes_read)
        for version in range(1, args.versions + 1):
            started = time.perf_counter()
            churn = write_churn(source, changes, seed=version, mix=MIXES[args.mix])
            churn_s = time.perf_counter() - started
            order = ["incremental", "full"] if version % 2 else ["full", "incremental"]
            pair = {}
            for kind in order:
                log(f"{store}: version {churn.version}: {kind} refresh ...")
                pair[kind] = refresh(resources[kind], instances[kind], kind == "full", bytes_read)
            equal = same_tables(warehouses["incremental"], warehouses["full"])
            runs.append(
                {
                    "source_version": churn.version,
                    "changes": {
                        "new": churn.inserted,
                        "updated": churn.updated,
                        "deleted": churn.deleted,
                    },
                    "churn_write_s": round(churn_s, 3),
                    **pair,
                    "equal": equal,
                    "ratio": round(pair["full"]["wall_s"] / pair["incremental"]["wall_s"], 2),
                    "load_avg": load_avg(),
                }
            )
            if not equal:
                raise SystemExit(
                    f"{store}: incremental and full refresh differ at version {churn.version}"
                )
    if moto is None:
        shutil.rmtree(work, ignore_errors=True)

    def median(kind: str, key: str) -> float:
        return statistics.median(r[kind][key] for r in runs)

    return {
        "store": store,
        "rows": args.rows,
        "changes_per_version": changes,
        "first_full_s": first["full"]["wall_s"],
        "incremental_s": median("incremental", "wall_s"),
        "full_s": median("full", "wall_s"),
        "ratio": round(median("full", "wall_s") / median("incremental", "wall_s"), 2),
        "incremental_bytes_read": median("incremental", "bytes_read"),
        "full_bytes_read": median("full", "bytes_read"),
        "incremental_rows_written": median("incremental", "rows_written"),
        "full_rows_written": median("full", "rows_written"),
        "all_equal": all(r["equal"] for r in runs),
        "versions": runs,
    }


def main(argv=None) -> dict:
    from bench.summaries import customers_table

    args = parse_args(argv)
    data_dir = Path(args.data_dir)
    base = Path(customers_table(data_dir, args.rows))
    results = []
    for store in [s.strip() for s in args.store.split(",") if s.strip()]:
        if store == "local":
            results.append(run_store(store, args, base, data_dir / "cdp_refresh", None))
        elif store == "moto":
            with MotoS3() as moto:
                results.append(run_store(store, args, base, data_dir / "cdp_refresh", moto))
        else:
            raise SystemExit(f"unknown store {store!r} (local, moto)")
    result = {"results": results, "churn": args.churn, "mix": args.mix, "machine": machine()}
    rows = []
    for r in results:
        for kind in ("incremental", "full"):
            steps = statistics.median(
                v[kind]["steps_s"].get("cdp_customers", 0) for v in r["versions"]
            )
            rows.append(
                [
                    r["store"],
                    kind,
                    r[f"{kind}_s"],
                    steps,
                    round(r[f"{kind}_bytes_read"] / 1e6, 1),
                    int(r[f"{kind}_rows_written"]),
                    r["ratio"] if kind == "incremental" else None,
                    r["all_equal"],
                ]
            )
    text = [
        f"CDP refresh, {args.rows:,} customers, {args.churn:.2%} changed per version ({args.mix} "
        f"changes; median of {args.versions} versions; Dagster run included)",
        "",
        table(
            [
                "store",
                "refresh",
                "wall s",
                "cdp_customers s",
                "MB read",
                "rows written",
                "full/incr",
                "same rows",
            ],
            rows,
        ),
        "",
        "target: incremental >= 10x faster than full at 0.1% churn on 10M customers (local)",
        "MB read: local = read syscalls of this process (rchar); moto = bytes moto sent back",
        f"machine: {result['machine']['cores']} cores, {result['machine'].get('ram_gb')} GB RAM",
    ]
    emit("\n".join(text), result, args.json)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
