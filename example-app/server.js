// The demo site: an ordinary Express app that runs its own BitTorrent tracker at /tracker,
// publishes the files of FILES_DIR (and what the admin uploads) as torrents, serves them as web
// seeds at /webseed, and shows what the tracker does.
//
//   npm start                                   # memory store, 127.0.0.1 port 3000
//   HOST=0.0.0.0 PORT=8080 TRACKER_STORE=redis://127.0.0.1:6379 npm start
//   PUBLIC_URL=https://files.example.org SEED_PORT=6881 ADMIN_TOKEN=… npm start
//   PRIVATE=1 SQLITE_FILE=/var/lib/site/users.sqlite npm start
//
// Environment: see config.js. Run from the repository root (npm start builds the library first).
// The parts, one concept a file:
//   config.js          environment variables
//   catalog.js         the published torrents (hashing, seeding, personal .torrent files, live counts)
//   activity.js        announces per second and totals for the stats page
//   auth.js            admin token, cookies, cross-site POST refusal, CSRF tokens
//   users.js           accounts, passkeys, traffic (SQLite)
//   uploads.js         admin uploads (multer), safe file names
//   pages/*.js         one file per page: home, torrent, stats (+ /metrics), admin (+ the admin API), account
//   public/*           the pages' scripts and style
//
// Browsers are peers too: the WebTorrent (WebSocket) tracker answers at ws://host/tracker/announce
// (wss:// behind https), on the same swarms' store, and every published torrent lists it.
import express from 'express';
import { rateLimit } from 'express-rate-limit';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createSeeder, createUdpTracker, createWebSocketTracker, trackerHealth, trackerMiddleware, webSeedHandler } from '../dist/index.js';
import { Activity } from './activity.js';
import { AdminAuth, cookies, CsrfTokens, sameOriginPosts, SESSION_COOKIE } from './auth.js';
import { Catalog } from './catalog.js';
import { config, here } from './config.js';
import { registerAccounts } from './pages/account.js';
import { registerAdmin } from './pages/admin.js';
import { registerHome } from './pages/home.js';
import { registerStats } from './pages/stats.js';
import { registerTorrentPage } from './pages/torrent.js';
import { SITE_USER, Users } from './users.js';

const users = config.private ? await Users.open(config.sqliteFile) : undefined;
// The site's own seeder announces with a passkey of its own in the private mode (user 0, never stored).
const seederPasskey = config.private ? randomBytes(16).toString('hex') : undefined;

const router = trackerMiddleware({
  store: config.store,
  // Per-torrent history for the torrent pages' chart and "downloads this week" (tracker.history()).
  history: true,
  ...(config.private
    ? {
        passkey: (passkey) => (passkey === seederPasskey ? SITE_USER : users.userIdByPasskey(passkey)),
        // Only the torrents this site published: the catalog registers each one in the tracker's
        // registry (a hybrid torrent as its pair, so its two swarms are one torrent, credited and
        // counted once), where the admin API changes its rules or unregisters it.
        torrents: 'registry',
        onTraffic: (records) => users.addTraffic(records),
        trafficInterval: config.trafficInterval,
      }
    : {}),
});
const core = router.tracker;
const catalog = new Catalog({ tracker: core, private: config.private, filesDir: config.filesDir, uploadsDir: config.uploadsDir, version: config.torrentVersion });
core.on('failure', (f) => {
  if (!String(f.reason).startsWith('tracker storage') && !String(f.reason).startsWith('onTraffic')) return;
  console.error(`[tracker] ${f.reason}${f.error ? `: ${f.error.cause ?? f.error}` : ''}`);
});
const activity = new Activity(core);
// One core, several doors: UDP and WebSocket announces land in the same store as HTTP ones.
const udp = config.udpPort !== undefined ? createUdpTracker({ tracker: core }) : undefined;
let seeder;

const secure = (config.publicUrl ?? '').startsWith('https:');
const site = {
  config,
  router,
  core,
  catalog,
  activity,
  users,
  private: config.private,
  secure,
  admin: new AdminAuth(config.adminToken, { secure }),
  csrf: config.private ? new CsrfTokens({ secure }) : undefined,
  /** Private mode: sign-ups per client address per hour (SIGNUP_LIMIT); only accounts made count. */
  signupLimiter: config.private
    ? rateLimit({
        windowMs: 3600_000,
        limit: config.signupLimit,
        skipFailedRequests: true,
        standardHeaders: 'draft-8',
        legacyHeaders: false,
        message: 'Too many sign-ups from your address: try again in an hour.\n',
      })
    : undefined,
  /** Private mode: sign-in attempts per client address per 15 minutes (passkeys cannot be guessed, but why let anyone try). */
  signinLimiter: config.private
    ? rateLimit({ windowMs: 15 * 60_000, limit: 30, skipSuccessfulRequests: true, standardHeaders: 'draft-8', legacyHeaders: false, message: 'Too many sign-in attempts: try again later.\n' })
    : undefined,
  seeder: () => seeder,
  storeLabel: config.store ? config.store.replace(/\/\/[^@/]*@/, '//…@') : 'memory (this process)',
  /** The announce URLs as a visitor of this request sees them. */
  announceUrls(req) {
    const http = `${req.protocol}://${req.get('host')}/tracker/announce`;
    return { http, ws: http.replace(/^http/, 'ws') };
  },
  /** What the page layout needs to know about the visitor. */
  pageSite(req) {
    return { private: config.private, user: req.user };
  },
};

