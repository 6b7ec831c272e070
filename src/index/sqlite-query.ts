/** Runs a QuerySpec against the SQLite schema: one parameterised SELECT, nothing interpolated from input. */
import type Database from 'better-sqlite3';
import { CATALOG, LEVEL_ORDER, type AttributeField, type QueryLevel } from '../query/attributes.js';
import type { MatchCondition, QueryResult, QueryRow, QuerySpec } from '../query/query-model.js';

interface FieldSql {
  /** The stored value, as returned; patient columns are prefixed by the table of the level (see fieldSql). */
  value: string;
  /** Case-insensitive person-name match key ("=groups=" lower case). */
  nameKeyCi?: string;
  /** Fuzzy person-name key (" components "). */
  fuzzyKey?: string;
}

const FIELD_SQL: Record<AttributeField, FieldSql> = {
  patientName: { value: 'patient_name', nameKeyCi: 'patient_name_ci', fuzzyKey: 'patient_name_fuzzy' },
  patientId: { value: 'patient_id' },
  issuerOfPatientId: { value: 'issuer' },
  patientBirthDate: { value: 'birth_date' },
  patientSex: { value: 'sex' },
  numberOfPatientRelatedStudies: { value: '(SELECT count(*) FROM studies x WHERE x.patient_pk = {patient})' },
  numberOfPatientRelatedSeries: {
    value: '(SELECT COALESCE(sum(x.num_series), 0) FROM studies x WHERE x.patient_pk = {patient})',
  },
  numberOfPatientRelatedInstances: {
    value: '(SELECT COALESCE(sum(x.num_instances), 0) FROM studies x WHERE x.patient_pk = {patient})',
  },
  studyInstanceUid: { value: 's.study_uid' },
  studyDate: { value: 's.study_date' },
  studyTime: { value: 's.study_time' },
  accessionNumber: { value: 's.accession' },
  studyId: { value: 's.study_id' },
  studyDescription: { value: 's.description' },
  referringPhysicianName: {
    value: 's.referring_physician',
    nameKeyCi: 's.referring_physician_ci',
    fuzzyKey: 's.referring_physician_fuzzy',
  },
  timezoneOffsetFromUtc: { value: 's.timezone' },
  modalitiesInStudy: { value: 's.modalities' },
  numberOfStudyRelatedSeries: { value: 's.num_series' },
  numberOfStudyRelatedInstances: { value: 's.num_instances' },
  seriesInstanceUid: { value: 'se.series_uid' },
  modality: { value: 'se.modality' },
  seriesNumber: { value: 'se.series_number' },
  seriesDescription: { value: 'se.description' },
  seriesDate: { value: 'se.series_date' },
  seriesTime: { value: 'se.series_time' },
  performedProcedureStepStartDate: { value: 'se.pps_start_date' },
  performedProcedureStepStartTime: { value: 'se.pps_start_time' },
  bodyPartExamined: { value: 'se.body_part' },
  requestAttributesSequence: { value: 'se.request_attributes' },
  numberOfSeriesRelatedInstances: { value: 'se.num_instances' },
  sopInstanceUid: { value: 'i.sop_uid' },
  sopClassUid: { value: 'i.sop_class_uid' },
  instanceNumber: { value: 'i.instance_number' },
  rows: { value: 'i.rows' },
  columns: { value: 'i.columns' },
  bitsAllocated: { value: 'i.bits_allocated' },
  numberOfFrames: { value: 'i.number_of_frames' },
  photometricInterpretation: { value: 'i.photometric' },
  contentDate: { value: 'i.content_date' },
  contentTime: { value: 'i.content_time' },
  availableTransferSyntaxUid: { value: 'i.transfer_syntax' },
};

const PATIENT_FIELDS = new Set<AttributeField>([
  'patientName',
  'patientId',
  'issuerOfPatientId',
  'patientBirthDate',
  'patientSex',
]);

