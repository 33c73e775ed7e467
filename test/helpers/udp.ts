/** A small BEP 15 client for tests: builds datagrams and waits for answers by transaction id. */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';

export const PROTOCOL_ID = 0x41727101980n;

export function connectPacket(tx: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64BE(PROTOCOL_ID, 0);
  b.writeUInt32BE(0, 8);
  b.writeUInt32BE(tx, 12);
  return b;
}

export interface AnnounceFields {
  connectionId: Buffer;
  tx: number;
  infoHash: Buffer;
  peerId: Buffer;
  downloaded?: bigint;
  left?: bigint;
  uploaded?: bigint;
  /** 0 none, 1 completed, 2 started, 3 stopped */
  event?: number;
  ip?: number;
  key?: number;
  numwant?: number;
  port?: number;
  /** BEP 41 URL data (split into 255-byte options), then end of options. */
  urlData?: string;
}

export function announcePacket(f: AnnounceFields): Buffer {
  const b = Buffer.alloc(98);
  f.connectionId.copy(b, 0);
  b.writeUInt32BE(1, 8);
  b.writeUInt32BE(f.tx, 12);
  f.infoHash.copy(b, 16);
  f.peerId.copy(b, 36);
  b.writeBigUInt64BE(f.downloaded ?? 0n, 56);
  b.writeBigUInt64BE(f.left ?? 100n, 64);
  b.writeBigUInt64BE(f.uploaded ?? 0n, 72);
  b.writeUInt32BE(f.event ?? 0, 80);
  b.writeUInt32BE(f.ip ?? 0, 84);
  b.writeUInt32BE(f.key ?? 0, 88);
  b.writeInt32BE(f.numwant ?? -1, 92);
  b.writeUInt16BE(f.port ?? 6881, 96);
  if (f.urlData === undefined) return b;
  const url = Buffer.from(f.urlData, 'latin1');
  const parts: Buffer[] = [b];
  for (let at = 0; at < url.length; at += 255) {
    const chunk = url.subarray(at, at + 255);
    parts.push(Buffer.from([2, chunk.length]), chunk);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export function scrapePacket(connectionId: Buffer, tx: number, hashes: Buffer[]): Buffer {
  const b = Buffer.alloc(16);
  connectionId.copy(b, 0);
  b.writeUInt32BE(2, 8);
  b.writeUInt32BE(tx, 12);
  return Buffer.concat([b, ...hashes]);
}

export interface AnnounceAnswer {
  interval: number;
  leechers: number;
  seeders: number;
  peers: string[];
}

/** Decode an answer: `{ action, tx, ... }`. */
export function decodeAnswer(msg: Buffer): { action: number; tx: number; body: Buffer } {
  return { action: msg.readUInt32BE(0), tx: msg.readUInt32BE(4), body: msg.subarray(8) };
}

export function decodeAnnounce(msg: Buffer, family: 4 | 6): AnnounceAnswer {
  const entry = family === 4 ? 6 : 18;
  const peers: string[] = [];
  for (let at = 20; at + entry <= msg.length; at += entry) {
    const ip = msg.subarray(at, at + entry - 2);
    const port = msg.readUInt16BE(at + entry - 2);
    const text = family === 4 ? [...ip].join('.') : (ip.toString('hex').match(/.{4}/g) ?? []).join(':');
    peers.push(`${text}:${port}`);
  }
  return { interval: msg.readUInt32BE(8), leechers: msg.readUInt32BE(12), seeders: msg.readUInt32BE(16), peers };
}

/** A client socket of one family that matches answers to requests by transaction id. */
export class UdpTestClient {
  readonly socket: dgram.Socket;
  private readonly waiting = new Map<number, (msg: Buffer) => void>();
  /** Every datagram received, in order. */
  readonly received: Buffer[] = [];

  constructor(
    readonly family: 4 | 6,
    readonly host: string,
    readonly port: number,
  ) {
    this.socket = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
    this.socket.on('message', (msg) => {
      this.received.push(msg);
      if (msg.length >= 8) this.waiting.get(msg.readUInt32BE(4))?.(msg);
    });
  }

  async bind(address?: string): Promise<void> {
    await new Promise<void>((resolve) => this.socket.bind(0, address, resolve));
  }

  /** Send and wait for the answer with the same transaction id (rejects after `ms`). */
  request(packet: Buffer, tx = packet.length >= 16 ? packet.readUInt32BE(12) : 0, ms = 2000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(tx);
        reject(new Error(`no answer to transaction ${tx} within ${ms} ms`));
      }, ms);
      this.waiting.set(tx, (msg) => {
        clearTimeout(timer);
        this.waiting.delete(tx);
        resolve(msg);
      });
      this.socket.send(packet, this.port, this.host);
    });
  }

  /** Send without waiting. */
  send(packet: Buffer): void {
    this.socket.send(packet, this.port, this.host);
  }

  /** Connect and return the connection id. */
  async connect(): Promise<Buffer> {
    const tx = randomBytes(4).readUInt32BE(0);
    const answer = await this.request(connectPacket(tx), tx);
    if (answer.readUInt32BE(0) !== 0) throw new Error(`connect failed: ${answer.subarray(8).toString()}`);
    return Buffer.from(answer.subarray(8, 16));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
