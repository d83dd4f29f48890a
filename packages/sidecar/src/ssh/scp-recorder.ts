// Follows the legacy scp protocol (rcp's) in the direction files flow, hashing each file's bytes:
// `C<mode> <size> <name>\n` + size bytes + `\0`, `D<mode> 0 <name>\n` … `E\n` for folders,
// `T<mtime> 0 <atime> 0\n` times. Anything else ends the parse (a value, never a throw).
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { posix } from 'node:path';

export interface ScpFile { path: string; bytes: number; sha256: string }

type State =
  | { type: 'header'; line: Buffer[]; length: number }
  | { type: 'data'; path: string; left: number; size: number; hash: Hash }
  | { type: 'ack' }
  | { type: 'broken' };

const MAX_HEADER = 4096;

export class ScpRecorder {
  private state: State = { type: 'header', line: [], length: 0 };
  private readonly dirs: string[] = [];

  /**
   * `root` is the path the scp exec named; `download` tells whether the first folder header is
   * the root itself (`scp -r -f dir` sends `D… dir`) or one inside it (`scp -r -t dir`).
   */
  constructor(private readonly root: string, private readonly download: boolean, private readonly onFile: (f: ScpFile) => void) {}

  feed(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length && this.state.type !== 'broken') {
      const s = this.state;
      switch (s.type) {
        case 'header': {
          const nl = chunk.indexOf(0x0a, i);
          const end = nl < 0 ? chunk.length : nl;
          s.line.push(chunk.subarray(i, end));
          s.length += end - i;
          i = end + (nl < 0 ? 0 : 1);
          if (s.length > MAX_HEADER) this.state = { type: 'broken' };
          else if (nl >= 0) this.header(Buffer.concat(s.line).toString('utf8'));
          break;
        }
        case 'data': {
          const n = Math.min(s.left, chunk.length - i);
          s.hash.update(chunk.subarray(i, i + n));
          s.left -= n;
          i += n;
          if (s.left === 0) {
            this.onFile({ path: s.path, bytes: s.size, sha256: s.hash.digest('hex') });
            this.state = { type: 'ack' };
          }
          break;
        }
        case 'ack':
          // The sender's status byte after the data: 0 is OK.
          this.state = chunk[i] === 0 ? { type: 'header', line: [], length: 0 } : { type: 'broken' };
          i++;
          break;
      }
    }
  }

  private header(line: string): void {
    const next: State = { type: 'header', line: [], length: 0 };
    const m = /^([CD])[0-7]{4} (\d+) (.+)$/.exec(line);
    if (m) {
      const [, kind, size, name] = m as unknown as [string, string, string, string];
      if (name.includes('/') || name === '..') { this.state = { type: 'broken' }; return; }
      if (kind === 'D') {
        this.dirs.push(name);
        this.state = next;
        return;
      }
      const inner = this.download ? this.dirs.slice(1) : this.dirs;
      const path = this.dirs.length === 0 ? this.root : posix.join(this.root, ...inner, name);
      const bytes = Number(size);
      if (!Number.isSafeInteger(bytes)) { this.state = { type: 'broken' }; return; }
      const hash = createHash('sha256');
      if (bytes === 0) {
        this.onFile({ path, bytes: 0, sha256: hash.digest('hex') });
        this.state = { type: 'ack' };
      } else {
        this.state = { type: 'data', path, left: bytes, size: bytes, hash };
      }
      return;
    }
    if (line === 'E') { this.dirs.pop(); this.state = next; return; }
    if (/^T\d+ \d+ \d+ \d+$/.test(line)) { this.state = next; return; }
    this.state = { type: 'broken' };
  }
}
