/**
 * Misconfiguration warnings, each logged once per tracker with a code, a sentence and where to read
 * more (the way express-rate-limit validates its set-up). They never change behaviour; turn them
 * off with `validate: false`, or one by one with `validate: { xForwardedFor: false, ... }`.
 */
import cluster from 'node:cluster';
import type { Request } from 'express';

/** The checks, by name. */
export type ValidationName = 'xForwardedFor' | 'trustProxy' | 'memoryStoreInCluster' | 'createdInRequest' | 'storageFailure';

/** The `validate` option: all on (default), all off, or per check. */
export type ValidateOption = boolean | Partial<Record<ValidationName, boolean>>;

const DOCS = 'https://www.npmjs.com/package/express-torrent-tracker#misconfiguration-warnings';

const WARNINGS: Record<ValidationName, { code: string; text: string }> = {
  xForwardedFor: {
    code: 'ERR_TRACKER_XFF_WITHOUT_TRUST_PROXY',
    text:
      "An announce arrived with an X-Forwarded-For header while the app's 'trust proxy' setting is off: behind a reverse proxy every peer is listed with the proxy's address and swarms silently break. Set app.set('trust proxy', 1) (the number of proxies in front of the app).",
  },
  trustProxy: {
    code: 'ERR_TRACKER_PERMISSIVE_TRUST_PROXY',
    text:
      "The app's 'trust proxy' setting is true: any client can choose its own address with X-Forwarded-For and list peers at third parties' addresses. Set it to the number of proxies in front of the app (e.g. 1) or their addresses instead.",
  },
  memoryStoreInCluster: {
    code: 'ERR_TRACKER_MEMORY_STORE_IN_CLUSTER',
    text:
      'The tracker keeps its swarms in memory inside a cluster worker (node:cluster or PM2 cluster mode): each process holds its own swarms, so peers of one process never see peers of another. Use a shared store: { store: "redis://..." }.',
  },
  createdInRequest: {
    code: 'ERR_TRACKER_CREATED_IN_REQUEST',
    text:
      'A tracker was created inside a request handler: every request gets a new tracker with empty swarms (and its own store connection). Create it once, when the app starts.',
  },
  storageFailure: {
    code: 'ERR_TRACKER_STORAGE',
    text:
      "The tracker's store failed and clients are being told so, but nothing listens for the tracker's 'failure' event, so this is the only time it is logged. Check that the store is running and reachable; `await router.ready()` at startup fails fast; listen with router.tracker.on('failure', ({ reason, error }) => ...) to see every failure.",
  },
};

/** Frames of Express's request dispatch (Express 5's `router` package, Express 4's own router). */
const REQUEST_FRAME = /[\\/](?:router|express)[\\/]lib[\\/](?:router[\\/])?layer\.js/;

/** The checks of one tracker, each warning at most once. */
export class Validations {
  private readonly off = new Set<ValidationName>();
  private readonly apps = new WeakSet<object>();

  constructor(
    option: ValidateOption | undefined,
    private readonly log: (message: string) => void = (message) => console.warn(message),
  ) {
    if (option === false) for (const name of Object.keys(WARNINGS) as ValidationName[]) this.off.add(name);
    else if (typeof option === 'object' && option !== null) {
      for (const [name, on] of Object.entries(option)) if (on === false && name in WARNINGS) this.off.add(name as ValidationName);
    }
  }

  /** Checks of the tracker's creation: where it is created, and a memory store in a cluster worker. */
  created(memoryStore: boolean): void {
    if (!this.off.has('createdInRequest') && REQUEST_FRAME.test(new Error().stack ?? '')) this.warn('createdInRequest');
    if (memoryStore && !this.off.has('memoryStoreInCluster')) {
      const pm2Cluster = process.env.exec_mode === 'cluster_mode' && process.env.pm_id !== undefined;
      if (cluster.isWorker || pm2Cluster) this.warn('memoryStoreInCluster');
    }
  }

  /** Checks of an Express request (cheap: one header look-up per request once the app was checked). */
  request(req: Request): void {
    const app = req.app as object | undefined;
    if (app && !this.apps.has(app)) {
      this.apps.add(app);
      if (req.app.get('trust proxy') === true && !this.off.has('trustProxy')) this.warn('trustProxy');
    }
    if (req.headers['x-forwarded-for'] !== undefined && !this.off.has('xForwardedFor')) {
      const trust: unknown = req.app?.get('trust proxy');
      if (trust === false || trust === undefined || trust === 0) this.warn('xForwardedFor');
    }
  }

  /** The first storage failure nobody listens for (`detail`: which store, the cause; no secrets). */
  storageFailure(detail: string): void {
    if (!this.off.has('storageFailure')) this.warn('storageFailure', detail);
  }

  private warn(name: ValidationName, detail?: string): void {
    this.off.add(name); // once
    const w = WARNINGS[name];
    this.log(`express-torrent-tracker: ${w.code}: ${detail ? `${detail}. ` : ''}${w.text} See ${DOCS}`);
  }
}
