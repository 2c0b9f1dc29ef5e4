"""The docs, checked so that their examples never rot: the MkDocs site builds with ``--strict``
(every link and anchor resolves) and without the network, the README stays short and keeps the
Quickstart's two commands, every environment variable the docs name is one segcopy reads, and
every command of every fenced ``bash`` block of README.md and docs/*.md runs.

How the commands run (``test_every_docs_command_runs``):

- after one ``segcopy run`` in a fresh SEGCOPY_HOME (the offline writer, no API key, no
  SEGCOPY_LLM_* setting, every channel, as command 1 runs it), each page's blocks run in order in
  a copy of that home, with ``cwd`` = the repository root; a block that repeats an earlier one
  verbatim (the tour is in the README and on the Getting started page) runs once;
- ``segcopy`` and ``.venv/bin/segcopy`` are this virtualenv's console script, ``.venv/bin/python``
  its interpreter, ``.segcopy/`` the test's home; a file named after ``--text-file``, ``--csv`` or
  ``--disagreements`` is in a scratch folder seeded with tests/data/docs/ (never the repository);
- a prompt is answered as a reader would: ``y`` to a confirmation, a password twice to
  ``review user add``; ``$PW`` is set;
- the placeholder ``3f2a9c...`` (a sampling batch) is the first batch an earlier command of the
  page printed; any other placeholder (``<segment>``, ``sk-...``) fails the test;
- each command must exit 0, or the status a ``# exits N`` comment on its line says;
- a block that cannot run here says so just before it, with a reason:
  ``<!-- docs-test: skip — reason -->``. A block that is not skipped may hold only ``segcopy``
  commands, ``.venv/bin/python`` commands and ``export`` lines.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

README_MAX_LINES = 200
QUICKSTART_COMMANDS = [
    "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/segcopy run",
    "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && .venv/bin/pytest",
]
SKIP_MARKER = re.compile(r"^<!--\s*docs-test:\s*skip\b\s*(?:[—–:-]+\s*)?(.*?)\s*-->$")
FILE_FLAGS = ("--text-file", "--csv", "--disagreements")
BATCH_PLACEHOLDER = "3f2a9c..."
PLACEHOLDER = re.compile(r"<[A-Za-z][\w .-]*>|\.\.\.|…")
EXPECTED_EXIT = re.compile(r"\bexit(?:s| status) (\d+)\b")
PASSWORD = "docs-test-password-1"
# at most two pages at a time: CI has two cores
PARALLEL_PAGES = 2

# A build that reaches for the network fails: the socket functions raise before mkdocs loads.
OFFLINE_MKDOCS = """
import socket, sys

def refuse(*args, **kwargs):
    raise OSError("the docs build tried to reach the network")

socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = socket.getaddrinfo = refuse
from mkdocs.__main__ import cli

sys.argv[0] = "mkdocs"
cli()
"""


@dataclass
class Block:
    """One fenced ``bash`` block: where it is, its commands, and why it is skipped (if it is)."""

    path: str
    line: int
    text: str
    skip: str | None
    commands: list[str] = field(default_factory=list)


def doc_files(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def bash_blocks(path: Path, root: Path) -> list[Block]:
    """Every ```bash block of a Markdown file, with the skip marker on the line before it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```bash":
            start, body = i, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            skip = None
            marker = SKIP_MARKER.match(lines[start - 1].strip()) if start else None
            if marker:
                skip = marker.group(1)
            text = "\n".join(body)
            rel = str(path.relative_to(root))
            blocks.append(Block(rel, start + 1, text, skip, split_commands(text)))
        i += 1
    return blocks


