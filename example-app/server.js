// The demo site: an ordinary Express app that runs its own BitTorrent tracker at /tracker,
// publishes the files of FILES_DIR (and what the admin uploads) as torrents, serves them as web
// seeds at /webseed, and shows what the tracker does.
//
//   npm start                                   # memory store, port 3000
//   PORT=8080 TRACKER_STORE=redis://127.0.0.1:6379 npm start
//   PUBLIC_URL=https://files.example.org SEED_PORT=6881 ADMIN_TOKEN=… npm start
//   PRIVATE=1 SQLITE_FILE=/var/lib/site/users.sqlite npm start
//
// Environment: see config.js. Run from the repository root (npm start builds the library first).
// The parts, one concept a file:
//   config.js          environment variables
//   catalog.js         the published torrents (hashing, seeding, personal .torrent files, live counts)
//   activity.js        announces per second and totals for the stats page
//   auth.js            admin token and cookies;  users.js: accounts, passkeys, traffic (SQLite)
//   uploads.js         admin uploads (multer), safe file names
//   pages/*.js         one file per page: home, torrent, stats (+ /metrics), admin, account
//   public/*           the pages' scripts and style
//
// Browsers are peers too: the WebTorrent (WebSocket) tracker answers at ws://host/tracker/announce
// (wss:// behind https), on the same swarms' store, and every published torrent lists it.
import express from 'express';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createSeeder, createUdpTracker, createWebSocketTracker, trackerMiddleware, webSeedHandler } from '../dist/index.js';
import { Activity } from './activity.js';
import { AdminAuth, cookies, SESSION_COOKIE } from './auth.js';
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

let catalog;
const router = trackerMiddleware({
  store: config.store,
  ...(config.private
    ? {
        passkey: (passkey) => (passkey === seederPasskey ? SITE_USER : users.userIdByPasskey(passkey)),
        // Only the torrents this site published.
        torrents: (infoHash) => catalog.byInfoHash.has(infoHash),
        onTraffic: (records) => users.addTraffic(records),
        trafficInterval: config.trafficInterval,
      }
    : {}),
});
const core = router.tracker;
catalog = new Catalog({ tracker: core, private: config.private, filesDir: config.filesDir, uploadsDir: config.uploadsDir });
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
app.use('/tracker', router);
// Web seeds: the published folder first, then the uploads (a name is published from one of them only).
app.use('/webseed', webSeedHandler(config.filesDir, { fallthrough: true }), webSeedHandler(config.uploadsDir));
app.get('/favicon.ico', (req, res) => void res.status(204).end());
app.use('/static', express.static(path.join(here, 'public'), { index: false, redirect: false, fallthrough: false }));

// Pages: headers that keep passkeys in personal URLs out of Referer, and no framing.
app.use((req, res, next) => {
  res.set({ 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'same-origin', 'X-Frame-Options': 'DENY' });
  next();
});
if (users) {
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

const server = app.listen(config.port, async (error) => {
  if (error) {
    console.error(`cannot listen on port ${config.port}: ${error.message}`);
    process.exit(1);
  }
  const actual = server.address().port;
  const publicUrl = config.publicUrl ?? `http://localhost:${actual}`;
  console.log(
    `express-torrent-tracker demo on http://localhost:${actual} (tracker at /tracker/announce, WebTorrent at ws://…/tracker/announce${config.private ? ', private: passkeys' : ''})`,
  );
  if (!config.webTorrentBundle) console.log('in-browser download off: WebTorrent bundle not found (set WEBTORRENT_JS)');
  console.log(site.admin.enabled ? 'admin page: /admin (ADMIN_TOKEN)' : 'admin page disabled (set ADMIN_TOKEN to upload files)');
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

async function shutdown() {
  server.close();
  activity.close();
  await webSocket.close();
  await udp?.close();
  await seeder?.close();
  await router.close().catch((error) => console.error(`[tracker] last traffic batch not written: ${error.message}`));
  await users?.close();
  process.exit(0);
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
