// Trained-model pages: live training progress and metric-over-versions charts.
(function () {
  "use strict";

  // --- progress: poll while trainings are on the page; reload once one of them has finished ---
  const root = document.querySelector("[data-progress-url]");
  const cells = document.querySelectorAll("[data-training-id]");
  if (root && cells.length) {
    const shown = Array.from(cells, (cell) => cell.dataset.trainingId);
    let busy = false;
    const tick = async () => {
      if (busy || document.hidden) return;
      busy = true;
      try {
        const response = await fetch(root.dataset.progressUrl, {
          headers: {Accept: "application/json"}, credentials: "same-origin", cache: "no-store",
        });
        if (!response.ok) return;
        const running = new Map((await response.json()).trainings.map((t) => [String(t.id), t]));
        if (shown.some((id) => !running.has(id))) {
          window.location.reload(); // finished or failed: the server renders its final state
          return;
        }
        cells.forEach((cell) => {
          const training = running.get(cell.dataset.trainingId);
          const percent = Math.round(training.progress * 100);
          const bar = cell.querySelector(".progress");
          bar.setAttribute("aria-valuenow", percent);
          bar.firstElementChild.style.width = percent + "%";
          cell.querySelector("[data-progress-text]").textContent =
            percent + "%" + (training.message ? " · " + training.message : "");
        });
      } catch (error) {
        // A network blip: try again on the next tick.
      } finally {
        busy = false;
      }
    };
    window.setInterval(tick, 2000);
  }

  // --- charts: one line per kind, the metric picked in the select beside it -------------------
  const data = document.getElementById("metric-charts");
  if (!data || !window.Chart) return;
  const colours = {active: "#16a34a", ready: "#2563eb", failed: "#dc2626", training: "#d97706"};
  JSON.parse(data.textContent).forEach((chart) => {
    const canvas = document.querySelector(`canvas[data-chart-kind="${CSS.escape(chart.kind)}"]`);
    const select = document.querySelector(`select[data-chart-kind="${CSS.escape(chart.kind)}"]`);
    if (!canvas) return;
    const dataset = (metric) => ({
      label: metric,
      data: chart.metrics[metric],
      borderColor: "#2563eb",
      backgroundColor: "rgba(37,99,235,.12)",
      fill: true,
      tension: 0.2,
      spanGaps: true,
      pointRadius: chart.statuses.map((s) => (s === "active" ? 6 : 3)),
      pointBackgroundColor: chart.statuses.map((s) => colours[s] || "#64748b"),
      pointBorderColor: chart.statuses.map((s) => colours[s] || "#64748b"),
    });
    const instance = new Chart(canvas, {
      type: "line",
      data: {labels: chart.labels, datasets: [dataset(chart.default_metric)]},
      options: {
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: {display: false},
          tooltip: {callbacks: {afterLabel: (item) => chart.statuses[item.dataIndex]}},
        },
        scales: {y: {grace: "10%"}},
      },
    });
    if (select) {
      select.addEventListener("change", () => {
        instance.data.datasets = [dataset(select.value)];
        instance.update();
      });
    }
  });
})();
