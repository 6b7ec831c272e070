/**
 * Query rows to DICOM JSON (PS3.18 Annex F) with the attributes each level must return (PS3.18
 * 10.6.3.3), plus the ones asked for with includefield. Everything comes from the index: catalog
 * fields from the row, other fields from the stored metadata of a representative instance.
 */
import { personName, type DicomJsonAttribute, type DicomJsonDataset } from '../dicom/dicom-json.js';
import { tagToHex } from '../dicom/dictionary.js';
import { CATALOG, DEFAULT_RETURN_KEYS, LEVEL_ORDER, catalogByTag, type QueryLevel } from './attributes.js';
import type { IncludeFields } from './qido-params.js';
import type { QueryRow, QuerySpec } from './query-model.js';

export interface ResultContext {
  /** Base of RetrieveURLs, e.g. "http://host:8080/dicom-web"; omitted (C-FIND) when empty. */
  retrieveBase: string;
  /** Stored metadata of an instance, for return keys the index does not hold. */
  metadataOf: (sopInstanceUid: string) => DicomJsonDataset | undefined;
}

/** The tags a result carries at this level and scope, before includefield. */
export function defaultReturnTags(
  level: Exclude<QueryLevel, 'PATIENT'>,
  scope: QuerySpec['scope'],
): Set<number> {
  const tags = new Set(DEFAULT_RETURN_KEYS[level]);
  // Querying all series or all instances returns the attributes of the levels above too (PS3.18 10.6.3.3).
  if (level !== 'STUDY' && scope.studyInstanceUid === undefined)
    DEFAULT_RETURN_KEYS.STUDY.forEach((t) => tags.add(t));
  if (level === 'IMAGE' && scope.seriesInstanceUid === undefined)
    DEFAULT_RETURN_KEYS.SERIES.forEach((t) => tags.add(t));
  if (level !== 'STUDY') tags.add(0x0020000d);
  if (level === 'IMAGE') tags.add(0x0020000e);
  return tags;
}

/** Whether any requested tag must come from stored metadata rather than the index row. */
export function needsRepresentative(level: QueryLevel, include: IncludeFields): boolean {
  for (const tag of include.tags) {
    const entry = catalogByTag(tag);
    if (!entry || LEVEL_ORDER[entry.level] > LEVEL_ORDER[level]) return true;
  }
  return false;
}

export function rowsToJson(
  rows: QueryRow[],
  level: Exclude<QueryLevel, 'PATIENT'>,
  scope: QuerySpec['scope'],
  include: IncludeFields,
  context: ResultContext,
): DicomJsonDataset[] {
  const tags = defaultReturnTags(level, scope);
  include.tags.forEach((t) => tags.add(t));
  if (include.all) {
    for (const entry of CATALOG) if (LEVEL_ORDER[entry.level] <= LEVEL_ORDER[level]) tags.add(entry.tag);
  }
  return projectRows(rows, level, tags, context);
}

/** Rows as DICOM JSON carrying exactly `tags` (plus character set, availability and RetrieveURL). */
export function projectRows(
  rows: QueryRow[],
  level: QueryLevel,
  tags: Iterable<number>,
  context: ResultContext,
): DicomJsonDataset[] {
  const sorted = [...tags].sort((a, b) => a - b);
  return rows.map((row) => rowToJson(row, level, sorted, context));
}

function rowToJson(
  row: QueryRow,
  level: QueryLevel,
  tags: number[],
  context: ResultContext,
): DicomJsonDataset {
  const out: DicomJsonDataset = { '00080005': { vr: 'CS', Value: ['ISO_IR 192'] } };
  let metadata: DicomJsonDataset | undefined | null = null;
  for (const tag of tags) {
    const entry = catalogByTag(tag);
    if (entry && LEVEL_ORDER[entry.level] <= LEVEL_ORDER[level] && entry.field in row) {
      out[tagToHex(tag)] = fieldToJson(entry.vr, row[entry.field]);
      continue;
    }
    // A lower level's attribute has no single value at this level; the patient-level counts are only
    // kept for patient-level queries (the row lacks them): neither is returned rather than returned empty.
    if (entry) continue;
    if (metadata === null) {
      const sop = row.representativeSopInstanceUid;
      metadata = sop ? context.metadataOf(sop) : undefined;
    }
    const attribute = metadata?.[tagToHex(tag)];
    if (attribute) out[tagToHex(tag)] = attribute;
  }
  out['00080056'] = { vr: 'CS', Value: ['ONLINE'] };
  if (context.retrieveBase)
    out['00081190'] = { vr: 'UR', Value: [retrieveUrl(row, level, context.retrieveBase)] };
  return sortKeys(out);
}

function retrieveUrl(row: QueryRow, level: QueryLevel, base: string): string {
  let url = `${base}/studies/${row.studyInstanceUid}`;
  if (level === 'SERIES' || level === 'IMAGE') url += `/series/${row.seriesInstanceUid}`;
  if (level === 'IMAGE') url += `/instances/${row.sopInstanceUid}`;
  return url;
}

export function fieldToJson(
  vr: DicomJsonAttribute['vr'],
  value: string | number | null | undefined,
): DicomJsonAttribute {
  if (value === null || value === undefined || value === '') return { vr };
  switch (vr) {
    case 'PN':
      return { vr, Value: String(value).split('\\').map(personName) };
    case 'IS':
    case 'US':
    case 'DS':
      return { vr, Value: [Number(value)] };
    case 'SQ':
      return JSON.parse(String(value)) as DicomJsonAttribute;
    default:
      return { vr, Value: String(value).split('\\') };
  }
}

function sortKeys(dataset: DicomJsonDataset): DicomJsonDataset {
  const out: DicomJsonDataset = {};
  for (const key of Object.keys(dataset).sort()) out[key] = dataset[key]!;
  return out;
}
