// Reference: webtorrent's bittorrent-tracker, UDP only (installed in bench/node_modules).
import Server from 'bittorrent-tracker/server';

const server = new Server({ http: false, ws: false, stats: false });
server.on('error', (error) => console.error(`bittorrent-tracker: ${error.message}`));
server.on('warning', () => {});
// No hostname: it would be applied to its udp6 socket too, which cannot bind 127.0.0.1.
server.listen(Number(process.env.PORT ?? 0), () => {
  process.stdout.write(`listening ${server.udp4.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
