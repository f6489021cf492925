// Live updates for a page: one WebSocket under /ws/ that never loses an event, and polling where sockets
// cannot connect. Shared by the portal's pages and the console's ticket page.
//
//   HelpdeskLive.follow({socketPath: "/ws/tickets/12/", pollUrl: "/live/tickets/12/", after: 345,
//                        onEvent: function (event) { ... }})
//
// - Every event carries its id; each id is handed to onEvent once, in the order received.
// - The socket is opened with the last id shown (`?after=`): the server first sends what was missed.
//   A heartbeat every 25 s carries that id too, so anything the socket dropped comes then.
// - A closed socket reconnects with exponential backoff and full jitter (0.5 s doubling up to 30 s,
//   a random delay below that), except when the server refuses for good (signed out, not allowed).
// - Where the socket fails to open twice in a row (a proxy without WebSocket upgrade), the page polls
//   pollUrl instead, at the interval the server asks (429 answers say when to come back), and keeps
//   trying the socket: polling stops as soon as it opens. No request is polled while the socket is up.
// - document.documentElement's data-live says which: "connecting", "socket", "polling" or "off" (or the
//   element given as stateElement: the portal's chat panel follows a socket of its own on any page).
// - On a ticket's socket, onTyping({name, agent, internal?}) hears that someone else is writing, and the
//   returned handle's typing(internal) says that this viewer is (at most every few seconds; nothing is
//   sent while polling). Agents' pages also get onPresence({user, name, here}): a colleague came or left.
// - The chat panel sends its lines on the ticket's socket: handle.send({type: "chat", body, ref}) answers
//   false when the socket is not open (the panel posts over HTTP then); the server's answers
//   ({type: "chat_sent" | "chat_error", ref, ...}) go to onChat, heartbeat answers to onPong.
//   handle.stop() closes it for good.
(function (root) {
  "use strict";

  var HEARTBEAT_MS = 25000;
  var BACKOFF_BASE_MS = 500;
  var BACKOFF_CAP_MS = 30000;
  var FAILURES_BEFORE_POLLING = 2;
  // 4401 signed out, 4403 no longer allowed, 4404 no such ticket: reconnecting cannot help.
  var REFUSED_FOR_GOOD = { 4401: true, 4403: true, 4404: true };
  var TYPING_EVERY_MS = 4000;

  function follow(options) {
    var lastId = parseInt(options.after, 10) || 0;
    var seen = {};
    var socket = null;
    var attempts = 0;
    var failuresInARow = 0;
    var heartbeat = null;
    var polling = false;
    var pollTimer = null;
    var stopped = false;

    function setState(state) {
      (options.stateElement || document.documentElement).dataset.live = state;
    }

    function handle(payload) {
      if (payload.type === "typing" || payload.type === "presence") {
        var listener = payload.type === "typing" ? options.onTyping : options.onPresence;
        if (listener) listener(payload);
        return;
      }
      if (payload.type === "pong") {
        if (options.onPong) options.onPong(payload);
        return;
      }
      if (payload.type === "chat_sent" || payload.type === "chat_error") {
        if (options.onChat) options.onChat(payload);
        return;
      }
      if (payload.type === "reload") {
        if (options.onReload) options.onReload(); else root.location.reload();
        return;
      }
      if (payload.type !== "event" || seen[payload.id]) return;
      seen[payload.id] = true;
      lastId = Math.max(lastId, payload.id);
      options.onEvent(payload);
    }

    function connect() {
      if (stopped) return;
      if (!("WebSocket" in root)) { startPolling(); return; }
      var scheme = root.location.protocol === "https:" ? "wss://" : "ws://";
      var opened = false;
      try {
        socket = new root.WebSocket(scheme + root.location.host + options.socketPath + "?after=" + lastId);
      } catch (error) {
        failed(false);
        return;
      }
      socket.onopen = function () {
        opened = true;
        attempts = 0;
        failuresInARow = 0;
        stopPolling();
        setState("socket");
        heartbeat = setInterval(ping, HEARTBEAT_MS);
      };
      socket.onmessage = function (message) {
        var payload;
        try { payload = JSON.parse(message.data); } catch (error) { return; }
        handle(payload);
      };
      socket.onclose = function (event) {
        clearInterval(heartbeat);
        socket = null;
        if (stopped) return;
        if (REFUSED_FOR_GOOD[event.code]) { stop(); return; }
        failed(opened);
      };
    }

    function failed(hadOpened) {
      if (!hadOpened) failuresInARow += 1;
      if (failuresInARow >= FAILURES_BEFORE_POLLING) startPolling(); else if (!polling) setState("connecting");
      attempts += 1;
      var ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * Math.pow(2, attempts));
      setTimeout(connect, Math.random() * ceiling);
    }

    function ping() {
      if (!socket || socket.readyState !== 1) return;
      var message = { type: "ping", after: lastId };
      if (options.onPong) message.agents = true;  // the chat panel: is an agent online?
      socket.send(JSON.stringify(message));
    }

    function startPolling() {
      if (polling || stopped || !options.pollUrl) return;
      polling = true;
      setState("polling");
      poll();
    }

    function stopPolling() {
      polling = false;
      clearTimeout(pollTimer);
    }

    function poll() {
      var delayMs = 5000;
      fetch(options.pollUrl + "?after=" + lastId, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          var retryAfter = parseInt(response.headers.get("Retry-After") || "", 10);
          if (retryAfter > 0) delayMs = retryAfter * 1000;
          if (response.status === 401 || response.status === 403 || response.status === 404) { stop(); return null; }
          return response.ok ? response.json() : null;
        })
        .then(function (data) {
          if (!data) return;
          if (data.poll_seconds) delayMs = data.poll_seconds * 1000;
          data.events.forEach(handle);
          if (data.reload) handle({ type: "reload" });
        })
        .catch(function () {})
        .finally(function () { if (polling) pollTimer = setTimeout(poll, delayMs); });
    }

    function stop() {
      stopped = true;
      stopPolling();
      setState("off");
    }

    var typingSentAt = 0;
    function typing(internal) {
      var now = Date.now();
      if (!socket || socket.readyState !== 1 || now - typingSentAt < TYPING_EVERY_MS) return;
      typingSentAt = now;
      socket.send(JSON.stringify({ type: "typing", internal: Boolean(internal) }));
    }

    function send(message) {
      if (!socket || socket.readyState !== 1) return false;
      socket.send(JSON.stringify(message));
      return true;
    }

    function close() {
      stop();
      if (socket) socket.close(1000);
    }

    setState("connecting");
    connect();
    return { lastId: function () { return lastId; }, typing: typing, send: send, stop: close };
  }

  root.HelpdeskLive = { follow: follow };
})(window);
