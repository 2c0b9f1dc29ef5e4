"""Write deploy/requirements.lock: every Python package of the code location image, pinned.

Run from the repository root with the project's virtualenv, on linux/amd64 with CPython 3.11
(the image's platform: python:3.11-slim-bookworm, glibc 2.36)::

    .venv/bin/python deploy/lock.py

pip resolves segcopy (pyproject.toml) together with deploy/requirements.in without installing
anything (``pip install --dry-run --ignore-installed --report``) and reports, per package, the
version and the sha256 of the file it chose for this platform. The lock lists exactly those, so
``pip install --require-hashes --no-deps -r deploy/requirements.lock`` in the Dockerfile
installs these files or fails. segcopy itself is not in the lock: the image builds it from the
source it copies.
"""

import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "deploy" / "requirements.lock"
HEADER = """\
# Every Python package of segcopy's code location image (deploy/Dockerfile), pinned, with the
# sha256 of the file pip chose for linux/amd64, CPython 3.11, glibc 2.36 (the image's
# python:3.11-slim-bookworm). Written by `python deploy/lock.py` from pyproject.toml and
# deploy/requirements.in: do not edit by hand. Another platform (arm64) needs its own lock.
"""


def normalized(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def resolve() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                # PyPI only: no pip.conf, PIP_* variables or local wheel folders, so every hash
                # is the one of the file PyPI serves
                "--isolated",
                "--disable-pip-version-check",
                "install",
                "--index-url",
                "https://pypi.org/simple",
                "--dry-run",
                "--ignore-installed",
                "--quiet",
                "--report",
                str(report),
                str(ROOT),
                "-r",
                str(ROOT / "deploy" / "requirements.in"),
            ],
            check=True,
        )
        return json.loads(report.read_text(encoding="utf-8"))["install"]


def lock_lines(items: list[dict]) -> list[str]:
    lines = []
    for item in sorted(items, key=lambda i: normalized(i["metadata"]["name"])):
        name = normalized(item["metadata"]["name"])
        if name == "segcopy":
            continue
        info = item["download_info"]
        digest = info.get("archive_info", {}).get("hashes", {}).get("sha256")
        if not digest or not info["url"].startswith("https://files.pythonhosted.org/"):
            raise SystemExit(f"{name}: not a file from PyPI with a sha256 ({info['url']})")
        lines.append(f"{name}=={item['metadata']['version']} \\\n    --hash=sha256:{digest}")
    return lines


def main() -> int:
    if (sys.version_info[:2], platform.machine()) != ((3, 11), "x86_64"):
        print("run deploy/lock.py with CPython 3.11 on x86_64 (the image's platform)")
        return 1
    LOCK.write_text(HEADER + "\n".join(lock_lines(resolve())) + "\n", encoding="utf-8")
    print(f"wrote {LOCK.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
