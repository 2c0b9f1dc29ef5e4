"""The review page: a small web app where marketers approve, reject and edit variants.

``segcopy review serve`` runs it on 127.0.0.1. Pages are rendered on the server (Starlette +
Jinja2 with autoescaping; a little CSS and vanilla JS served from this module, no build step):

- ``GET /queue?segment=&product=&status=``: the review queue, filtered, with counts per status;
- ``GET /variant/{segment_id}/{product_id}``: the original and the variant side by side with a
  word-level diff, the rationale, the segment summary, every check verdict, the decision history
  and approve / reject / edit-and-approve (keyboard: ``a``, ``r``, ``n`` for next, ``e`` to edit);
- ``POST /variant/{segment_id}/{product_id}/decide``: records one decision through
  :func:`segcopy_assets.review.service.decide`, i.e. the same append-only ``variant_reviews``
  log as the CLI, bound to the variant's ``input_hash``. The next materialization of
  ``published_variants`` (``segcopy run``, or the publishing sensor under ``segcopy dev``) picks
  it up. This module never talks to Dagster.

Safety: every piece of model text is escaped (Jinja2 autoescape; the diff is built from escaped
tokens) and a Content-Security-Policy allows only this server's own script, so a variant holding
``<script>`` shows as text and could not run even if escaping failed. State changes are POST
only and need the per-server random CSRF token from a hidden field (403 without it). The Host
header must name this machine (no DNS rebinding). A form carries the ``input_hash`` the reviewer
saw: if the variant was regenerated in between, the decision is refused (409) instead of landing
on copy nobody read. Decisions from this server are written one at a time (a lock), and a Delta
commit that lost a race with another process (two servers or the CLI creating the log at once)
is tried again, so two reviewers clicking at once are both recorded; the later decision wins, as
in the log.
"""

import difflib
import getpass
import os
import re
import secrets
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs, quote, urlencode

import jinja2
import polars as pl
import uvicorn
from deltalake.exceptions import CommitFailedError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from segcopy_assets.errors import InputValidationError, SegcopyError
from segcopy_assets.review.service import STATUSES, ReviewTables, decide, review_queue
from segcopy_assets.storage import delta, variant_store
from segcopy_assets.storage import review_log as reviews
from segcopy_assets.storage.tables import VERDICT_SCHEMA

MAX_FORM_BYTES = 256 * 1024
COMMIT_ATTEMPTS = 5
LOCAL_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STATUS_LABELS = {
    "pending": "Pending",
    "approved": "Approved",
    "rejected": "Rejected",
    "failed": "Failed checks",
}
DECISION_LABELS = {"approve": "Approved", "reject": "Rejected", "edit": "Edited & approved"}

# ---------------------------------------------------------------------------------------------
# word-level diff


@dataclass(frozen=True)
class Piece:
    kind: str  # "same" | "del" | "ins"
    text: str


_TOKEN = re.compile(r"\s+|[^\s]+")


def _push(side: list[Piece], kind: str, tokens: list[str]) -> None:
    text = "".join(tokens)
    if not text:
        return
    if side and side[-1].kind == kind:
        side[-1] = Piece(kind, side[-1].text + text)
    else:
        side.append(Piece(kind, text))


def _opcodes(a: list[str], b: list[str]):
    return difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()


def word_diff(original: str, variant: str) -> tuple[list[Piece], list[Piece], dict]:
    """``(left, right, stats)``: the original with removed words marked ``del``, the variant
    with added words marked ``ins`` (runs of one kind merged), and word counts."""
    a, b = _TOKEN.findall(original or ""), _TOKEN.findall(variant or "")
    left: list[Piece] = []
    right: list[Piece] = []
    added = removed = 0
    for op, i1, i2, j1, j2 in _opcodes(a, b):
        old, new = a[i1:i2], b[j1:j2]
        if op == "equal":
            _push(left, "same", old)
            _push(right, "same", new)
            continue
        # whitespace-only changes are not worth a highlight
        _push(left, "del" if "".join(old).strip() else "same", old)
        _push(right, "ins" if "".join(new).strip() else "same", new)
        removed += sum(1 for t in old if t.strip())
        added += sum(1 for t in new if t.strip())
    kept = sum(1 for p in right if p.kind == "same" for t in _TOKEN.findall(p.text) if t.strip())
    return left, right, {"added": added, "removed": removed, "kept": kept}


def inline_diff(before: str, after: str) -> list[Piece]:
    """One text: ``after`` with the words of ``before`` it dropped (``del``) and added (``ins``)."""
    a, b = _TOKEN.findall(before or ""), _TOKEN.findall(after or "")
    out: list[Piece] = []
    for op, i1, i2, j1, j2 in _opcodes(a, b):
        if op == "equal":
            _push(out, "same", b[j1:j2])
            continue
        old, new = a[i1:i2], b[j1:j2]
        if "".join(old).strip():
            _push(out, "del", old)
        _push(out, "ins" if "".join(new).strip() else "same", new)
    return out


