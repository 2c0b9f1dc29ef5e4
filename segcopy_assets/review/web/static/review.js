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
