"""The review page's pure parts: the word diff, and that the page never imports Dagster.

Its HTTP behaviour is in tests/integration/test_review_app.py, a real browser in
tests/e2e/test_review_browser.py.
"""

import ast
from pathlib import Path

from segcopy_assets.review.web import server as review_server
from segcopy_assets.review.web.diff import inline_diff, word_diff


def test_word_diff_marks_added_and_removed_words():
    left, right, stats = word_diff(
        "The tent is light and strong.", "The tent is very light and tough."
    )
    assert [(p.kind, p.text) for p in left if p.kind != "same"] == [("del", "strong.")]
    assert [(p.kind, p.text.strip()) for p in right if p.kind != "same"] == [
        ("ins", "very"),
        ("ins", "tough."),
    ]
    assert stats == {"added": 2, "removed": 1, "kept": 5}
    assert "".join(p.text for p in left) == "The tent is light and strong."
    assert "".join(p.text for p in right) == "The tent is very light and tough."


def test_inline_diff_shows_an_edit_against_the_variant():
    pieces = inline_diff(
        "Built to go fast. The Aero weighs 8.1 kg.", "Made to go fast. The Aero weighs 8.1 kg!"
    )
    assert [(p.kind, p.text) for p in pieces if p.kind != "same"] == [
        ("del", "Built"),
        ("ins", "Made"),
        ("del", "kg."),
        ("ins", "kg!"),
    ]


def test_the_review_page_never_imports_dagster():
    modules = sorted(Path(review_server.__file__).parent.glob("*.py"))
    assert {m.name for m in modules} >= {"app.py", "diff.py", "pages.py", "server.py"}
    for module in modules:
        tree = ast.parse(module.read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported.add((node.module or "").split(".")[0])
        assert not any(name.startswith("dagster") for name in imported), (module.name, imported)
