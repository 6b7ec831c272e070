/**
 * A streaming reader for multipart bodies (RFC 2046 5.1, as multipart/related uses it in PS3.18 8.6):
 * parts are handed out one at a time as streams, so a STOW-RS upload is never held in memory whole.
 * Each part's body must be read to its end before the next part is asked for.
 */

export class MultipartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MultipartError';
  }
}

export interface MultipartPart {
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: AsyncIterable<Buffer>;
}

const CRLF = Buffer.from('\r\n');
const MAX_HEADER_BYTES = 16 * 1024;

export class MultipartReader {
  private buffer: Buffer = Buffer.alloc(0);
  private done = false;
  private sourceEnded = false;
  private started = false;
  private readonly delimiter: Buffer;
  private readonly firstDelimiter: Buffer;
  private partOpen = false;

  constructor(
    private readonly source: AsyncIterator<Buffer>,
    boundary: string,
  ) {
    if (!boundary || boundary.length > 70) throw new MultipartError('invalid multipart boundary');
    this.delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
    this.firstDelimiter = this.delimiter.subarray(2);
  }

  static from(source: AsyncIterable<Buffer>, boundary: string): MultipartReader {
    return new MultipartReader(source[Symbol.asyncIterator](), boundary);
  }

  /** The next part, or undefined after the close delimiter. */
  async nextPart(): Promise<MultipartPart | undefined> {
    if (this.partOpen) throw new MultipartError('previous part was not read to its end');
    if (this.done) return undefined;
    if (!this.started) {
      this.started = true;
      await this.skipPreamble();
    }
    if (this.done) return undefined;
    const headers = await this.readHeaders();
    this.partOpen = true;
    return { headers, body: this.readBody() };
  }

  private async fill(): Promise<boolean> {
    if (this.sourceEnded) return false;
    const next = await this.source.next();
    if (next.done) {
      this.sourceEnded = true;
      return false;
    }
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    return true;
  }

  /** Finds the first delimiter (which may open the body without a preceding CRLF) and what follows it. */
  private async skipPreamble(): Promise<void> {
    // The buffer holds the start of the body until preamble bytes are dropped; only there may the
    // delimiter come without its CRLF (elsewhere "--boundary" is not at the start of a line).
    let atBodyStart = true;
    for (;;) {
      const at =
        atBodyStart && this.buffer.subarray(0, this.firstDelimiter.length).equals(this.firstDelimiter)
          ? 0
          : this.indexOfDelimiter();
      if (at >= 0) {
        const length =
          at === 0 && this.buffer[0] !== 0x0d ? this.firstDelimiter.length : this.delimiter.length;
        this.buffer = this.buffer.subarray(at + length);
        await this.afterDelimiter();
        return;
      }
      // Keep only what could still be the start of a delimiter.
      if (this.buffer.length > this.delimiter.length) {
        this.buffer = this.buffer.subarray(-this.delimiter.length);
        atBodyStart = false;
      }
      if (!(await this.fill())) throw new MultipartError('no multipart boundary found in the body');
    }
  }

  private indexOfDelimiter(): number {
    return this.buffer.indexOf(this.delimiter);
  }

  /** After a delimiter: "--" closes the body; otherwise optional whitespace then CRLF starts a part. */
  private async afterDelimiter(): Promise<void> {
    while (this.buffer.length < 2) {
      if (!(await this.fill())) throw new MultipartError('body ends right after a boundary');
    }
    if (this.buffer[0] === 0x2d && this.buffer[1] === 0x2d) {
      this.done = true;
      this.buffer = Buffer.alloc(0);
      return;
    }
    for (;;) {
      const lineEnd = this.buffer.indexOf(CRLF);
      if (lineEnd >= 0) {
        if (!/^[ \t]*$/.test(this.buffer.toString('latin1', 0, lineEnd))) {
          throw new MultipartError('unexpected characters after a boundary');
        }
        this.buffer = this.buffer.subarray(lineEnd + 2);
        return;
      }
      if (this.buffer.length > 1024) throw new MultipartError('unexpected characters after a boundary');
      if (!(await this.fill())) throw new MultipartError('body ends right after a boundary');
    }
  }

  private async readHeaders(): Promise<Record<string, string>> {
    for (;;) {
      // A part may have no headers at all: then the body starts right after an empty line.
      if (this.buffer.subarray(0, 2).equals(CRLF)) {
        this.buffer = this.buffer.subarray(2);
        return {};
      }
      const end = this.buffer.indexOf('\r\n\r\n');
      // The same limit however the body is chunked: on the header block, not on what happens to be buffered.
      if (end > MAX_HEADER_BYTES || (end < 0 && this.buffer.length > MAX_HEADER_BYTES + 3)) {
        throw new MultipartError('part headers are too large');
      }
      if (end >= 0) {
        const block = this.buffer.toString('latin1', 0, end);
        this.buffer = this.buffer.subarray(end + 4);
        return parseHeaderBlock(block);
      }
      if (!(await this.fill())) throw new MultipartError('body ends inside part headers');
    }
  }

  private async *readBody(): AsyncGenerator<Buffer> {
    // Only a body read to its delimiter frees the reader for the next part: one abandoned part-way
    // (break, an error) leaves the stream mid-part, where headers must not be looked for.
    let finished = false;
    try {
      for (;;) {
        const at = this.indexOfDelimiter();
        if (at >= 0) {
          if (at > 0) yield this.buffer.subarray(0, at);
          this.buffer = this.buffer.subarray(at + this.delimiter.length);
          await this.afterDelimiter();
          finished = true;
          return;
        }
        // Everything but a possible partial delimiter at the end can go out now.
        const safe = this.buffer.length - (this.delimiter.length - 1);
        if (safe > 0) {
          const out = this.buffer.subarray(0, safe);
          this.buffer = this.buffer.subarray(safe);
          yield out;
        }
        if (!(await this.fill())) {
          this.done = true;
          throw new MultipartError('body ends inside a part: the closing boundary is missing');
        }
      }
    } finally {
      if (finished) this.partOpen = false;
    }
  }
}

function parseHeaderBlock(block: string): Record<string, string> {
  const headers: Record<string, string> = {};
  // Folded header lines (RFC 5322 2.2.3) continue with whitespace.
  for (const line of block.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0)
      throw new MultipartError(`malformed part header line: ${JSON.stringify(line.slice(0, 80))}`);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}
