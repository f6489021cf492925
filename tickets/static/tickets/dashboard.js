/* The SLA dashboard's charts, drawn with the vendored Chart.js (window.Chart) from the page's
   <script type="application/json" id="dashboard-data"> block. Every figure is also a table on the page. */
(function () {
  "use strict";

  var STATUS_COLOURS = { new: "#6f42c1", open: "#1c64b8", pending: "#b08800", on_hold: "#d9480f" };
  var CHANNEL_COLOURS = ["#1c64b8", "#2f9e44", "#d9480f", "#6f42c1", "#5f6b7a"];

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) {
      new window.Chart(canvas, config);
    }
  }

  function duration(minutes) {
    if (minutes < 1) { return Math.round(minutes * 60) + " s"; }
    if (minutes < 60) { return Math.round(minutes) + " min"; }
    if (minutes < 1440) { return Math.round(minutes / 6) / 10 + " h"; }
    return Math.round(minutes / 144) / 10 + " d";
  }

  function percentAxis() {
    return { min: 0, max: 100, ticks: { callback: function (value) { return value + " %"; } } };
  }

  function attainmentChart(data, metric) {
    var severities = data.severities.filter(function (s) { return data.attainment[metric].series[s.key]; });
    draw("chart-attainment-" + metric, {
      type: "line",
      data: {
        labels: data.weeks,
        datasets: severities.map(function (s) {
          return {
            label: s.label,
            data: data.attainment[metric].series[s.key],
            borderColor: s.colour,
            backgroundColor: s.colour,
            spanGaps: true
          };
        })
      },
      options: {
        maintainAspectRatio: false,
        scales: { y: percentAxis() },
        plugins: {
          tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + c.parsed.y + " %"; } } }
        }
      }
    });
  }

  function start() {
    var source = document.getElementById("dashboard-data");
    if (!source || !window.Chart) {
      return;
    }
    var data = JSON.parse(source.textContent);
    var Chart = window.Chart;
    Chart.defaults.animation = false;
    // Text in the admin's own font and colour (light or dark theme).
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = getComputedStyle(document.body).color;
    var severityLabels = data.severities.map(function (s) { return s.label; });

    draw("chart-open", {
      type: "bar",
      data: {
        labels: severityLabels,
        datasets: data.statuses.map(function (status) {
          return { label: status.label, data: data.open[status.key], backgroundColor: STATUS_COLOURS[status.key] };
        })
      },
      options: {
        maintainAspectRatio: false,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } }
      }
    });

    draw("chart-channels", {
      type: "doughnut",
      data: {
        labels: data.channels.map(function (c) { return c.label; }),
        datasets: [{
          data: data.channels.map(function (c) { return c.count; }),
          backgroundColor: CHANNEL_COLOURS
        }]
      },
      options: { maintainAspectRatio: false, plugins: { legend: { position: "right" } } }
    });

    attainmentChart(data, "first_response");
    attainmentChart(data, "resolution");

    // Times range from minutes (S1) to days (S5): a logarithmic axis with ticks at round durations.
    var DURATION_TICKS = [1, 5, 15, 30, 60, 120, 240, 480, 1440, 2880, 7200, 14400, 43200];
    draw("chart-response-times", {
      type: "bar",
      data: {
        labels: data.response_times.map(function (r) { return r.severity; }),
        datasets: [
          { label: "Median", data: data.response_times.map(function (r) { return r.median; }),
            backgroundColor: "#1c64b8" },
          { label: "90th percentile", data: data.response_times.map(function (r) { return r.p90; }),
            backgroundColor: "#9ec5f0" }
        ]
      },
      options: {
        maintainAspectRatio: false,
        scales: {
          y: {
            type: "logarithmic",
            afterBuildTicks: function (axis) {
              axis.ticks = DURATION_TICKS
                .filter(function (v) { return v >= axis.min && v <= axis.max; })
                .map(function (v) { return { value: v }; });
            },
            ticks: { callback: function (value) { return duration(value); } }
          }
        },
        plugins: {
          tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + duration(c.parsed.y); } } }
        }
      }
    });

    draw("chart-backlog", {
      type: "line",
      data: {
        labels: data.backlog.labels,
        datasets: [{
          label: "Open at the end of the " + data.backlog.step,
          data: data.backlog.values,
          borderColor: "#417690",
          backgroundColor: "rgba(65, 118, 144, 0.15)",
          fill: true,
          pointRadius: data.backlog.values.length > 60 ? 0 : 2,
          tension: 0.1
        }]
      },
      options: { maintainAspectRatio: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
