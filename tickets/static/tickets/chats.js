// The console's Chats queue stays live: at each event on the agents' socket that can change it (a new
// ticket or message, an assignment, a status change) the rows are asked for again — a few at most per
// burst of events, never on a timer. Rows are built from text nodes; nothing the server sends is parsed
// as markup.
(function () {
  "use strict";

  var KINDS = { created: true, replied: true, assigned: true, status_changed: true, severity_changed: true };
  var REFRESH_DELAY_MS = 150;  // events of one change come together: one request for all of them

  document.addEventListener("DOMContentLoaded", function () {
    var queue = document.getElementById("chat-queue");
    if (!queue || !window.HelpdeskLive) return;
    var rowsBody = document.getElementById("chat-queue-rows");
    var count = document.getElementById("chat-queue-count");
    var empty = document.getElementById("chat-queue-empty");
    var csrf = document.querySelector("#chat-queue-csrf input[name=csrfmiddlewaretoken]").value;
    var canAccept = queue.dataset.canAccept === "true";
    var timer = null;
    var inFlight = false;
    var again = false;

    function element(tag, className, text) {
      var node = document.createElement(tag);
      if (className) node.className = className;
      if (text !== undefined) node.textContent = text;
      return node;
    }

    function url(template, id) {
      return template.replace(/\/0\//, "/" + id + "/");
    }

    function cell(children) {
      var td = element("td");
      children.forEach(function (child) { td.appendChild(child); });
      return td;
    }

    function rowFor(data, known) {
      var tr = element("tr", known ? "" : "hd-new");
      tr.dataset.chat = data.chat;
      tr.dataset.ticket = data.ticket;
      var link = element("a", "", data.reference);
      link.href = url(queue.dataset.changeUrl, data.ticket);
      tr.appendChild(cell([link, document.createTextNode(" " + data.subject), element("br"), element("small", "", data.status)]));
      tr.appendChild(cell([element("span", "severity-badge severity-" + data.severity.toLowerCase(), data.severity)]));
      tr.appendChild(cell([document.createTextNode(data.customer), element("br"), element("small", "", data.organization)]));
      var line = element("td", "hd-chat-line " + data.last_role, data.last_line);
      tr.appendChild(line);
      tr.appendChild(element("td", "", data.waiting));
      tr.appendChild(element("td", "", data.assignee || "—"));
      var action = element("td");
      if (canAccept) {
        var form = element("form");
        form.method = "post";
        form.action = url(queue.dataset.acceptUrl, data.chat);
        var token = element("input");
        token.type = "hidden";
        token.name = "csrfmiddlewaretoken";
        token.value = csrf;
        var button = element("button", "button default", "Accept");
        button.type = "submit";
        form.appendChild(token);
        form.appendChild(button);
        action.appendChild(form);
      }
      tr.appendChild(action);
      return tr;
    }

    function show(rows) {
      var known = {};
      rowsBody.querySelectorAll("tr").forEach(function (tr) { known[tr.dataset.chat] = true; });
      rowsBody.replaceChildren.apply(rowsBody, rows.map(function (data) { return rowFor(data, known[data.chat]); }));
      count.textContent = rows.length + " waiting";
      empty.hidden = rows.length > 0;
    }

    function refresh() {
      if (inFlight) { again = true; return; }
      inFlight = true;
      fetch(queue.dataset.rowsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) { if (data) show(data.rows); })
        .catch(function () {})
        .finally(function () {
          inFlight = false;
          if (again) { again = false; refresh(); }
        });
    }

    function soon() {
      clearTimeout(timer);
      timer = setTimeout(refresh, REFRESH_DELAY_MS);
    }

    window.HelpdeskLive.follow({
      socketPath: queue.dataset.liveSocket,
      pollUrl: queue.dataset.livePoll,
      after: queue.dataset.liveAfter,
      onEvent: function (event) { if (KINDS[event.kind]) soon(); },
      onReload: refresh,
    });
  });
})();
