// What the tracker is doing, for the stats and home pages: announces per second over the last
// minutes (a ring buffer of one sample a second, from tracker.stats(), which scans nothing), the
// current totals, and the last few announces. A peer's address is never kept here: a page must not
// show one visitor's address to the others.

/** Seconds of history kept (and drawn). */
export const HISTORY_SECONDS = 600;

export class Activity {
  constructor(tracker) {
    this.tracker = tracker;
    /** Per-second samples: time (unix seconds) and announces in that second; a ring of HISTORY_SECONDS. */
    this.times = new Float64Array(HISTORY_SECONDS);
    this.values = new Float64Array(HISTORY_SECONDS);
    this.count = 0;
    this.next = 0;
    this.lastTotal = undefined;
    this.latest = undefined;
    this.recent = [];
    this.onAnnounce = (e) => {
      this.recent.unshift({ at: new Date().toISOString(), infoHash: e.infoHash, event: e.event, seeder: e.seeder });
      this.recent.length = Math.min(this.recent.length, 10);
    };
    tracker.on('announce', this.onAnnounce);
    this.timer = setInterval(() => void this.sample().catch(() => undefined), 1000);
    this.timer.unref();
    void this.sample().catch(() => undefined);
  }

  async sample() {
    const stats = await this.tracker.stats();
    this.latest = stats;
    const total = stats.announces.total;
    if (this.lastTotal !== undefined) {
      this.times[this.next] = Math.floor(Date.now() / 1000);
      this.values[this.next] = Math.max(0, total - this.lastTotal);
      this.next = (this.next + 1) % HISTORY_SECONDS;
      this.count = Math.min(this.count + 1, HISTORY_SECONDS);
    }
    this.lastTotal = total;
  }

  /** `[[times…], [announces per second…]]`, oldest first (uPlot's data layout). */
  series() {
    const times = [];
    const values = [];
    const start = (this.next - this.count + HISTORY_SECONDS) % HISTORY_SECONDS;
    for (let i = 0; i < this.count; i++) {
      const j = (start + i) % HISTORY_SECONDS;
      times.push(this.times[j]);
      values.push(this.values[j]);
    }
    return [times, values];
  }

  /** The totals shown on the stats page (from the last sample; counts, never addresses). */
  totals() {
    const s = this.latest;
    if (!s) return undefined;
    const swarm = (t) => (t ? { torrents: t.torrents, seeders: t.seeders, leechers: t.leechers, peers: t.peers } : null);
    return {
      swarms: swarm(s.swarms),
      webrtcSwarms: swarm(s.webrtcSwarms),
      announces: s.announces,
      scrapes: s.scrapes,
      failures: s.failures,
    };
  }

  close() {
    clearInterval(this.timer);
    this.tracker.off('announce', this.onAnnounce);
  }
}
