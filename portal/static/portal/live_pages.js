// The portal's live pages (tickets/static/tickets/live.js carries the events):
// - a ticket's page: new public replies appear in the conversation; the status, the severity, the SLA
//   promise, the timeline and the Resolve / Reopen buttons follow the ticket;
// - My tickets: each row's status, severity, last update and response promise follow its ticket.
// Everything is built as text nodes: nothing the server sends is parsed as markup.
(function () {
  "use strict";
  var config = document.getElementById("live");
  if (!config || !window.HelpdeskLive) return;
  var announcer = document.getElementById("live-announcement");

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function badge(kind, code, label) {
    return element("span", "badge " + kind + " " + kind + "-" + code.toLowerCase(), label);
  }

  function announce(text) {
    if (announcer) announcer.textContent = text;
  }

  // --- a ticket's page ------------------------------------------------------------------------------

  function addMessage(message) {
    var conversation = document.getElementById("conversation");
    if (conversation.querySelector('[data-message-id="' + message.id + '"]')) return;
    var article = element("article", "message message-" + message.role);
    article.dataset.messageId = message.id;
    article.appendChild(element("header", "small text-muted",
      message.author + " · " + message.created_display + " · via " + message.channel));
    article.appendChild(element("div", "message-body message-body-live", message.body));
    if (message.attachments.length) {
      var files = element("ul", "list-unstyled small mt-2 mb-0");
      message.attachments.forEach(function (file) {
        var item = element("li");
        var link = element("a", "", file.name);
        link.href = file.url;
        item.appendChild(link);
        item.appendChild(document.createTextNode(" (" + file.size + ")"));
        files.appendChild(item);
      });
      article.appendChild(files);
    }
    conversation.appendChild(article);
    announce("New reply from " + message.author);
  }

  function showTicket(ticket) {
    var status = document.getElementById("ticket-status");
    status.replaceChildren(badge("status", ticket.status, ticket.status_label));
    document.getElementById("ticket-severity").replaceChildren(badge("severity", ticket.severity, ticket.severity_label));
    var card = document.getElementById("ticket-promises");
    var lines = card.querySelector(".promise-lines");
    lines.replaceChildren.apply(lines, ticket.promises.map(function (promise) {
      return element("p", "mb-1 promise promise-" + promise.kind, promise.text);
    }));
    card.hidden = ticket.promises.length === 0;
    document.getElementById("ticket-resolve").hidden = !ticket.can_resolve;
    document.getElementById("ticket-reopen").hidden = !ticket.can_reopen;
    document.getElementById("ticket-actions").hidden = ticket.is_closed;
    document.getElementById("ticket-closed").hidden = !ticket.is_closed;
  }

  function addToTimeline(event) {
    var timeline = document.getElementById("ticket-timeline");
    if (!event.change || event.kind === "replied" || timeline.querySelector('[data-event-id="' + event.id + '"]')) return;
    var item = element("li", "list-group-item small");
    item.dataset.eventId = event.id;
    var when = element("time", "", event.at_display);
    when.setAttribute("datetime", event.at);
    item.appendChild(when);
    if (event.kind === "created") {
      item.appendChild(document.createTextNode(" — Ticket opened (" + (event.change.to_label || event.change.to) + ")"));
    } else {
      var what = event.kind === "status_changed" ? "Status" : "Severity";
      item.appendChild(document.createTextNode(" — " + what + ": " + (event.change.from_label || event.change.from) + " → "));
      item.appendChild(element("strong", "", event.change.to_label || event.change.to));
      if (event.kind === "status_changed") announce("Status changed to " + event.ticket.status_label);
    }
    timeline.appendChild(item);
  }

  // Someone else writing on the ticket: "Fox Mulder (support) is typing…", for a few seconds.
  var typingLine = document.getElementById("typing");
  var typingTimer = null;

  function showTyping(signal) {
    typingLine.textContent = (signal.agent ? signal.name + " (support)" : signal.name) + " is typing…";
    typingLine.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () { typingLine.hidden = true; }, 6000);
  }

  function onTicketEvent(event) {
    if (event.message && typingLine) typingLine.hidden = true;
    if (event.message) addMessage(event.message);
    showTicket(event.ticket);
    addToTimeline(event);
  }

  // --- My tickets -----------------------------------------------------------------------------------

  function onListEvent(event) {
    var ticket = event.ticket;
    var row = document.querySelector('tr[data-ticket-id="' + ticket.id + '"]');
    if (!row) {
      if (event.kind === "created") document.getElementById("live-notice").hidden = false;
      return;
    }
    row.querySelector(".ticket-status").replaceChildren(badge("status", ticket.status, ticket.status_label));
    row.querySelector(".ticket-severity").replaceChildren(badge("severity", ticket.severity, ticket.severity_label));
    var updated = element("time", "", ticket.updated_display);
    updated.setAttribute("datetime", ticket.updated_at);
    row.querySelector(".ticket-updated").replaceChildren(updated);
    row.querySelector(".ticket-promise").textContent = ticket.promises.length ? ticket.promises[0].text : "—";
    if (event.kind === "status_changed") announce(ticket.reference + " is now " + ticket.status_label);
  }

  var ticketPage = Boolean(document.getElementById("conversation"));
  var live = window.HelpdeskLive.follow({
    socketPath: config.dataset.socket,
    pollUrl: config.dataset.poll,
    after: config.dataset.after,
    onEvent: ticketPage ? onTicketEvent : onListEvent,
    onTyping: ticketPage ? showTyping : null,
  });
  var replyBox = document.querySelector("#ticket-actions textarea[name=body]");
  if (replyBox) replyBox.addEventListener("input", function () { live.typing(false); });
})();
