/**
 * The memory store's snapshot file: everything a restart needs (swarms, their peers with their
 * expiry, `downloaded` counts, the torrent registry, bans) in one file, written atomically and
 * refused as a whole when it is damaged, truncated or not a snapshot.
 *
 * File layout (little-endian):
 *   0..7    magic "ETTSNAP\n"
 *   8..11   format version (uint32, {@link SNAPSHOT_VERSION})
 *   12..15  reserved (0)
 *   16..23  body length in bytes (float64)
 *   24..55  SHA-256 of the body
 *   56..    body
 * Body:
 *   0..7    saved at (ms since the Unix epoch, float64)
 *   then entries, each starting with a tag byte:
 *     1 swarm: info hash (20), downloaded (uint32), smallest TTL seen (uint32), peer count n
 *       (uint32), then n peer records of 48 bytes (the layout of peer-record.ts, except that the
 *       expiry field holds the absolute expiry in seconds since the Unix epoch)
 *     2 extras: length (uint32) then UTF-8 JSON `{ registry: [hex, rules][], bans: Ban[] }`
 *     0 end (nothing may follow)
 *
 * Writing: the body is produced in slices by the caller (see MemorySwarmStore.save) and streamed to a
 * temporary file in the same directory, hashed as it goes; the header goes in last, then the file is
 * fsync'ed, renamed over the target and the directory fsync'ed: a crash at any point leaves either
 * the previous file or the new one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export const SNAPSHOT_MAGIC = Buffer.from('ETTSNAP\n', 'latin1');
export const SNAPSHOT_VERSION = 1;
export const HEADER_SIZE = 56;
export const TAG_END = 0;
export const TAG_SWARM = 1;
export const TAG_EXTRAS = 2;
/** Bytes before a swarm's peer records: tag, info hash, downloaded, ttl, count. */
export const SWARM_HEAD = 1 + 20 + 4 + 4 + 4;

/** Why a snapshot file was refused (the code is in the warning). */
export type SnapshotErrorCode =
  | 'ETT_SNAPSHOT_UNREADABLE'
  | 'ETT_SNAPSHOT_FOREIGN'
  | 'ETT_SNAPSHOT_VERSION'
  | 'ETT_SNAPSHOT_TRUNCATED'
  | 'ETT_SNAPSHOT_CHECKSUM'
  | 'ETT_SNAPSHOT_MALFORMED';

