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

/** Device names Windows reserves in every directory, alone or followed by an extension (`NUL.txt`). */
const WINDOWS_DEVICE = /^(?:con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(?: *\..*)?$/i;
/** C0 controls, DEL and C1 controls. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Why `component` is not a safe path component on every common operating system, or undefined
 * when it is. A safe component is not empty, not `.` or `..` (nor one once Windows drops trailing
 * dots and spaces: `...`, `.. `), holds no `/` or `\` separator, no control character (C0, DEL, C1;
 * NUL included), does not start with a drive letter (`C:`), and is not a Windows device name
 * (`CON`, `PRN`, `AUX`, `NUL`, `COM0`–`COM9`, `LPT0`–`LPT9`, `CONIN$`, `CONOUT$`, in any case, with
 * or without an extension).
 */
export function unsafeComponentReason(component: string): string | undefined {
  if (component === '') return 'it is empty';
  if (component.includes('/') || component.includes('\\')) return 'it contains a path separator';
  if (CONTROL.test(component)) return 'it contains a control character';
  const windowsName = component.replace(/[. ]+$/, '');
  if (windowsName === '') return component === '.' || component === '..' ? `it is "${component}"` : 'it is only dots and spaces';
  if (/^[a-zA-Z]:/.test(component)) return 'it starts with a drive letter';
  if (WINDOWS_DEVICE.test(windowsName)) return 'it is a reserved device name on Windows';
  return undefined;
}

/**
 * `text` quoted for an error message: JSON string syntax, with C1 controls and Unicode bidi
 * controls escaped too (JSON.stringify escapes only C0), so a message can be printed as is.
 */
export function quote(text: string): string {
  return JSON.stringify(text).replace(
    /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
