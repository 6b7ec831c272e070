/**
 * A deliberately simple multipart/related parser for test assertions, independent of the gateway's own
 * streaming reader: split the whole body on the boundary, then split each part's headers from its body.
 */
export interface ParsedPart {
  headers: Record<string, string>;
  body: Buffer;
}

export function boundaryOf(contentType: string | null): string {
  const match = /boundary="?([^";]+)"?/i.exec(contentType ?? '');
  if (!match) throw new Error(`no boundary in ${contentType}`);
  return match[1]!;
}

export function parseMultipart(body: Buffer, boundary: string): ParsedPart[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: ParsedPart[] = [];
  let at = body.indexOf(delimiter);
  if (at < 0) throw new Error('no boundary in body');
  for (;;) {
    at += delimiter.length;
    if (body.subarray(at, at + 2).toString() === '--') break;
    at += 2; // CRLF after the boundary line
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), at);
    if (next < 0) throw new Error('missing closing boundary');
    const part = body.subarray(at, next);
    const split = part.indexOf('\r\n\r\n');
    const headers: Record<string, string> = {};
    for (const line of part.subarray(0, split).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    parts.push({ headers, body: part.subarray(split + 4) });
    at = next + 2;
  }
  return parts;
}

/** Fetches a URL and parses its multipart body. */
export async function fetchParts(
  url: string,
  accept: string,
): Promise<{ status: number; contentType: string; parts: ParsedPart[] }> {
  const response = await fetch(url, { headers: { accept } });
  const body = Buffer.from(await response.arrayBuffer());
  const contentType = response.headers.get('content-type') ?? '';
  if (response.status !== 200 || !contentType.startsWith('multipart/'))
    return { status: response.status, contentType, parts: [] };
  return { status: response.status, contentType, parts: parseMultipart(body, boundaryOf(contentType)) };
}
