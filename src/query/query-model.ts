/**
 * A query independent of how it arrived (QIDO URL or C-FIND identifier) and of how it is run (SQL).
 * Matching semantics follow PS3.4 C.2.2.2; values are already normalised by the parser.
 */
import type { AttributeField, QueryLevel } from './attributes.js';

export type MatchCondition =
  /** Exact match; for PN the value is matched against each component group. */
  | { kind: 'single'; field: AttributeField; value: string; caseInsensitive: boolean }
  /** `*` and `?` wildcards (PS3.4 C.2.2.2.4). */
  | { kind: 'wildcard'; field: AttributeField; pattern: string; caseInsensitive: boolean }
  /** Any of several values (UID list matching, PS3.4 C.2.2.2.2; also used for numbers and CS lists). */
  | { kind: 'list'; field: AttributeField; values: string[] }
  /** Inclusive range on normalised DA/TM/DT text; either end may be open. */
  | { kind: 'range'; field: AttributeField; from?: string; to?: string }
  /** Combined date and time range (PS3.4 C.2.2.2.5.1), on normalised YYYYMMDDHHMMSS.FFFFFF text. */
  | {
      kind: 'dateTimeRange';
      dateField: AttributeField;
      timeField: AttributeField;
      from?: string;
      to?: string;
    }
  /** Fuzzy person name matching: each token is a prefix of some name component, ignoring case and accents. */
  | { kind: 'fuzzyName'; field: AttributeField; tokens: string[] };

export interface QuerySpec {
  level: QueryLevel;
  /** Restriction from the resource path (/studies/{s}/series/...). */
  scope: { studyInstanceUid?: string; seriesInstanceUid?: string };
  conditions: MatchCondition[];
  limit: number;
  offset: number;
  /** Also return each row's first instance, whose stored metadata supplies return keys the index lacks. */
  withRepresentative?: boolean;
}

/** One result: every catalog field at the query level and above, as stored. */
export type QueryRow = Partial<Record<AttributeField, string | number | null>> & {
  /** Internal keys to fetch a representative instance's metadata for extra return keys. */
  representativeSopInstanceUid?: string | null;
};

export interface QueryResult {
  rows: QueryRow[];
  /** More rows matched than were returned. */
  more: boolean;
}
