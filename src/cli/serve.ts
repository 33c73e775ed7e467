/**
 * `torrent-tracker serve`: the standalone tracker (plain node:http, same core as the middleware)
 * until interrupted. SIGINT/SIGTERM close the server and the store.
 */
import { Command, InvalidArgumentError } from 'commander';
import type { AddressInfo } from 'node:net';

function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
    return n;
  };
}

/** Options of the serve command. */
interface ServeOptions {
  port: number;
  host: string;
  store?: string;
  interval?: number;
  trustProxy?: boolean;
  fullScrape?: boolean;
  udpPort?: number;
  webSocket: boolean;
}

/** Register `serve` on the program. */
export function register(program: Command): void {
  program
    .command('serve')
    .description('run a standalone tracker answering /announce and /scrape (no Express needed)')
    .option('-p, --port <port>', 'TCP port to listen on', integer(0, 65535), 6969)
    .option('-H, --host <address>', 'address to bind (:: = every IPv4 and IPv6 address)', '::')
    .option('-s, --store <uri>', 'swarm storage: redis://, rediss://, sqlite://, postgresql://, mysql:// (default: memory)')
    .option('-i, --interval <seconds>', 'seconds between announces told to clients (default 1800)', integer(1, 86_400))
    .option('--trust-proxy', 'take the client address from X-Forwarded-For (only behind your own proxy)')
    .option('--full-scrape', 'answer /scrape without info_hash with every swarm')
    .option('-u, --udp-port <port>', 'also answer UDP announces (BEP 15) on this port, same swarms', integer(0, 65535))
    .option('--no-web-socket', 'do not answer WebTorrent (WebSocket) announces on the HTTP port')
    .addHelpText('after', '\nExamples:\n  torrent-tracker serve --port 6969 --store redis://127.0.0.1:6379\n  torrent-tracker serve --port 8000 --udp-port 6969\n')
    .action(async (options: ServeOptions, command: Command) => {
      const out = command.configureOutput().writeOut ?? ((t: string) => process.stdout.write(t));
      const err = command.configureOutput().writeErr ?? ((t: string) => process.stderr.write(t));
      // Loaded here, not at the top: other subcommands need not pay for the storage backends.
      const { createTrackerServer } = await import('../server.js');
      const server = createTrackerServer({
        store: options.store,
        interval: options.interval,
        trustProxy: options.trustProxy === true,
        fullScrape: options.fullScrape === true,
        webSocket: options.webSocket,
      });
      server.tracker.on('failure', (f: { reason: string; error?: unknown }) => {
        if (f.reason.startsWith('tracker storage')) err(`torrent-tracker: ${f.reason}: ${String((f.error as Error)?.cause ?? f.error)}\n`);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, options.host, () => resolve());
      });
      await server.tracker.whenReady();
      const { port, address } = server.address() as AddressInfo;
      const host = address.includes(':') ? `[${address === '::' ? '::1' : address}]` : address === '0.0.0.0' ? '127.0.0.1' : address;
      out(`tracker listening on ${address} port ${port}: announce URL http://${host}:${port}/announce\n`);
      if (server.webSocket) out(`WebTorrent (browsers): announce URL ws://${host}:${port}/announce\n`);
      let udp: import('../transport/udp.js').UdpTracker | undefined;
      if (options.udpPort !== undefined) {
        const { createUdpTracker } = await import('../transport/udp.js');
        udp = createUdpTracker({ tracker: server.tracker });
        const bound = await udp.listen(options.udpPort, options.host === '::' ? undefined : options.host);
        out(`UDP tracker on ${bound.address} port ${bound.port}: announce URL udp://${host}:${bound.port}/announce\n`);
      }
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void (udp?.close() ?? Promise.resolve()).then(() => server.shutdown()).then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      out('tracker stopped\n');
    });
}
