/** What handlers need from the request URL: the public base for RetrieveURLs and the raw query pairs. */
import type { FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';

/** Base URL of the DICOMweb services as the client sees them, e.g. "http://host:8080/dicom-web". */
export function publicBase(request: FastifyRequest, publicBaseUrl: string, root: string): string {
  if (publicBaseUrl) return publicBaseUrl + root;
  return `${request.protocol}://${request.host}${root}`;
}

/**
 * Query pairs decoded as UTF-8 percent-encoding (RFC 3986), without form-encoding's "+" for space:
 * "+" is literal in DICOM values (time zone offsets). Raw non-ASCII bytes that browsers send are
 * taken as UTF-8 too.
 */
export function queryPairs(url: string): [string, string][] {
  const q = url.indexOf('?');
  if (q < 0) return [];
  let query = url.slice(q + 1);
  const hash = query.indexOf('#');
  if (hash >= 0) query = query.slice(0, hash);
  // Node hands over raw request-target bytes as Latin-1 characters; undo that to get UTF-8 text.
  if (/[^\u0020-\u007e]/.test(query)) query = Buffer.from(query, 'latin1').toString('utf8');
  const pairs: [string, string][] = [];
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    pairs.push([decode(key), decode(value)]);
  }
  return pairs;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new GatewayError(
      'BAD_REQUEST',
      `malformed percent-encoding in query: ${JSON.stringify(text.slice(0, 80))}`,
    );
  }
}