const app = express();
// For load balancers: GET /livez (the process answers) and GET /readyz (503 once draining or the store is down).
app.use(trackerHealth(router));
app.use('/tracker', router);
// Web seeds: the published folder first, then the uploads (a name is published from one of them only).
const webSeeds = [webSeedHandler(config.filesDir, { fallthrough: true }), webSeedHandler(config.uploadsDir)];
if (users) {
  // Private mode: members only. A BitTorrent client fetching from a web seed sends no cookie, so the
  // URL carries the member's passkey, as the announce URL does: /webseed/<passkey>/<name>, written into
  // each member's own .torrent (catalog.torrentFile). A new passkey ends the old URLs too.
  const membersOnly = async (req, res, next) => {
    try {
      const passkey = req.params.passkey;
      if (/^[0-9a-f]{32}$/.test(passkey) && (await users.userIdByPasskey(passkey)) !== undefined) return next();
      res.status(403).type('text/plain').send('members only: use the web seed URL of your personal .torrent\n');
    } catch (error) {
      next(error);
    }
  };
  app.use('/webseed/:passkey', membersOnly, ...webSeeds);
  app.use('/webseed', (req, res) => void res.status(403).type('text/plain').send('members only: use the web seed URL of your personal .torrent\n'));
} else {
  app.use('/webseed', ...webSeeds);
}
app.get('/favicon.ico', (req, res) => void res.status(204).end());
app.use('/static', express.static(path.join(here, 'public'), { index: false, redirect: false, fallthrough: false }));

// Pages: headers that keep passkeys in personal URLs out of Referer, and no framing.
app.use((req, res, next) => {
  res.set({ 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'same-origin', 'X-Frame-Options': 'DENY' });
  next();
});
// No form of this site may be sent from another origin (login CSRF, and the admin's forms).
app.use(sameOriginPosts({ publicUrl: config.publicUrl }));
if (users) {
  app.use(site.csrf.issue());
  // The signed-in user (private mode), from the session cookie.
  app.use(async (req, res, next) => {
    try {
      req.user = await users.bySession(cookies(req)[SESSION_COOKIE]);
      next();
    } catch (error) {
      next(error);
    }
  });
}
registerHome(app, site);
registerTorrentPage(app, site);
registerStats(app, site);
registerAdmin(app, site);
registerAccounts(app, site);
// Errors: a short answer, never a stack (with paths) to the visitor.
app.use((error, req, res, next) => {
  console.error(`[site] ${req.method} ${req.path}: ${error.stack ?? error}`);
  if (res.headersSent) return void next(error);
  res.status(500).type('text/plain').send('internal error\n');
});

/** How a browser on this machine reaches the address we listen on. */
function urlHost(address) {
  if (['0.0.0.0', '::', '127.0.0.1', '::1'].includes(address)) return 'localhost';
  return address.includes(':') ? `[${address}]` : address;
}

const server = app.listen(config.port, config.host, async (error) => {
  if (error) {
    console.error(`cannot listen on ${config.host} port ${config.port}: ${error.message}`);
    process.exit(1);
  }
  const { address, port: actual } = server.address();
  const publicUrl = config.publicUrl ?? `http://${urlHost(address)}:${actual}`;
  console.log(
    `express-torrent-tracker demo on http://${urlHost(address)}:${actual} (listening on ${address.includes(':') ? `[${address}]` : address}:${actual}; tracker at /tracker/announce, WebTorrent at ws://…/tracker/announce${config.private ? ', private: passkeys' : ''})`,
  );
  if (address === '127.0.0.1' || address === '::1') console.log('only this machine can connect (set HOST=0.0.0.0 to listen on every interface)');
  if (!config.webTorrentBundle) console.log('in-browser download off: WebTorrent bundle not found (see WEBTORRENT_JS in example-app/config.js)');
  console.log(site.admin.enabled ? 'admin page: /admin, admin API: /admin/api (ADMIN_TOKEN)' : 'admin page disabled (set ADMIN_TOKEN to upload files and run the tracker)');
  try {
    let udpUrl;
    if (udp) {
      const bound = await udp.listen(config.udpPort);
      udpUrl = `udp://${new URL(publicUrl).hostname}:${bound.port}/announce`;
      console.log(`UDP tracker on port ${bound.port}: ${udpUrl}`);
    }
    if (config.seedPort !== undefined) seeder = await createSeeder({ port: config.seedPort });
    catalog.setEndpoints({ publicUrl, udpUrl, seeder, seederPasskey });
    await catalog.publishFolder(config.filesDir);
    await catalog.publishFolder(config.uploadsDir);
  } catch (error) {
    console.error(`could not publish ${config.filesDir}: ${error.message}`);
  }
});
// Browsers announce over WebSocket at the same URL: ws://host/tracker/announce.
const webSocket = createWebSocketTracker({ tracker: core, server, path: '/tracker' });

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  activity.close();
  // Readiness fails at once; WebSockets get 1001 (browsers reconnect elsewhere), UDP datagrams are
  // dropped, the last onTraffic batch is handed over, then the store closes. New page requests are
  // refused from now on; requests in flight are answered.
  server.close();
  const idle = setInterval(() => server.closeIdleConnections(), 100);
  const drained = await router.drain({ timeout: 10_000 });
  for (const error of drained.errors) console.error(`[tracker] while draining: ${error}`);
  await webSocket.close();
  await udp?.close();
  await seeder?.close();
  await users?.close();
  clearInterval(idle);
  process.exit(0);
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
