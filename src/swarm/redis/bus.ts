/**
 * The message bus between the instances that share one Redis (the store's {@link StoreBus}):
 * PUBLISH on the store's connection; SUBSCRIBE on a duplicate of the adapter's client, opened on
 * first subscribe (a subscribed connection serves nothing else). Channels live under the store's
 * prefix: `<prefix>:bus` for every instance, `<prefix>:bus:<name>` for one named channel.
 */
import type { StoreBus } from '../types.js';
import { RedisStoreError, withDeadline, type RedisClientLike, type RedisConnection } from './connection.js';

/** Redis pub/sub as a {@link StoreBus}. */
export class RedisBus implements StoreBus {
  private readonly subscribers = new Set<RedisClientLike>();

  constructor(
    private readonly connection: RedisConnection,
    private readonly prefix: string,
  ) {}

  /** Send a message to every instance (this one included). */
  async publish(message: string): Promise<void> {
    const channel = this.channel;
    await this.connection.command(channel, ['PUBLISH', channel, message]);
  }

  /** Receive every message of the shared channel; resolves once subscribed. */
  subscribe(listener: (message: string) => void): Promise<() => Promise<void>> {
    return this.listen(this.channel, listener);
  }

  /** Send to the instances listening on channel `name`; resolves with how many received it. */
  async publishTo(name: string, message: string): Promise<number> {
    const channel = this.named(name);
    return Number(await this.connection.command(channel, ['PUBLISH', channel, message]));
  }

  /** Receive the messages of channel `name`; resolves once subscribed. */
  subscribeTo(name: string, listener: (message: string) => void): Promise<() => Promise<void>> {
    return this.listen(this.named(name), listener);
  }

  /** Close every subscriber connection (the store is closing). */
  close(): void {
    for (const sub of this.subscribers) sub.destroy?.();
    this.subscribers.clear();
  }

  /** The pub/sub channel of the tracker's instances. */
  private get channel(): string {
    return this.connection.redisKey(`${this.prefix}:bus`);
  }

  private named(name: string): string {
    return this.connection.redisKey(`${this.prefix}:bus:${name}`);
  }

  /** Subscribe on a duplicate of the adapter's client (a subscribed connection serves nothing else). */
  private async listen(channel: string, listener: (message: string) => void): Promise<() => Promise<void>> {
    const base = this.connection.adapter.client;
    if (typeof base.duplicate !== 'function') throw new RedisStoreError('this Redis client cannot open a subscriber connection');
    const sub = base.duplicate();
    sub.on('error', () => undefined); // it reconnects by itself; a missed message is a lost offer or a later cache expiry
    const timeout = this.connection.timeout;
    try {
      await withDeadline(Promise.resolve(sub.connect?.()), timeout, 'connecting the Redis subscriber');
      await withDeadline(Promise.resolve(sub.subscribe?.(channel, listener)), timeout, 'Redis SUBSCRIBE');
    } catch (error) {
      sub.destroy?.();
      throw error;
    }
    this.subscribers.add(sub);
    return async () => {
      if (!this.subscribers.delete(sub)) return;
      sub.destroy?.();
    };
  }
}
