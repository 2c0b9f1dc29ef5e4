"""Bad input a user can give, through the CLI as they run it (issue 26, point 1): each case
prints at most three lines, names what is wrong (the variable, file, flag or value), exits
non-zero, and writes nothing (every Delta table of the warehouse keeps its version)."""

import subprocess
from pathlib import Path

import pytest

SMS = ("--channel", "sms")
PAIR = ("tents--core", "TN-100")

#: (id, environment, arguments, what the message must name)
CASES = [
    ("llm-mode", {"SEGCOPY_LLM_MODE": "bach"}, ["run"], "SEGCOPY_LLM_MODE"),
    ("llm-backend", {"SEGCOPY_LLM_BACKEND": "gpt"}, ["run"], "SEGCOPY_LLM_BACKEND"),
    ("concurrency", {"SEGCOPY_LLM_MAX_CONCURRENCY": "0"}, ["run"], "SEGCOPY_LLM_MAX_CONCURRENCY"),
    ("timeout", {"SEGCOPY_LLM_TIMEOUT_S": "soon"}, ["run"], "SEGCOPY_LLM_TIMEOUT_S"),
    ("max-attempts", {"SEGCOPY_MAX_ATTEMPTS": "abc"}, ["run"], "SEGCOPY_MAX_ATTEMPTS"),
    ("arms", {"SEGCOPY_VARIANTS_PER_PAIR": "9"}, ["run"], "SEGCOPY_VARIANTS_PER_PAIR"),
    ("repairs", {"SEGCOPY_REPAIR_ATTEMPTS": "-1"}, ["run"], "SEGCOPY_REPAIR_ATTEMPTS"),
    ("channels", {"SEGCOPY_CHANNELS": "mms"}, ["run"], "SEGCOPY_CHANNELS"),
    ("products-csv", {"SEGCOPY_PRODUCTS_PATH": "no-such-dir/products.csv"}, ["run"], "SEGCOPY_PRODUCTS_PATH"),
    ("products-parquet", {"SEGCOPY_PRODUCTS_PATH": "nope.parquet"}, ["run"], "SEGCOPY_PRODUCTS_PATH"),
    ("products-folder", {"SEGCOPY_PRODUCTS_PATH": "no-such-folder"}, ["run"], "SEGCOPY_PRODUCTS_PATH"),
    ("cdp-path", {"SEGCOPY_CDP_DELTA_PATH": "/no/such/table"}, ["run"], "SEGCOPY_CDP_DELTA_PATH"),
    ("batch-offline", {"SEGCOPY_LLM_MODE": "batch"}, ["run"], "SEGCOPY_LLM_MODE=batch"),
    ("preview-segment", {}, ["preview", "--segment", "nope", "--product", "TN-100"], "nope"),
    ("preview-channel", {}, ["preview", "--channel", "mms", "--segment", PAIR[0], "--product", PAIR[1]], "mms"),
    ("approve-segment", {}, ["review", "approve", "nope", "TN-100"], "nope"),
    ("approve-product", {}, ["review", "approve", "tents--core", "NOPE"], "NOPE"),
    ("reject-segment", {}, ["review", "reject", "nope", "TN-100"], "nope"),
    ("edit-text-file", {}, ["review", "edit", *PAIR, "--text-file", "/no/such/file.txt"], "--text-file"),
    ("approve-channel", {}, ["review", "approve", *PAIR, "--channel", "mms"], "mms"),
    ("approve-arm", {}, ["review", "approve", *PAIR, *SMS, "--arm", "3"], "no arm 3"),
    ("list-channel", {}, ["review", "list", "--channel", "mms"], "mms"),
    ("import-csv", {}, ["review", "import", "--csv", "/no/such.csv"], "/no/such.csv"),
    ("bulk-segment", {}, ["review", "bulk", "approve", "--segment", "nope", "--yes"], "--segment 'nope'"),
    ("bulk-product", {}, ["review", "bulk", "reject", "--product", "NOPE", "--yes"], "--product 'NOPE'"),
    ("sample-plan", {}, ["review", "sample", "--p", "2"], "p"),
    ("sample-env", {"SEGCOPY_SAMPLE_C": "sure"}, ["review", "sample"], "SEGCOPY_SAMPLE_C"),
    ("list-batch", {}, ["review", "list", "--batch", "nope"], "nope"),
    ("retry-channel", {}, ["retry", "--channel", "mms"], "mms"),
    ("retry-segment", {}, ["retry", "--segment", "nope"], "nope"),
    ("retry-channel-segment", {}, ["retry", *SMS, "--segment", "nope"], "nope"),
    ("unknown-command", {}, ["publish"], "publish"),
]  # fmt: skip


@pytest.fixture(scope="module")
def home(tmp_path_factory, segcopy_exe, segcopy_env, repo_root) -> Path:
    """A home after README command 1's run, with the SMS channel too."""
    home = tmp_path_factory.mktemp("bad-input") / "home"
    done = subprocess.run(
        [segcopy_exe, "run"],
        cwd=repo_root,
        env=segcopy_env(home, SEGCOPY_CHANNELS="web_description,sms"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return home


def versions(home: Path) -> dict[str, int]:
    """Per Delta table of the warehouse: how many commits its log holds."""
    warehouse = home / "warehouse" / "segcopy"
    return {
        log.parent.name: len(list(log.glob("*.json")))
        for log in sorted(warehouse.glob("*/_delta_log"))
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env", "args", "named"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_one_clear_error_that_writes_nothing(
    home, segcopy_exe, segcopy_env, repo_root, env, args, named
):
    before = versions(home)
    done = subprocess.run(
        [segcopy_exe, *args],
        cwd=repo_root,
        env=segcopy_env(home, **{"SEGCOPY_CHANNELS": "web_description,sms", **env}),
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    said = (done.stdout + done.stderr).strip()
    assert done.returncode != 0, said
    assert "Traceback" not in said, said
    lines = [line for line in said.splitlines() if line.strip()]
    # the run's progress line (which CDP, which writer) may come first
    lines = [line for line in lines if not line.startswith("segcopy: CDP ")]
    assert len(lines) <= 3, said
    assert named in said, said
    assert versions(home) == before


def test_the_table_has_thirty_cases_or_more():
    assert len(CASES) >= 30 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.slow
def test_review_serve_on_a_busy_port_says_so_before_printing_an_address(
    home, segcopy_exe, segcopy_env, repo_root
):
    """Issue 26: with the port taken, the URL was printed before uvicorn's bind error."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run(
            [segcopy_exe, "review", "serve", "--port", str(port)],
            cwd=repo_root,
            env=segcopy_env(home),
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
    said = (done.stdout + done.stderr).strip()
    assert done.returncode == 1, said
    assert "http://" not in said and "Traceback" not in said, said
    assert (
        said == f"segcopy review: 127.0.0.1:{port} is in use: choose another port with "
        f"--port (e.g. --port {port + 1})"
    ), said
