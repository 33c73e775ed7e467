/** Percent-escaping the way different real clients do it, for tests. */

const UNRESERVED = /[A-Za-z0-9\-_.~]/;

/** Escape every byte, with upper- or lowercase hex digits. */
export function escapeAll(bytes: Uint8Array, lower = false): string {
  let s = '';
  for (const b of bytes) {
    const h = b.toString(16).padStart(2, '0');
    s += '%' + (lower ? h : h.toUpperCase());
  }
  return s;
}

/** Escape like libtorrent/qBittorrent: lowercase escapes, unreserved bytes and a few others literal. */
export function escapeLikeLibtorrent(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    if (b < 128 && (UNRESERVED.test(c) || "()!*'".includes(c))) s += c;
    else s += '%' + b.toString(16).padStart(2, '0');
  }
  return s;
}
