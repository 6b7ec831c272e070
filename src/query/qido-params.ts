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
import {
  fuzzyTokens,
  isCalendarDate,
  isClockTime,
  normalizeDate,
  normalizeTime,
  timeUpperBound,
} from './normalize.js';

export interface QidoOptions {
  /** Largest page the server returns (limits.qidoMaxLimit). */
  maxLimit: number;
  /** Person names match case-insensitively unless configured otherwise. */
  caseInsensitivePersonNames: boolean;
}

export interface ParsedQido {
  spec: QuerySpec;
  /** Tags to return beyond the level's defaults, and whether includefield=all was given. */
  includeFields: IncludeFields;
  /** Warnings for the response (PS3.18 8.3.4: unsupported optional parameters). */
  warnings: string[];
  /** The server's maximum cut the page the client asked for (or the client set no limit). */
  limitCappedByServer: boolean;
}

export interface IncludeFields {
  all: boolean;
  tags: Set<number>;
}

export interface MatchKey {
  tag: number;
  value: string;
}

/** Keys a matching key may not name: they are query controls. */
const CONTROL_KEYS = new Set([
  'limit',
  'offset',
  'fuzzymatching',
  'includefield',
  'accept',
  'charset',
  'emptyvaluematching',
  'multiplevaluematching',
]);

export function parseQido(
  level: Exclude<QueryLevel, 'PATIENT'>,
  scope: QuerySpec['scope'],
  pairs: [string, string][],
  options: QidoOptions,
): ParsedQido {
  let limit: number | undefined;
  let offset = 0;
  let fuzzy = false;
  const includeFields: IncludeFields = { all: false, tags: new Set() };
  const warnings: string[] = [];
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
          if (field.toLowerCase() === 'all') includeFields.all = true;
          else includeFields.tags.add(resolveTag(field, 'includefield'));
        }
        continue;
      case 'accept':
      case 'charset':
        continue;
      case 'emptyvaluematching':
      case 'multiplevaluematching':
        // Optional in PS3.18 Table 8.3.4-1; unsupported ones are ignored with a warning.
        if (!/^(true|false)$/i.test(value)) throw badRequest(`${key} must be true or false, got "${value}"`);
        if (value.toLowerCase() === 'true')
          warnings.push(`${key.toLowerCase()} is not supported and was ignored`);
        continue;
    }
    if (CONTROL_KEYS.has(key.toLowerCase())) continue;
    keys.push({ tag: resolveTag(key, 'query'), value });
  }

  const conditions = buildConditions(keys, level, {
    fuzzy,
    caseInsensitive: options.caseInsensitivePersonNames,
  });
  for (const key of keys) includeFields.tags.add(key.tag);

  const limitCappedByServer = limit === undefined || limit > options.maxLimit;
  return {
    spec: {
      level,
      scope,
      conditions,
      limit: limit === undefined ? options.maxLimit : Math.min(limit, options.maxLimit),
      offset,
    },
    includeFields,
    warnings,
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
  // A StudyDate range and a StudyTime range of the same form are one combined date-time range (PS3.4
  // C.2.2.2.5): 20240101-20240102 with 2200-0200 is 1 January 22:00 to 2 January 02:00. Any other pair
  // (a single value, ranges of different forms) matches each attribute on its own.
  const combined =
    studyDate !== undefined && studyTime !== undefined && sameRangeForm(studyDate.trim(), studyTime.trim());

  for (const { tag, value } of keys) {
    const entry = matchableEntry(tag, level);
    if (value === '' || (value === '*' && entry.vr !== 'UI')) continue;
    if (combined && (tag === 0x00080020 || tag === 0x00080030)) continue;
    conditions.push(condition(entry, value, options));
  }
  if (combined) conditions.push(combinedDateTime(studyDate!, studyTime!));
  return conditions;
}

const LEVEL_NAMES: Record<QueryLevel, string> = {
  PATIENT: 'patients',
  STUDY: 'studies',
  SERIES: 'series',
  IMAGE: 'instances',
};