# ---------------------------------------------------------------------------------------------
# templates (autoescaped: every value from the tables is text, never markup)

_BASE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}Review{% endblock %} · segcopy review</title>
<link rel="stylesheet" href="/static/review.css">
<script src="/static/review.js" defer></script>
</head>
<body>
<header class="top">
  <a class="brand" href="/queue">segcopy <span>review</span></a>
  <nav>{% block nav %}{% endblock %}</nav>
  <span class="who">Reviewing as <strong>{{ reviewer }}</strong></span>
</header>
<main>
{% block main %}{% endblock %}
</main>
<footer class="foot">Decisions go to the <code>variant_reviews</code> log; they are published by the next
materialization of <code>published_variants</code> (<code>segcopy run</code>, or the publishing sensor under
<code>segcopy dev</code>).</footer>
</body>
</html>
"""

_QUEUE = """{% extends "base.html" %}
{% block title %}Queue{% endblock %}
{% block main %}
{% if notice %}<div class="banner ok">{{ notice }}</div>{% endif %}
<h1>Review queue</h1>
<form class="filters" method="get" action="/queue" id="filters">
  <label>Segment
    <select name="segment" data-autosubmit>
      <option value="">All segments</option>
      {% for s in segments %}<option value="{{ s }}" {% if s == f.segment %}selected{% endif %}>{{ s }}</option>{% endfor %}
    </select>
  </label>
  <label>Product
    <select name="product" data-autosubmit>
      <option value="">All products</option>
      {% for p in products %}<option value="{{ p.id }}" {% if p.id == f.product %}selected{% endif %}>{{ p.id }} · {{ p.name }}</option>{% endfor %}
    </select>
  </label>
  <label>Status
    <select name="status" data-autosubmit>
      <option value="">Any status</option>
      {% for s in statuses %}<option value="{{ s }}" {% if s == f.status %}selected{% endif %}>{{ labels[s] }}</option>{% endfor %}
    </select>
  </label>
  <button type="submit" class="btn">Filter</button>
  {% if f.segment or f.product or f.status %}<a class="reset" href="/queue">Clear filters</a>{% endif %}
</form>
<nav class="tabs" aria-label="Status">
  <a href="{{ tab_urls[''] }}" class="{% if not f.status %}active{% endif %}">All <b>{{ total }}</b></a>
  {% for s in statuses %}<a href="{{ tab_urls[s] }}" class="{% if f.status == s %}active{% endif %}"><span class="dot {{ s }}"></span>{{ labels[s] }} <b>{{ counts[s] }}</b></a>{% endfor %}
</nav>
{% if rows %}
<p class="hint">{{ rows|length }} variant{{ "s" if rows|length != 1 }} shown.
  <a class="btn primary" id="link-next" href="{{ rows[0].url }}">Start reviewing →</a> <kbd>n</kbd></p>
<table class="queue">
  <thead><tr><th>Status</th><th>Segment</th><th>Product</th><th>Failing checks</th><th>Latest decision</th><th></th></tr></thead>
  <tbody>
  {% for r in rows %}
    <tr>
      <td><span class="badge {{ r.status }}">{{ labels[r.status] }}</span></td>
      <td>{{ r.segment_id }}</td>
      <td><strong>{{ r.product_id }}</strong> <span class="muted">{{ r.product_name }}</span></td>
      <td>{% if r.failed_checks %}<span class="fail-text">{{ r.failed_checks }}</span>{% else %}<span class="muted">–</span>{% endif %}</td>
      <td>{% if r.decision %}{{ decision_labels[r.decision] }} by {{ r.reviewer }} <span class="muted">{{ r.decided_at }}</span>{% else %}<span class="muted">–</span>{% endif %}</td>
      <td><a class="open" href="{{ r.url }}">Review →</a></td>
    </tr>
  {% endfor %}
  </tbody>
</table>
{% else %}
<p class="empty">No variants match these filters.</p>
{% endif %}
{% endblock %}
"""

_VARIANT = """{% extends "base.html" %}
{% block title %}{{ v.product_id }} for {{ v.segment_id }}{% endblock %}
{% block nav %}<a href="{{ queue_url }}">← Queue</a>{% if position %} <span class="muted">{{ position }} of {{ queue_size }} in this queue</span>{% endif %}{% endblock %}
{% block main %}
{% if just_decided %}<div class="banner ok" id="recorded">✓ {{ decision_labels[just_decided.decision] }}: {{ just_decided.segment_id }} / {{ just_decided.product_id }}, recorded by {{ just_decided.reviewer }}. Now showing the next variant.</div>{% endif %}
<div class="titlebar">
  <div>
    <p class="eyebrow">Segment <strong>{{ v.segment_id }}</strong></p>
    <h1>{{ product_name }} <span class="muted">{{ v.product_id }}</span></h1>
  </div>
  <span class="badge big {{ v.review_status }}" id="status">{{ labels[v.review_status] }}</span>