/**
 * A field's SQL at a level. Patient attributes live in patients (the patient level) and, as each study
 * states them, in studies (every level below): study-level matching and results use the study's copy.
 */
function fieldSql(field: AttributeField, level: QueryLevel): FieldSql {
  const sql = FIELD_SQL[field];
  if (sql.value.includes('{patient}')) {
    return { value: sql.value.replace('{patient}', level === 'PATIENT' ? 'p.pk' : 's.patient_pk') };
  }
  if (!PATIENT_FIELDS.has(field)) return sql;
  const alias = level === 'PATIENT' ? 'p.' : 's.';
  return {
    value: alias + sql.value,
    nameKeyCi: sql.nameKeyCi && alias + sql.nameKeyCi,
    fuzzyKey: sql.fuzzyKey && alias + sql.fuzzyKey,
  };
}

const FROM: Record<QueryLevel, string> = {
  PATIENT: 'patients p',
  STUDY: 'studies s',
  SERIES: 'series se JOIN studies s ON s.pk = se.study_pk',
  IMAGE: 'instances i JOIN series se ON se.pk = i.series_pk JOIN studies s ON s.pk = se.study_pk',
};

const ORDER: Record<QueryLevel, string> = {
  PATIENT: 'p.pk',
  // Newest studies first: what a study list shows when a page is cut at the limit.
  STUDY: 's.study_date DESC, s.study_time DESC, s.pk DESC',
  SERIES: 'se.study_pk, se.series_number IS NULL, se.series_number, se.pk',
  IMAGE:
    'se.study_pk, se.series_number IS NULL, se.series_number, se.pk, i.instance_number IS NULL, i.instance_number, i.pk',
};

/** The first instance of the row's study or series, whose stored metadata supplies extra return keys. */
const REPRESENTATIVE: Record<QueryLevel, string | undefined> = {
  PATIENT: undefined,
  STUDY:
    '(SELECT i2.sop_uid FROM series se2 JOIN instances i2 ON i2.series_pk = se2.pk WHERE se2.study_pk = s.pk ' +
    'ORDER BY se2.pk, i2.pk LIMIT 1)',
  SERIES: '(SELECT i2.sop_uid FROM instances i2 WHERE i2.series_pk = se.pk ORDER BY i2.pk LIMIT 1)',
  IMAGE: 'i.sop_uid',
};

const selectCache = new Map<string, string>();

function selectList(level: QueryLevel, withRepresentative: boolean): string {
  const cacheKey = `${level}:${withRepresentative}`;
  let list = selectCache.get(cacheKey);
  if (!list) {
    // Patient-level counts are subqueries; only a patient-level query returns them.
    const wanted = (e: (typeof CATALOG)[number]) =>
      LEVEL_ORDER[e.level] <= LEVEL_ORDER[level] &&
      (level === 'PATIENT' || e.level !== 'PATIENT' || e.matchable);
    const columns = CATALOG.filter(wanted).map((e) => `${fieldSql(e.field, level).value} AS ${e.field}`);
    const representative = REPRESENTATIVE[level];
    if (withRepresentative && representative)
      columns.push(`${representative} AS representativeSopInstanceUid`);
    list = columns.join(', ');
    selectCache.set(cacheKey, list);
  }
  return list;
}

