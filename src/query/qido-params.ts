/**
 * QIDO-RS query parameters (PS3.18 8.3.4) to a QuerySpec. Keys are keywords or hex tags; values are
 * matched per PS3.4 C.2.2.2. A key the index cannot match is an error naming the key, never a silent
 * empty result.
 */
import { lookupKeyword, lookupTag, parseHexTag, tagToHex } from '../dicom/dictionary.js';
import { isValidUid } from '../dicom/uid.js';
import { GatewayError } from '../errors.js';
import { catalogByTag, LEVEL_ORDER, type CatalogEntry, type QueryLevel } from './attributes.js';
import type { MatchCondition, QuerySpec } from './query-model.js';
import { fuzzyTokens, normalizeDate, normalizeTime, timeUpperBound } from './normalize.js';

export interface QidoOptions {
  /** Largest page the server returns (limits.qidoMaxLimit). */
  maxLimit: number;
  /** Person names match case-insensitively unless configured otherwise. */
  caseInsensitivePersonNames: boolean;
}

export interface ParsedQido {
  spec: QuerySpec;
  /** Tags to return beyond the level's defaults; 'all' for includefield=all. */
  includeFields: Set<number> | 'all';
  /** The server's maximum cut the page the client asked for (or the client set no limit). */
  limitCappedByServer: boolean;
}

export interface MatchKey {
  tag: number;
  value: string;
}

/** Keys a matching key may not name: they are query controls. */
const CONTROL_KEYS = new Set(['limit', 'offset', 'fuzzymatching', 'includefield', 'accept', 'charset']);

export function parseQido(
  level: Exclude<QueryLevel, 'PATIENT'>,
  scope: QuerySpec['scope'],
  pairs: [string, string][],
  options: QidoOptions,
): ParsedQido {
  let limit: number | undefined;
  let offset = 0;
  let fuzzy = false;
  const includeFields = new Set<number>();
  let includeAll = false;
  const keys: MatchKey[] = [];

  for (const [rawKey, value] of pairs) {
    const key = rawKey.trim();
    switch (key.toLowerCase()) {
      case 'limit':
        limit = parseNonNegativeInteger('limit', value);
        continue;
      case 'offset':
        offset = parseNonNegativeInteger('offset', value);
        continue;
      case 'fuzzymatching':
        if (!/^(true|false)$/i.test(value))
          throw badRequest(`fuzzymatching must be true or false, got "${value}"`);
        fuzzy = value.toLowerCase() === 'true';
        continue;
      case 'includefield':
        for (const field of value
          .split(',')
          .map((f) => f.trim())
          .filter(Boolean)) {
          if (field.toLowerCase() === 'all') includeAll = true;
          else includeFields.add(resolveTag(field, 'includefield'));
        }
        continue;
      case 'accept':
      case 'charset':
        continue;
    }
    if (CONTROL_KEYS.has(key.toLowerCase())) continue;
    keys.push({ tag: resolveTag(key, 'query'), value });
  }

  const conditions = buildConditions(keys, level, {
    fuzzy,
    caseInsensitive: options.caseInsensitivePersonNames,
  });
  for (const key of keys) includeFields.add(key.tag);

  const limitCappedByServer = limit === undefined || limit > options.maxLimit;
  return {
    spec: {
      level,
      scope,
      conditions,
      limit: limit === undefined ? options.maxLimit : Math.min(limit, options.maxLimit),
      offset,
    },
    includeFields: includeAll ? 'all' : includeFields,
    limitCappedByServer,
  };
}

/**
 * Match conditions from keys and values, shared with C-FIND (which passes its identifier's keys).
 * Empty values are universal matches: they only ask for the attribute to be returned.
 */
export function buildConditions(
  keys: MatchKey[],
  level: QueryLevel,
  options: { fuzzy: boolean; caseInsensitive: boolean },
): MatchCondition[] {
  const conditions: MatchCondition[] = [];
  const byTag = new Map(keys.map((k) => [k.tag, k.value]));
  const studyDate = byTag.get(0x00080020);
  const studyTime = byTag.get(0x00080030);
  // StudyDate and StudyTime together are one combined date-time range (PS3.4 C.2.2.2.5.1).
  const combined = studyDate !== undefined && studyDate !== '' && studyTime !== undefined && studyTime !== '';

  for (const { tag, value } of keys) {
    const entry = matchableEntry(tag, level);
    if (value === '' || (value === '*' && entry.vr !== 'UI')) continue;
    if (combined && (tag === 0x00080020 || tag === 0x00080030)) continue;
    conditions.push(condition(entry, value, options));
  }
  if (combined) conditions.push(combinedDateTime(studyDate!, studyTime!));
  return conditions;
}

function matchableEntry(tag: number, level: QueryLevel): CatalogEntry {
  const entry = catalogByTag(tag);
  if (!entry || !entry.matchable) {
    throw badRequest(`attribute ${describeTag(tag)} cannot be used as a matching key`);
  }
  // Patient and study keys are matchable from any level below them; lower-level keys are not above.
  if (LEVEL_ORDER[entry.level] > LEVEL_ORDER[level]) {
    throw badRequest(
      `attribute ${describeTag(tag)} is a ${entry.level.toLowerCase()} attribute and cannot match ${level.toLowerCase()}s`,
    );
  }
  return entry;
}

