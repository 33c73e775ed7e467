// Reference: webtorrent's bittorrent-tracker, WebSocket only (its own node:http server for the
// upgrades; installed in bench/node_modules).
import Server from 'bittorrent-tracker/server';
import { memoryOnRequest } from './common.js';

const server = new Server({ udp: false, http: false, ws: true, stats: false, trustProxy: false });
server.on('error', (error) => console.error(`bittorrent-tracker: ${error.message}`));
server.on('warning', () => {});
memoryOnRequest();
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.http.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
