/* The satisfaction dashboard's charts (vendored Chart.js, window.Chart) from the page's JSON block;
   every figure is also a table on the page. */
(function () {
  "use strict";
  function start() {
    var source = document.getElementById("satisfaction-data");
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    var percentAxis = { min: 0, max: 100, ticks: { callback: function (v) { return v + " %"; } } };
    function draw(id, config) {
      var canvas = document.getElementById(id);
      if (canvas) new window.Chart(canvas, config);
    }
    draw("chart-satisfaction", {
      type: "bar",
      data: { labels: data.weeks, datasets: [
        { label: "Good", data: data.good, backgroundColor: "#2f9e44", stack: "r" },
        { label: "Bad", data: data.bad, backgroundColor: "#c92a2a", stack: "r" }
      ] },
      options: { maintainAspectRatio: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
    draw("chart-satisfaction-severity", {
      type: "bar",
      data: { labels: data.severities, datasets: [{ label: "Good %", data: data.severity_percent, backgroundColor: "#1c64b8" }] },
      options: { maintainAspectRatio: false, scales: { y: percentAxis } }
    });
    draw("chart-satisfaction-agent", {
      type: "bar",
      data: { labels: data.agents, datasets: [{ label: "Good %", data: data.agent_percent, backgroundColor: "#6f42c1" }] },
      options: { maintainAspectRatio: false, indexAxis: "y", scales: { x: percentAxis } }
    });
    draw("chart-deflections", {
      type: "line",
      data: { labels: data.weeks, datasets: [
        { label: "Suggested articles opened", data: data.opened, borderColor: "#5f6b7a", backgroundColor: "#5f6b7a" },
        { label: "Deflections", data: data.deflected, borderColor: "#2f9e44", backgroundColor: "#2f9e44" }
      ] },
      options: { maintainAspectRatio: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
