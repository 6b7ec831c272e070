/**
 * multipart/related response bodies (RFC 2387, PS3.18 8.6.1.2) written as a stream: each part's body is
 * produced only when the previous part has been sent, so a study of any size goes out from disk without
 * being held in memory.
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

export function multipartBody(parts: Iterable<Part> | AsyncIterable<Part>, boundary: string): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    for await (const part of parts) {
      let body: Buffer | Readable;
      try {
        body = await part.body();
      } catch (error) {
        if (part.onError?.(error) === 'skip') continue;
        throw error;
      }
      const location = part.location ? `Content-Location: ${part.location}\r\n` : '';
      yield Buffer.from(`--${boundary}\r\nContent-Type: ${part.contentType}\r\n${location}\r\n`);
      if (Buffer.isBuffer(body)) yield body;
      else yield* body as AsyncIterable<Buffer>;
      yield Buffer.from('\r\n');
    }
    yield Buffer.from(`--${boundary}--\r\n`);
  }
  return Readable.from(generate(), { objectMode: false });
}
