// Live SLA countdowns in the agent console: every <time class="sla-countdown" datetime="..."> is
// rewritten each second, and its badge turns "at risk" then "breached" as those instants pass.
(function () {
  "use strict";
  function format(ms) {
    var overdue = ms < 0, s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    var text = d ? d + "d " + h + "h" : h ? h + "h " + String(m).padStart(2, "0") + "m" : m + "m";
    return overdue ? "overdue " + text : text + " left";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time.sla-countdown").forEach(function (el) {
      var due = Date.parse(el.getAttribute("datetime"));
      var warn = el.dataset.warn ? Date.parse(el.dataset.warn) : null;
      el.textContent = format(due - now);
      var badge = el.closest(".sla");
      if (!badge || badge.classList.contains("sla-breached")) return;
      if (due <= now) {
        badge.classList.remove("sla-on_track", "sla-at_risk");
        badge.classList.add("sla-breached");
      } else if (warn !== null && warn <= now && badge.classList.contains("sla-on_track")) {
        badge.classList.replace("sla-on_track", "sla-at_risk");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { tick(); setInterval(tick, 1000); });
})();