export function runQuery(prepare: (sql: string) => Database.Statement, spec: QuerySpec): QueryResult {
  const where: string[] = [];
  const params: (string | number)[] = [];
  if (spec.scope.studyInstanceUid !== undefined) {
    where.push('s.study_uid = ?');
    params.push(spec.scope.studyInstanceUid);
  }
  if (spec.scope.seriesInstanceUid !== undefined) {
    where.push('se.series_uid = ?');
    params.push(spec.scope.seriesInstanceUid);
  }
  for (const condition of spec.conditions) {
    const built = conditionSql(condition, spec.level);
    where.push(built.sql);
    params.push(...built.params);
  }
  const sql =
    `SELECT ${selectList(spec.level, spec.withRepresentative ?? false)} FROM ${FROM[spec.level]}` +
    (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY ${ORDER[spec.level]} LIMIT ? OFFSET ?`;
  params.push(spec.limit + 1, spec.offset);
  const rows = prepare(sql).all(...params) as QueryRow[];
  const more = rows.length > spec.limit;
  if (more) rows.pop();
  return { rows, more };
}

function conditionSql(
  condition: MatchCondition,
  level: QueryLevel,
): { sql: string; params: (string | number)[] } {
  switch (condition.kind) {
    case 'single':
    case 'wildcard': {
      const pattern =
        condition.kind === 'single' ? escapeGlob(condition.value) : dicomToGlob(condition.pattern);
      if (condition.field === 'modalitiesInStudy') {
        return seriesModalityExists(condition.kind === 'single' ? '= ?' : 'GLOB ?', [
          condition.kind === 'single' ? condition.value : pattern,
        ]);
      }
      const field = fieldSql(condition.field, level);
      if (field.nameKeyCi) {
        // Person names: the pattern applies to any one component group (alphabetic, ideographic, phonetic).
        const anchored = `*=${pattern}=*`;
        if (condition.caseInsensitive)
          return { sql: `${field.nameKeyCi} GLOB ?`, params: [anchored.toLowerCase()] };
        return { sql: `('=' || replace(${field.value}, '\\', '=') || '=') GLOB ?`, params: [anchored] };
      }
      if (condition.kind === 'single') return { sql: `${field.value} = ?`, params: [condition.value] };
      return { sql: `${field.value} GLOB ?`, params: [pattern] };
    }
    case 'list': {
      const placeholders = condition.values.map(() => '?').join(', ');
      if (condition.field === 'modalitiesInStudy') {
        return seriesModalityExists(`IN (${placeholders})`, condition.values);
      }
      return {
        sql: `${fieldSql(condition.field, level).value} IN (${placeholders})`,
        params: condition.values,
      };
    }
    case 'range': {
      return boundsSql(fieldSql(condition.field, level).value, condition.from, condition.to);
    }
    case 'dateTimeRange': {
      const date = fieldSql(condition.dateField, level).value;
      const time = fieldSql(condition.timeField, level).value;
      return boundsSql(`(${date} || COALESCE(${time}, ''))`, condition.from, condition.to, date);
    }
    case 'fuzzyName': {
      const key = fieldSql(condition.field, level).fuzzyKey;
      if (!key) throw new Error(`no fuzzy key for ${condition.field}`);
      return {
        sql: condition.tokens.map(() => `${key} GLOB ?`).join(' AND ') || '1',
        // Each token prefixes a component; its own `*` and `?` stay wildcards, `[` is literal.
        params: condition.tokens.map((t) => `* ${dicomToGlob(t)}*`),
      };
    }
  }
}

function boundsSql(
  expression: string,
  from: string | undefined,
  to: string | undefined,
  notNullColumn = expression,
): { sql: string; params: string[] } {
  const parts = [`${notNullColumn} IS NOT NULL`];
  const params: string[] = [];
  if (from !== undefined) {
    parts.push(`${expression} >= ?`);
    params.push(from);
  }
  if (to !== undefined) {
    parts.push(`${expression} <= ?`);
    params.push(to);
  }
  return { sql: `(${parts.join(' AND ')})`, params };
}

function seriesModalityExists(test: string, params: string[]): { sql: string; params: string[] } {
  return {
    sql: `EXISTS (SELECT 1 FROM series ms WHERE ms.study_pk = s.pk AND ms.modality ${test})`,
    params,
  };
}

/** Makes text match itself literally under GLOB (only `*`, `?` and `[` are special there). */
function escapeGlob(text: string): string {
  return text.replace(/[*?[]/g, (c) => `[${c}]`);
}

/** DICOM wildcards are GLOB's `*` and `?`; everything else, `[` included, must be literal. */
function dicomToGlob(pattern: string): string {
  return pattern.replace(/\[/g, '[[]');
}
