/**
 * A bounded pool of open read-only file handles shared by all torrents of a seeder, so that
 * thousands of files cannot exhaust the process's descriptors. Handles are reference counted while
 * a read is in flight and closed least-recently-used first when the pool is full.
 */
import { open, type FileHandle } from 'node:fs/promises';

interface Entry {
  handle: Promise<FileHandle>;
  users: number;
  lastUsed: number;
}

/** Bounded LRU of open files. */
export class FilePool {
  private readonly entries = new Map<string, Entry>();
  private clock = 0;

  /** @param maxOpen most handles kept open when idle (default 64) */
  constructor(private readonly maxOpen = 64) {}

  /** Runs `fn` with an open handle for `file`; the handle stays valid until `fn` settles. */
  async with<T>(file: string, fn: (handle: FileHandle) => Promise<T>): Promise<T> {
    let entry = this.entries.get(file);
    if (!entry) {
      const handle = open(file, 'r');
      entry = { handle, users: 0, lastUsed: 0 };
      this.entries.set(file, entry);
      handle.catch(() => {
        if (this.entries.get(file) === entry) this.entries.delete(file);
      });
    }
    entry.users += 1;
    entry.lastUsed = ++this.clock;
    this.evict(); // after counting ourselves as a user, so our own handle is never the one closed
    try {
      return await fn(await entry.handle);
    } finally {
      entry.users -= 1;
      this.evict();
    }
  }

  /** Closes the handle of `file` once idle (used when a torrent is removed). */
  forget(file: string): void {
    const entry = this.entries.get(file);
    if (entry && entry.users === 0) {
      this.entries.delete(file);
      entry.handle.then((h) => h.close()).catch(() => undefined);
    }
  }

  /** Closes every idle handle. */
  async closeAll(): Promise<void> {
    const closing: Promise<unknown>[] = [];
    for (const [file, entry] of this.entries) {
      if (entry.users > 0) continue;
      this.entries.delete(file);
      closing.push(entry.handle.then((h) => h.close()).catch(() => undefined));
    }
    await Promise.all(closing);
  }

  private evict(): void {
    if (this.entries.size <= this.maxOpen) return;
    const idle = [...this.entries].filter(([, e]) => e.users === 0).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [file, entry] of idle) {
      if (this.entries.size <= this.maxOpen) break;
      this.entries.delete(file);
      entry.handle.then((h) => h.close()).catch(() => undefined);
    }
  }
}
