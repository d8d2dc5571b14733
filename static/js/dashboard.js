/* SLA dashboard: Chart.js trend lines (MTTA/MTTR medians, compliance) and stacked bars by
   priority, from the JSON the page embeds (#dashboard-charts). The period picker shows the
   date inputs only for a custom period. */
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
    spanGaps: true,
    interaction: { mode: "index", intersect: false },
    plugins: { legend: { position: "bottom" } },
  };

  new Chart(document.getElementById("chart-times"), {
    type: "line",
    data: {
      labels: data.days,
      datasets: [
        { label: data.labels.mtta, data: data.mtta, borderColor: colour("--bs-primary", "#0d6efd"), tension: 0.2 },
        { label: data.labels.mttr, data: data.mttr, borderColor: colour("--bs-danger", "#dc3545"), tension: 0.2 },
      ],
    },
    options: Object.assign({}, common, { scales: { y: { beginAtZero: true } } }),
  });

  new Chart(document.getElementById("chart-compliance"), {
    type: "line",
    data: {
      labels: data.days,
      datasets: [
        { label: data.labels.compliance, data: data.compliance, borderColor: colour("--bs-success", "#198754"), tension: 0.2 },
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
