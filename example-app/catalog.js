// The torrents this site publishes: the files of FILES_DIR at start, and what the admin uploads
// (kept in UPLOADS_DIR). Each is hashed once (createTorrent), named by this tracker and this site as a
// web seed, seeded by the site's own seeder when SEED_PORT is set, and listed with live counts.
// Every published torrent is registered in the tracker's registry (tracker.addTorrent: a hybrid
// torrent as its pair), where the admin API lists it and edits its rules; one unregistered through
// the admin API (the `torrentRemoved` event) leaves the site too, until the next start publishes its
// file again.
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { createTorrent, magnetLink, withTrackers } from '../dist/index.js';

/** Publishing jobs (uploads being hashed) are forgotten this long after they end. */
const JOB_TTL_MS = 10 * 60_000;
/** Live counts are shared by all visitors for this long. */
const COUNTS_CACHE_MS = 500;

export class Catalog {
  /**
   * @param {object} options
   * @param {import('../dist/index.js').Tracker} options.tracker the tracker core (for counts and forgetTorrent)
   * @param {boolean} options.private private torrents (BEP 27 flag), announce URLs with a passkey
   * @param {string} options.filesDir the web seed's first folder (the files published at start)
   * @param {string} options.uploadsDir the web seed's second folder (uploads)
   */
  constructor({ tracker, private: isPrivate, filesDir, uploadsDir, version = 'v1' }) {
    this.tracker = tracker;
    this.version = version;
    this.private = isPrivate;
    this.filesDir = filesDir;
    this.uploadsDir = uploadsDir;
    /** name → { name, dir, torrent (createTorrent result), publishedAt } in publishing order. */
    this.byName = new Map();
    /** info hash (hex) of every swarm (a hybrid torrent has two) → the same entry. */
    this.byInfoHash = new Map();
    /** Names being published (an upload being hashed), so two uploads cannot take one name. */
    this.reserved = new Set();
    /** job id → { id, name, state: 'hashing' | 'published' | 'failed', hashed, total, steps, error }. */
    this.jobs = new Map();
    this.publicUrl = undefined;
    this.udpUrl = undefined;
    this.seeder = undefined;
    /** Private mode: the site seeder's own passkey (user 0, see users.js). */
    this.seederPasskey = undefined;
    /** { at, promise } of the last counts() (see COUNTS_CACHE_MS). */
    this.countsCache = undefined;
    /** Promise of info hash → true for the torrents registered before this start (a store that keeps them). */
    this.registeredBefore = undefined;
    tracker.on('torrentRemoved', ({ infoHash }) => void this.unpublish(infoHash));
  }

  /**
   * Register a published torrent in the tracker's registry, unless a store that outlives the process
   * (Redis, SQL) has it already: then the rules the admin gave it stay.
   */
  async register(torrent) {
    this.registeredBefore ??= this.listRegistered();
    if ((await this.registeredBefore).has(torrent.infoHash)) return;
    await this.tracker.addTorrent(torrent.infoHashV2 ? { infoHash: torrent.infoHash, infoHashV2: torrent.infoHashV2 } : torrent.infoHash);
  }

  async listRegistered() {
    const known = new Set();
    try {
      for (let offset = 0; ; offset += 500) {
        const page = await this.tracker.listTorrents({ offset, limit: 500 });
        for (const t of page.torrents) known.add(t.infoHash);
        if (page.torrents.length === 0 || offset + page.torrents.length >= page.total) break;
      }
    } catch (error) {
      console.warn(`could not list the registered torrents (${error.message}): publishing registers every torrent again`);
    }
    return known;
  }

  /** A torrent unregistered through the admin API: off the site's pages and its seeder. */
  async unpublish(infoHash) {
    const entry = this.byInfoHash.get(infoHash);
    if (!entry) return;
    this.byName.delete(entry.name);
    this.byInfoHash.delete(entry.torrent.infoHash);
    if (entry.torrent.infoHashV2) this.byInfoHash.delete(entry.torrent.infoHashV2.slice(0, 40));
    this.countsCache = undefined;
    console.log(`unpublished ${entry.name}: ${infoHash} (unregistered)`);
    await this.seeder?.remove(entry.torrent.infoHash).catch((error) => console.error(`[seeder] could not remove ${entry.name}: ${error.message}`));
  }

  /** Set once the server listens (the port may have been 0). */
  setEndpoints({ publicUrl, udpUrl, seeder, seederPasskey }) {
    Object.assign(this, { publicUrl, udpUrl, seeder, seederPasskey });
  }

  /** Announce tiers for a passkey (private) or for everyone (public; private torrents' stored URLs). */
  announceTiers(passkey) {
    const http = `${this.publicUrl}/tracker${passkey ? `/${passkey}` : ''}/announce`;
    const udp = this.udpUrl && (passkey ? this.udpUrl.replace(/\/announce$/, `/${passkey}/announce`) : this.udpUrl);
    // Tiers: UDP first when enabled (cheapest), then HTTP, then WebSocket (only WebTorrent speaks it;
    // WebTorrent skips the others, and other clients skip ws://).
    return [...(udp ? [[udp]] : []), [http], [http.replace(/^http/, 'ws')]];
  }

  /**
   * The web seed URL of a published entry (BEP 19); in the private mode a member's own, with their
   * passkey (the site serves private torrents' files only to members: see server.js).
   */
  webSeed(name, isDirectory, passkey) {
    // A folder's web seed is the base URL (clients append <name>/<path>); a single file's is the
    // file's own URL (WebTorrent requests a single-file url-list as it is, even one ending in /).
    const base = `${this.publicUrl}/webseed/${passkey ? `${passkey}/` : ''}`;
    return isDirectory ? base : `${base}${encodeURIComponent(name)}`;
  }

