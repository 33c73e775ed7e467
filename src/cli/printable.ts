/**
 * Text that came from a torrent, a peer or a tracker, made safe to print on a terminal. A crafted
 * name, comment, URL or failure reason could otherwise carry escape sequences that set the window
 * title, clear the screen, move the cursor or hide text, or bidi controls that reorder what is
 * shown.
 */

/** C0 controls, DEL, C1 controls (ESC and CSI included) and Unicode bidi controls. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** What JSON.stringify leaves raw inside strings: DEL, C1 and bidi controls (it escapes C0). */
const LEFT_RAW_BY_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const SHORT: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * `text` with every control character (C0, DEL, C1) and bidi control replaced by a visible escape:
 * `\n`, `\r`, `\t`, `\x1b` (up to U+00FF) or `\u202e`. Printable characters, including non-ASCII
 * letters, pass unchanged.
 */
export function printable(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return SHORT[c] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
  });
}

/**
 * JSON text (from JSON.stringify, indented or not) made safe to print the same way: the control
 * characters JSON.stringify leaves raw inside strings (DEL, C1, bidi controls) become `\uXXXX`
 * escapes, so the JSON still parses to the same values.
 */
export function printableJson(json: string): string {
  return json.replace(LEFT_RAW_BY_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Runs `action`; an error it throws is rethrown with its message made {@link printable}. */
export async function withPrintableErrors<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof Error) error.message = printable(error.message);
    throw error;
  }
}
