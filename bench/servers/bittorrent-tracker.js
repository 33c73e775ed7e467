// Reference: webtorrent's bittorrent-tracker, HTTP only (installed in bench/node_modules).
import Server from 'bittorrent-tracker/server';

const server = new Server({ udp: false, ws: false, stats: false, trustProxy: false });
server.on('error', (error) => console.error(`bittorrent-tracker: ${error.message}`));
server.on('warning', () => {});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.http.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
