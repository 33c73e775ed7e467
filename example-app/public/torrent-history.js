// The torrent page's history: poll GET /api/torrents/<name>/history every 30 s, draw the last day
// per minute (uPlot, a global of its IIFE build, as on the stats page) and "downloads this week".
(() => {
  const config = JSON.parse(document.getElementById('config').textContent);
  const chartBox = document.getElementById('history-chart');
  let chart;

  function makeChart(data) {
    const width = Math.max(300, chartBox.clientWidth || 800);
    return new uPlot(
      {
        width,
        height: 260,
        scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(5, max * 1.1)] } },
        series: [
          {},
          { label: 'Announces / min', stroke: '#1f6feb', fill: 'rgba(31,111,235,0.12)', width: 2, points: { show: false } },
          { label: 'Peak seeders', stroke: '#2da44e', width: 2, points: { show: false } },
          { label: 'Peak leechers', stroke: '#bf8700', width: 2, points: { show: false } },
        ],
        legend: { live: true },
      },
      data,
      chartBox,
    );
  }

  async function refresh() {
    const res = await fetch(`/api/torrents/${encodeURIComponent(config.name)}/history`, { cache: 'no-store' });
    if (!res.ok) return;
    const history = await res.json();
    const week = document.querySelector('#history-week [data-field="downloadsThisWeek"]');
    if (week) week.textContent = Number(history.downloadsThisWeek).toLocaleString('en');
    if (chartBox && typeof uPlot === 'function') {
      if (!chart) chart = makeChart(history.day);
      else chart.setData(history.day);
      chartBox.dataset.points = String(history.day[0].length);
    }
  }

  async function loop() {
    try {
      await refresh();
    } catch {
      /* next tick */
    }
    setTimeout(loop, 30_000);
  }
  addEventListener('resize', () => chart?.setSize({ width: Math.max(300, chartBox.clientWidth), height: 260 }));
  loop();
})();
