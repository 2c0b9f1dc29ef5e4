"""What ``segcopy run`` prints when the pipeline ran: the tables with their row counts, what was
left out, the variants, repairs, the LLM judge, batches, each channel, publication, and the
exit status by what failed."""

import polars as pl

from segcopy_assets.storage import delta
from segcopy_assets.storage.tables import REPORTED


def print_report(report, resources: dict, auto_approve: bool) -> int:
    """Print ``report`` (``pipeline.PipelineReport``); returns the exit status."""
    print("\nTables (Delta):")
    for table in REPORTED:
        path = resources["warehouse"].table_path(table)
        if not delta.table_exists(path):  # batch mode: variants not collected yet
            print(f"  {table:<30} {'not written yet':>14}  {path}")
            continue
        rows = pl.scan_delta(path).select(pl.len()).collect().item()
        print(f"  {table:<30} {rows:>9,} rows  {path}")
    m = report.variant_metadata
    if report.segments_added or report.segments_removed:
        print(
            f"\nSegments: {len(report.segments_added)} added, {len(report.segments_removed)} removed"
        )
    if report.skipped:
        print("\nUnchanged, not run: " + "; ".join(report.skipped))
    print(
        f"\nStale segments: {m.get('segments_run', 0)} of {len(report.segment_ids)}, "
        f"in {m.get('range_runs', 0)} range run(s)"
    )
    print(
        f"Variants: {m.get('pairs')} pairs, {m.get('calls_made')} generated, {m.get('reused')} reused, "
        + (
            f"{m['pairs_waiting_on_batches']} waiting on batches, "
            if m.get("pairs_waiting_on_batches")
            else ""
        )
        + f"{m.get('failed')} failed; backend {m.get('backend')}, model {m.get('model')}, "
        f"prompt hash {m.get('prompt_hash')}; estimated cost {usd(m.get('estimated_cost_usd'))}"
    )
    if m.get("repair_calls"):
        print(
            f"Repairs: {m['repair_calls']} answer(s) that failed an ERROR rule sent back "
            f"(SEGCOPY_REPAIR_ATTEMPTS={m.get('repair_attempts_allowed')}), {m.get('repaired')} "
            f"now pass; estimated cost {usd(m.get('repair_cost_usd'))}"
        )
    if "judge_calls" in m:
        print(
            f"LLM judge {m['llm_judge']}: {m['judge_calls']} call(s), {m['judge_reused']} reused, "
            f"{m['judge_failed']} failed; estimated cost {usd(m['judge_estimated_cost_usd'])}"
        )
    if m.get("llm_mode", "online") != "online" or m.get("segments_waiting_on_batches"):
        _print_batches(resources, m)
    failing = [name for name, ok in report.check_results.items() if not ok]
    print(
        f"Checks: {len(report.check_results) - len(failing)}/{len(report.check_results)} passed"
        + (f" (failing: {', '.join(failing)})" if failing else "")
        + (
            f" on the variants written; {m['segments_waiting_on_batches']} segment(s) wait"
            if m.get("segments_waiting_on_batches")
            else ""
        )
    )
    for name, c in report.channels.items():
        ran = (
            f"{c['segments_run']} stale segment(s) run: {c['calls_made']} generated, "
            f"{c['reused']} reused, {c['failed']} failed"
            if c["segments_run"]
            else "all current, not run"
        )
        if c.get("repair_calls"):
            ran += f"; {c['repair_calls']} repair(s), {c['repaired']} now pass"
        if c["segments_waiting_on_batches"]:
            ran += (
                f"; {c['segments_waiting_on_batches']} segment(s) wait on a provider batch: "
                "channel_batch_sensor (or `segcopy run --wait`) collects it"
            )
        superseded = f", {c['superseded']} superseded" if c["superseded"] else ""
        print(
            f"Channel {name}: {c['variants']} variants ({ran}); checks failing: "
            f"{c['failing_error']} ERROR, {c['failing_warn']} WARN; published "
            f"{c['published']}{superseded}, {c['withheld']} withheld; {c['table']}"
        )
    superseded = (
        f" ({report.superseded} superseded: the approved copy of a replaced variant, live until "
        "the new one is reviewed)"
        if report.superseded
        else ""
    )
    print(
        f"Published: {report.published} variant(s){superseded}, {report.withheld} withheld "
        + (
            "(auto-approved: every unreviewed variant that passes the ERROR checks)"
            if auto_approve
            else "(review with `segcopy review list`; why: `segcopy review list --withheld`)"
        )
    )
    status = _report_failures(report.failing, resources["copywriter"].max_attempts)
    failing_channels = {
        n: c["failing_pairs"] for n, c in report.channels.items() if c["failing_pairs"]
    }
    if failing_channels:
        from segcopy_assets.cli import exit_codes

        print(
            "Failed channel pairs (each keeps its last good copy, if any; retried by the next run): "
            + ", ".join(f"{n} {k}" for n, k in failing_channels.items())
            + f" (exit status {exit_codes.PARTIAL})"
        )
        return exit_codes.PARTIAL
    return status


def _report_failures(failing, max_attempts: int) -> int:
    """Say which pairs have no variant for their current inputs; the exit status."""
    from segcopy_assets.cli import exit_codes

    if failing.is_empty():
        return exit_codes.OK
    parked = int((failing["state"] == "parked").sum())
    kept = int(failing["last_good_kept"].sum())
    print(
        f"Failed: {failing.height} pair(s) have no variant for their current inputs "
        f"({kept} keep their last good variant): {failing.height - parked} retried by the next "
        f"run, {parked} parked after {max_attempts} failed attempts; `segcopy retry --list` "
        f"shows them with their errors (exit status {exit_codes.PARTIAL})"
    )
    return exit_codes.PARTIAL


def _print_batches(resources: dict, m: dict) -> None:
    from segcopy_assets.storage import batch_store
    from segcopy_assets.storage.tables import GENERATION_BATCHES

    path = resources["warehouse"].table_path(GENERATION_BATCHES)
    print(
        f"Batch API: {m.get('batch_generated', 0)} variant(s) from batches; estimated cost "
        f"{usd(m.get('estimated_cost_usd'))} (online: {usd(m.get('online_equivalent_cost_usd', 'n/a'))})"
    )
    waiting = m.get("segments_waiting_on_batches", 0)
    if waiting:
        open_ = batch_store.current(path).filter(pl.col("state").is_in(batch_store.OPEN))
        print(
            f"Waiting: {waiting} segment(s) on {batch_store.summary(open_)}; "
            "collect with `segcopy run --wait`, or leave it to batch_sensor under `segcopy dev`"
        )


def usd(value: object) -> str:
    """A cost as the report prints it: dollars with six decimals whatever the number's type
    (a run of no calls summed to ``0`` one time and ``0.0`` the next); a reason as it is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"${value:.6f}"
