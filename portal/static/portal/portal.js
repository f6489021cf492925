// Portal behaviour: "add another candidate" on the new-ticket form, and the chat panel.
(function () {
  "use strict";

  // --- candidates: clone the formset's empty row --------------------------------------------------
  var addCandidate = document.getElementById("add-candidate");
  if (addCandidate) {
    addCandidate.addEventListener("click", function () {
      var total = document.getElementById("id_candidates-TOTAL_FORMS");
      var index = parseInt(total.value, 10);
      // A copy of the template's nodes (never markup parsed from a string), numbered like the others.
      var row = document.getElementById("candidate-template").content.cloneNode(true);
      row.querySelectorAll("[name], [id], [for]").forEach(function (element) {
        ["name", "id", "for"].forEach(function (attribute) {
          var value = element.getAttribute(attribute);
          if (value) element.setAttribute(attribute, value.replace(/__prefix__/g, String(index)));
        });
      });
      document.getElementById("candidate-rows").appendChild(row);
      total.value = String(index + 1);
      document.getElementById("id_candidates-" + index + "-name").focus();
    });
  }

  // --- attachments: refuse files over the limits before sending (the server would answer 413, which a
  // browser may show as a broken connection rather than a page) ------------------------------------------
  document.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (field) {
    field.addEventListener("change", function () {
      var maxBytes = parseInt(field.dataset.maxBytes, 10);
      var maxFiles = parseInt(field.dataset.maxFiles, 10);
      var megabytes = Math.round(maxBytes / 1048576 * 10) / 10;
      var problem = "";
      if (field.files.length > maxFiles) {
        problem = "Attach at most " + maxFiles + " files at a time.";
      }
      Array.prototype.forEach.call(field.files, function (file) {
        if (!problem && file.size > maxBytes) {
          problem = "“" + file.name + "” is larger than the " + megabytes + " MB limit for attachments.";
        }
      });
      field.setCustomValidity(problem);
      if (problem) field.reportValidity();
    });
    // The portal's forms are `novalidate` (the server's errors show in place): hold the submit here.
    if (field.form) {
      field.form.addEventListener("submit", function (event) {
        if (!field.checkValidity()) {
          event.preventDefault();
          field.reportValidity();
        }
      });
    }
  });

  // --- chat: poll a JSON endpoint; an agent's reply shows within the poll interval ---------------------
  var panel = document.getElementById("chat-panel");
  if (!panel) return;
  var url = panel.dataset.url;
  var toggle = document.getElementById("chat-toggle");
  var log = document.getElementById("chat-log");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var errorBox = document.getElementById("chat-error");
  var ticketLabel = document.getElementById("chat-ticket");
  var lastId = -1, timer = null, POLL_MS = 1500;
  var seen = {}, chatReference = null;

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function render(state) {
    if (state.ticket && chatReference !== null && state.ticket.reference !== chatReference) {
      // A new chat (the last one was resolved): start the log afresh. Render this state only when it
      // holds the chat from its opening line (id 0); otherwise the next poll, from the start, brings it.
      log.querySelectorAll(".chat-line").forEach(function (row) { row.remove(); });
      seen = {};
      lastId = -1;
      chatReference = null;
      if (!state.messages.some(function (line) { return line.id === 0; })) return;
    }
    if (state.ticket) {
      chatReference = state.ticket.reference;
      ticketLabel.textContent = "";
      var link = document.createElement("a");
      link.href = state.ticket.url;
      link.textContent = state.ticket.reference + " · " + state.ticket.status;
      ticketLabel.appendChild(link);
    }
    state.messages.forEach(function (line) {
      if (seen[line.id]) return;
      seen[line.id] = true;
      var empty = document.getElementById("chat-empty");
      if (empty) empty.remove();
      var row = document.createElement("div");
      row.className = "chat-line " + (line.role === "customer" ? "mine" : "agent");
      var who = document.createElement("div");
      who.className = "who";
      who.textContent = line.author;
      var text = document.createElement("div");
      text.className = "text";
      text.textContent = line.body;  // text, never HTML
      row.appendChild(who);
      row.appendChild(text);
      log.appendChild(row);
      lastId = Math.max(lastId, line.id);
      log.scrollTop = log.scrollHeight;
    });
  }

  function poll() {
    fetch(url + "?after=" + lastId, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) { if (state) render(state); })
      .catch(function () {})
      .finally(function () { timer = setTimeout(poll, POLL_MS); });
  }

  function open() {
    panel.classList.remove("d-none");
    toggle.setAttribute("aria-expanded", "true");
    if (timer === null) poll();
    input.focus();
  }

  toggle.addEventListener("click", function () {
    if (panel.classList.contains("d-none")) { open(); sessionStorage.setItem("chat-open", "1"); }
    else { panel.classList.add("d-none"); toggle.setAttribute("aria-expanded", "false"); sessionStorage.removeItem("chat-open"); }
  });
  if (sessionStorage.getItem("chat-open")) open();

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = input.value.trim();
    if (!body) return;
    errorBox.textContent = "";
    var data = new FormData();
    data.append("body", body);
    data.append("after", String(lastId));
    fetch(url, { method: "POST", body: data, credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() } })
      .then(function (r) { return r.json().then(function (json) { return { ok: r.ok, json: json }; }); })
      .then(function (result) {
        if (!result.ok) { errorBox.textContent = "Could not send: please try again."; return; }
        input.value = "";
        render(result.json);
      })
      .catch(function () { errorBox.textContent = "Could not send: check your connection."; });
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
})();
