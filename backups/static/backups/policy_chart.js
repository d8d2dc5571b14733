/* Policy detail: each backup run's duration (bars, failed runs in red) and archive size
   (line, right axis), oldest first, from the JSON the page embeds (#backup-duration-data). */
(function () {
  "use strict";

  const source = document.getElementById("backup-duration-data");
  const canvas = document.getElementById("backup-durations");
  if (!source || !canvas || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const css = getComputedStyle(document.documentElement);
  const colour = function (name, fallback) {
    return (css.getPropertyValue(name) || fallback).trim();
  };
  const ok = colour("--bs-primary", "#0d6efd");
  const failed = colour("--bs-danger", "#dc3545");

  canvas.chart = new Chart(canvas, {
    data: {
      labels: data.labels,
      datasets: [
        {
          type: "bar",
          label: data.text.duration,
          data: data.durations,
          backgroundColor: data.states.map(function (s) { return s === "failed" ? failed : ok; }),
          yAxisID: "duration",
        },
        {
          type: "line",
          label: data.text.size,
          data: data.sizes,
          borderColor: colour("--bs-secondary", "#6c757d"),
          pointRadius: 2,
          spanGaps: true,
          yAxisID: "size",
        },
      ],
    },
    options: {
      responsive: true,
      animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { position: "bottom" },
        tooltip: {
          callbacks: {
            title: function (items) {
              const i = items[0].dataIndex;
              const state = data.states[i] === "failed" ? " (" + data.text.failed + ")" : "";
              return data.numbers[i] + " · " + data.labels[i] + state;
            },
          },
        },
      },
      scales: {
        duration: { position: "left", beginAtZero: true, title: { display: true, text: data.text.duration } },
        size: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: data.text.size } },
      },
    },
  });
})();
