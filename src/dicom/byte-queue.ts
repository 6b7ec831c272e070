/**
 * A queue of incoming chunks that a push parser reads from without first concatenating them.
 * `position` is the absolute offset (in the whole stream) of the next unread byte.
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private head = 0;
  available = 0;
  position: number;

  constructor(startPosition = 0) {
    this.position = startPosition;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.available += chunk.length;
  }

  /** The next `n` bytes without consuming them; `n` must not exceed `available`. */
  peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length - this.head >= n) return first.subarray(this.head, this.head + n);
    const out = Buffer.allocUnsafe(n);
    this.copyOut(out, 0, n, false);
    return out;
  }

  /** Consumes `n` bytes into a new buffer; `n` must not exceed `available`. */
  take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    this.copyOut(out, 0, n, true);
    return out;
  }

  /** Consumes up to `n` bytes into `target` at `targetOffset`; returns how many were copied. */
  takeInto(target: Buffer, targetOffset: number, n: number): number {
    const count = Math.min(n, this.available);
    this.copyOut(target, targetOffset, count, true);
    return count;
  }

  /** Discards up to `n` bytes; returns how many were discarded. */
  skip(n: number): number {
    let remaining = Math.min(n, this.available);
    const skipped = remaining;
    while (remaining > 0) {
      const first = this.chunks[0]!;
      const inFirst = first.length - this.head;
      if (inFirst > remaining) {
        this.head += remaining;
        remaining = 0;
      } else {
        remaining -= inFirst;
        this.chunks.shift();
        this.head = 0;
      }
    }
    this.available -= skipped;
    this.position += skipped;
    return skipped;
  }

  /** Removes and returns everything not yet consumed. */
  drain(): Buffer[] {
    const rest = this.chunks.map((chunk, i) => (i === 0 ? chunk.subarray(this.head) : chunk));
    this.position += this.available;
    this.chunks = [];
    this.head = 0;
    this.available = 0;
    return rest;
  }

  private copyOut(target: Buffer, targetOffset: number, n: number, consume: boolean): void {
    let copied = 0;
    let index = 0;
    let head = this.head;
    while (copied < n) {
      const chunk = this.chunks[index]!;
      const count = Math.min(chunk.length - head, n - copied);
      chunk.copy(target, targetOffset + copied, head, head + count);
      copied += count;
      if (head + count === chunk.length) {
        index++;
        head = 0;
      } else {
        head += count;
      }
    }
    if (consume) {
      this.chunks.splice(0, index);
      this.head = head;
      this.available -= n;
      this.position += n;
    }
  }
}
