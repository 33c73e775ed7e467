/** One tracker on every door (Express HTTP, UDP, WebSocket) on ephemeral ports, and small clients for ban tests. */
import { randomBytes } from 'node:crypto';
import type { TrackerOptions } from '../../src/tracker.js';
import { createUdpTracker, type UdpTracker } from '../../src/transport/udp.js';
import { createWebSocketTracker, type WebSocketTracker } from '../../src/transport/websocket.js';
import { compactPeers, decodeDict } from './bdecode.js';
import { escapeAll } from './escape.js';
import { rawGet, startApp, type RunningApp } from './http.js';
import { announcePacket, decodeAnnounce, decodeAnswer, UdpTestClient } from './udp.js';
import { WsTestClient } from './ws.js';

export interface Doors {
  app: RunningApp;
  udp: UdpTracker;
  udpPort: number;
  wss: WebSocketTracker;
  /** ws://127.0.0.1:port/tracker/announce (with the passkey segment when given). */
  wsUrl(passkey?: string): string;
  close(): Promise<void>;
}

export async function startDoors(options: TrackerOptions = {}): Promise<Doors> {
  const app = await startApp(options);
  const udp = createUdpTracker({ tracker: app.router.tracker });
  const udpPort = (await udp.listen(0, '127.0.0.1')).port;
  const wss = createWebSocketTracker({ tracker: app.router.tracker, server: app.server, path: '/tracker' });
  await app.router.tracker.whenReady();
  return {
    app,
    udp,
    udpPort,
    wss,
    wsUrl: (passkey) => `ws://127.0.0.1:${app.port}/tracker${passkey ? `/${passkey}` : ''}/announce`,
    close: async () => {
      await wss.close();
      await udp.close();
      await app.close();
    },
  };
}

export interface HttpAnnounce {
  infoHash: Buffer;
  peerId: Buffer;
  port?: number;
  from?: string;
  passkey?: string;
  event?: string;
  compact?: boolean;
}

/** One HTTP announce: the failure reason, or the peers ("a.b.c.d:port") and counts. */
export async function httpAnnounce(doors: Doors, a: HttpAnnounce): Promise<{ failure?: string; peers: string[]; complete?: number; incomplete?: number }> {
  const path = `/tracker${a.passkey ? `/${a.passkey}` : ''}/announce?info_hash=${escapeAll(a.infoHash)}&peer_id=${escapeAll(a.peerId)}&port=${a.port ?? 6881}&uploaded=0&downloaded=0&left=5${a.event ? `&event=${a.event}` : ''}${a.compact === false ? '&compact=0' : ''}`;
  const body = decodeDict((await rawGet(doors.app.port, path, { localAddress: a.from })).body);
  if (body['failure reason'] !== undefined) return { failure: String(body['failure reason']), peers: [] };
  const peers = Array.isArray(body.peers)
    ? (body.peers as Array<Record<string, unknown>>).map((p) => `${String(p.ip)}:${String(p.port)}`)
    : compactPeers(body.peers, 4);
  return { peers, complete: body.complete as number, incomplete: body.incomplete as number };
}

/** One UDP announce from `from` (127.0.0.x): the failure reason or the peers. */
export async function udpAnnounce(port: number, a: { infoHash: Buffer; peerId: Buffer; from?: string; passkey?: string; peerPort?: number }): Promise<{ failure?: string; peers: string[] }> {
  const c = new UdpTestClient(4, '127.0.0.1', port);
  await c.bind(a.from ?? '127.0.0.1');
  try {
    const connectionId = await c.connect();
    const tx = randomBytes(4).readUInt32BE(0);
    const answer = await c.request(announcePacket({ connectionId, tx, infoHash: a.infoHash, peerId: a.peerId, port: a.peerPort ?? 7000, urlData: a.passkey ? `/${a.passkey}/announce` : undefined }), tx);
    const { action, body } = decodeAnswer(answer);
    if (action === 3) return { failure: body.toString(), peers: [] };
    return { peers: decodeAnnounce(answer, 4).peers };
  } finally {
    await c.close();
  }
}

/** Open a WebSocket to `url`. */
export function wsClient(url: string, from?: string): Promise<WsTestClient> {
  return WsTestClient.open(url, from ? { localAddress: from } : {});
}

/** Wait until `check` holds; the time it took (ms). */
export async function until(check: () => Promise<boolean> | boolean, ms = 5000, every = 10): Promise<number> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, every));
  }
  return performance.now() - start;
}
