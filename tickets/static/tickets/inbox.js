// The notification centre, live on every console page: the header's unread count, the centre's list,
// and a desktop notification for an S1 page. One WebSocket per page (/ws/notifications/), the agent's
// own stream; the server sends {"type": "inbox", "unread", "notifications": [...]} when anything
// changes. The page is right on load without it (the count and the list are rendered by the server).
//
// - Desktop notifications: only for S1 pages, only once the agent allowed them by clicking the centre's
//   "Alert me on this computer" button (the browser's question is never asked on load).
// - Reconnects with exponential backoff and jitter; a heartbeat every 25 s; 4401/4403 stop for good, and
//   so does a socket that never opened GIVE_UP_AFTER times in a row (a server without WebSockets): the
//   count is right at each page load anyway.
(function () {
  "use strict";

  var HEARTBEAT_MS = 25000;
  var REFUSED_FOR_GOOD = { 4401: true, 4403: true };
  var GIVE_UP_AFTER = 5;
  var link = document.getElementById("hd-inbox-link");
  var list = document.getElementById("hd-inbox-list");
  var alertsButton = document.getElementById("hd-desktop-alerts");

  if (alertsButton && "Notification" in window && window.Notification.permission === "default") {
    alertsButton.hidden = false;
    alertsButton.addEventListener("click", function () {
      window.Notification.requestPermission().then(function () { alertsButton.hidden = true; });
    });
  }
  if (!link || !("WebSocket" in window)) return;

  var after = list ? list.dataset.newest : null;
  var attempts = 0;
  var failuresInARow = 0;

  function showUnread(unread) {
    var badge = document.getElementById("hd-unread");
    badge.textContent = unread;
    badge.classList.toggle("hd-unread-none", unread === "0");
    link.dataset.unread = unread;
    var total = document.getElementById("hd-inbox-unread");
    if (total) total.textContent = unread;
  }

  function csrfInput() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.cloneNode() : null;
  }

  function addToList(item) {
    if (!list || list.querySelector('[data-id="' + item.id + '"]')) return;
    var empty = document.getElementById("hd-inbox-empty");
    if (empty) empty.remove();
    var entry = document.createElement("li");
    entry.className = "hd-notice unread kind-" + item.kind + " hd-row-changed";
    entry.dataset.id = item.id;
    var form = document.createElement("form");
    form.method = "post";
    form.action = item.open_url;
    form.className = "hd-notice-open";
    var token = csrfInput();
    if (token) form.appendChild(token);
    var button = document.createElement("button");
    button.type = "submit";
    button.className = "hd-linkish";
    button.textContent = item.text;
    form.appendChild(button);
    var meta = document.createElement("span");
    meta.className = "hd-notice-meta";
    meta.textContent = item.kind_label + " · just now";
    entry.appendChild(form);
    entry.appendChild(meta);
    list.insertBefore(entry, list.firstChild);
  }

  function alertDesktop(item) {
    if (item.kind !== "s1_page" || !("Notification" in window) || window.Notification.permission !== "granted") return;
    var notice = new window.Notification(item.text, { body: item.kind_label, tag: "helpdesk-notification-" + item.id });
    notice.onclick = function () { window.focus(); window.location.href = item.url; };
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var path = link.dataset.socket + (after ? "?after=" + encodeURIComponent(after) : "");
    var socket;
    try { socket = new window.WebSocket(scheme + window.location.host + path); } catch (error) { retry(); return; }
    var heartbeat = null;
    var opened = false;
    socket.onopen = function () {
      opened = true;
      attempts = 0;
      failuresInARow = 0;
      heartbeat = setInterval(function () { socket.send(JSON.stringify({ type: "ping" })); }, HEARTBEAT_MS);
    };
    socket.onmessage = function (message) {
      var payload;
      try { payload = JSON.parse(message.data); } catch (error) { return; }
      if (payload.type !== "inbox") return;
      showUnread(payload.unread);
      payload.notifications.forEach(function (item) {
        after = Math.max(parseInt(after, 10) || 0, item.id);
        addToList(item);
        alertDesktop(item);
      });
      document.documentElement.dataset.inbox = "live";
    };
    socket.onclose = function (event) {
      clearInterval(heartbeat);
      document.documentElement.dataset.inbox = "off";
      if (!opened) failuresInARow += 1;
      if (!REFUSED_FOR_GOOD[event.code] && failuresInARow < GIVE_UP_AFTER) retry();
    };
  }

  function retry() {
    attempts += 1;
    setTimeout(connect, Math.random() * Math.min(30000, 500 * Math.pow(2, attempts)));
  }

  connect();
})();
