/* Policy detail: each backup run's duration in minutes (bars, failed runs in red; the tooltip
   says it as the job table does, "1 h 35 min") and archive size (line, right axis), oldest
   first, from the JSON the page embeds (#backup-duration-data). A run without a size is a gap
   in the line (spanGaps false, straight segments); the numbers are in the table under it. */
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
          tension: 0,
          spanGaps: false,
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
            label: function (item) {
              if (item.dataset.yAxisID === "duration") {
                return item.dataset.label + ": " + data.duration_labels[item.dataIndex];
              }
              return item.dataset.label + ": " + item.formattedValue;
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
