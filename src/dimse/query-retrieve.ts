/**
 * The Query/Retrieve information models (PS3.4 C.6): identifiers to queries over the same index and
 * matching rules as QIDO (one query core), and the instances a C-MOVE or C-GET identifier names.
 */
import { DatasetReader } from '../dicom/dataset-reader.js';
import type { DataSet } from '../dicom/dataset.js';
import { Tag } from '../dicom/tags.js';
import { decodeElementText, textDecoderFor } from '../dicom/values.js';
import { GatewayError } from '../errors.js';
import type { IndexStore, StoredInstanceRef } from '../index/index-store.js';
import { catalogByTag, LEVEL_ORDER, type QueryLevel } from '../query/attributes.js';
import { buildConditions, type MatchKey } from '../query/qido-params.js';
import type { MatchCondition } from '../query/query-model.js';

export const QueryRetrieveModel = {
  PatientRootFind: '1.2.840.10008.5.1.4.1.2.1.1',
  PatientRootMove: '1.2.840.10008.5.1.4.1.2.1.2',
  PatientRootGet: '1.2.840.10008.5.1.4.1.2.1.3',
  StudyRootFind: '1.2.840.10008.5.1.4.1.2.2.1',
  StudyRootMove: '1.2.840.10008.5.1.4.1.2.2.2',
  StudyRootGet: '1.2.840.10008.5.1.4.1.2.2.3',
} as const;

export const PATIENT_ROOT = new Set<string>([
  QueryRetrieveModel.PatientRootFind,
  QueryRetrieveModel.PatientRootMove,
  QueryRetrieveModel.PatientRootGet,
]);

const QUERY_RETRIEVE_LEVEL = 0x00080052;
const LEVELS = new Set<QueryLevel>(['PATIENT', 'STUDY', 'SERIES', 'IMAGE']);
/** Elements of an identifier that steer the query rather than match (PS3.4 C.4.1.1.3). */
const CONTROL_TAGS = new Set<number>([
  QUERY_RETRIEVE_LEVEL,
  Tag.SpecificCharacterSet,
  0x00080054,
  0x00080056,
  0x00081190,
]);

export interface ParsedIdentifier {
  level: QueryLevel;
  conditions: MatchCondition[];
  /** Every key present in the identifier (returned in C-FIND responses). */
  returnTags: number[];
  /** Keys with a value the index cannot match: ignored, with a warning status (PS3.4 C.4.1.1.4: 0xFF01). */
  unsupportedMatching: number[];
}

/** Reads an identifier dataset sent on a presentation context with this transfer syntax. */
export function readIdentifier(bytes: Buffer, transferSyntaxUid: string): DataSet {
  const reader = new DatasetReader({ transferSyntaxUid, limits: { maxElements: 10_000, maxDepth: 8 } });
  const rest = reader.write(bytes);
  if (rest) throw new GatewayError('INVALID_DICOM', 'deflated identifiers are not supported');
  return reader.end().dataset;
}

export function parseIdentifier(
  identifier: DataSet,
  model: string,
  options: { fuzzy: boolean; caseInsensitive: boolean },
): ParsedIdentifier {
  const decoder = textDecoderFor(identifier);
  const levelElement = identifier.get(QUERY_RETRIEVE_LEVEL);
  const level = (levelElement ? decodeElementText(levelElement, decoder) : undefined)?.toUpperCase() as
    QueryLevel | undefined;
  if (!level || !LEVELS.has(level)) {
    throw new GatewayError(
      'BAD_REQUEST',
      `Query/Retrieve Level (0008,0052) is missing or not PATIENT, STUDY, SERIES or IMAGE`,
    );
  }
  if (level === 'PATIENT' && !PATIENT_ROOT.has(model)) {
    throw new GatewayError('BAD_REQUEST', 'the Study Root model has no PATIENT level');
  }
  const keys: MatchKey[] = [];
  const returnTags: number[] = [];
  const unsupportedMatching: number[] = [];
  for (const element of identifier.sorted()) {
    if (element.tag === QUERY_RETRIEVE_LEVEL || element.tag === Tag.SpecificCharacterSet) continue;
    if ((element.tag & 0xffff) === 0 || element.tag >>> 16 === 0x0002) continue;
    returnTags.push(element.tag);
    if (CONTROL_TAGS.has(element.tag)) continue;
    const value = element.items ? '' : (decodeElementText(element, decoder) ?? '');
    if (value === '') continue;
    const entry = catalogByTag(element.tag);
    if (!entry || !entry.matchable || LEVEL_ORDER[entry.level] > LEVEL_ORDER[level]) {
      unsupportedMatching.push(element.tag);
      continue;
    }
    keys.push({ tag: element.tag, value });
  }
  return { level, conditions: buildConditions(keys, level, options), returnTags, unsupportedMatching };
}

/** The instances a C-MOVE / C-GET identifier names (PS3.4 C.4.2.1.4: unique keys at and above the level). */
export function instancesFor(index: IndexStore, parsed: ParsedIdentifier): StoredInstanceRef[] {
  if (parsed.conditions.length === 0) {
    throw new GatewayError('BAD_REQUEST', 'a retrieve identifier needs at least one unique key');
  }
  const refs: StoredInstanceRef[] = [];
  const pageSize = 1000;
  for (let offset = 0; ; offset += pageSize) {
    const { rows, more } = index.query({
      level: 'IMAGE',
      scope: {},
      conditions: parsed.conditions,
      limit: pageSize,
      offset,
    });
    for (const row of rows) {
      const ref = index.getInstance(String(row.sopInstanceUid));
      if (ref) refs.push(ref);
    }
    if (!more) return refs;
  }
}
