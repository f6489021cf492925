// The ticket page's conversation stays live: new messages (a customer's chat lines, a colleague's reply or
// note) are appended as they are posted, without a reload (tickets/live.js: a WebSocket, or polling where
// sockets cannot connect).
(function () {
  "use strict";

  // Ctrl+Enter (or Cmd+Enter) in the reply box sends it. The box is tinted while it writes an internal
  // note. The conversation opens scrolled to its newest message.
  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("conversation");
    if (panel) panel.scrollTop = panel.scrollHeight;
    var box = document.querySelector("#reply textarea");
    if (!box) return;
    box.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        box.form.requestSubmit();
      }
    });
    var reply = document.getElementById("reply");
    // The one mistake the server would send back besides the files (checked in forms.js): nothing to
    // send. Caught here, so the files chosen stay chosen.
    var macro = document.getElementById("id_macro");
    var problem = document.getElementById("file-problem");
    box.form.addEventListener("submit", function (event) {
      if (box.value.trim() || (macro && macro.value)) return;
      event.preventDefault();
      problem.textContent = "Write a message or pick a canned reply.";
      problem.hidden = false;
      box.focus();
    });
    function tint() {
      var note = document.querySelector("#reply input[name=kind][value=note]");
      reply.classList.toggle("is-note", !!(note && note.checked));
      box.placeholder = note && note.checked ? "Write an internal note (only agents see it)…" : "Write a public reply to the customer…";
    }
    document.querySelectorAll("#reply input[name=kind]").forEach(function (radio) {
      radio.addEventListener("change", tint);
    });
    tint();
  });

  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("conversation");
    if (!panel || !panel.dataset.liveSocket || !window.HelpdeskLive) return;

    // The time as the page shows the others: in the agent's zone (data-zone), "Dec 4, 06:40 PST".
    var zone = panel.dataset.zone;
    function agentTime(message) {
      if (!zone || !window.Intl || !message.created_at) return message.created_display;
      try {
        var parts = {};
        new Intl.DateTimeFormat("en-US", {
          timeZone: zone, month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
          hourCycle: "h23", timeZoneName: "short",
        }).formatToParts(new Date(message.created_at)).forEach(function (part) { parts[part.type] = part.value; });
        return parts.month + " " + parts.day + ", " + parts.hour + ":" + parts.minute + " " + parts.timeZoneName;
      } catch (error) {
        return message.created_display;
      }
    }

    function append(message) {
      if (panel.querySelector('[data-message-id="' + message.id + '"]')) return;
      var empty = panel.querySelector(".hd-no-replies");
      if (empty) empty.remove();
      var box = document.createElement("article");
      box.className = "hd-message " + message.role + (message.internal ? " internal" : "");
      box.dataset.messageId = message.id;
      var meta = document.createElement("div");
      meta.className = "meta";
      meta.textContent = message.author + " · " + message.role_label + " · " + agentTime(message) +
        " via " + message.channel;
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
      if (message.attachments.length) {
        var files = document.createElement("ul");
        files.className = "hd-files";
        message.attachments.forEach(function (file) {
          var item = document.createElement("li");
          var link = document.createElement("a");
          link.href = file.url;
          link.textContent = file.name;
          item.appendChild(link);
          item.appendChild(document.createTextNode(" (" + file.size + ", " + file.content_type + ")"));
          files.appendChild(item);
        });
        box.appendChild(files);
      }
      var atBottom = panel.scrollHeight - panel.scrollTop - panel.clientHeight < 40;
      panel.appendChild(box);
      if (atBottom) panel.scrollTop = panel.scrollHeight;
    }

    // Someone else writing on the ticket (the customer, or a colleague): shown for a few seconds.
    var typingLine = document.getElementById("typing");
    var typingTimer = null;
    function showTyping(signal) {
      typingLine.textContent = signal.name + (signal.internal ? " is writing a note…" : " is typing…");
      typingLine.hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () { typingLine.hidden = true; }, 6000);
    }

    // Colleagues on this ticket's page now ("Also here: …"); a colleague with two tabs counts once.
    var presenceLine = document.getElementById("presence");
    var present = {};
    function showPresence(signal) {
      var entry = present[signal.user] || { name: signal.name, tabs: 0 };
      entry.tabs += signal.here ? 1 : -1;
      if (entry.tabs > 0) present[signal.user] = entry; else delete present[signal.user];
      var names = Object.keys(present).map(function (user) { return present[user].name; }).sort();
      presenceLine.textContent = names.length ? "Also on this ticket: " + names.join(", ") : "";
      presenceLine.hidden = names.length === 0;
    }

    var live = window.HelpdeskLive.follow({
      socketPath: panel.dataset.liveSocket,
      pollUrl: panel.dataset.livePoll,
      after: panel.dataset.liveAfter,
      onEvent: function (event) {
        if (!event.message) return;
        if (typingLine) typingLine.hidden = true;
        append(event.message);
      },
      onTyping: typingLine ? showTyping : null,
      onPresence: presenceLine ? showPresence : null,
    });
    // This agent writing: a note is announced to colleagues only (the server keeps it from customers).
    var box = document.querySelector("#reply textarea");
    if (box) {
      box.addEventListener("input", function (event) {
        if (!event.isTrusted) return;  // a canned reply inserted is not typing
        var note = document.querySelector("#reply input[name=kind][value=note]");
        live.typing(!!(note && note.checked));
      });
    }
  });
})();
