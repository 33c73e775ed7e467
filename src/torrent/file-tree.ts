/**
 * The directory tree of a multi-file torrent, built file by file to find paths that repeat or
 * conflict (a file that is also a directory) in time linear in the number of path components.
 *
 * Each directory is a Map from component to child; a file is a leaf marker. Adding a path walks
 * (and creates) one node per component and never rebuilds prefixes, so a torrent whose paths hold
 * N components in total costs O(N) map operations whatever its shape (one deep path, many wide
 * ones). Memory is one Map per distinct directory.
 */

/** A leaf: the path ends here as a file. */
const FILE = true;

type Directory = Map<string, Directory | typeof FILE>;

/** Why a path could not be added to a {@link FileTree}. */
export type FileTreeConflict =
  /** The same path was added before, or it names a directory that earlier paths created. */
  | { kind: 'repeats'; path: string[] }
  /** A proper prefix of the path is a file added before (the path would put a file under a file). */
  | { kind: 'under-file'; file: string[] };

/** The directory tree of a torrent's files, for conflict checks while parsing. */
export class FileTree {
  private readonly root: Directory = new Map();
  /** Path components visited so far over all {@link FileTree.add} calls (a measure of the work done). */
  visited = 0;

  /**
   * Adds one file. Returns undefined when it fits, or the conflict it would create (the tree is
   * then unchanged below the first conflicting component, which is all a caller that stops at the
   * first error needs).
   * @param path the file's components, from the torrent's root
   */
  add(path: readonly string[]): FileTreeConflict | undefined {
    let dir = this.root;
    const last = path.length - 1;
    for (let i = 0; i < last; i++) {
      this.visited++;
      const child = dir.get(path[i]);
      if (child === FILE) return { kind: 'under-file', file: path.slice(0, i + 1) };
      if (child === undefined) {
        const created: Directory = new Map();
        dir.set(path[i], created);
        dir = created;
      } else {
        dir = child;
      }
    }
    this.visited++;
    if (dir.has(path[last])) return { kind: 'repeats', path: [...path] };
    dir.set(path[last], FILE);
    return undefined;
  }
}
