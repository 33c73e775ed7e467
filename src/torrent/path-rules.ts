/**
 * What a path inside a torrent may look like. Torrent paths come from strangers and end up as file
 * names on every operating system, so these rules are shared by `parseTorrent()` (which refuses a
 * torrent breaking them) and the seeder (which checks again before it opens anything).
 */

/**
 * Limits on the paths of a torrent's files, enforced by `parseTorrent()` before any path is decoded
 * (so a hostile file costs time linear in its size). Real torrents stay far below them: they are
 * the limits of common file systems (`NAME_MAX` 255 bytes, `PATH_MAX` 4096 bytes).
 */
export const PATH_LIMITS = {
  /** Most components in one file's path (below the torrent's name). */
  components: 256,
  /** Most bytes (UTF-8) in one component, and in the torrent's name. */
  componentBytes: 255,
  /** Most bytes in one file's path, components joined with `/`. */
  pathBytes: 4096,
} as const;
