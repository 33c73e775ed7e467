/**
 * The cross-instance bus of the core: "forget this passkey / torrent" messages between the
 * instances that share a store (Redis pub/sub). Only a digest of a passkey ever travels.
 */
import { passkeyDigest } from '../policy/passkey.js';
import type { PolicyChain } from '../policy/chain.js';
import type { StoreBus } from '../swarm/types.js';
import { BusSubscription } from './bus-subscription.js';

/** A message on the bus: a passkey digest (`p`) or a torrent's hex info hash (`t`) to forget. */
interface ForgetMessage {
  p?: string;
  t?: string;
}

/** Forget messages: sent to every instance, applied on receipt, told to transports that hold connections. */
export class ForgetBus {
  private bus: StoreBus | undefined;
  private subscription: BusSubscription | undefined;
  private closed = false;
  private readonly passkeyListeners = new Set<(digest: string) => void>();

  constructor(
    private readonly policy: PolicyChain | undefined,
    /** Bounds a publish by the storage timeout. */
    private readonly bounded: <T>(promise: Promise<T>) => Promise<T>,
    /** A listener threw. */
    private readonly onListenerError: (error: unknown) => void,
  ) {}

  /** Use the store's bus: publish on it, and listen (retried every few seconds until it works). */
  attach(bus: StoreBus | undefined): void {
    this.bus = bus;
    if (!bus || !this.policy) return;
    if (!this.closed) this.subscription = new BusSubscription(bus, (text) => this.receive(text));
  }

  /** `listener` is told the digest of every passkey forgotten here or on another instance. */
  onPasskeyForgotten(listener: (digest: string) => void): () => void {
    this.passkeyListeners.add(listener);
    return () => this.passkeyListeners.delete(listener);
  }

  /** A passkey was forgotten here: tell this instance's listeners and the other instances. */
  /** Drop the cached answer for `passkey` here, then tell every other instance (a digest only). */
  async forgetPasskey(passkey: string): Promise<void> {
    const passkeys = this.policy?.passkeys;
    if (!passkeys || typeof passkey !== 'string') return;
    passkeys.forget(passkey);
    await this.passkeyForgotten(passkeyDigest(passkey));
  }

  /** Drop the cached answers for these swarms here, then on every other instance. */
  async forgetTorrent(hashes: Buffer[]): Promise<void> {
    const torrents = this.policy?.torrents;
    if (!torrents) return;
    for (const hash of hashes) {
      const hex = hash.toString('hex');
      torrents.forget(hex);
      await this.torrentForgotten(hex);
    }
  }

  async passkeyForgotten(digest: string): Promise<void> {
    this.tellPasskey(digest);
    await this.publish({ p: digest });
  }

  /** A torrent was forgotten here: tell the other instances. */
  async torrentForgotten(hex: string): Promise<void> {
    await this.publish({ t: hex });
  }

  /** Stop listening. */
  async close(): Promise<void> {
    this.closed = true;
    await this.subscription?.close();
  }

  private async publish(message: ForgetMessage): Promise<void> {
    if (!this.bus) return;
    await this.bounded(this.bus.publish(JSON.stringify(message)));
  }

  private receive(text: string): void {
    let message: { p?: unknown; t?: unknown };
    try {
      message = JSON.parse(text) as { p?: unknown; t?: unknown };
    } catch {
      return;
    }
    if (typeof message.p === 'string') {
      this.policy?.passkeys?.forgetDigest(message.p);
      this.tellPasskey(message.p);
    }
    if (typeof message.t === 'string' && /^[0-9a-f]{40}$/.test(message.t)) this.policy?.torrents?.forget(message.t);
  }

  private tellPasskey(digest: string): void {
    for (const listener of this.passkeyListeners) {
      try {
        listener(digest);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}
