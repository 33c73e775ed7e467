/**
 * A scripted remote peer for connection-level tests: a raw net.Socket to the seeder that sends
 * whatever bytes a test wants and records every message the seeder sends back.
 */
import net from 'node:net';
import { WireParser, encodeHandshake, type Handshake, type WireMessage } from '../../../src/seeder/wire.js';

/** A raw test peer. */
export class FakePeer {
  /** Everything received, decoded. */
  readonly messages: Array<Handshake | WireMessage> = [];
  /** True once the seeder closed the connection. */
  closed = false;
  /** Set if the seeder sent bytes our parser rejected. */
  parseError: Error | undefined;
  private readonly parser = new WireParser({ maxMessageLength: 1 << 20 });
  private waiters: Array<() => void> = [];

  /** Our local port (the seeder sees it as the remote port), kept after the socket closes. */
  readonly localPort: number;

  private constructor(readonly socket: net.Socket) {
    this.localPort = socket.localPort ?? 0;
    socket.on('data', (chunk: Buffer) => {
      try {
        this.messages.push(...this.parser.push(chunk));
      } catch (err) {
        this.parseError = err as Error;
      }
      this.notify();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
  }

  /** Connects to `port` on `host`, from `localAddress` when given (another loopback address is another host). */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<FakePeer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host, localAddress }, () => resolve(new FakePeer(socket)));
      socket.once('error', reject);
    });
  }

  /** Wraps an accepted socket (for tests where the seeder dials us). */
  static wrap(socket: net.Socket): FakePeer {
    return new FakePeer(socket);
  }

  /** Sends raw bytes. */
  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Sends a handshake. */
  handshake(infoHash: Buffer, peerId: Buffer, features: { fast?: boolean; extended?: boolean } = {}): void {
    this.send(encodeHandshake(infoHash, peerId, features));
  }

  /** Messages of a type. */
  ofType<T extends (Handshake | WireMessage)['type']>(type: T): Array<Extract<Handshake | WireMessage, { type: T }>> {
    return this.messages.filter((m) => m.type === type) as Array<Extract<Handshake | WireMessage, { type: T }>>;
  }

  /**
   * Resolves when `predicate` holds (checked on every event of this peer and every 50 ms, for
   * conditions on other objects), rejects after `timeout` ms.
   */
  waitFor(predicate: () => boolean, timeout = 5000, what = 'condition'): Promise<void> {
    return new Promise((resolve, reject) => {
      if (predicate()) return resolve();
      const finish = (): void => {
        clearTimeout(timer);
        clearInterval(poll);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out waiting for ${what}; got ${this.messages.map((m) => m.type).join(',')}`));
      }, timeout);
      const check = (): void => {
        if (predicate()) {
          finish();
          resolve();
        }
      };
      const poll = setInterval(check, 50);
      this.waiters.push(check);
    });
  }

  /** Waits until the seeder closes the connection. */
  waitClosed(timeout = 5000): Promise<void> {
    return this.waitFor(() => this.closed, timeout, 'the seeder to close the connection');
  }

  /** Closes our side. */
  destroy(): void {
    this.socket.destroy();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}