/** A refused snapshot. */
export class SnapshotError extends Error {
  constructor(
    readonly code: SnapshotErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Writes the body to the temporary file in chunks of about 1 MiB as it is produced, hashing each:
 * the serializer fills chunks synchronously ({@link reserve}) and calls {@link drain} between its
 * slices, which writes the filled chunks (off the event loop) and recycles their buffers. So a save
 * holds a few MiB, whatever the size of the store.
 */
export class BodyWriter {
  private readonly hash = createHash('sha256');
  private readonly free: Buffer[] = [];
  /** Filled chunks not written yet, each with the buffer it was cut from. */
  private pending: Array<[Buffer, Buffer]> = [];
  private chunk: Buffer;
  private at = 0;
  private position = HEADER_SIZE;
  /** Body bytes produced so far. */
  length = 0;

  constructor(
    private readonly handle: FileHandle,
    private readonly chunkBytes = 1 << 20,
  ) {
    this.chunk = Buffer.allocUnsafeSlow(chunkBytes);
  }

  /** Room for `n` more bytes: the current chunk and the offset to write them at. */
  reserve(n: number): { chunk: Buffer; at: number } {
    if (this.at + n > this.chunk.length) {
      this.cut();
      this.chunk = n <= this.chunkBytes ? (this.free.pop() ?? Buffer.allocUnsafeSlow(this.chunkBytes)) : Buffer.allocUnsafeSlow(n);
    }
    const at = this.at;
    this.at += n;
    this.length += n;
    return { chunk: this.chunk, at };
  }

  private cut(): void {
    if (this.at > 0) {
      const done = this.chunk.subarray(0, this.at);
      this.hash.update(done);
      this.pending.push([done, this.chunk]);
    }
    this.at = 0;
  }

  /** Write the filled chunks and take their buffers back. */
  async drain(): Promise<void> {
    const pending = this.pending;
    this.pending = [];
    for (const [done, buffer] of pending) {
      await writeAll(this.handle, done, this.position);
      this.position += done.length;
      if (buffer.length === this.chunkBytes) this.free.push(buffer);
    }
  }

  /** Write the rest of the body, then the header (with length and checksum) at the start. */
  async finish(): Promise<number> {
    this.cut();
    await this.drain();
    const header = Buffer.alloc(HEADER_SIZE);
    SNAPSHOT_MAGIC.copy(header, 0);
    header.writeUInt32LE(SNAPSHOT_VERSION, 8);
    header.writeDoubleLE(this.length, 16);
    this.hash.digest().copy(header, 24);
    await writeAll(this.handle, header, 0);
    return HEADER_SIZE + this.length;
  }
}

async function writeAll(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) done += (await handle.write(data, done, data.length - done, position + done)).bytesWritten;
}

/**
 * Write a snapshot to `file` atomically: `produce` fills the body through a {@link BodyWriter} into a
 * temporary file in the same directory, which is fsync'ed and renamed over `file` (then the
 * directory is fsync'ed). On failure the temporary file is removed and `file` is untouched.
 * Returns the file's size.
 */
export async function writeSnapshotFile(file: string, produce: (writer: BodyWriter) => Promise<void>): Promise<number> {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'w', 0o600);
  let bytes: number;
  try {
    const writer = new BodyWriter(handle);
    await produce(writer);
    bytes = await writer.finish();
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  try {
    const dir = openSync(dirname(file), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch {
    // some platforms cannot fsync a directory; the rename is done
  }
  return bytes;
}

/** Remove temp files of saves to `file` whose process is gone (killed during a save). */
export function removeStaleTemps(file: string): void {
  const prefix = `.${basename(file)}.`;
  let names: string[];
  try {
    names = readdirSync(dirname(file));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pid = Number(name.slice(prefix.length).split('.')[0]);
    if (!Number.isInteger(pid) || pid === process.pid || alive(pid)) continue;
    try {
      unlinkSync(join(dirname(file), name));
    } catch {
      // someone else removed it
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Read and check a snapshot file: the verified body, or undefined when there is no file. Throws a
 * {@link SnapshotError} when the file is refused (nothing of it may be used then).
 */
export function readSnapshot(file: string): Buffer | undefined {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SnapshotError('ETT_SNAPSHOT_UNREADABLE', `cannot read it: ${(error as Error).message}`);
  }
  if (data.length < SNAPSHOT_MAGIC.length || !data.subarray(0, SNAPSHOT_MAGIC.length).equals(SNAPSHOT_MAGIC)) {
    throw new SnapshotError('ETT_SNAPSHOT_FOREIGN', 'not a memory store snapshot (no "ETTSNAP" header)');
  }
  if (data.length < HEADER_SIZE) throw new SnapshotError('ETT_SNAPSHOT_TRUNCATED', `truncated: ${data.length} bytes, shorter than the ${HEADER_SIZE}-byte header`);
  const version = data.readUInt32LE(8);
  if (version !== SNAPSHOT_VERSION) {
    throw new SnapshotError('ETT_SNAPSHOT_VERSION', `format version ${version}, this version of express-torrent-tracker reads version ${SNAPSHOT_VERSION}`);
  }
  const length = data.readDoubleLE(16);
  const body = data.subarray(HEADER_SIZE);
  if (body.length < length) throw new SnapshotError('ETT_SNAPSHOT_TRUNCATED', `truncated: ${body.length} of ${length} body bytes`);
  if (body.length > length) throw new SnapshotError('ETT_SNAPSHOT_MALFORMED', `${body.length - length} bytes past the end of the body`);
  if (!createHash('sha256').update(body).digest().equals(data.subarray(24, 56))) {
    throw new SnapshotError('ETT_SNAPSHOT_CHECKSUM', 'checksum mismatch (the file is damaged)');
  }
  checkStructure(body);
  return body;
}

/** Walk the body's entries without using them: every length must fit, and it must end with TAG_END. */
function checkStructure(body: Buffer): void {
  const bad = (what: string): never => {
    throw new SnapshotError('ETT_SNAPSHOT_MALFORMED', what);
  };
  let at = 8;
  for (;;) {
    if (at >= body.length) bad('no end marker');
    const tag = body[at];
    if (tag === TAG_END) {
      if (at + 1 !== body.length) bad('bytes after the end marker');
      return;
    }
    if (tag === TAG_SWARM) {
      if (at + SWARM_HEAD > body.length) bad('a swarm entry runs past the end');
      at += SWARM_HEAD + body.readUInt32LE(at + SWARM_HEAD - 4) * 48;
    } else if (tag === TAG_EXTRAS) {
      if (at + 5 > body.length) bad('the extras entry runs past the end');
      at += 5 + body.readUInt32LE(at + 1);
    } else {
      bad(`unknown entry tag ${tag}`);
    }
    if (at > body.length) bad('an entry runs past the end');
  }
}
