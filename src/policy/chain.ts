/**
 * The policy chain: the rules between a validated request and the store, run in the same order for
 * every transport: passkey (who), registered torrent (what), client (with which program). Each is
 * answered from its cache synchronously when it can, so a private tracker on the memory store still
 * answers without a promise. (Ownership and interval are judged by the store, atomically with the
 * announce; traffic credit is computed from the store's result.) The last rule, bans (bans.ts), is
 * run by the announce pipeline once the chain granted an announce, also when the site has no rules
 * (public trackers ban too), at the cost of one comparison per announce while there is no ban.
 */
import { TrackerFailure } from '../protocol/errors.js';
import type { TorrentRules } from '../types.js';
import type { AnswerCacheOptions } from './cache.js';
import { clientChecker, type ClientRules } from './clients.js';
import { checkPasskeyFormat, PASSKEY_REFUSED, PasskeyPolicy, type PasskeyVerifier, type UserId } from './passkey.js';
import { TorrentPolicy, UNREGISTERED, type TorrentVerifier } from './torrents.js';

/** What the chain grants an accepted announce. */
export interface Grant {
  /** The passkey's user (private mode), else undefined. */
  user: UserId | undefined;
  /** The user as a string (the owner of the peers it announces); '' in public mode. */
  owner: string;
  /** The torrent's rules ({} when torrents are not restricted). */
  rules: TorrentRules;
}

/** The site's policy functions. */
export interface PolicyFunctions {
  passkey?: PasskeyVerifier;
  torrents?: TorrentVerifier;
  clients?: ClientRules;
}

const NO_RULES: TorrentRules = Object.freeze({});
const PUBLIC_GRANT: Grant = Object.freeze({ user: undefined, owner: '', rules: NO_RULES });

/** Grants without torrent rules, one per user, reused for every announce of that user (bounded). */
const userGrants = new Map<UserId, Grant>();
function grantOf(user: UserId | undefined, rules: TorrentRules): Grant {
  if (user === undefined) return rules === NO_RULES ? PUBLIC_GRANT : { user, owner: '', rules };
  if (rules !== NO_RULES) return { user, owner: String(user), rules };
  let grant = userGrants.get(user);
  if (!grant) {
    if (userGrants.size >= 100_000) userGrants.clear();
    grant = Object.freeze({ user, owner: String(user), rules: NO_RULES });
    userGrants.set(user, grant);
  }
  return grant;
}

/** See the module comment. */
export class PolicyChain {
  readonly passkeys: PasskeyPolicy | undefined;
  readonly torrents: TorrentPolicy | undefined;
  private readonly client: ((peerId: Uint8Array) => string | undefined) | undefined;

  constructor(functions: PolicyFunctions, cache: Omit<AnswerCacheOptions, 'what'>) {
    this.passkeys = functions.passkey ? new PasskeyPolicy(functions.passkey, cache) : undefined;
    this.torrents = functions.torrents ? new TorrentPolicy(functions.torrents, cache) : undefined;
    this.client = clientChecker(functions.clients);
  }

  /** True when there is at least one rule (otherwise the tracker skips the chain). */
  get active(): boolean {
    return this.passkeys !== undefined || this.torrents !== undefined || this.client !== undefined;
  }

  /**
   * The grant for an announce from cached answers alone: a {@link Grant}, or undefined when a look-up
   * is needed (then call {@link grant}). Throws a TrackerFailure for a refusal.
   */
  grantNow(passkey: string | undefined, infoHashHex: () => string, peerId: Uint8Array): Grant | undefined {
    let user: UserId | undefined;
    if (this.passkeys) {
      checkPasskeyFormat(passkey);
      const cached = this.passkeys.peek(passkey);
      if (cached === undefined) return undefined;
      if (cached === null) throw new TrackerFailure(PASSKEY_REFUSED, 'denied');
      user = cached;
    }
    let rules = NO_RULES;
    if (this.torrents) {
      const cached = this.torrents.peek(infoHashHex());
      if (cached === undefined) return undefined;
      if (cached === null) throw new TrackerFailure(UNREGISTERED, 'denied');
      rules = cached;
    }
    this.checkClient(peerId);
    return grantOf(user, rules);
  }

  /** The grant for an announce, asking the site's functions where the cache has no answer. */
  async grant(passkey: string | undefined, infoHashHex: string, peerId: Uint8Array): Promise<Grant> {
    const user = await this.user(passkey);
    let rules = NO_RULES;
    if (this.torrents) {
      const answer = await this.torrents.resolve(infoHashHex);
      if (answer === null) throw new TrackerFailure(UNREGISTERED, 'denied');
      rules = answer;
    }
    this.checkClient(peerId);
    return grantOf(user, rules);
  }

  /** The passkey's user (private mode; undefined in public mode). Throws a refusal. */
  async user(passkey: string | undefined): Promise<UserId | undefined> {
    if (!this.passkeys) return undefined;
    checkPasskeyFormat(passkey);
    const user = await this.passkeys.resolve(passkey);
    if (user === null) throw new TrackerFailure(PASSKEY_REFUSED, 'denied');
    return user;
  }

  /**
   * Which of a scrape's `hexes` are registered (all of them when torrents are not restricted). The
   * site's function is called a bounded number of times (see {@link TorrentPolicy.resolveScrape}).
   */
  async registered(hexes: string[]): Promise<boolean[]> {
    const torrents = this.torrents;
    if (!torrents) return hexes.map(() => true);
    return (await torrents.resolveScrape(hexes)).map((rules) => rules !== null);
  }

  private checkClient(peerId: Uint8Array): void {
    const refused = this.client?.(peerId);
    if (refused) throw new TrackerFailure(refused, 'denied');
  }
}
