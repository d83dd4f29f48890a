// Agent-controlled text (statements, commands, reasons) printed to a person's terminal: control
// characters and bidirectional overrides are shown escaped, so an escape sequence hidden in a
// statement cannot erase or rewrite what an approver reads before deciding.

/** C0 and C1 controls, DEL, and the Unicode bidi marks, embeddings, overrides and isolates. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every unsafe character written as `\xHH` (or `\uHHHH`). */
export function printable(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
