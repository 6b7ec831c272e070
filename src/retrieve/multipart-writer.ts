/**
 * multipart/related response bodies (RFC 2387, PS3.18 8.6.1.2) written as a stream: each part's body is
 * produced when the part before it starts going out (one part of read-ahead), so a study of any size goes
 * out from disk without being held in memory.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

export interface Part {
  contentType: string;
  /** Where the part came from (PS3.18 8.6.1.2: Content-Location is optional). */
  location?: string;
  body: () => Promise<Buffer | Readable>;
  /** Leave the part out, rather than fail the whole body, when it cannot be produced (one bad image in a study). */
  onError?: (error: unknown) => 'skip';
}

export function newBoundary(): string {
  return `DICOMweb-${randomBytes(12).toString('hex')}`;
}

export function multipartContentType(partType: string, boundary: string): string {
  return `multipart/related; type="${partType}"; boundary=${boundary}`;
}

/** The delimiter and headers before a part's body. */
function partHead(boundary: string, part: Pick<Part, 'contentType' | 'location'>): Buffer {
  const location = part.location ? `Content-Location: ${part.location}\r\n` : '';
  return Buffer.from(`--${boundary}\r\nContent-Type: ${part.contentType}\r\n${location}\r\n`);
}

/**
 * What goes around the body of a one-part multipart/related message: the caller reads the body into a
 * buffer with room for both (see Room) and writes them in place, so the whole message is one buffer.
 */
export function singlePartFraming(
  boundary: string,
  part: Pick<Part, 'contentType' | 'location'>,
): { head: Buffer; tail: Buffer } {
  return { head: partHead(boundary, part), tail: Buffer.from(`\r\n--${boundary}--\r\n`) };
}

export function multipartBody(parts: Iterable<Part> | AsyncIterable<Part>, boundary: string): Readable {
  async function* emit({ part, body }: Pending): AsyncGenerator<Buffer> {
    let content: Buffer | Readable;
    try {
      content = await body;
    } catch (error) {
      if (part.onError?.(error) === 'skip') return;
      throw error;
    }
    yield partHead(boundary, part);
    if (Buffer.isBuffer(content)) yield content;
    else yield* content as AsyncIterable<Buffer>;
    yield Buffer.from('\r\n');
  }

  async function* generate(): AsyncGenerator<Buffer> {
    // One part ahead: the next body is being read from disk while the current one goes out.
    const pending: Pending[] = [];
    try {
      for await (const part of parts) {
        pending.push(start(part));
        if (pending.length > LOOKAHEAD) yield* emit(pending.shift()!);
      }
      while (pending.length > 0) yield* emit(pending.shift()!);
      yield Buffer.from(`--${boundary}--\r\n`);
    } finally {
      // The client went away or a part failed: release what was read ahead.
      for (const { body } of pending.splice(0)) {
        body.then(
          (content) => Buffer.isBuffer(content) || content.destroy(),
          () => undefined,
        );
      }
    }
  }
  return Readable.from(generate(), { objectMode: false });
}

const LOOKAHEAD = 1;

interface Pending {
  part: Part;
  body: Promise<Buffer | Readable>;
}

function start(part: Part): Pending {
  const body = part.body();
  // A failure is dealt with when the part's turn comes; until then it must not go unhandled.
  body.catch(() => undefined);
  return { part, body };
}
