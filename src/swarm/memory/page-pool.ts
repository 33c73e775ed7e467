/**
 * The pages that peer tables are made of: full pages of {@link PAGE_RECORDS} records (and beside each
 * a page of wire entries), shared by every table of the process. A growing swarm takes pages from
 * here instead of reallocating one big buffer, and a shrinking one gives them back, so memory freed
 * by one swarm is reused by the next (no allocator fragmentation when thousands of swarms grow side
 * by side).
 */
import { RECORD_SIZE } from './peer-record.js';

/** Records per full page (a power of two). */
export const PAGE_RECORDS = 64;
/** Bytes of a full record page. */
export const PAGE_BYTES = PAGE_RECORDS * RECORD_SIZE;
/** Size in bytes of one wire entry (see peer-table.ts). */
export const WIRE_SIZE = 8;
/** Bytes of a full wire-entry page. */
export const WIRE_PAGE_BYTES = PAGE_RECORDS * WIRE_SIZE;

/**
 * Full pages of one size for every table of the process, carved from 1 MiB slabs; pages a table no
 * longer needs go back to the free list for other tables.
 */
export class PagePool {
  private readonly free: Buffer[] = [];
  /** Slabs allocated so far (never freed). */
  slabs = 0;

  constructor(readonly pageBytes: number) {}

  /** A page (from the free list, or from a new slab). */
  take(): Buffer {
    const page = this.free.pop();
    if (page) return page;
    const size = this.pageBytes;
    const slab = Buffer.allocUnsafeSlow(this.slabBytes);
    this.slabs++;
    for (let at = slab.length - size; at > 0; at -= size) this.free.push(slab.subarray(at, at + size));
    return slab.subarray(0, size);
  }

  /** Hand a page back for other tables. */
  give(page: Buffer): void {
    this.free.push(page);
  }

  /** Bytes of one slab: as many whole pages as fit in 1 MiB. */
  get slabBytes(): number {
    return Math.floor((1 << 20) / this.pageBytes) * this.pageBytes;
  }
}

/** Record pages. */
export const pagePool = new PagePool(PAGE_BYTES);
/** Wire-entry pages (one beside each full record page). */
export const wirePool = new PagePool(WIRE_PAGE_BYTES);

/** Bytes held by the shared page pools (in use or free). */
export function pagePoolBytes(): number {
  return pagePool.slabs * pagePool.slabBytes + wirePool.slabs * wirePool.slabBytes;
}
