/**
 * Before any test file: install the WebTorrent clients of test/webtorrent-client when they are
 * missing (a fresh clone after `npm install`), so that the WebTorrent and browser tests run rather
 * than skip. Nothing happens when they are there (as after .ci/run's own install). A failed install
 * (no registry) only warns: those tests then skip naming what is missing, or fail under CI=true.
 * ETT_NO_CLIENT_INSTALL=1 turns it off.
 */
// @ts-expect-error: a plain ES module of the test-client folder (no types)
import { installClients } from './webtorrent-client/install.mjs';

export default function setup(): void {
  if (process.env.ETT_NO_CLIENT_INSTALL === '1') return;
  (installClients as (o: { log: (line: string) => void }) => boolean)({ log: (line) => console.warn(`[setup] ${line}`) });
}
