/**
 * `express-torrent-tracker serve`: the standalone tracker (plain node:http, same core as the middleware)
 * until interrupted. It answers `/livez` and `/readyz` at its root; SIGINT/SIGTERM drain it (readiness
 * fails, WebSockets get 1001, requests in flight are answered, the store is closed) and it exits 0.
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
  stats?: boolean;
  metrics?: boolean;
  health?: boolean;
  drainTimeout: number;
  summary: boolean;
  summaryInterval: number;
  adminTokenFile?: string;
  registeredOnly?: boolean;
}

/** Register `serve` on the program. */
export function register(program: Command): void {
  program
    .command('serve')
    .description('run a standalone tracker answering /announce and /scrape (no Express needed)')
    .option('-p, --port <port>', 'TCP port to listen on', integer(0, 65535), 6969)
    .option('-H, --host <address>', 'address to bind (:: = every IPv4 and IPv6 address)', '::')
    .option('-s, --store <uri>', 'swarm storage: memory:///path/to/snapshot (memory, saved to that file), redis://, rediss://, sqlite://, postgresql://, mysql:// (default: memory)')
    .option('-i, --interval <seconds>', 'seconds between announces told to clients (default 1800)', integer(1, 86_400))
    .option('--trust-proxy', 'take the client address from X-Forwarded-For (only behind your own proxy)')
    .option('--full-scrape', 'answer /scrape without info_hash with every swarm')
    .option('-u, --udp-port <port>', 'also answer UDP announces (BEP 15) on this port, same swarms', integer(0, 65535))
    .option('--no-web-socket', 'do not answer WebTorrent (WebSocket) announces on the HTTP port')
    .option('--stats', 'answer GET /stats with the tracker\'s stats as JSON')
    .option('--metrics', 'answer GET /metrics in Prometheus text format (needs prom-client installed)')
    .option('--health', 'kept for older scripts: GET /livez and GET /readyz are always answered')
    .option('--drain-timeout <seconds>', 'seconds a drain (on SIGTERM or SIGINT) may take before open connections are cut', integer(1, 3600), 10)
    .option('--admin-token-file <file>', 'answer the admin API (JSON, OpenAPI document at /admin/openapi.json) under /admin, for requests with Authorization: Bearer <the token in FILE>')
    .option('--registered-only', 'answer only torrents registered through the admin API (or tracker.addTorrent), kept in the store')
    .option('--summary-interval <seconds>', 'seconds between summary lines when stdout is not a terminal', integer(1, 86_400), 60)
    .option('--no-summary', 'no summary lines (by default one a minute when stdout is not a terminal)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  npx express-torrent-tracker serve --port 6969 --store redis://127.0.0.1:6379\n' +
        '  npx express-torrent-tracker serve --port 8000 --udp-port 6969\n' +
        '  npx express-torrent-tracker serve --stats   # and /metrics with --metrics (npm install prom-client)\n' +
        '  npx express-torrent-tracker serve --registered-only --admin-token-file ./admin-token\n',
    )
    .action(async (options: ServeOptions, command: Command) => {
      const io: ServeIO = {
        out: command.configureOutput().writeOut ?? ((t: string) => process.stdout.write(t)),
        err: command.configureOutput().writeErr ?? ((t: string) => process.stderr.write(t)),
        name: command.parent?.name() ?? 'express-torrent-tracker',
      };
      // Signals are taken from the start: one that comes while the tracker starts stops it once started.
      let onSignal = (): void => undefined;
      const signalled = new Promise<void>((resolve) => (onSignal = () => resolve()));
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        await serve(options, io, signalled);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      io.out('tracker stopped\n');
    });
}

/** Where serve writes, and the program name for its messages. */
interface ServeIO {
  out: (text: string) => void;
  err: (text: string) => void;
  name: string;
}

/**
 * Start the tracker (exit through an error when its store cannot be opened), run it until `stopped`
 * resolves, then close it.
 */