  /** The web seed URLs of an entry for a visitor (a member's own in the private mode, none for others). */
  webSeeds(entry, passkey) {
    if (!this.private) return entry.torrent.urlList;
    return passkey ? [this.webSeed(entry.name, entry.isDirectory, passkey)] : [];
  }

  has(name) {
    return this.byName.has(name) || this.reserved.has(name);
  }

  list() {
    return [...this.byName.values()];
  }

  /** Publish every top-level entry of `dir` (not dotfiles). */
  async publishFolder(dir) {
    let entries;
    try {
      entries = (await readdir(dir, { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
    } catch (error) {
      if (error.code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries) {
      if (this.has(entry.name)) {
        console.warn(`not publishing ${path.join(dir, entry.name)}: a torrent named ${entry.name} exists already`);
        continue;
      }
      await this.publish(dir, entry.name, { isDirectory: entry.isDirectory() });
    }
  }

  /**
   * Start publishing `dir/name` as a job whose progress can be polled; resolves with the job at once.
   * The name must be reserved by the caller (see reserve()).
   */
  startJob(dir, name, { isDirectory = false, onFailure } = {}) {
    const job = { id: randomBytes(12).toString('hex'), name, state: 'hashing', hashed: 0, total: 0, steps: 0, error: undefined };
    this.jobs.set(job.id, job);
    this.publish(dir, name, { isDirectory, job })
      .then(() => {
        job.state = 'published';
      })
      .catch((error) => {
        job.state = 'failed';
        job.error = error.message;
        console.error(`could not publish ${name}: ${error.message}`);
        return onFailure?.(error);
      })
      .finally(() => {
        this.reserved.delete(name);
        setTimeout(() => this.jobs.delete(job.id), JOB_TTL_MS).unref();
      });
    return job;
  }

  /** Reserve `name` for an upload; false when it is taken. */
  reserve(name) {
    if (this.has(name)) return false;
    this.reserved.add(name);
    return true;
  }

  release(name) {
    this.reserved.delete(name);
  }

  async publish(dir, name, { isDirectory = false, job } = {}) {
    const torrent = await createTorrent(path.join(dir, name), {
      announce: this.announceTiers(),
      // Private mode: no web seed in the torrent as published; each member's .torrent gets their own.
      webSeeds: this.private ? undefined : this.webSeed(name, isDirectory),
      private: this.private,
      createdBy: 'express-torrent-tracker demo',
      version: this.version,
      onProgress: job
        ? (hashed, total) => {
            job.hashed = hashed;
            job.total = total;
            job.steps++;
          }
        : undefined,
    });
    const entry = { name, dir, isDirectory, torrent, publishedAt: new Date() };
    // Registered first (the private tracker answers registered torrents only), then listed.
    await this.register(torrent);
    this.countsCache = undefined;
    this.byName.set(name, entry);
    this.byInfoHash.set(torrent.infoHash, entry);
    if (torrent.infoHashV2) this.byInfoHash.set(torrent.infoHashV2.slice(0, 40), entry);
    // Private mode: somebody may have announced it before it was registered; drop the cached refusal.
    if (this.private) await this.tracker.forgetTorrent(torrent);
    if (this.seeder) {
      await this.seeder.add(torrent.torrent, dir, {
        verify: false,
        ...(this.private ? { announce: this.announceTiers(this.seederPasskey).filter(([url]) => !url.startsWith('ws')) } : {}),
      });
    }
    if (job) {
      job.hashed = job.total = torrent.length;
    }
    console.log(`published ${name}: ${torrent.infoHash}`);
    return entry;
  }

  /**
   * The .torrent for a visitor: as published (public mode), or with the user's own announce URLs
   * (private mode). The info dictionary, and so the info hash, stays byte for byte the same.
   */
  torrentFile(entry, passkey) {
    if (!passkey) return entry.torrent.torrent;
    // The member's own trackers and web seed, in the order the published torrent has them;
    // withTrackers keeps every other byte (info, piece layers) as published: the same info hashes.
    return withTrackers(entry.torrent.torrent, { announce: this.announceTiers(passkey), webSeeds: this.webSeeds(entry, passkey) });
  }

  /** The magnet link for a visitor (with the user's passkey in private mode). */
  magnet(entry, passkey) {
    if (!passkey) return entry.torrent.magnet;
    const t = entry.torrent;
    return magnetLink({ ...t, announce: this.announceTiers(passkey), urlList: this.webSeeds(entry, passkey) });
  }

  /**
   * Live counts of every published torrent: BitTorrent and WebTorrent (browser) swarms added up.
   * `{ name, infoHash, seeders, leechers, downloads }` in publishing order.
   */
  counts() {
    // Every visitor's page polls: one store call a second at most, shared by all of them.
    const now = Date.now();
    if (!this.countsCache || now - this.countsCache.at > COUNTS_CACHE_MS) {
      const promise = this.freshCounts();
      this.countsCache = { at: now, promise };
      promise.catch(() => {
        if (this.countsCache?.promise === promise) this.countsCache = undefined;
      });
    }
    return this.countsCache.promise;
  }

  async freshCounts() {
    const entries = this.list();
    // The torrents themselves, not their hashes: a hybrid torrent's two swarms count once.
    const torrents = entries.map((e) => e.torrent);
    const [tcp, rtc] = await Promise.all([this.tracker.counts(torrents), this.tracker.counts(torrents, { webrtc: true })]);
    return entries.map((e, i) => ({
      name: e.name,
      infoHash: e.torrent.infoHash,
      seeders: tcp[i].complete + rtc[i].complete,
      leechers: tcp[i].incomplete + rtc[i].incomplete,
      downloads: tcp[i].downloaded + rtc[i].downloaded,
    }));
  }
}