def split_comment(line: str) -> tuple[str, str]:
    """``code  # comment`` → (code, comment): a ``#`` that starts a word, outside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i + 1 :].strip()
    return line.rstrip(), ""


def split_commands(text: str) -> list[str]:
    """One command per logical line (``\\`` continues a line); comment lines and blanks dropped."""
    commands, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.endswith("\\"):
            current += line[:-1].rstrip() + " "
            continue
        line, current = current + line, ""
        if split_comment(line)[0].strip():
            commands.append(line.strip())
    return commands


def command_kind(command: str) -> str:
    """``segcopy`` (anywhere in a pipeline), ``python`` (this virtualenv's), ``export`` or
    ``other``."""
    code = split_comment(command)[0]
    try:
        words = shlex.split(code)
    except ValueError:
        words = code.split()
    if any(w in ("segcopy", ".venv/bin/segcopy") for w in words):
        return "segcopy"
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
        words = words[1:]
    if words[:1] == ["export"]:
        return "export"
    if words[:1] == [".venv/bin/python"]:
        return "python"
    return "other"


def expected_status(command: str) -> int:
    found = EXPECTED_EXIT.search(split_comment(command)[1])
    return int(found.group(1)) if found else 0


def rewrite(command: str, *, segcopy_exe: str, home: Path, work: Path, values: dict) -> str:
    """The command as this test runs it: this virtualenv's programs, the test's home, the
    scratch folder's files, and the placeholders' values; fails on a placeholder left."""
    code, comment = split_comment(command)
    for placeholder, value in values.items():
        code = code.replace(placeholder, value)
    left = PLACEHOLDER.findall(code)
    assert not left, f"placeholder {left} in {command!r}: give it a real value or skip the block"

    def program(m: re.Match) -> str:
        return shlex.quote(sys.executable if m.group(0).endswith("python") else segcopy_exe)

    code = re.sub(
        r"(?<![\w./-])(?:\.venv/bin/python|(?:\.venv/bin/)?segcopy)(?![\w.-])", program, code
    )
    code = re.sub(r"(?<![\w/.-])\.segcopy/", lambda m: f"{home}/", code)
    flags = "|".join(re.escape(f) for f in FILE_FLAGS)
    code = re.sub(rf"({flags})(\s+|=)(?![/$~])(\S+)", lambda m: f"{m[1]}{m[2]}{work}/{m[3]}", code)
    return code + (f"  # {comment}" if comment else "")


def stdin_for(command: str) -> str:
    if "review user add" in command and "--password-stdin" not in command:
        return f"{PASSWORD}\n{PASSWORD}\n"
    return "y\n"


def test_readme_is_short_and_keeps_the_quickstart_commands(repo_root):
    lines = (repo_root / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"
    for command in QUICKSTART_COMMANDS:
        assert command in lines, f"README.md lost the Quickstart command {command!r}"
    # the site's build checks the links of docs/; the README's own relative links are checked here
    targets = re.findall(r"\]\(([^)#\s]+)[^)]*\)", "\n".join(lines))
    relative = [t for t in targets if "://" not in t]
    assert "docs/getting-started.md" in relative
    missing = [t for t in relative if not (repo_root / t).exists()]
    assert not missing, f"README.md links to {missing}, which do not exist"


@pytest.mark.slow
def test_mkdocs_build_strict_without_network(repo_root, tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    site = tmp_path / "site"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGCOPY_")}
    env["NO_MKDOCS_2_WARNING"] = "1"
    args = ["build", "--strict", "--site-dir", str(site)]
    built = subprocess.run(
        [sys.executable, "-c", OFFLINE_MKDOCS, *args],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert "WARNING" not in built.stderr, built.stderr[-3000:]
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("index.html"))
    assert "index.html" in pages and "configuration/index.html" in pages, pages
    for page in site.rglob("*.html"):
        assert "fonts.googleapis.com" not in page.read_text(encoding="utf-8"), page


def test_the_docs_parser_reads_markers_commands_and_statuses(tmp_path):
    doc = tmp_path / "docs" / "page.md"
    doc.parent.mkdir()
    doc.write_text(
        "Text\n\n"
        "<!-- docs-test: skip — needs a real API key -->\n```bash\nexport K=sk-...\n```\n\n"
        "<!-- docs-test: skip -->\n```bash\nsegcopy dev\n```\n\n"
        "```bash\n# a comment line\nsegcopy review list --segment tents--core   # the queue\n"
        "segcopy review edit tents--core TN-100 \\\n  --text-file bad.txt   # refused: exits 1\n"
        "printf '%s\\n' \"$PW\" | segcopy review user add ci-bot --password-stdin\n"
        "SEGCOPY_X=1 segcopy run\n.venv/bin/python -c \"print('#1')\"\nexport A=b\nmake all\n```\n",
        encoding="utf-8",
    )
    skipped, unexplained, ran = bash_blocks(doc, tmp_path)
    assert (skipped.skip, skipped.path, skipped.line) == ("needs a real API key", "docs/page.md", 4)
    assert unexplained.skip == ""
    assert ran.skip is None and len(ran.commands) == 7
    kinds = [command_kind(c) for c in ran.commands]
    assert kinds == ["segcopy", "segcopy", "segcopy", "segcopy", "python", "export", "other"]
    assert [expected_status(c) for c in ran.commands[:2]] == [0, 1]
    assert split_comment(ran.commands[4]) == (".venv/bin/python -c \"print('#1')\"", "")
    home, work = tmp_path / "home", tmp_path / "work"
    rewritten = rewrite(ran.commands[1], segcopy_exe="/v/segcopy", home=home, work=work, values={})
    assert rewritten.startswith(
        f"/v/segcopy review edit tents--core TN-100 --text-file {work}/bad.txt"
    )
    with pytest.raises(AssertionError, match="placeholder"):
        rewrite("segcopy review list --batch 3f2a9c...", segcopy_exe="s", home=home, work=work,
                values={})  # fmt: skip
    assert rewrite(
        "segcopy review list --batch 3f2a9c...  # one batch", segcopy_exe="s", home=home,
        work=work, values={BATCH_PLACEHOLDER: "ab12"},
    ) == "s review list --batch ab12  # one batch"  # fmt: skip


def test_shell_examples_are_bash_blocks(repo_root):
    """Only ```bash blocks are run: a shell example fenced as sh, shell or console would escape."""
    for path in doc_files(repo_root):
        text = path.read_text(encoding="utf-8")
        other = re.findall(r"^```(sh|shell|console|zsh|shell-session)\s*$", text, re.M)
        assert not other, f"{path.name}: fence shell examples as ```bash, not {other}"


def test_every_environment_variable_the_docs_name_is_read_by_segcopy(repo_root):
    code = "\n".join(
        p.read_text(encoding="utf-8") for p in (repo_root / "segcopy_assets").rglob("*.py")
    )
    named: dict[str, set[str]] = {}
    for path in doc_files(repo_root):
        for name in re.findall(r"SEGCOPY_[A-Z_]+", path.read_text(encoding="utf-8")):
            named.setdefault(name.rstrip("_"), set()).add(path.name)
    assert "SEGCOPY_HOME" in named and len(named) > 40
    unknown = {name: sorted(pages) for name, pages in named.items() if name not in code}
    assert not unknown, f"the docs name variables segcopy_assets/ never mentions: {unknown}"


@pytest.mark.slow
@pytest.mark.timeout(420)  # ~2 minutes alone on two cores; more beside the rest of the suite
def test_every_docs_command_runs(repo_root, tmp_path, segcopy, segcopy_exe, segcopy_env):
    pages: dict[str, list[Block]] = {}
    seen: set[str] = set()
    report = []
    for path in doc_files(repo_root):
        for block in bash_blocks(path, repo_root):
            where = f"{block.path}:{block.line}"
            if block.skip is not None:
                assert block.skip, f"{where}: a skipped block must say why (docs-test: skip — …)"
                report.append(f"SKIP {where}: {block.skip}")
                continue
            others = [c for c in block.commands if command_kind(c) == "other"]
            assert not others, (
                f"{where}: {others} is not a segcopy command: split the block, or skip it with a "
                "reason (<!-- docs-test: skip — reason -->)"
            )
            if block.text in seen:
                report.append(f"SAME {where}: ran already (the same block on an earlier page)")
                continue
            seen.add(block.text)
            pages.setdefault(block.path, []).append(block)
    assert pages, "no runnable bash block in the docs"

    base = tmp_path / "base"
    first = segcopy("run", home=base, env_extra={"SEGCOPY_CHANNELS": ""})
    assert first.returncode == 0, first.stderr[-3000:]

    def run_page(page: str, blocks: list[Block]) -> list[str]:
        slug = re.sub(r"\W+", "-", page)
        home, work = tmp_path / slug / "home", tmp_path / slug / "work"
        shutil.copytree(base, home)
        shutil.copytree(repo_root / "tests" / "data" / "docs", work)
        env = segcopy_env(home, SEGCOPY_CHANNELS="", PW=PASSWORD)
        values: dict[str, str] = {}
        ran = []
        for block in blocks:
            exports: list[str] = []
            for command in block.commands:
                line = rewrite(
                    command, segcopy_exe=segcopy_exe, home=home, work=work, values=values
                )
                if command_kind(command) == "export":
                    exports.append(line)
                    continue
                started = time.monotonic()
                done = subprocess.run(
                    ["bash", "-c", "\n".join([*exports, line])],
                    cwd=repo_root,
                    env=env,
                    input=stdin_for(command),
                    capture_output=True,
                    text=True,
                    timeout=300,
                    start_new_session=True,  # no terminal: getpass reads the answers given
                )
                assert done.returncode == expected_status(command), (
                    f"{block.path}:{block.line}: {command!r} exited {done.returncode}",
                    done.stdout[-2000:],
                    done.stderr[-2000:],
                )
                batch = re.search(r"^batch ([0-9a-f]{16})\b", done.stdout, re.M)
                if batch and BATCH_PLACEHOLDER not in values:
                    values[BATCH_PLACEHOLDER] = batch.group(1)
                took = time.monotonic() - started
                ran.append(f"RUN  {block.path}:{block.line} ({took:.1f} s): {command}")
        return ran

    with ThreadPoolExecutor(max_workers=PARALLEL_PAGES) as pool:
        results = [pool.submit(run_page, page, blocks) for page, blocks in pages.items()]
        for result in results:
            report += result.result()
    print("\n".join(report))
    assert sum(line.startswith("RUN ") for line in report) >= 30
