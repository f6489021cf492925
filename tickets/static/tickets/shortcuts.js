// Keyboard shortcuts of the agent console. Single keys act only when focus is not in a field (typing "r"
// in the reply box writes an r), and never with Ctrl, Alt or Cmd held (the browser's own shortcuts).
//
// In a queue (the ticket list): j / k move to the next / previous ticket, Enter (or o) opens it. The rows
// are the elements with `data-row-link` (the ticket page's address); the one chosen gets the class
// `hd-row-current` and aria-current="true", and is scrolled into view.
// On the ticket page: r public reply, n internal note, a assign to me, / search canned replies,
// ? the list of every shortcut (#shortcuts), Esc closes it or leaves the reply box.
(function () {
  "use strict";

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "textarea" || tag === "select" || target.isContentEditable ||
      (tag === "input" && !/^(button|submit|reset|checkbox|radio|file)$/i.test(target.type));
  }

  // --- queue ---------------------------------------------------------------------------------------
  function Queue(rows) {
    this.rows = rows;
    this.index = -1;
  }
  Queue.prototype.move = function (step) {
    if (!this.rows.length) return;
    var next = this.index < 0 ? (step > 0 ? 0 : this.rows.length - 1)
      : Math.min(Math.max(this.index + step, 0), this.rows.length - 1);
    if (this.index >= 0) {
      this.rows[this.index].classList.remove("hd-row-current");
      this.rows[this.index].removeAttribute("aria-current");
    }
    this.index = next;
    var row = this.rows[next];
    row.classList.add("hd-row-current");
    row.setAttribute("aria-current", "true");
    row.scrollIntoView({ block: "nearest" });
    var link = row.querySelector("a[href]");
    if (link) link.focus({ preventScroll: true });
  };
  Queue.prototype.open = function () {
    if (this.index < 0) return false;
    window.location.assign(this.rows[this.index].getAttribute("data-row-link"));
    return true;
  };

  // --- ticket page ---------------------------------------------------------------------------------
  function writeAs(kind) {
    var radio = document.querySelector('#reply input[name=kind][value="' + kind + '"]');
    var box = document.querySelector("#reply textarea");
    if (!radio || !box) return false;
    radio.checked = true;
    radio.dispatchEvent(new Event("change", { bubbles: true }));
    box.focus();
    return true;
  }

  function assignToMe() {
    var button = document.getElementById("assign-to-me");
    if (!button) return false;  // already mine
    button.form.requestSubmit(button);
    return true;
  }

  var overlay, lastFocus;
  function showShortcuts() {
    overlay = overlay || document.getElementById("shortcuts");
    if (!overlay) return false;
    lastFocus = document.activeElement;
    overlay.hidden = false;
    document.getElementById("shortcuts-close").focus();
    return true;
  }
  function hideShortcuts() {
    if (!overlay || overlay.hidden) return false;
    overlay.hidden = true;
    if (lastFocus && lastFocus.focus) lastFocus.focus();
    return true;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var rows = Array.prototype.slice.call(document.querySelectorAll("[data-row-link]"));
    var queue = rows.length ? new Queue(rows) : null;
    var opener = document.getElementById("shortcuts-open");
    var closer = document.getElementById("shortcuts-close");
    if (opener) opener.addEventListener("click", showShortcuts);
    if (closer) closer.addEventListener("click", hideShortcuts);
    var dialog = document.getElementById("shortcuts");
    if (dialog) {
      dialog.addEventListener("click", function (event) { if (event.target === dialog) hideShortcuts(); });
      // Focus stays in the dialog while it is open: its only control is the Close button.
      dialog.addEventListener("keydown", function (event) {
        if (event.key === "Tab") { event.preventDefault(); closer.focus(); }
      });
    }

    document.addEventListener("keydown", function (event) {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.key === "Escape") {
        if (hideShortcuts()) { event.preventDefault(); return; }
        if (typing(event.target) && event.target.closest("#reply")) { event.target.blur(); }
        return;
      }
      if (typing(event.target)) return;
      if (overlay && !overlay.hidden) return;
      var done = false;
      switch (event.key) {
        case "j": done = queue ? (queue.move(1), true) : false; break;
        case "k": done = queue ? (queue.move(-1), true) : false; break;
        case "Enter":
          // Enter on a link, a button or a summary does what it always does; elsewhere it opens the row.
          if (queue && !(event.target.closest && event.target.closest("a, button, summary"))) done = queue.open();
          break;
        case "o": done = queue ? queue.open() : false; break;
        case "r": done = writeAs("reply"); break;
        case "n": done = writeAs("note"); break;
        case "a": done = assignToMe(); break;
        case "/":
          var search = document.getElementById("canned-search");
          if (search) { search.focus(); done = true; }
          break;
        case "?": done = showShortcuts(); break;
      }
      if (done) event.preventDefault();
    });
  });

  window.HelpdeskShortcuts = { Queue: Queue };
})();
