/**
 * Lenient media type parsing (RFC 9110 8.3.1, 12.5.1) for Content-Type and Accept, the way real DICOMweb
 * clients send them: quoted or unquoted parameters, repeated parameters, odd spacing.
 */

export interface MediaType {
  /** "type/subtype", lower case. */
  type: string;
  /** Parameter names in lower case; a repeated parameter keeps every value in `all`. */
  params: Record<string, string>;
  all: [name: string, value: string][];
  /** Quality from an Accept media range (q=), 1 when absent. */
  q: number;
}

/** Splits on a separator outside double quotes. */
function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && quoted && i + 1 < text.length) {
      current += c + text[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === separator && !quoted) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

function unquote(value: string): string {
  const v = value.trim();
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\(.)/g, '$1');
  return v;
}

export function parseMediaType(text: string | undefined): MediaType | undefined {
  if (!text) return undefined;
  const [head, ...rest] = splitOutsideQuotes(text, ';');
  const type = head!.trim().toLowerCase();
  if (!/^[a-z0-9!#$&^_.+*-]+\/[a-z0-9!#$&^_.+*-]+$/.test(type)) return undefined;
  const params: Record<string, string> = {};
  const all: [string, string][] = [];
  let q = 1;
  for (const part of rest) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    if (!name) continue;
    const value = unquote(part.slice(eq + 1));
    if (name === 'q') {
      // Number('') is 0: a blank q is as unparsable as any other, not "not acceptable".
      const parsed = value === '' ? NaN : Number(value);
      q = Number.isFinite(parsed) ? Math.min(1, Math.max(0, parsed)) : 1;
      continue;
    }
    all.push([name, value]);
    params[name] ??= value;
  }
  return { type, params, all, q };
}

/** The media ranges of an Accept header (or the accept query parameter), in the order given. */
export function parseAccept(text: string | undefined): MediaType[] {
  if (!text || !text.trim()) return [];
  return splitOutsideQuotes(text, ',')
    .map((range) => parseMediaType(range))
    .filter((m): m is MediaType => m !== undefined);
}