async function serve(options: ServeOptions, io: ServeIO, stopped: Promise<void>): Promise<void> {
  const { out, err, name } = io;
  // Loaded here, not at the top: other subcommands need not pay for the storage backends.
  const { createTrackerServer } = await import('../server.js');
  const extras = await import('./serve-extras.js');
  const store = extras.describeStore(options.store);
  const admin = options.adminTokenFile === undefined ? undefined : await import('./serve-admin.js');
  // Read before anything is opened: an unreadable or empty token file stops the start (exit 1).
  const token = admin === undefined ? undefined : await admin.readAdminToken(options.adminTokenFile!);
  const server = createTrackerServer({
    store: options.store,
    interval: options.interval,
    trustProxy: options.trustProxy === true,
    fullScrape: options.fullScrape === true,
    webSocket: options.webSocket,
    ...(options.registeredOnly ? { torrents: 'registry' as const } : {}),
  });
  // Whatever fails before the server runs: close what was opened (never hang on a dead store).
  const abandon = async (error: Error): Promise<never> => {
    await Promise.race([server.shutdown().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    throw error;
  };
  const routes: Record<string, import('./serve-extras.js').Route> = {};
  try {
    if (options.stats) routes['/stats'] = extras.statsRoute(server.tracker);
    if (options.metrics) routes['/metrics'] = await extras.metricsRoute(server.tracker);
    Object.assign(routes, (await import('./health.js')).healthRoutes(server.tracker));
  } catch (error) {
    return abandon(error as Error);
  }
  try {
    await server.ready();
  } catch (error) {
    // server.ready() names the store (without secrets) and says what failed; say which store otherwise.
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    return abandon(new Error(message.includes(store) ? message : `cannot open the store ${store}: ${message}`));
  }
  server.tracker.on('failure', (f: { reason: string; error?: unknown }) => {
    if (f.reason.startsWith('tracker storage')) err(`${name}: ${f.reason}: ${String((f.error as Error)?.cause ?? f.error)}\n`);
  });
  if (Object.keys(routes).length > 0) extras.addRoutes(server, routes);
  if (admin !== undefined) {
    try {
      await admin.mountAdmin(server, server.tracker, token!);
    } catch (error) {
      return abandon(error as Error);
    }
  }
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => resolve());
    });
  } catch (error) {
    return abandon(error as Error);
  }
  const { port, address } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address === '::' ? '::1' : address}]` : address === '0.0.0.0' ? '127.0.0.1' : address;
  out(`tracker listening on ${address} port ${port}: announce URL http://${host}:${port}/announce\n`);
  if (server.webSocket) out(`WebTorrent (browsers): announce URL ws://${host}:${port}/announce\n`);
  out(`store: ${store}\n`);
  if (options.registeredOnly) out('answering registered torrents only\n');
  if (admin !== undefined) out(`admin API: http://${host}:${port}${admin.ADMIN_PREFIX}/ (bearer token from ${options.adminTokenFile}; document at ${admin.ADMIN_PREFIX}/openapi.json)\n`);
  if (Object.keys(routes).length > 0) out(`also answering ${Object.keys(routes).map((path) => `http://${host}:${port}${path}`).join(' ')}\n`);
  let udp: import('../transport/udp.js').UdpTracker | undefined;
  if (options.udpPort !== undefined) {
    const { createUdpTracker } = await import('../transport/udp.js');
    udp = createUdpTracker({ tracker: server.tracker });
    const bound = await udp.listen(options.udpPort, options.host === '::' ? undefined : options.host);
    out(`UDP tracker on ${bound.address} port ${bound.port}: announce URL udp://${host}:${bound.port}/announce\n`);
  }
  // Under a process manager (stdout not a terminal): one summary line a minute.
  const stopSummary =
    options.summary && process.stdout.isTTY !== true ? extras.startSummary(server.tracker, options.summaryInterval, out) : () => undefined;
  await stopped;
  out('draining\n');
  stopSummary();
  const drained = await server.drain({ timeout: options.drainTimeout * 1000 });
  for (const error of drained.errors) err(`${name}: while draining: ${error}\n`);
  if (drained.timedOut) err(`${name}: the drain took longer than ${options.drainTimeout} s; open connections were cut\n`);
  await udp?.close();
  await server.shutdown();
}