</div>
{% if v.decision %}
<p class="latest">Latest decision: <strong>{{ decision_labels[v.decision] }}</strong> by {{ v.reviewer }} <span class="muted">{{ v.decided_at }}</span>{% if v.note %} · “{{ v.note }}”{% endif %}</p>
{% endif %}

<section class="compare">
  <article class="col">
    <h2>Original description</h2>
    <div class="copy" id="original">{% for p in left %}{% if p.kind == "same" %}{{ p.text }}{% else %}<del>{{ p.text }}</del>{% endif %}{% endfor %}</div>
  </article>
  <article class="col">
    <h2>Variant for this segment <span class="muted small">+{{ stats.added }} / −{{ stats.removed }} words</span></h2>
    {% if generation_failed %}
    <div class="copy failed">Generation failed: {{ v.error }}</div>
    {% else %}
    <div class="copy" id="variant">{% for p in right %}{% if p.kind == "same" %}{{ p.text }}{% else %}<ins>{{ p.text }}</ins>{% endif %}{% endfor %}</div>
    {% endif %}
    {% if edited_right %}
    <h3>Edited text, published instead of the variant <span class="muted small">(changes to the variant marked)</span></h3>
    <div class="copy edited" id="edited">{% for p in edited_right %}{% if p.kind == "same" %}{{ p.text }}{% elif p.kind == "del" %}<del>{{ p.text }}</del>{% else %}<ins>{{ p.text }}</ins>{% endif %}{% endfor %}</div>
    {% endif %}
  </article>
</section>
<p class="legend"><del>removed from the original</del> <ins>added in the variant</ins></p>

<section class="decide" id="decide">
  {% if generation_failed %}
  <p class="warn">This variant failed to generate; there is nothing to approve. Regenerate it with <code>segcopy run</code>.</p>
  {% else %}
  {% if failing %}
  <p class="warn">Fails {{ failing|join(", ") }}: approved as is, it will <strong>not</strong> be published. Edit it into shape instead.</p>
  {% endif %}
  <form method="post" action="{{ decide_url }}" class="actions" id="decision-form">
    {% for name, value in hidden.items() %}<input type="hidden" name="{{ name }}" value="{{ value }}">{% endfor %}
    <input type="hidden" name="input_hash" value="{{ v.input_hash }}">
    <label class="note">Note <input type="text" name="note" maxlength="2000" placeholder="optional: why?" autocomplete="off"></label>
    <button type="submit" name="decision" value="approve" class="btn approve" id="btn-approve">Approve <kbd>a</kbd></button>
    <button type="submit" name="decision" value="reject" class="btn reject" id="btn-reject">Reject <kbd>r</kbd></button>
    {% if next_url %}<a class="btn" id="link-next" href="{{ next_url }}">Next <kbd>n</kbd></a>{% endif %}
  </form>
  <details class="edit" id="edit-panel" {% if v.decision == "edit" %}open{% endif %}>
    <summary>Edit and approve <kbd>e</kbd></summary>
    <form method="post" action="{{ decide_url }}" id="edit-form">
      {% for name, value in hidden.items() %}<input type="hidden" name="{{ name }}" value="{{ value }}">{% endfor %}
      <input type="hidden" name="input_hash" value="{{ v.input_hash }}">
      <input type="hidden" name="decision" value="edit">
      <textarea name="edited_text" id="edited_text" rows="9" required>{{ edit_text }}</textarea>
      <div class="actions">
        <label class="note">Note <input type="text" name="note" maxlength="2000" placeholder="optional: what you changed" autocomplete="off"></label>
        <button type="submit" class="btn approve" id="btn-edit">Save edit &amp; approve <kbd>Ctrl+Enter</kbd></button>
      </div>
      <p class="muted small">The edited text is checked again before it is published.</p>
    </form>
  </details>
  {% endif %}
</section>

