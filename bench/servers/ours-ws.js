// Ours: createTrackerServer() with its WebTorrent door (ws://127.0.0.1:<port>/announce), memory store.
// The load generator drives hundreds of announces per second through each connection, so the
// per-connection frame budget (framesPerSecond, default 10) is raised; its check runs all the same.
// All sockets come from 127.0.0.1 (one host standing in for thousands of browsers): the per-address
// cap (maxConnectionsPerAddress, default 100) is off; older builds ignore the option.
// BENCH_DIST: another build of the library to load (default ../../dist/index.js), to measure a change.
import { memoryOnRequest, ready } from './common.js';

const { createTrackerServer } = await import(process.env.BENCH_DIST || '../../dist/index.js');

const server = createTrackerServer({
  maxConnections: 30_000,
  webSocket: { framesPerSecond: 1_000_000, maxConnections: 30_000, maxConnectionsPerAddress: 0 },
});
server.webSocket.on('error', (error) => console.error(`ours-ws: ${error.message}`));
memoryOnRequest();
ready(server, 'ours-ws');
