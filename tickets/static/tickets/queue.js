// The queue, live: the agents' socket (HelpdeskLive, live.js) tells of every event; this page then
// fetches itself again (the server renders the rows, their SLA badges and the sidebar's counts, with the
// list's own filters and order) and swaps the list in. Nothing is polled while the socket is up.
//
// - Fetches are spaced at least MIN_GAP_MS apart: a burst of events costs one fetch.
// - While the agent is busy with the list (rows ticked for an action, typing in the search box or an
//   action menu), nothing moves under them: a "The queue changed" bar offers the changes instead.
// - Rows that are new or changed are marked for a few seconds (.hd-row-changed); a polite status line
//   tells screen readers how many. Keyboard focus on a row's link stays on that ticket's row.
// - After a swap, document fires "hd:queue-updated" (tickets/shortcuts.js and others may re-read rows).
(function () {
  "use strict";

  var MIN_GAP_MS = 1500;
  var root = document.getElementById("hd-queue");
  if (!root || !window.HelpdeskLive) return;

  var bar = document.getElementById("hd-queue-updates");  // outside #changelist: never swapped
  var timer = null;
  var lastFetch = 0;
  var stale = false;

  function rowsById(scope) {
    var rows = {};
    scope.querySelectorAll("#result_list tbody tr[data-ticket]").forEach(function (row) {
      rows[row.dataset.ticket] = row.textContent.replace(/\s+/g, " ").trim();
    });
    return rows;
  }

  function busy() {
    if (document.querySelector("#result_list input.action-select:checked")) return true;
    var active = document.activeElement;
    return Boolean(active && active.closest && active.closest("#changelist-search, .actions, select, input[type=text]"));
  }

  function schedule() {
    stale = true;
    if (timer) return;
    var wait = Math.max(0, lastFetch + MIN_GAP_MS - Date.now());
    timer = setTimeout(refresh, wait);
  }

  function refresh() {
    timer = null;
    if (busy()) { bar.hidden = false; return; }
    stale = false;
    lastFetch = Date.now();
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html) swap(html); })
      .catch(function () { bar.hidden = false; });
  }

  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("changelist");
    var current = document.getElementById("changelist");
    if (!fresh || !current) return;
    if (busy()) { bar.hidden = false; stale = true; return; }
    var before = rowsById(current);
    var focusedRow = document.activeElement && document.activeElement.closest ? document.activeElement.closest("tr[data-ticket]") : null;
    var focusedId = focusedRow ? focusedRow.dataset.ticket : null;
    current.replaceWith(fresh);
    if (window.Actions) {
      var boxes = document.querySelectorAll("tr input.action-select");
      if (boxes.length) window.Actions(boxes);
    }
    var after = rowsById(fresh);
    var changed = 0;
    Object.keys(after).forEach(function (id) {
      if (before[id] === after[id]) return;
      changed += 1;
      var row = fresh.querySelector('tr[data-ticket="' + id + '"]');
      row.classList.add("hd-row-changed");
      setTimeout(function () { row.classList.remove("hd-row-changed"); }, 6000);
    });
    if (focusedId) {
      var link = fresh.querySelector('tr[data-ticket="' + focusedId + '"] a');
      if (link) link.focus();
    }
    bar.hidden = true;
    var status = document.getElementById("hd-queue-status");
    if (status && changed) status.textContent = changed === 1 ? "1 ticket changed or arrived." : changed + " tickets changed or arrived.";
    document.dispatchEvent(new CustomEvent("hd:queue-updated", { detail: { changed: changed } }));
  }

  document.addEventListener("click", function (event) {
    if (event.target && event.target.id === "hd-queue-refresh") { bar.hidden = true; lastFetch = 0; refresh(); }
  });
  // A list left busy and then let go catches up at once.
  document.addEventListener("change", function () { if (stale && !busy()) schedule(); });

  window.HelpdeskLive.follow({
    socketPath: root.dataset.socket,
    pollUrl: root.dataset.poll,
    after: root.dataset.after,
    onEvent: schedule,
    onReload: schedule,
  });
})();
