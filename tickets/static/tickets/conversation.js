// The ticket page's conversation stays live: new messages (a customer's chat lines, a colleague's reply)
// are fetched every few seconds and appended, without a reload.
(function () {
  "use strict";
  var POLL_MS = 3000;

  // Ctrl+Enter (or Cmd+Enter) in the reply box sends it.
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.querySelector("#reply textarea");
    if (!box) return;
    box.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        box.form.requestSubmit();
      }
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("conversation");
    if (!panel || !panel.dataset.messagesUrl) return;
    var lastId = parseInt(panel.dataset.lastId || "0", 10) || 0;

    function append(message) {
      var empty = panel.querySelector(".hd-no-replies");
      if (empty) empty.remove();
      var box = document.createElement("div");
      box.className = "hd-message " + message.role + (message.internal ? " internal" : "");
      box.dataset.messageId = message.id;
      var meta = document.createElement("div");
      meta.className = "meta";
      meta.textContent = message.author + " · " + message.role_label + " · " +
        new Date(message.created_at).toLocaleString() + " via " + message.channel;
      if (message.internal) {
        var tag = document.createElement("span");
        tag.className = "internal-tag";
        tag.textContent = "Internal note — not visible to the customer";
        meta.appendChild(tag);
      }
      var body = document.createElement("div");
      body.className = "body";
      body.textContent = message.body;
      box.appendChild(meta);
      box.appendChild(body);
      panel.appendChild(box);
    }

    function poll() {
      fetch(panel.dataset.messagesUrl + "?after=" + lastId, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          data.messages.forEach(function (m) {
            if (m.id > lastId && !panel.querySelector('[data-message-id="' + m.id + '"]')) { append(m); }
            lastId = Math.max(lastId, m.id);
          });
        })
        .catch(function () {})
        .finally(function () { setTimeout(poll, POLL_MS); });
    }
    setTimeout(poll, POLL_MS);
  });
})();
