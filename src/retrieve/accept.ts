/**
 * Which representation to answer with (PS3.18 8.3.3, 8.7): the accept query parameter wins over the
 * Accept header; media ranges are tried by quality, then in the order given; a multipart range carries
 * its part type in `type=` and may name several transfer syntaxes (OHIF sends two). Each resource
 * decides what it can produce from this ordered list of offers.
 */
import { parseAccept, type MediaType } from '../http/media-type.js';

export interface Offer {
  /** Media type of the body (single part) or of each part (multipart); '*' for any. */
  mediaType: string;
  /** true: multipart/related; false: single part; undefined: either (a wildcard range). */
  multipart: boolean | undefined;
  /** '*' (as stored), a UID, or undefined (the media type's default). */
  transferSyntax: string | undefined;
}

export function acceptedOffers(acceptHeader: string | undefined, acceptQuery: string[]): Offer[] {
  const ranges =
    acceptQuery.length > 0 ? acceptQuery.flatMap((q) => parseAccept(q)) : parseAccept(acceptHeader);
  if (ranges.length === 0) return [{ mediaType: '*', multipart: undefined, transferSyntax: undefined }];
  const ordered = ranges
    .map((range, index) => ({ range, index }))
    .filter(({ range }) => range.q > 0)
    .sort((a, b) => b.range.q - a.range.q || a.index - b.index)
    .map(({ range }) => range);
  return ordered.flatMap(toOffers);
}

function toOffers(range: MediaType): Offer[] {
  const syntaxes = range.all.filter(([name]) => name === 'transfer-syntax').map(([, value]) => value);
  const transferSyntaxes = syntaxes.length > 0 ? syntaxes : [undefined];
  let mediaType: string;
  let multipart: boolean | undefined;
  if (range.type === 'multipart/related' || range.type === 'multipart/*') {
    mediaType = range.params.type?.toLowerCase() ?? '*';
    multipart = true;
  } else if (range.type === '*/*') {
    mediaType = '*';
    multipart = undefined;
  } else {
    mediaType = range.type;
    multipart = false;
  }
  if (mediaType.endsWith('/*')) mediaType = mediaType === '*/*' ? '*' : mediaType;
  return transferSyntaxes.map((transferSyntax) => ({ mediaType, multipart, transferSyntax }));
}

/** Whether an offer's media type admits `type` (exact, `*`, or `image/*` for `image/jpeg`). */
export function mediaTypeMatches(offered: string, type: string): boolean {
  if (offered === '*' || offered === type) return true;
  return offered.endsWith('/*') && type.startsWith(offered.slice(0, -1));
}
