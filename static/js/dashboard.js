/* SLA dashboard: Chart.js trend lines (MTTA/MTTR medians, compliance) and stacked bars by
   priority, from the JSON the page embeds (#dashboard-charts). The period picker shows the
   date inputs only for a custom period.

   The lines draw measurements only: a day without data is null and stays a gap (spanGaps
   false), and segments are straight (tension 0), so no value is invented between two days.
   Each chart's numbers are also in the table under it (rendered by the server). */
(function () {
  "use strict";

  const form = document.getElementById("period-form");
  if (form) {
    const days = form.querySelector("[name=days]");
    const toggle = function () {
      form.querySelectorAll(".custom-range").forEach(function (el) {
        el.classList.toggle("d-none", days.value !== "custom");
      });
    };
    days.addEventListener("change", function () {
      toggle();
      if (days.value !== "custom") form.submit();
    });
    toggle();
  }

  const source = document.getElementById("dashboard-charts");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const css = getComputedStyle(document.documentElement);
  const colour = function (name, fallback) {
    return (css.getPropertyValue(name) || fallback).trim();
  };
  const palette = {
    P1: colour("--bs-danger", "#dc3545"),
    P2: colour("--bs-warning", "#ffc107"),
    P3: colour("--bs-info", "#0dcaf0"),
    P4: colour("--bs-secondary", "#6c757d"),
    untriaged: colour("--bs-gray-400", "#ced4da"),
  };
  const common = {
    responsive: true,
    animation: false,
    spanGaps: false,
    interaction: { mode: "index", intersect: false },
    plugins: { legend: { position: "bottom" } },
  };

  // A measured series: straight segments, gaps where a day has no value, the points visible
  // (a day between two gaps is a point, not a line).
  const measured = function (label, values, colourName, fallback) {
    return {
      label: label,
      data: values,
      borderColor: colour(colourName, fallback),
      backgroundColor: colour(colourName, fallback),
      tension: 0,
      spanGaps: false,
      pointRadius: 3,
    };
  };

  new Chart(document.getElementById("chart-times"), {
    type: "line",
    data: {
      labels: data.days,
      datasets: [
        measured(data.labels.mtta, data.mtta, "--bs-primary", "#0d6efd"),
        measured(data.labels.mttr, data.mttr, "--bs-danger", "#dc3545"),
      ],
    },
    options: Object.assign({}, common, { scales: { y: { beginAtZero: true } } }),
  });

  new Chart(document.getElementById("chart-compliance"), {
    type: "line",
    data: {
      labels: data.days,
      datasets: [
        measured(data.labels.compliance, data.compliance, "--bs-success", "#198754"),
      ],
    },
    options: Object.assign({}, common, { scales: { y: { min: 0, max: 100 } } }),
  });

  new Chart(document.getElementById("chart-priorities"), {
    type: "bar",
    data: {
      labels: data.days,
      datasets: Object.keys(data.priorities).map(function (key) {
        return {
          label: key === "untriaged" ? data.labels.untriaged : key,
          data: data.priorities[key],
          backgroundColor: palette[key],
          stack: "incidents",
        };
      }),
    },
    options: Object.assign({}, common, {
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
    }),
  });
  document.documentElement.dataset.chartsReady = "true";
})();
