/** A small WebTorrent tracker client for tests: queued frames, awaited one at a time, and close codes. */
import WebSocket from 'ws';

/** A 20-character latin1 id from a short label (padded), or random. */
export function wsId(label?: string): string {
  if (label !== undefined) return label.padEnd(20, '.').slice(0, 20);
  let s = '';
  for (let i = 0; i < 20; i++) s += String.fromCharCode(Math.floor(Math.random() * 256));
  return s;
}

export type Frame = Record<string, unknown>;

export class WsTestClient {
  readonly ws: WebSocket;
  private readonly queue: Frame[] = [];
  private waiters: Array<{ match: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  /** Resolves with the close code once the socket closed. */
  readonly closed: Promise<number>;
  /** Resolves with the close code and reason once the socket closed. */
  readonly closedWith: Promise<{ code: number; reason: string }>;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      const i = this.waiters.findIndex((w) => w.match(frame));
      if (i >= 0) this.waiters.splice(i, 1)[0].resolve(frame);
      else this.queue.push(frame);
    });
    ws.on('error', () => undefined);
    this.closedWith = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
    this.closed = this.closedWith.then((c) => c.code);
  }

  static open(url: string, options: WebSocket.ClientOptions = {}): Promise<WsTestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      const client = new WsTestClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  send(frame: Frame | string): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next frame matching `match` (default: any), within `ms`. */
  next(match: (f: Frame) => boolean = () => true, ms = 5000): Promise<Frame> {
    const i = this.queue.findIndex(match);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve: (f: Frame) => (clearTimeout(timer), resolve(f)) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching frame within ${ms} ms; queued: ${JSON.stringify(this.queue).slice(0, 500)}`));
      }, ms);
      this.waiters.push(waiter);
    });
  }

  /** Frames received and not consumed yet. */
  pending(): Frame[] {
    return [...this.queue];
  }

  /** Announce and wait for the answer to it (counts or a failure for this info hash). */
  async announce(frame: Frame): Promise<Frame> {
    this.send({ action: 'announce', ...frame });
    return this.next((f) => f.info_hash === frame.info_hash && (f.interval !== undefined || f['failure reason'] !== undefined));
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close();
    await this.closed;
  }
}

/** An offer as clients send them. */
export function wsOffer(n: number | string): { offer_id: string; offer: { type: string; sdp: string } } {
  return { offer_id: wsId(`offer-${n}`), offer: { type: 'offer', sdp: `v=0 offer ${n}` } };
}
