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
