"""Headless Debian Chromium for the browser tests (the review page, the Dagster UI).

``browser_or_skip()`` returns ``(sync_playwright, chromium path)``; when Playwright or Chromium is
missing it fails under CI=true (a browser test must never silently vanish there) and skips
elsewhere. Chromium comes from Debian's package, never from ``playwright install``.
"""

import contextlib
import os
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def browser_or_skip():
    """``(sync_playwright, chromium path)``; missing → FAIL when CI=true, else skip."""
    problems = []
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
        problems.append("the playwright Python package is not installed (pip install -e '.[test]')")
    executable = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not executable:
        problems.append(
            f"{CHROMIUM} is missing (apt-get install -y chromium; never `playwright install`)"
        )
    if problems:
        reason = "browser test needs: " + "; ".join(problems)
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return sync_playwright, executable


@contextlib.contextmanager
def chromium_page(width: int = 1400, height: int = 1000):
    """A page of a fresh headless Chromium (``browser_or_skip`` first); closed afterwards."""
    sync_playwright, executable = browser_or_skip()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def assert_png(path, min_bytes: int = 10_000) -> None:
    """``path`` is a PNG screenshot with something on it (not a blank page)."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, path
    assert len(data) > min_bytes, (path, len(data))
