/**
 * Client rules: peer_id prefixes allowed or denied (`-qB`, `-TR40`, `A2-`), compared on the raw
 * bytes of the peer id. A deny match wins; with an allow list, anything not on it is refused.
 */

/** The `clients` option. Prefixes are strings (each character one byte, latin1) or bytes. */
export interface ClientRules {
  /** Only peer ids starting with one of these are accepted. */
  allow?: Array<string | Uint8Array>;
  /** Peer ids starting with one of these are refused. */
  deny?: Array<string | Uint8Array>;
}

function toBytes(prefix: string | Uint8Array, list: string): Buffer {
  if (typeof prefix !== 'string' && !(prefix instanceof Uint8Array)) {
    throw new TypeError(`options.clients.${list}: prefixes must be strings or bytes`);
  }
  const bytes = typeof prefix === 'string' ? Buffer.from(prefix, 'latin1') : Buffer.from(prefix);
  if (bytes.length === 0 || bytes.length > 20) throw new TypeError(`options.clients.${list}: prefixes must be 1 to 20 bytes`);
  return bytes;
}

function startsWith(id: Uint8Array, prefix: Buffer): boolean {
  for (let i = 0; i < prefix.length; i++) if (id[i] !== prefix[i]) return false;
  return true;
}

/**
 * A checker for `rules`: returns the failure reason for a refused peer id, or undefined. Undefined
 * checker when there are no rules.
 */
export function clientChecker(rules: ClientRules | undefined): ((peerId: Uint8Array) => string | undefined) | undefined {
  if (!rules) return undefined;
  const allow = rules.allow?.map((p) => toBytes(p, 'allow'));
  const deny = (rules.deny ?? []).map((p) => toBytes(p, 'deny'));
  if (!allow && deny.length === 0) return undefined;
  return (peerId) => {
    for (const prefix of deny) if (startsWith(peerId, prefix)) return 'this client is not allowed on this tracker';
    if (allow && !allow.some((prefix) => startsWith(peerId, prefix))) return 'this client is not allowed on this tracker';
    return undefined;
  };
}