<section class="details">
  <article class="col">
    <h2>Why the model wrote it this way</h2>
    <div class="prose" id="rationale">{{ v.rationale or "(no rationale)" }}</div>
    <h2>Segment summary</h2>
    <div class="prose" id="segment-summary">{{ segment_description or "(no summary for this segment)" }}</div>
  </article>
  <article class="col">
    <h2>Checks <span class="muted small">{{ checks_passed }}/{{ checks|length }} passed</span></h2>
    {% if checks %}
    <table class="checks" id="checks">
      {% for c in checks %}
      <tr class="{{ 'pass' if c.passed else 'fail' }}">
        <td><span class="badge {{ 'passed' if c.passed else ('error' if c.severity == 'ERROR' else 'warning') }}">{{ 'Pass' if c.passed else 'Fail' }}</span></td>
        <td><code>{{ c.check }}</code> <span class="muted small">{{ c.severity }}</span></td>
        <td>{{ c.reason or "" }}</td>
      </tr>
      {% endfor %}
    </table>
    {% else %}<p class="muted">No check results recorded for this variant.</p>{% endif %}
    <h2>History of this variant</h2>
    {% if history %}
    <ol class="history" id="history">
      {% for h in history %}
      <li><strong>{{ decision_labels[h.decision] }}</strong> by {{ h.reviewer }} <span class="muted">{{ h.decided_at }}</span>{% if loop.first %} <span class="badge passed">in force</span>{% endif %}{% if h.note %}<br>“{{ h.note }}”{% endif %}</li>
      {% endfor %}
    </ol>
    {% else %}<p class="muted">No decisions yet.</p>{% endif %}
    <p class="muted small">Model {{ v.model }} · {{ v.backend }} · generated {{ generated_at }} · variant <code>{{ v.input_hash[:12] }}</code></p>
  </article>
