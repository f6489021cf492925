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

  // --- chat ------------------------------------------------------------------------------------------
  // The panel (portal/templates/portal/_chat_panel.html) asks portal/chat.py for its state when it opens:
  // the chat in progress, else the customer's open tickets to continue on or a new conversation (what it
  // is about, how bad it is). A chat follows its ticket's socket (tickets/static/tickets/live.js): lines
  // are sent and received on it, each rendered once by its message id, "Support is typing…" while an agent
  // writes; where the socket cannot connect, live.js polls and lines are posted over HTTP. Text only: the
  // server's strings are set as text nodes, never parsed as markup.
  var panel = document.getElementById("chat-panel");
  if (!panel || !window.HelpdeskLive) return;
  var url = panel.dataset.url;
  var toggle = document.getElementById("chat-toggle");
  var log = document.getElementById("chat-log");
  var body = document.getElementById("chat-body");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var errorBox = document.getElementById("chat-error");
  var ticketLabel = document.getElementById("chat-ticket");
  var availabilityLine = document.getElementById("chat-availability");
  var chooseBox = document.getElementById("chat-choose");
  var openList = document.getElementById("chat-open-tickets");
  var newFields = document.getElementById("chat-new-fields");
  var subjectInput = document.getElementById("chat-subject");
  var subjectError = document.getElementById("chat-subject-error");
  var severityError = document.getElementById("chat-severity-error");
  var backButton = document.getElementById("chat-back");
  var switchButton = document.getElementById("chat-switch");
  var typingLine = document.getElementById("chat-typing");

  var state = null;       // the server's last answer
  var mode = "loading";   // "choose", "new", "continue" (a ticket chosen, no line yet) or "chat"
  var chatTicket = null;  // the ticket the chat is on ("chat"), or the one chosen ("continue")
  var live = null;        // the socket on chatTicket
  var followed = null;    // its ticket id
  var rendered = {};      // message id -> its row
  var pending = [];       // lines sent on the socket, not yet confirmed: {ref, body, row}
  var sent = 0;
  var loading = false;
  var typingTimer = null;

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function selectedSeverity() {
    var checked = form.ownerDocument.querySelector('input[name=chat-severity]:checked');
    return checked ? checked.value : "";
  }

  function showAvailability() {
    if (!state) return;
    var availability = state.availability;
    var text = availability.agent_online ? "An agent is online." : availability.offline_text;
    if (mode === "new" && !availability.agent_online && selectedSeverity()) {
      text = availability.by_severity[selectedSeverity()];
    }
    availabilityLine.textContent = text;
    availabilityLine.classList.toggle("online", availability.agent_online);
  }

  function setMode(next) {
    mode = next;
    chooseBox.hidden = next !== "choose";
    newFields.hidden = next !== "new";
    backButton.hidden = !(next === "new" && state && state.open_tickets.length);
    switchButton.hidden = next !== "chat" && next !== "continue";
    form.hidden = next === "choose" || next === "loading";
    input.placeholder = next === "new" ? "Tell us what is going on…" : "Type a message…";
    if (next === "chat" || next === "continue") {
      ticketLabel.replaceChildren();
      var link = element("a", "", chatTicket.reference + " · " + chatTicket.status);
      link.href = chatTicket.url;
      link.title = chatTicket.subject;
      ticketLabel.appendChild(link);
    } else {
      ticketLabel.textContent = "";
    }
    showAvailability();
  }

  function scrollDown() { body.scrollTop = body.scrollHeight; }

  function lineRow(role, author, text) {
    var row = element("div", "chat-line " + (role === "customer" ? "mine" : "agent"));
    row.appendChild(element("div", "who", author));
    row.appendChild(element("div", "text", text));
    return row;
  }

  function addLine(line) {
    if (rendered[line.id]) return;
    if (line.role === "customer") {
      // A line this panel sent on the socket comes back as the ticket's event: the row shown is confirmed.
      for (var i = 0; i < pending.length; i += 1) {
        if (pending[i].body === line.body) {
          var own = pending.splice(i, 1)[0].row;
          own.classList.remove("pending");
          own.querySelector(".who").textContent = line.author;
          rendered[line.id] = own;
          return;
        }
      }
    }
    var row = lineRow(line.role, line.author, line.body);
    row.dataset.messageId = line.id;
    rendered[line.id] = row;
    log.appendChild(row);
    scrollDown();
  }

  function clearLog() {
    log.replaceChildren();
    rendered = {};
    pending = [];
    typingLine.hidden = true;
  }

  function unfollow() {
    if (live) live.stop();
    live = null;
    followed = null;
  }

  function follow(ticket, after) {
    if (followed === ticket.id) return;
    unfollow();
    followed = ticket.id;
    live = window.HelpdeskLive.follow({
      socketPath: ticket.socket,
      pollUrl: ticket.poll,
      after: after,
      stateElement: panel,
      onEvent: function (event) {
        if (event.ticket && chatTicket && event.ticket.id === chatTicket.id) {
          chatTicket.status = event.ticket.status_label;
          setMode(mode);
        }
        if (!event.message) return;
        if (event.message.role !== "customer") typingLine.hidden = true;
        addLine({ id: event.message.id, role: event.message.role, author: event.message.author, body: event.message.body });
      },
      onTyping: function (signal) {
        if (!signal.agent) return;
        typingLine.hidden = false;
        scrollDown();
        clearTimeout(typingTimer);
        typingTimer = setTimeout(function () { typingLine.hidden = true; }, 6000);
      },
      onChat: settle,
      // Each heartbeat (25 s) says whether an agent has the console open now.
      onPong: function (pong) {
        if (typeof pong.agents_online !== "boolean" || !state) return;
        state.availability.agent_online = pong.agents_online;
        showAvailability();
      },
      onReload: load,
    });
  }

  function renderOpenTickets(tickets) {
    openList.replaceChildren.apply(openList, tickets.map(function (ticket) {
      var item = element("li");
      var button = element("button", "btn btn-outline-secondary btn-sm");
      button.type = "button";
      button.dataset.reference = ticket.reference;
      button.appendChild(element("strong", "", ticket.reference));
      button.appendChild(document.createTextNode(" " + ticket.subject));
      button.appendChild(element("span", "d-block small text-muted", ticket.severity + " · " + ticket.status));
      button.addEventListener("click", function () {
        chatTicket = ticket;
        clearLog();
        setMode("continue");
        input.focus();
      });
      item.appendChild(button);
      return item;
    }));
  }

  function startOver() {
    unfollow();
    chatTicket = null;
    clearLog();
    renderOpenTickets(state.open_tickets);
    setMode(state.open_tickets.length ? "choose" : "new");
  }

  function apply(next) {
    state = next;
    if (!next.ticket) { startOver(); return; }
    if (followed !== next.ticket.id) clearLog();
    chatTicket = next.ticket;
    next.messages.forEach(addLine);
    follow(next.ticket, next.after);
    setMode("chat");
  }

  function load() {
    if (loading) return;
    loading = true;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (next) { if (next) apply(next); else errorBox.textContent = "The chat is not available; please reload the page."; })
      .catch(function () { errorBox.textContent = "Could not reach support: check your connection."; })
      .finally(function () { loading = false; });
  }

  function clearErrors() {
    errorBox.textContent = subjectError.textContent = severityError.textContent = "";
    subjectInput.classList.remove("is-invalid");
  }

  function showErrors(errors) {
    var other = [];
    Object.keys(errors).forEach(function (field) {
      var text = errors[field].join(" ");
      if (field === "subject") { subjectError.textContent = text; subjectInput.classList.add("is-invalid"); }
      else if (field === "severity") severityError.textContent = text;
      else other.push(text);
    });
    errorBox.textContent = other.join(" ");
    if (errors.ticket) load();  // the ticket was resolved or closed meanwhile: offer the choice again
  }

  // The server's answer to a line sent on the socket.
  function settle(answer) {
    var index = pending.findIndex(function (line) { return line.ref === answer.ref; });
    if (index < 0) return;  // its event came first and confirmed it already
    var line = pending.splice(index, 1)[0];
    if (answer.type === "chat_sent") {
      line.row.classList.remove("pending");
      line.row.dataset.messageId = answer.message;
      rendered[answer.message] = line.row;
      return;
    }
    line.row.remove();
    if (!input.value) input.value = line.body;  // nothing typed is lost
    showErrors(answer.errors);
  }

  function post(text) {
    var data = new FormData();
    data.append("body", text);
    if (mode === "new") {
      data.append("subject", subjectInput.value.trim());
      data.append("severity", selectedSeverity());
    } else {
      data.append("ticket", chatTicket.reference);
    }
    fetch(url, { method: "POST", body: data, credentials: "same-origin", headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" } })
      .then(function (response) { return response.json().then(function (json) { return { ok: response.ok, json: json }; }); })
      .then(function (result) {
        if (!result.ok) { showErrors(result.json.errors || { body: ["Could not send: please try again."] }); return; }
        input.value = "";
        subjectInput.value = "";
        apply(result.json);
      })
      .catch(function () { errorBox.textContent = "Could not send: check your connection."; });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    var text = input.value.trim();
    if (!text) { errorBox.textContent = "Write a message."; input.focus(); return; }
    if (mode === "chat" && live) {
      var ref = "line-" + (sent += 1);
      if (live.send({ type: "chat", body: text, ref: ref })) {
        var row = lineRow("customer", state.you, text);
        row.classList.add("pending");
        log.appendChild(row);
        pending.push({ ref: ref, body: text, row: row });
        input.value = "";
        scrollDown();
        return;
      }
    }
    post(text);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
  input.addEventListener("input", function () { if (mode === "chat" && live) live.typing(false); });
  document.getElementById("chat-new").addEventListener("click", function () { setMode("new"); subjectInput.focus(); });
  backButton.addEventListener("click", function () { setMode("choose"); });
  switchButton.addEventListener("click", startOver);
  newFields.addEventListener("change", showAvailability);

  function open() {
    panel.classList.remove("d-none");
    toggle.setAttribute("aria-expanded", "true");
    if (!state) { setMode("loading"); load(); }
    input.focus();
  }

  toggle.addEventListener("click", function () {
    if (panel.classList.contains("d-none")) { open(); sessionStorage.setItem("chat-open", "1"); }
    else { panel.classList.add("d-none"); toggle.setAttribute("aria-expanded", "false"); sessionStorage.removeItem("chat-open"); }
  });
  if (sessionStorage.getItem("chat-open")) open();
})();
