// Shared by the bench servers: listen on 127.0.0.1:0 (or PORT) and report the port on stdout.
export function ready(server, name) {
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    const { port } = server.address();
    process.stdout.write(`listening ${port}\n`);
  });
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('uncaughtException', (error) => {
    console.error(`${name}: ${error.stack ?? error}`);
    process.exit(1);
  });
}

/** A realistic constant answer: a compact announce with 50 IPv4 peers. */
export function constantAnswer() {
  const peers = Buffer.alloc(50 * 6, 7);
  return Buffer.concat([
    Buffer.from(`d8:completei30e10:downloadedi0e10:incompletei70e8:intervali1800e12:min intervali900e5:peers${peers.length}:`),
    peers,
    Buffer.from('e'),
  ]);
}

/**
 * With an IPC channel (spawned with 'ipc' in stdio), for the WebSocket bench:
 * - `memory`: answer with process.memoryUsage() after full collections (needs --expose-gc);
 * - `{ heapSnapshot: file }`: a heap snapshot after full collections (answered with { snapshot: file });
 * - `{ profileStart: true }` / `{ profileStop: file }`: a CPU profile of just the measured window,
 *   written to `file` (node:inspector; answered with { profiled: file }).
 */
export function memoryOnRequest() {
  if (!process.send) return;
  let session;
  process.on('message', async (message) => {
    if (message === 'memory') {
      for (let i = 0; i < 4; i++) globalThis.gc?.();
      process.send({ memory: process.memoryUsage(), gc: typeof globalThis.gc === 'function' });
    } else if (message?.heapSnapshot) {
      for (let i = 0; i < 4; i++) globalThis.gc?.();
      const { writeHeapSnapshot } = await import('node:v8');
      process.send({ snapshot: writeHeapSnapshot(message.heapSnapshot) });
    } else if (message?.profileStart) {
      const inspector = await import('node:inspector');
      session = new inspector.Session();
      session.connect();
      const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: 250 });
      await post('Profiler.start');
      session.post$ = post;
      process.send({ profiling: true });
    } else if (message?.profileStop && session) {
      const { profile } = await session.post$('Profiler.stop');
      session.disconnect();
      session = undefined;
      const { writeFileSync } = await import('node:fs');
      writeFileSync(message.profileStop, JSON.stringify(profile));
      process.send({ profiled: message.profileStop });
    }
  });
}
