/**
 * The one HTTP client every phase uses against every server: node:http with keep-alive sockets and Nagle
 * off, no Accept-Encoding (loopback: compression would only cost CPU on both sides), bodies counted as they
 * stream and kept only when asked for. Cheap on purpose: the client shares the machine's cores with the
 * server it measures.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';

const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Bytes of the response body. */
  bytes: number;
  /** The body, when `keepBody` was set. */
  body?: Buffer;
  /** Occurrences of `countDelimiter` in the body (multipart parts), when given. */
  delimiters?: number;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Written in order, without concatenating. */
  body?: Buffer[];
  keepBody?: boolean;
  /** Counts occurrences of this byte string in the streamed body. */
  countDelimiter?: Buffer;
  /** Counts the parts of a multipart answer (delimiters of the boundary in its Content-Type). */
  countParts?: boolean;
}

export function request(url: string, options: RequestOptions = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body) headers['content-length'] = String(options.body.reduce((n, b) => n + b.length, 0));
    const req = http.request(url, { method: options.method ?? 'GET', headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      let delimiter = options.countDelimiter;
      if (options.countParts) {
        const boundary = /boundary="?([^";]+)"?/i.exec(res.headers['content-type'] ?? '')?.[1];
        if (boundary) delimiter = Buffer.from(`\r\n--${boundary}`);
      }
      let delimiters = 0;
      let carry = Buffer.alloc(0);
      let leadingDelimiter = false;
      res.on('data', (chunk: Buffer) => {
        if (bytes === 0 && delimiter && chunk.subarray(0, delimiter.length).equals(delimiter)) {
          leadingDelimiter = true;
        }
        bytes += chunk.length;
        if (options.keepBody) chunks.push(chunk);
        if (delimiter) {
          // Matches inside the chunk, then matches straddling the previous chunk's tail and this one.
          for (let at = chunk.indexOf(delimiter); at >= 0; at = chunk.indexOf(delimiter, at + 1))
            delimiters++;
          if (carry.length) {
            const straddle = Buffer.concat([carry, chunk.subarray(0, delimiter.length - 1)]);
            for (let at = straddle.indexOf(delimiter); at >= 0 && at < carry.length;) {
              delimiters++;
              at = straddle.indexOf(delimiter, at + 1);
            }
          }
          const keep = delimiter.length - 1;
          const joined = chunk.length >= keep ? chunk : Buffer.concat([carry, chunk]);
          carry = Buffer.from(joined.subarray(Math.max(0, joined.length - keep)));
        }
      });
      res.on('end', () => {
        const result: HttpResult = { status: res.statusCode ?? 0, headers: res.headers, bytes };
        if (options.keepBody) result.body = Buffer.concat(chunks);
        // Parts: CRLF-delimiters between parts plus the close delimiter, minus one when the first
        // delimiter has a CRLF (preamble) before it too.
        if (delimiter) result.delimiters = delimiters - (leadingDelimiter ? 1 : 0);
        resolve(result);
      });
      res.on('error', reject);
    });
    req.on('socket', (socket) => socket.setNoDelay(true));
    req.on('error', reject);
    for (const chunk of options.body ?? []) req.write(chunk);
    req.end();
  });
}

/** GET that must answer 200 (or `expected`); the error names the server's answer. */
export async function get(
  url: string,
  headers: Record<string, string>,
  options: Omit<RequestOptions, 'headers' | 'method'> = {},
  expected = [200],
): Promise<HttpResult> {
  const result = await request(url, { ...options, headers, keepBody: options.keepBody ?? false });
  if (!expected.includes(result.status)) {
    const detail = await request(url, { headers, keepBody: true });
    throw new Error(
      `GET ${url} answered ${result.status}: ${detail.body?.toString('utf8').slice(0, 300) ?? ''}`,
    );
  }
  return result;
}

/** multipart/related; type="application/dicom" parts, as STOW-RS clients send them. */
export function stowBody(parts: Buffer[]): { chunks: Buffer[]; contentType: string } {
  const boundary = `bench${randomBytes(12).toString('hex')}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`);
  const between = Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`);
  const chunks: Buffer[] = [];
  parts.forEach((part, i) => chunks.push(i === 0 ? head : between, part));
  chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  return { chunks, contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}

/**
 * STOW-RS of `parts` in one request; resolves when every instance is stored (200), retrying after a 429
 * (a server limiting concurrent uploads) or a 503.
 */
export async function stow(dicomweb: string, parts: Buffer[]): Promise<void> {
  const { chunks, contentType } = stowBody(parts);
  for (let attempt = 0; ; attempt++) {
    const result = await request(`${dicomweb}/studies`, {
      method: 'POST',
      headers: { 'content-type': contentType, accept: 'application/dicom+json' },
      body: chunks,
      keepBody: true,
    });
    if (result.status === 200) return;
    if ((result.status === 429 || result.status === 503) && attempt < 50) {
      await new Promise((resolve) => setTimeout(resolve, 50 + attempt * 50));
      continue;
    }
    throw new Error(
      `STOW to ${dicomweb} answered ${result.status}: ${result.body?.toString('utf8').slice(0, 400)}`,
    );
  }
}
