// Newline framing for streamed bodies that are masked piecewise (watch events, `kubectl logs -f`):
// whole lines are handed on as soon as they end; a partial line waits for the rest.
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';

/** The longest line held while waiting for its end; longer ones are refused, not buffered forever. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

/**
 * Applies `map` to every line (without its `\n`) and writes the result with `\n`; the last
 * line, when the stream ends without one, is mapped and written without. `map` may throw only
 * for input it refuses: the stream then fails with that error.
 */
export function mapLines(map: (line: Buffer) => Buffer | string): Transform {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      let start = 0;
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
        let line = chunk.subarray(start, nl);
        if (pending.length > 0) {
          line = Buffer.concat([...pending, line]);
          pending = [];
          pendingBytes = 0;
        }
        try {
          this.push(map(line));
          this.push('\n');
        } catch (err) {
          return done(err as Error);
        }
        start = nl + 1;
      }
      if (start < chunk.length) {
        pending.push(chunk.subarray(start));
        pendingBytes += chunk.length - start;
        if (pendingBytes > MAX_LINE_BYTES) return done(new Error(`line longer than ${MAX_LINE_BYTES} bytes`));
      }
      done();
    },
    flush(done: TransformCallback) {
      if (pending.length === 0) return done();
      try {
        this.push(map(Buffer.concat(pending)));
      } catch (err) {
        return done(err as Error);
      }
      done();
    },
  });
}