function condition(
  entry: CatalogEntry,
  raw: string,
  options: { fuzzy: boolean; caseInsensitive: boolean },
): MatchCondition {
  const value = raw.trim();
  const field = entry.field;
  switch (entry.vr) {
    case 'UI': {
      const values = splitList(value);
      for (const uid of values) {
        if (!isValidUid(uid))
          throw badRequest(`${entry.keyword} value "${uid.slice(0, 80)}" is not a valid UID`);
      }
      return values.length === 1
        ? { kind: 'single', field, value: values[0]!, caseInsensitive: false }
        : { kind: 'list', field, values };
    }
    case 'DA':
      return dateCondition(entry, value);
    case 'TM':
      return timeCondition(entry, value);
    case 'PN': {
      if (options.fuzzy) return { kind: 'fuzzyName', field, tokens: fuzzyTokens(value) };
      return wildcardOrSingle(field, value, options.caseInsensitive);
    }
    case 'IS':
    case 'US': {
      const values = splitList(value);
      for (const v of values) {
        if (!/^[+-]?\d+$/.test(v))
          throw badRequest(`${entry.keyword} value "${v.slice(0, 80)}" is not an integer`);
      }
      const numbers = values.map((v) => String(Number(v)));
      return numbers.length === 1
        ? { kind: 'single', field, value: numbers[0]!, caseInsensitive: false }
        : { kind: 'list', field, values: numbers };
    }
    case 'CS': {
      // A CS value never contains "\" or ",", so a list of them is unambiguous (OHIF sends CT\MR).
      const values = splitList(value);
      if (values.length > 1) return { kind: 'list', field, values };
      return wildcardOrSingle(field, value, false);
    }
    default:
      return wildcardOrSingle(field, value, false);
  }
}

function wildcardOrSingle(
  field: CatalogEntry['field'],
  value: string,
  caseInsensitive: boolean,
): MatchCondition {
  if (/[*?]/.test(value)) return { kind: 'wildcard', field, pattern: value, caseInsensitive };
  return { kind: 'single', field, value, caseInsensitive };
}

function splitList(value: string): string[] {
  return value
    .split(/[\\,]/)
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

function splitRange(value: string): [string, string] | undefined {
  const dash = value.indexOf('-');
  if (dash < 0) return undefined;
  return [value.slice(0, dash).trim(), value.slice(dash + 1).trim()];
}

function dateCondition(entry: CatalogEntry, value: string): MatchCondition {
  const range = splitRange(value);
  if (!range) {
    const date = normalizeDate(value);
    if (!date) throw badRequest(`${entry.keyword} value "${value}" is not a date (YYYYMMDD) or range`);
    return { kind: 'single', field: entry.field, value: date, caseInsensitive: false };
  }
  const [fromText, toText] = range;
  const from = fromText ? normalizeDate(fromText) : undefined;
  const to = toText ? normalizeDate(toText) : undefined;
  if ((fromText && !from) || (toText && !to) || (!fromText && !toText)) {
    throw badRequest(`${entry.keyword} value "${value}" is not a valid date range`);
  }
  return { kind: 'range', field: entry.field, from, to };
}

function timeCondition(entry: CatalogEntry, value: string): MatchCondition {
  const range = splitRange(value);
  const [fromText, toText] = range ?? [value, value];
  const from = fromText ? normalizeTime(fromText) : undefined;
  const to = toText ? timeUpperBound(toText) : undefined;
  if ((fromText && !from) || (toText && !to) || (!fromText && !toText)) {
    throw badRequest(`${entry.keyword} value "${value}" is not a valid time (HHMMSS) or range`);
  }
  return { kind: 'range', field: entry.field, from, to };
}

function combinedDateTime(dateValue: string, timeValue: string): MatchCondition {
  const dates = splitRange(dateValue.trim()) ?? [dateValue.trim(), dateValue.trim()];
  const times = splitRange(timeValue.trim()) ?? [timeValue.trim(), timeValue.trim()];
  const fromDate = dates[0] ? normalizeDate(dates[0]) : undefined;
  const toDate = dates[1] ? normalizeDate(dates[1]) : undefined;
  const fromTime = times[0] ? normalizeTime(times[0]) : '000000';
  const toTime = times[1] ? timeUpperBound(times[1]) : '235959.999999';
  if ((dates[0] && !fromDate) || (dates[1] && !toDate) || !fromTime || !toTime) {
    throw badRequest(`StudyDate "${dateValue}" with StudyTime "${timeValue}" is not a valid date-time range`);
  }
  return {
    kind: 'dateTimeRange',
    dateField: 'studyDate',
    timeField: 'studyTime',
    from: fromDate ? fromDate + fromTime : undefined,
    to: toDate ? toDate + toTime : undefined,
  };
}

/** A keyword (PatientName) or hex tag (00100010) to its tag. */
export function resolveTag(key: string, context: 'query' | 'includefield'): number {
  if (key.includes('.')) {
    throw badRequest(
      `${context} key "${key.slice(0, 80)}": matching on sequence attributes is not supported`,
    );
  }
  const hex = parseHexTag(key);
  if (hex !== undefined) return hex;
  const entry = lookupKeyword(key);
  if (!entry) throw badRequest(`unknown attribute "${key.slice(0, 80)}" in ${context}`);
  return entry.tag;
}

function describeTag(tag: number): string {
  const keyword = lookupTag(tag)?.keyword;
  const hex = tagToHex(tag);
  return keyword ? `${keyword} (${hex})` : hex;
}

function parseNonNegativeInteger(name: string, value: string): number {
  if (!/^\d{1,9}$/.test(value.trim()))
    throw badRequest(`${name} must be a non-negative integer, got "${value.slice(0, 40)}"`);
  return Number(value);
}

function badRequest(message: string): GatewayError {
  return new GatewayError('BAD_REQUEST', message);
}
