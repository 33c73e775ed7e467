// Ours: createUdpTracker() on the in-memory store (BENCH_STORE for another store). Prints `listening <port>`.
// BENCH_DIST: another build of the library to load (default ../../dist/index.js), to measure a change.
const { createUdpTracker } = await import(process.env.BENCH_DIST || '../../dist/index.js');

const udp = createUdpTracker({ store: process.env.BENCH_STORE || undefined });
const { port } = await udp.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
process.stdout.write(`listening ${port}\n`);
const stop = () => void udp.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
