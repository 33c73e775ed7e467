// The stats page (/stats): announces per second over the last minutes as a chart (uPlot, served
// from node_modules), and the tracker's current totals; GET /api/stats is what the page polls.
// GET /metrics: the same counters for Prometheus (prom-client, trackerMetrics()).
import { createRequire } from 'node:module';
import path from 'node:path';
import express from 'express';
import { Registry } from 'prom-client';
import { trackerMetrics } from '../../dist/index.js';
import { HISTORY_SECONDS } from '../activity.js';
import { html, page } from './html.js';

/** node_modules/uplot/dist, or undefined when uplot is not installed (npm install --omit=dev). */
export function uplotDir() {
  try {
    return path.dirname(createRequire(import.meta.url).resolve('uplot'));
  } catch {
    return undefined;
  }
}

const number = (n) => (n === undefined || n === null ? '–' : Number(n).toLocaleString('en'));

/** The totals as definition lists; each value has a data-total path that public/stats.js updates. */
function totalsHtml(t) {
  const get = (p) => p.split('.').reduce((o, k) => (o == null ? undefined : o[k]), t);
  const item = (label, key) => html`<dt>${label}</dt><dd data-total="${key}">${number(get(key))}</dd>`;
  return html`
<div class="cols">
<section><h3>Swarms (BitTorrent)</h3>
<dl class="totals">${item('Torrents', 'swarms.torrents')}${item('Seeders', 'swarms.seeders')}${item('Leechers', 'swarms.leechers')}${item('Peers', 'swarms.peers')}</dl></section>
<section><h3>Swarms (browsers)</h3>
<dl class="totals">${item('Torrents', 'webrtcSwarms.torrents')}${item('Seeders', 'webrtcSwarms.seeders')}${item('Leechers', 'webrtcSwarms.leechers')}</dl></section>
<section><h3>Announces since start</h3>
<dl class="totals">${item('Total', 'announces.total')}${item('started', 'announces.byEvent.started')}${item('completed', 'announces.byEvent.completed')}${item('stopped', 'announces.byEvent.stopped')}${item('update', 'announces.byEvent.update')}${item('over HTTP', 'announces.byTransport.http')}${item('over UDP', 'announces.byTransport.udp')}${item('over WebSocket', 'announces.byTransport.websocket')}${item('Scrapes', 'scrapes.requests')}</dl></section>
<section><h3>Failures since start</h3>
<dl class="totals">${item('Total', 'failures.total')}${item('request (malformed)', 'failures.byKind.request')}${item('denied (passkey, torrent, client)', 'failures.byKind.denied')}${item('refused (peer, interval)', 'failures.byKind.refused')}${item('full (limits)', 'failures.byKind.full')}${item('storage', 'failures.byKind.storage')}${item('internal', 'failures.byKind.internal')}</dl></section>
</div>`;
}

export function registerStats(app, site) {
  const { activity } = site;
  const dir = uplotDir();
  if (dir) {
    app.use('/vendor/uplot', express.static(dir, { index: false, redirect: false, fallthrough: false }));
  }

  const register = new Registry();
  trackerMetrics(site.core, { register });
  app.get('/metrics', async (req, res) => {
    res.type(register.contentType).send(await register.metrics());
  });

  app.get('/api/stats', (req, res) => {
    res.set('Cache-Control', 'no-store').json({ historySeconds: HISTORY_SECONDS, series: activity.series(), totals: activity.totals() ?? null });
  });

  app.get('/stats', (req, res) => {
    const body = html`
<h1>Tracker stats</h1>
<h2>Announces per second</h2>
<p class="note">One sample a second, the last ${HISTORY_SECONDS / 60} minutes (all transports: HTTP, UDP, WebSocket).</p>
${dir ? html`<div id="chart"></div>` : html`<p id="chart-missing" class="error">The chart library (uplot) is not installed: <code>npm install</code> in the repository.</p>`}
<h2>Now</h2>
<div id="totals">${totalsHtml(activity.totals() ?? {})}</div>
<p class="note">Counters are this process's since it started; swarm totals are live peers (see docs/monitoring.md in the package).
Prometheus: <a href="/metrics">/metrics</a>.</p>`;
    const scripts = dir ? ['/vendor/uplot/uPlot.min.css', '/vendor/uplot/uPlot.iife.min.js', '/static/stats.js'] : ['/static/stats.js'];
    res.type('html').send(page({ title: 'Stats', body, scripts, site: site.pageSite(req) }));
  });
}
