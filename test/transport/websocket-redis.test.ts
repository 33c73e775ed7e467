/**
 * The WebSocket tracker on several instances sharing Redis: WebSocket peers live in Redis, offers
 * and answers travel between instances over pub/sub, counts agree everywhere, a connection that
 * gave up a peer id never receives what is meant for its successor, and the peers of a crashed
 * instance leave their swarms.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { openStore } from '../../src/swarm/open.js';
import type { SwarmStore } from '../../src/swarm/types.js';
import { createTrackerServer, type TrackerServer } from '../../src/server.js';
import { ensureBuilt, startInstance, stopInstance, type Instance } from '../helpers/instances.js';
import { describeService, reachable, REDIS_URL, uniqueName } from '../helpers/store-services.js';
import { WsTestClient, wsId, wsOffer, type Frame } from '../helpers/ws.js';

const redisUp = await reachable(REDIS_URL);

describeService('Redis', redisUp, 'WebSocket tracker on two instances sharing Redis', () => {
  const namespace = uniqueName('wstest');
  const stores: SwarmStore[] = [];
  const servers: TrackerServer[] = [];
  const urls: string[] = [];
  const clients: WsTestClient[] = [];
  const children: Instance[] = [];

  async function instance(): Promise<string> {
    const { store } = await openStore(REDIS_URL, { namespace });
    stores.push(store);
    const server = createTrackerServer({ store });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await server.tracker.whenReady();
    return `ws://127.0.0.1:${(server.address() as { port: number }).port}/announce`;
  }
  async function connect(url: string): Promise<WsTestClient> {
    const c = await WsTestClient.open(url);
    clients.push(c);
    return c;
  }
  async function scrape(url: string, ih: string): Promise<Frame> {
    const c = await connect(url);
    c.send({ action: 'scrape', info_hash: ih });
    const answer = await c.next((f) => f.action === 'scrape');
    return ((answer.files as Record<string, Frame>)[ih] ?? {}) as Frame;
  }
  async function until(check: () => Promise<boolean>, ms = 8000): Promise<void> {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  beforeAll(async () => {
    urls.push(await instance(), await instance());
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await Promise.all(children.map(stopInstance));
    for (const s of servers) await s.shutdown();
    const raw = (stores[0] as unknown as { keyv: { store: { client: { sendCommand(a: string[]): Promise<unknown> } } } }).keyv.store.client;
    const keys = (await raw.sendCommand(['KEYS', `${namespace}*`])) as string[];
    if (keys.length > 0) await raw.sendCommand(['DEL', ...keys]);
    for (const s of stores) await s.close?.();
  });

  it('an offer made on one instance reaches a peer on the other, and the answer comes back; counts agree', async () => {
    const ih = wsId();
    const seeder = await connect(urls[0]);
    const leecher = await connect(urls[1]);
    expect(await seeder.announce({ info_hash: ih, peer_id: wsId('seeder'), left: 0, event: 'started' })).toMatchObject({ complete: 1, incomplete: 0 });
    expect(await leecher.announce({ info_hash: ih, peer_id: wsId('leecher'), left: 9, event: 'started', numwant: 1, offers: [wsOffer(1)] })).toMatchObject({ complete: 1, incomplete: 1 });
    const offer = await seeder.next((f) => f.offer !== undefined);
    expect(offer).toMatchObject({ peer_id: wsId('leecher'), offer_id: wsOffer(1).offer_id, info_hash: ih });
    seeder.send({ action: 'announce', info_hash: ih, peer_id: wsId('seeder'), to_peer_id: wsId('leecher'), offer_id: wsOffer(1).offer_id, answer: { type: 'answer', sdp: 'across' } });
    expect((await leecher.next((f) => f.answer !== undefined)).answer).toEqual({ type: 'answer', sdp: 'across' });
    for (const url of urls) expect(await scrape(url, ih)).toEqual({ complete: 1, incomplete: 1, downloaded: 0, downloaders: 1 });
    // Closing the seeder's socket on instance 0 removes it for instance 1 too.
    await seeder.close();
    await until(async () => (await scrape(urls[1], ih)).complete === 0);
  });

  it('a 6 000-level offer or answer relayed between the instances kills neither; their other clients are served', async () => {
    const ih = wsId();
    const deep = `{"type":"offer","sdp":${'['.repeat(6000)}1${']'.repeat(6000)}}`;
    const seeder = await connect(urls[0]);
    const leecher = await connect(urls[1]);
    const bystander = await connect(urls[0]);
    await seeder.announce({ info_hash: ih, peer_id: wsId('seeder'), left: 0, event: 'started' });
    await bystander.announce({ info_hash: ih, peer_id: wsId('bystander'), left: 0, event: 'started' });
    leecher.send(`{"action":"announce","info_hash":${JSON.stringify(ih)},"peer_id":"${wsId('leecher')}","left":9,"numwant":2,"offers":[{"offer_id":"${wsId('d1')}","offer":${deep}},{"offer_id":"${wsId('d2')}","offer":${deep}}]}`);
    expect((await leecher.next((f) => f['failure reason'] !== undefined))['failure reason']).toMatch(/^offer must be an object/);
    expect(await leecher.announce({ info_hash: ih, peer_id: wsId('leecher'), left: 9, numwant: 1, offers: [wsOffer('r')] })).toMatchObject({ complete: 2, incomplete: 1 });
    // The offer went to one of the two seeders on instance 0.
    const answerer = await Promise.race([seeder, bystander].map((c) => c.next((f) => f.offer !== undefined).then(() => c)));
    const from = answerer === seeder ? wsId('seeder') : wsId('bystander');
    answerer.send(`{"action":"announce","info_hash":${JSON.stringify(ih)},"peer_id":"${from}","to_peer_id":"${wsId('leecher')}","offer_id":"${wsOffer('r').offer_id}","answer":${deep}}`);
    expect((await answerer.next((f) => f['failure reason'] !== undefined))['failure reason']).toMatch(/^answer must be an object/);
    answerer.send({ action: 'announce', info_hash: ih, peer_id: from, to_peer_id: wsId('leecher'), offer_id: wsOffer('r').offer_id, answer: { type: 'answer', sdp: 'fine' } });
    expect((await leecher.next((f) => f.answer !== undefined)).answer).toEqual({ type: 'answer', sdp: 'fine' });
    for (const url of urls) expect(await scrape(url, ih)).toEqual({ complete: 2, incomplete: 1, downloaded: 0, downloaders: 1 });
  });

  it('a connection that gave up a peer id gets nothing meant for the connection that took it next', async () => {
    const ih = wsId();
    const first = await connect(urls[0]);
    await first.announce({ info_hash: ih, peer_id: wsId('moving'), left: 0, event: 'started' });
    await first.announce({ info_hash: ih, peer_id: wsId('moving'), left: 0, event: 'stopped' });
    const second = await connect(urls[1]);
    await second.announce({ info_hash: ih, peer_id: wsId('moving'), left: 0, event: 'started' });
    const asker = await connect(urls[0]);
    await asker.announce({ info_hash: ih, peer_id: wsId('asker'), left: 5, event: 'started', numwant: 1, offers: [wsOffer('m')] });
    expect(await second.next((f) => f.offer !== undefined)).toMatchObject({ offer_id: wsOffer('m').offer_id });
    // the successor answers; the predecessor (still connected) cannot
    first.send({ action: 'announce', info_hash: ih, peer_id: wsId('moving'), to_peer_id: wsId('asker'), offer_id: wsOffer('m').offer_id, answer: { type: 'answer', sdp: 'old' } });
    expect((await first.next((f) => f['failure reason'] !== undefined))['failure reason']).toBe('answer to an unknown or expired offer');
    second.send({ action: 'announce', info_hash: ih, peer_id: wsId('moving'), to_peer_id: wsId('asker'), offer_id: wsOffer('m').offer_id, answer: { type: 'answer', sdp: 'new' } });
    expect((await asker.next((f) => f.answer !== undefined)).answer).toEqual({ type: 'answer', sdp: 'new' });
    expect(first.pending().filter((f) => f.offer !== undefined)).toHaveLength(0);
  });

  it('a passkey forgotten on one instance cuts its member off on the other at once; the peers leave without the policy', async () => {
    const users: Record<string, string> = { carolkey1: 'carol', davekey22: 'dave' };
    const ns = uniqueName('wspriv');
    const made: Array<{ server: TrackerServer; store: SwarmStore }> = [];
    const open = async () => {
      const { store } = await openStore(REDIS_URL, { namespace: ns });
      const server = createTrackerServer({ store, passkey: (k) => users[k] ?? null });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      await server.tracker.whenReady();
      made.push({ server, store });
      return (server.address() as { port: number }).port;
    };
    try {
      const [a, b] = [await open(), await open()];
      const ih = wsId();
      const carol = await connect(`ws://127.0.0.1:${a}/carolkey1/announce`);
      const dave = await connect(`ws://127.0.0.1:${b}/davekey22/announce`);
      await carol.announce({ info_hash: ih, peer_id: wsId('carol'), left: 0, event: 'started' });
      expect(await dave.announce({ info_hash: ih, peer_id: wsId('dave'), left: 5, event: 'started' })).toMatchObject({ complete: 1, incomplete: 1 });
      delete users.carolkey1;
      await made[1].server.tracker.forgetPasskey('carolkey1'); // on the other instance
      expect(await carol.closedWith).toEqual({ code: 1008, reason: 'passkey revoked' });
      const counts = () => made[1].server.tracker.counts([Buffer.from(ih, 'latin1')], { webrtc: true });
      await until(async () => (await counts())[0].complete === 0);
      expect((await counts())[0]).toMatchObject({ complete: 0, incomplete: 1 });
      expect(dave.ws.readyState).toBe(1);
    } finally {
      for (const m of made) await m.server.shutdown();
      const raw = (made[0]?.store as unknown as { keyv: { store: { client: { sendCommand(a: string[]): Promise<unknown> } } } } | undefined)?.keyv.store.client;
      const keys = raw ? ((await raw.sendCommand(['KEYS', `${ns}*`])) as string[]) : [];
      if (raw && keys.length > 0) await raw.sendCommand(['DEL', ...keys]);
      for (const m of made) await m.store.close?.();
    }
  });

  it('the peers of a crashed instance leave the swarm as soon as another instance tries to reach them', async () => {
    ensureBuilt();
    const child = await startInstance('transport/fixtures/ws-instance.mjs', { STORE: REDIS_URL, NAMESPACE: namespace });
    children.push(child);
    const ih = wsId();
    const doomed = await connect(`ws://127.0.0.1:${child.port}/announce`);
    await doomed.announce({ info_hash: ih, peer_id: wsId('doomed'), left: 0, event: 'started' });
    expect(await scrape(urls[0], ih)).toEqual({ complete: 1, incomplete: 0, downloaded: 0, downloaders: 0 });
    process.kill(child.child.pid as number, 'SIGKILL');
    await new Promise((r) => child.child.once('exit', r));
    children.splice(children.indexOf(child), 1);
    await doomed.closed;
    // Its peer is still listed (nobody said stopped) until someone samples it: its route has no listener.
    const asker = await connect(urls[1]);
    await asker.announce({ info_hash: ih, peer_id: wsId('asker'), left: 5, event: 'started', numwant: 1, offers: [wsOffer('x')] });
    await until(async () => (await scrape(urls[0], ih)).complete === 0);
    expect(await scrape(urls[1], ih)).toEqual({ complete: 0, incomplete: 1, downloaded: 0, downloaders: 1 });
  });
});