</section>
{% endblock %}
"""

_MESSAGE = """{% extends "base.html" %}
{% block title %}{{ title }}{% endblock %}
{% block main %}
<h1>{{ title }}</h1>
<p class="message">{{ message }}</p>
<p><a class="btn" href="{{ back_url }}">{{ back_label }}</a></p>
{% endblock %}
"""

CSS = """
:root { --ink:#1d2430; --muted:#6b7585; --line:#e3e7ee; --bg:#f6f7fa; --card:#fff;
  --green:#1f7a3d; --green-bg:#dcf4e3; --red:#b42318; --red-bg:#fde4e1; --amber:#8a5a00; --amber-bg:#fdf0cf;
  --blue:#2b59c3; --blue-bg:#e3ebfc; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--ink); background:var(--bg); }
header.top { display:flex; gap:24px; align-items:center; padding:10px 28px; background:#1d2430; color:#fff; }
header.top a { color:#fff; text-decoration:none; }
header.top nav { flex:1; }
header.top nav .muted { color:#aab3c2; margin-left:10px; }
.brand { font-weight:700; letter-spacing:.2px; } .brand span { font-weight:400; opacity:.7; }
.who { opacity:.85; font-size:14px; }
main { max-width:1400px; margin:0 auto; padding:20px 28px 40px; }
h1 { font-size:24px; margin:4px 0 12px; } h2 { font-size:15px; text-transform:uppercase; letter-spacing:.5px; color:var(--muted); margin:18px 0 8px; }
h3 { font-size:14px; margin:16px 0 6px; color:var(--muted); }
.muted { color:var(--muted); } .small { font-size:13px; text-transform:none; letter-spacing:0; font-weight:400; }
.eyebrow { margin:0; color:var(--muted); }
.titlebar { display:flex; justify-content:space-between; align-items:center; gap:16px; }
.latest { margin:0 0 12px; }
.banner { padding:10px 14px; border-radius:8px; margin-bottom:14px; }
.banner.ok { background:var(--green-bg); color:var(--green); }
.compare, .details { display:grid; grid-template-columns:1fr 1fr; gap:20px; }
.col { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:4px 20px 18px; min-width:0; }
.copy { white-space:pre-wrap; font-size:16.5px; line-height:1.65; overflow-wrap:anywhere; }
.copy.failed { color:var(--red); }
.prose { white-space:pre-wrap; overflow-wrap:anywhere; }
del { background:var(--red-bg); color:var(--red); text-decoration:line-through; border-radius:3px; padding:0 1px; }
ins { background:var(--green-bg); color:var(--green); text-decoration:none; border-radius:3px; padding:0 1px; }
.legend { font-size:13px; margin:8px 2px 0; } .legend ins, .legend del { margin-right:10px; }
.decide { background:var(--card); border:1px solid var(--line); border-radius:10px;
  padding:12px 20px; margin:16px 0; box-shadow:0 2px 10px rgba(29,36,48,.05); }
.copy.edited { border-left:3px solid var(--green); padding-left:12px; }
.actions { display:flex; gap:10px; align-items:center; flex-wrap:wrap; }
.note { flex:1; display:flex; gap:8px; align-items:center; color:var(--muted); min-width:240px; }
.note input { flex:1; }
input[type=text], select, textarea { font:inherit; padding:7px 10px; border:1px solid #c9d0db; border-radius:7px; background:#fff; color:var(--ink); }
textarea { width:100%; margin:8px 0; line-height:1.55; }
.btn { display:inline-flex; gap:8px; align-items:center; font:inherit; font-weight:600; padding:8px 16px; border-radius:8px;
  border:1px solid #c9d0db; background:#fff; color:var(--ink); cursor:pointer; text-decoration:none; }
.btn:hover { filter:brightness(.96); }
.btn.primary { background:var(--blue); border-color:var(--blue); color:#fff; }
.btn.approve { background:var(--green); border-color:var(--green); color:#fff; }
.btn.reject { background:#fff; border-color:var(--red); color:var(--red); }
kbd { font:12px ui-monospace, monospace; padding:1px 5px; border-radius:4px; border:1px solid rgba(0,0,0,.2); background:rgba(255,255,255,.25); }
.edit summary { cursor:pointer; font-weight:600; margin-top:8px; }
.warn { background:var(--amber-bg); color:var(--amber); padding:8px 12px; border-radius:8px; margin:0 0 10px; }
.badge { display:inline-block; font-size:12px; font-weight:700; padding:2px 9px; border-radius:999px; white-space:nowrap; }
.badge.big { font-size:14px; padding:5px 14px; }
.badge.pending { background:var(--blue-bg); color:var(--blue); }
.badge.approved, .badge.passed { background:var(--green-bg); color:var(--green); }
.badge.rejected, .badge.error { background:var(--red-bg); color:var(--red); }
.badge.failed, .badge.warning { background:var(--amber-bg); color:var(--amber); }
table { border-collapse:collapse; width:100%; }
table.checks td { padding:6px 8px; border-top:1px solid var(--line); vertical-align:top; font-size:14px; }
table.checks tr.fail td { background:#fffaf9; }
table.checks td:first-child, table.checks td:nth-child(2) { width:1%; white-space:nowrap; }
table.queue { background:var(--card); border:1px solid var(--line); border-radius:10px; overflow:hidden; }
table.queue th { text-align:left; font-size:12px; text-transform:uppercase; letter-spacing:.4px; color:var(--muted); padding:10px 12px; background:#fafbfc; }
table.queue td { padding:9px 12px; border-top:1px solid var(--line); }
table.queue tr:hover td { background:#f8faff; }
.open { font-weight:600; color:var(--blue); text-decoration:none; }
.fail-text { color:var(--red); }
.filters { display:flex; gap:14px; align-items:end; flex-wrap:wrap; margin-bottom:12px; }
.filters label { display:flex; flex-direction:column; font-size:13px; color:var(--muted); gap:3px; }
.reset { align-self:center; }
.tabs { display:flex; gap:6px; margin:10px 0 14px; flex-wrap:wrap; }
.tabs a { padding:6px 12px; border-radius:999px; text-decoration:none; color:var(--ink); border:1px solid var(--line); background:#fff; }
.tabs a.active { background:#1d2430; color:#fff; border-color:#1d2430; }
.dot { display:inline-block; width:8px; height:8px; border-radius:50%; margin-right:6px; }
.dot.pending { background:var(--blue); } .dot.approved { background:var(--green); } .dot.rejected { background:var(--red); } .dot.failed { background:#d99a00; }
.history { padding-left:20px; margin:0; } .history li { margin-bottom:6px; }
.hint { display:flex; align-items:center; gap:12px; }
.empty, .message { background:#fff; border:1px solid var(--line); border-radius:10px; padding:20px; white-space:pre-wrap; }
.foot { max-width:1400px; margin:0 auto; padding:0 28px 30px; color:var(--muted); font-size:13px; }
code { font:13px ui-monospace, monospace; }
@media (max-width: 900px) { .compare, .details { grid-template-columns:1fr; } }
"""

JS = """
// Keyboard shortcuts: a = approve, r = reject, n = next, e = edit; Escape leaves a text field.
(function () {
  var shortcuts = { a: "btn-approve", r: "btn-reject", n: "link-next" };
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    var typing = t && t.closest && t.closest("input, textarea, select, [contenteditable]");
    if (typing) {
      if (e.key === "Escape") { t.blur(); }
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && t.id === "edited_text") {
        e.preventDefault(); document.getElementById("btn-edit").click();
      }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) { return; }
    if (e.key === "e") {
      var panel = document.getElementById("edit-panel");
      if (panel) { e.preventDefault(); panel.open = true; document.getElementById("edited_text").focus(); }
      return;
    }
    var el = document.getElementById(shortcuts[e.key]);
    if (!el) { return; }
    e.preventDefault();
    if (el.tagName === "A") { window.location.assign(el.href); } else { el.click(); }
  });
  document.querySelectorAll("[data-autosubmit]").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
})();
"""

_env = jinja2.Environment(
    loader=jinja2.DictLoader(
        {
            "base.html": _BASE,
            "queue.html": _QUEUE,
            "variant.html": _VARIANT,
            "message.html": _MESSAGE,
        }
    ),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)

# ---------------------------------------------------------------------------------------------
# helpers


@dataclass(frozen=True)
class Filters:
    segment: str = ""
    product: str = ""
    status: str = ""

    @classmethod
    def from_mapping(cls, data, prefix: str = "") -> "Filters":
        status = (data.get(prefix + "status") or "").strip()
        if status and status not in STATUSES:
            raise InputValidationError(
                "review page", "status", f"{status!r} is not one of {STATUSES}"
            )
        return cls(
            (data.get(prefix + "segment") or "").strip(),
            (data.get(prefix + "product") or "").strip(),
            status,
        )

    def query(self, **extra) -> str:
        params = {
            k: v
            for k, v in (
                ("segment", self.segment),
                ("product", self.product),
                ("status", self.status),
                *extra.items(),
            )
            if v
        }
        return ("?" + urlencode(params)) if params else ""

    def apply(self, queue: pl.DataFrame, with_status: bool = True) -> pl.DataFrame:
        if self.segment:
            queue = queue.filter(pl.col("segment_id") == self.segment)
        if self.product:
            queue = queue.filter(pl.col("product_id") == self.product)
        if with_status and self.status:
            queue = queue.filter(pl.col("review_status") == self.status)
        return queue


def variant_url(segment_id: str, product_id: str, filters: Filters, **extra) -> str:
    return f"/variant/{quote(segment_id, safe='')}/{quote(product_id, safe='')}" + filters.query(
        **extra
    )


def _when(value) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return "" if value is None else str(value)


def _hidden_fields(token: str, filters: Filters) -> dict[str, str]:
    """Hidden form fields: the CSRF token and the queue filters to come back to."""
    return {
        "csrf_token": token,
        "q_segment": filters.segment,
        "q_product": filters.product,
        "q_status": filters.status,
    }


def _read_optional(path: str, columns: list[str]) -> pl.DataFrame:
    if not delta.table_exists(path):
        return pl.DataFrame(schema={c: pl.String for c in columns})
    return pl.read_delta(path, columns=columns)


def _next_key(keys: list[tuple[str, str]], current: tuple[str, str]) -> tuple[str, str] | None:
    """The first key after ``current`` in queue order (wrapping around), never ``current``."""
    after = [k for k in keys if k > current]
    before = [k for k in keys if k < current]
    if after:
        return after[0]
    return before[0] if before else None


# ---------------------------------------------------------------------------------------------
# the app


def create_app(
    tables: ReviewTables, reviewer: str, *, allowed_hosts: list[str] | None = None
) -> Starlette:
    """The review web app over these warehouse tables; decisions are recorded as ``reviewer``."""
    if not reviewer or not reviewer.strip():
        raise ValueError("the review app needs a reviewer name")
    reviewer = reviewer.strip()
    csrf_token = secrets.token_urlsafe(32)
    write_lock = threading.Lock()

    def render(name: str, status_code: int = 200, **context) -> HTMLResponse:
        html = _env.get_template(name).render(
            reviewer=reviewer, labels=STATUS_LABELS, decision_labels=DECISION_LABELS, **context
        )
        return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)

    def message(
        title: str,
        text: str,
        status_code: int,
        back_url: str = "/queue",
        back_label: str = "Back to the queue",
    ) -> HTMLResponse:
        return render(
            "message.html",
            status_code,
            title=title,
            message=text,
            back_url=back_url,
            back_label=back_label,
        )

    def product_names() -> dict[str, str]:
        frame = _read_optional(tables.products, ["product_id", "name"])
        return dict(frame.iter_rows())

    # -- pages ---------------------------------------------------------------------------------

    def queue_page(query) -> HTMLResponse:
        filters = Filters.from_mapping(query)
        queue = review_queue(tables)
        names = product_names()
        scoped = filters.apply(queue, with_status=False)
        shown = filters.apply(queue)
        counts = dict(scoped.group_by("review_status").len().iter_rows())
        rows = [
            {
                **r,
                "product_name": names.get(r["product_id"], ""),
                "decided_at": _when(r["decided_at"]),
                "url": variant_url(r["segment_id"], r["product_id"], filters),
            }
            for r in shown.select(
                "segment_id",
                "product_id",
                "review_status",
                "failed_checks",
                "decision",
                "reviewer",
                "decided_at",
            )
            .rename({"review_status": "status"})
            .iter_rows(named=True)
        ]
        tab_urls = {
            s: "/queue" + Filters(filters.segment, filters.product, s).query()
            for s in ("", *STATUSES)
        }
        notice = "You reached the end of this queue." if query.get("done") else ""
        return render(
            "queue.html",
            f=filters,
            rows=rows,
            statuses=STATUSES,
            counts={s: counts.get(s, 0) for s in STATUSES},
            total=scoped.height,
            tab_urls=tab_urls,
            notice=notice,
            segments=sorted(queue["segment_id"].unique().to_list()),
            products=[
                {"id": p, "name": names.get(p, "")}
                for p in sorted(queue["product_id"].unique().to_list())
            ],
        )

    def variant_page(segment_id: str, product_id: str, query) -> HTMLResponse:
        filters = Filters.from_mapping(query)
        queue = review_queue(tables)
        found = queue.filter(
            (pl.col("segment_id") == segment_id) & (pl.col("product_id") == product_id)
        )
        if found.is_empty():
            return message(
                "Not found",
                f"There is no variant for segment {segment_id!r} and product {product_id!r}.",
                404,
                "/queue" + filters.query(),
            )
        v = found.row(0, named=True)
        keys = list(filters.apply(queue).select("segment_id", "product_id").iter_rows())
        current = (segment_id, product_id)
        position = keys.index(current) + 1 if current in keys else None
        nxt = _next_key(keys, current)

        verdicts = variant_store.read_segments(tables.verdicts, [segment_id], schema=VERDICT_SCHEMA)
        checks = verdicts.filter(
            (pl.col("product_id") == product_id) & (pl.col("input_hash") == v["input_hash"])
        )
        checks = checks.to_dicts()
        failing = sorted(
            {c["check"] for c in checks if not c["passed"] and c["severity"] == "ERROR"}
        )

        summaries = _read_optional(tables.summaries, ["segment_id", "segment_description"])
        summary = summaries.filter(pl.col("segment_id") == segment_id)
        log = reviews.read_reviews(tables.reviews).with_row_index("_order")
        history = (
            log.filter(
                (pl.col("segment_id") == segment_id)
                & (pl.col("product_id") == product_id)
                & (pl.col("input_hash") == v["input_hash"])
            )
            .sort("decided_at", "_order", descending=True)
            .to_dicts()
        )
        for h in history:
            h["decided_at"] = _when(h["decided_at"])

        generation_failed = v["status"] != "ok"
        left, right, stats = word_diff(
            v["original"] or "", "" if generation_failed else v["variant_text"] or ""
        )
        edited_right = None
        if v["decision"] == "edit" and v["edited_text"]:
            edited_right = inline_diff(v["variant_text"] or "", v["edited_text"])

        just_decided = None
        last_seg, last_prod = query.get("decided_segment"), query.get("decided_product")
        if last_seg and last_prod:
            mine = log.filter(
                (pl.col("segment_id") == last_seg) & (pl.col("product_id") == last_prod)
            )
            if not mine.is_empty():
                just_decided = mine.sort("decided_at", "_order").row(-1, named=True)

        return render(
            "variant.html",
            v={**v, "decided_at": _when(v["decided_at"])},
            product_name=product_names().get(product_id, product_id),
            left=left,
            right=right,
            stats=stats,
            edited_right=edited_right,
            edit_text=(
                v["edited_text"]
                if v["decision"] == "edit" and v["edited_text"]
                else v["variant_text"] or ""
            ),
            checks=checks,
            checks_passed=sum(1 for c in checks if c["passed"]),
            failing=failing,
            segment_description=summary["segment_description"][0] if summary.height else "",
            history=history,
            generation_failed=generation_failed,
            generated_at=_when(v["generated_at"]),
            position=position,
            queue_size=len(keys),
            next_url=variant_url(*nxt, filters) if nxt else None,
            queue_url="/queue" + filters.query(),
            decide_url=f"/variant/{quote(segment_id, safe='')}/{quote(product_id, safe='')}/decide",
            hidden=_hidden_fields(csrf_token, filters),
            just_decided=just_decided,
        )

    def record(segment_id: str, product_id: str, form: dict) -> Response:
        filters = Filters.from_mapping(form, prefix="q_")
        here = variant_url(segment_id, product_id, filters)
        decision = form.get("decision", "")
        with write_lock:  # one writer at a time: concurrent first commits to the log would conflict
            queue = review_queue(tables)
            found = queue.filter(
                (pl.col("segment_id") == segment_id) & (pl.col("product_id") == product_id)
            )
            if found.is_empty():
                return message(
                    "Not found",
                    f"There is no variant for segment {segment_id!r} and product {product_id!r}.",
                    404,
                    "/queue" + filters.query(),
                )
            seen = form.get("input_hash", "")
            if seen != found["input_hash"][0]:
                return message(
                    "The variant changed",
                    "This variant was regenerated after you opened it, so your decision was not recorded. "
                    "Review the new copy.",
                    409,
                    here,
                    "Open the current variant",
                )
            for attempt in range(COMMIT_ATTEMPTS):
                try:
                    decide(
                        tables,
                        segment_id,
                        product_id,
                        decision,
                        reviewer=reviewer,
                        note=(form.get("note") or "").strip() or None,
                        edited_text=form.get("edited_text") if decision == "edit" else None,
                    )
                    break
                except CommitFailedError:
                    # another process committed to the log at the same moment (e.g. both created
                    # it); a failed commit wrote nothing, so trying again cannot duplicate
                    if attempt == COMMIT_ATTEMPTS - 1:
                        raise
                    time.sleep(0.05 * (attempt + 1) + secrets.randbelow(50) / 1000)
            queue = review_queue(tables)
        keys = list(filters.apply(queue).select("segment_id", "product_id").iter_rows())
        nxt = _next_key(keys, (segment_id, product_id))
        if nxt is None:
            return RedirectResponse("/queue" + filters.query(done="1"), status_code=303)
        return RedirectResponse(
            variant_url(*nxt, filters, decided_segment=segment_id, decided_product=product_id),
            status_code=303,
        )

    # -- endpoints -----------------------------------------------------------------------------

    async def guarded(fn, *args) -> Response:
        try:
            return await run_in_threadpool(fn, *args)
        except InputValidationError as exc:
            return message("Cannot do that", str(exc), 400)
        except SegcopyError as exc:
            return message("Nothing to review yet", str(exc), 503)

    async def home(request: Request) -> Response:
        return RedirectResponse("/queue", status_code=302)

    async def queue_endpoint(request: Request) -> Response:
        return await guarded(queue_page, request.query_params)

    async def variant_endpoint(request: Request) -> Response:
        p = request.path_params
        return await guarded(variant_page, p["segment_id"], p["product_id"], request.query_params)

    async def decide_endpoint(request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return message("Too large", "The form is too large.", 413)
        form = {}
        if content_type == "application/x-www-form-urlencoded":
            form = {
                k: v[0]
                for k, v in parse_qs(
                    body.decode("utf-8", "replace"), keep_blank_values=True
                ).items()
            }
        if not secrets.compare_digest(form.get("csrf_token", ""), csrf_token):
            return message(
                "Forbidden",
                "This form is stale or did not come from this review page "
                "(missing or wrong CSRF token). Reload the page and try again.",
                403,
            )
        p = request.path_params
        return await guarded(record, p["segment_id"], p["product_id"], form)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        content = {"review.css": (CSS, "text/css"), "review.js": (JS, "text/javascript")}.get(name)
        if content is None:
            return Response("not found", status_code=404, media_type="text/plain")
        return Response(
            content[0],
            media_type=content[1],
            headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
        )

    async def no_icon(request: Request) -> Response:
        return Response(status_code=204)

    routes = [
        Route("/", home, methods=["GET"]),
        Route("/queue", queue_endpoint, methods=["GET"]),
        Route("/variant/{segment_id}/{product_id}", variant_endpoint, methods=["GET"]),
        Route("/variant/{segment_id}/{product_id}/decide", decide_endpoint, methods=["POST"]),
        Route("/static/{name}", static, methods=["GET"]),
        Route("/favicon.ico", no_icon, methods=["GET"]),
    ]
    hosts = allowed_hosts if allowed_hosts is not None else LOCAL_HOSTS
    app = Starlette(
        routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)]
    )
    app.state.csrf_token = csrf_token
    app.state.reviewer = reviewer
    app.state.tables = tables
    return app


def make_server(
    tables: ReviewTables,
    reviewer: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "warning",
) -> uvicorn.Server:
    """A uvicorn server for the app (``.run()`` blocks; set ``.should_exit`` to stop it)."""
    hosts = sorted({*LOCAL_HOSTS, host})
    app = create_app(tables, reviewer, allowed_hosts=hosts)
    return uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,
            lifespan="off",
            server_header=False,
        )
    )


def serve(tables: ReviewTables, reviewer: str, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the review page until interrupted (Ctrl+C)."""
    print(
        f"segcopy review: http://{host}:{port}/queue  (reviewing as {reviewer}; Ctrl+C stops)",
        flush=True,
    )
    make_server(tables, reviewer, host, port, log_level="info").run()


def cmd_review_serve(args) -> int:
    """``segcopy review serve [--port N] [--reviewer NAME]``."""
    reviewer = (
        getattr(args, "reviewer", None) or os.environ.get("SEGCOPY_REVIEWER") or getpass.getuser()
    )
    tables = ReviewTables.from_env()
    if not delta.table_exists(tables.variants):
        print(
            "segcopy review: no description_variants yet: run `segcopy run` first", file=sys.stderr
        )
        return 1
    serve(tables, reviewer, host="127.0.0.1", port=args.port)
    return 0