function matchableEntry(tag: number, level: QueryLevel): CatalogEntry {
  const entry = catalogByTag(tag);
  if (!entry || !entry.matchable) {
    throw badRequest(`attribute ${describeTag(tag)} cannot be used as a matching key`);
  }
  // Patient and study keys are matchable from any level below them; lower-level keys are not above.
  if (LEVEL_ORDER[entry.level] > LEVEL_ORDER[level]) {
    throw badRequest(
      `${describeTag(tag)} is an attribute of ${LEVEL_NAMES[entry.level]} and cannot match ${LEVEL_NAMES[level]}`,
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
  // SQLite's GLOB stops at a NUL: "*=\0=*" would match every name. No DICOM text holds one (padding
  // is trimmed before this), so a NUL is refused rather than matched.
  if (value.includes('\0')) throw badRequest(`${entry.keyword} value contains a NUL character`);
  switch (entry.vr) {
    case 'UI': {
      const values = splitList(value, entry);
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
      // A value without a name component ("^", "\", "**") has nothing to be fuzzy about: match it literally.
      const tokens = options.fuzzy ? fuzzyTokens(value) : [];
      if (tokens.length > 0) return { kind: 'fuzzyName', field, tokens };
      return wildcardOrSingle(field, value, options.caseInsensitive);
    }
    case 'IS':
    case 'US': {
      const values = splitList(value, entry);
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
      const values = splitList(value, entry);
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

/** Values of a list (backslash- or comma-separated); an empty list is an error, never "match nothing". */
function splitList(value: string, entry: CatalogEntry): string[] {
  const values = value
    .split(/[\\,]/)
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (values.length === 0) throw badRequest(`${entry.keyword} value "${value}" holds no value`);
  return values;
}

function splitRange(value: string): [string, string] | undefined {
  const dash = value.indexOf('-');
  if (dash < 0) return undefined;
  return [value.slice(0, dash).trim(), value.slice(dash + 1).trim()];
}

/** "A-B", "-B" or "A-" (undefined: not a range, or the meaningless "-"). */
function rangeForm(value: string): 'closed' | 'upTo' | 'from' | undefined {
  const range = splitRange(value);
  if (!range) return undefined;
  const [from, to] = range;
  if (from && to) return 'closed';
  if (to) return 'upTo';
  if (from) return 'from';
  return undefined;
}

function sameRangeForm(dateValue: string, timeValue: string): boolean {
  const form = rangeForm(dateValue);
  return form !== undefined && form === rangeForm(timeValue);
}

/** A query date: YYYYMMDD (or YYYY.MM.DD) that names a real day. */
function queryDate(text: string): string | undefined {
  const date = normalizeDate(text);
  return date && isCalendarDate(date) ? date : undefined;
}

/** A query time's lower (or exact) and upper bound, or undefined if it is not a time of day. */
function queryTime(text: string, bound: 'from' | 'to'): string | undefined {
  const time = bound === 'from' ? normalizeTime(text) : timeUpperBound(text);
  return time && isClockTime(normalizeTime(text) ?? '') ? time : undefined;
}

/** A range whose lower end lies after its upper end matches nothing: say so (PS3.4 C.2.2.2.5 wants from <= to). */
function checkOrder(what: string, from: string | undefined, to: string | undefined): void {
  if (from !== undefined && to !== undefined && from > to) {
    throw badRequest(`${what} is a range whose start lies after its end`);
  }
}

function dateCondition(entry: CatalogEntry, value: string): MatchCondition {
  const range = splitRange(value);
  if (!range) {
    const date = queryDate(value);
    if (!date) throw badRequest(`${entry.keyword} value "${value}" is not a date (YYYYMMDD) or range`);
    return { kind: 'single', field: entry.field, value: date, caseInsensitive: false };
  }
  const [fromText, toText] = range;
  const from = fromText ? queryDate(fromText) : undefined;
  const to = toText ? queryDate(toText) : undefined;
  if ((fromText && !from) || (toText && !to) || (!fromText && !toText)) {
    throw badRequest(`${entry.keyword} value "${value}" is not a valid date range`);
  }
  checkOrder(`${entry.keyword} value "${value}"`, from, to);
  return { kind: 'range', field: entry.field, from, to };
}

function timeCondition(entry: CatalogEntry, value: string): MatchCondition {
  const range = splitRange(value);
  const [fromText, toText] = range ?? [value, value];
  const from = fromText ? queryTime(fromText, 'from') : undefined;
  const to = toText ? queryTime(toText, 'to') : undefined;
  if ((fromText && !from) || (toText && !to) || (!fromText && !toText)) {
    throw badRequest(`${entry.keyword} value "${value}" is not a valid time (HHMMSS) or range`);
  }
  // Range matching does not cross midnight (PS3.4 C.2.2.2.5); with StudyDate it can (combinedDateTime).
  checkOrder(`${entry.keyword} value "${value}"`, from, to);
  return { kind: 'range', field: entry.field, from, to };
}

/** StudyDate and StudyTime ranges of the same form, matched as one date-time range. */
function combinedDateTime(dateValue: string, timeValue: string): MatchCondition {
  const [fromDateText, toDateText] = splitRange(dateValue.trim())!;
  const [fromTimeText, toTimeText] = splitRange(timeValue.trim())!;
  const fromDate = fromDateText ? queryDate(fromDateText) : undefined;
  const toDate = toDateText ? queryDate(toDateText) : undefined;
  const fromTime = fromTimeText ? queryTime(fromTimeText, 'from') : undefined;
  const toTime = toTimeText ? queryTime(toTimeText, 'to') : undefined;
  if (Boolean(fromDate) !== Boolean(fromTime) || Boolean(toDate) !== Boolean(toTime)) {
    throw badRequest(`StudyDate "${dateValue}" with StudyTime "${timeValue}" is not a valid date-time range`);
  }
  const from = fromDate && fromTime ? fromDate + fromTime : undefined;
  const to = toDate && toTime ? toDate + toTime : undefined;
  checkOrder(`StudyDate "${dateValue}" with StudyTime "${timeValue}"`, from, to);
  return { kind: 'dateTimeRange', dateField: 'studyDate', timeField: 'studyTime', from, to };
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
