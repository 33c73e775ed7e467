// The stats page: poll GET /api/stats every second, redraw the announces-per-second chart (uPlot,
// a global of its IIFE build) and update the totals.
const chartBox = document.getElementById('chart');
let chart;

function makeChart(data) {
  const width = Math.max(300, chartBox.clientWidth || 800);
  return new uPlot(
    {
      width,
      height: 300,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(5, max * 1.1)] } },
      // Whole seconds on the time axis (uPlot's time scale is in seconds).
      axes: [{ space: 80, incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600] }, { label: 'announces / s' }],
      series: [{}, { label: 'Announces per second', stroke: '#1f6feb', fill: 'rgba(31,111,235,0.12)', width: 2, points: { show: false } }],
      legend: { live: true },
    },
    data,
    chartBox,
  );
}

function setTotals(totals) {
  for (const dd of document.querySelectorAll('[data-total]')) {
    const value = dd.dataset.total.split('.').reduce((o, k) => (o == null ? undefined : o[k]), totals);
    dd.textContent = value === undefined || value === null ? '–' : Number(value).toLocaleString('en');
  }
}

async function refresh() {
  const res = await fetch('/api/stats', { cache: 'no-store' });
  if (!res.ok) return;
  const { series, totals } = await res.json();
  if (totals) setTotals(totals);
  if (chartBox && typeof uPlot === 'function') {
    if (!chart) chart = makeChart(series);
    else chart.setData(series);
    chartBox.dataset.points = String(series[0].length);
  }
}

async function loop() {
  try {
    await refresh();
  } catch {
    /* next tick */
  }
  setTimeout(loop, 1000);
}
addEventListener('resize', () => chart?.setSize({ width: Math.max(300, chartBox.clientWidth), height: 300 }));
loop();
