/**
 * Normal forms of stored values and query values, so that matching is plain comparison. The index
 * stores these forms at ingest; the query parsers produce the same forms from request values.
 */

/** Person name groups as "=alphabetic=ideographic=phonetic=", so a pattern can be anchored to any group. */
export function personNameMatchKey(name: string | undefined, caseInsensitive: boolean): string | undefined {
  if (name === undefined) return undefined;
  // Several values (backslash-separated) are just more groups to match against.
  const key = `=${name
    .split(/[=\\]/)
    .map((g) => g.trimEnd())
    .join('=')}=`;
  return caseInsensitive ? key.toLowerCase() : key;
}

/** Lower case, accents removed: the form fuzzy matching compares (PS3.18 8.3.4.6 leaves it to the server). */
export function foldForFuzzy(text: string): string {
  return text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
}

/** Every name component of every group, folded, space-separated and space-delimited: " doe john 山田 ". */
export function personNameFuzzyKey(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const components = foldForFuzzy(name)
    .split(/[\^=\\\s,]+/)
    .filter((c) => c !== '');
  return ` ${components.join(' ')} `;
}

/**
 * Tokens of a fuzzy query value: each must prefix some component. `*` and `?` stay in a token as
 * wildcards (`j?rg` still finds Jürgen), so fuzzy matching never finds less than literal matching; a
 * token of wildcards alone matches anything and is dropped.
 */
export function fuzzyTokens(value: string): string[] {
  return foldForFuzzy(value)
    .split(/[\^=\\\s,]+/)
    .filter((t) => t !== '' && !/^\*+$/.test(t));
}

/** DA as YYYYMMDD; accepts the old YYYY.MM.DD form (PS3.5 6.2, ACR-NEMA). Undefined if not a date. */
export function normalizeDate(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const compact = value.trim().replace(/\./g, '');
  return /^\d{8}$/.test(compact) ? compact : undefined;
}

/**
 * TM as HHMMSS[.FFFFFF], padded to whole seconds: "0930" -> "093000". Accepts the old HH:MM:SS form.
 * Undefined if not a time.
 */
export function normalizeTime(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const compact = value.trim().replace(/:/g, '');
  const match = /^(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?$/.exec(compact);
  if (!match) return undefined;
  return `${match[1]}${match[2] ?? '00'}${match[3] ?? '00'}${match[4] ?? ''}`;
}

/** The latest time a partial TM upper bound stands for: "12" -> "125959.999999", "1200" -> "120059.999999". */
export function timeUpperBound(value: string): string | undefined {
  const compact = value.trim().replace(/:/g, '');
  const match = /^(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?$/.exec(compact);
  if (!match) return undefined;
  const fraction = match[4] ? match[4].padEnd(7, '9') : '.999999';
  return `${match[1]}${match[2] ?? '59'}${match[3] ?? '59'}${fraction}`;
}

/** Whether a YYYYMMDD text names a real calendar day (month 01-12, a day the month has). */
export function isCalendarDate(date: string): boolean {
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec(date);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  return days !== undefined && day >= 1 && day <= days;
}

/** Whether a normalised HHMMSS[.FFFFFF] text is a time of day (hour 00-23, minute 00-59, second 00-60). */
export function isClockTime(time: string): boolean {
  const match = /^(\d{2})(\d{2})(\d{2})(\.\d{1,6})?$/.exec(time);
  if (!match) return false;
  return Number(match[1]) <= 23 && Number(match[2]) <= 59 && Number(match[3]) <= 60;
}
