/**
 * Errors raised while reading or making .torrent files. Each carries a one-line message that names
 * the problem, so a command-line tool can print it as is.
 */

/** A .torrent file (or any bencoded input) is malformed or breaks the metainfo rules. */
export class TorrentParseError extends Error {
  /** Byte offset in the input where the problem was found, when it is known. */
  readonly offset?: number;

  /**
   * @param message what is wrong, e.g. `dictionary keys are not sorted at byte 12`
   * @param offset byte offset of the problem in the input, if known
   */
  constructor(message: string, offset?: number) {
    super(message);
    this.name = 'TorrentParseError';
    if (offset !== undefined) this.offset = offset;
  }
}

/**
 * A torrent cannot be made from the given input: a missing or unreadable path, an empty directory,
 * a file that changed while it was hashed, an invalid option.
 */
export class TorrentCreateError extends Error {
  /** The file or directory concerned, when there is one. */
  readonly path?: string;

  /**
   * @param message what is wrong, in one line
   * @param options `path`: the file concerned; `cause`: the underlying error
   */
  constructor(message: string, options: { path?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TorrentCreateError';
    if (options.path !== undefined) this.path = options.path;
  }
}

/** A short reason for a file-system error (`no such file or directory`, `permission denied`, ...). */
export function fsReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    case 'ENOTDIR':
      return 'a path component is not a directory';
    case 'EISDIR':
      return 'is a directory';
    case 'EMFILE':
    case 'ENFILE':
      return 'too many open files';
    case 'EIO':
      return 'input/output error';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}
