/** The QIDO parameter parser on its own: URL pairs to a QuerySpec, per PS3.18 8.3.4 and PS3.4 C.2.2.2. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewayError } from '../../../src/errors.js';
import type { QueryLevel } from '../../../src/query/attributes.js';
import { buildConditions, parseQido, resolveTag, type MatchKey } from '../../../src/query/qido-params.js';
import type { MatchCondition } from '../../../src/query/query-model.js';

const OPTIONS = { maxLimit: 100, caseInsensitivePersonNames: true };
const MATCH = { fuzzy: false, caseInsensitive: true };

const parse = (pairs: [string, string][], level: Exclude<QueryLevel, 'PATIENT'> = 'STUDY') =>
  parseQido(level, {}, pairs, OPTIONS);

/** Conditions for keys given by keyword or hex tag. */
const conditions = (
  keys: Record<string, string>,
  level: QueryLevel = 'STUDY',
  options = MATCH,
): MatchCondition[] =>
  buildConditions(
    Object.entries(keys).map(([key, value]): MatchKey => ({ tag: resolveTag(key, 'query'), value })),
    level,
    options,
  );

/** Asserts a 400 GatewayError whose message contains every given fragment. */
function rejects400(run: () => unknown, ...fragments: string[]): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof GatewayError, `not a GatewayError: ${String(error)}`);
    assert.equal(error.httpStatus, 400);
    for (const fragment of fragments) assert.ok(error.message.includes(fragment), error.message);
    return true;
  });
}

describe('resolveTag', () => {
  test('keywords and hex tags in either case', () => {
    assert.equal(resolveTag('PatientID', 'query'), 0x00100020);
    assert.equal(resolveTag('00100020', 'query'), 0x00100020);
    assert.equal(resolveTag('0020000d', 'query'), 0x0020000d);
    assert.equal(resolveTag('0020000D', 'includefield'), 0x0020000d);
    // Not in the query catalog, but a real attribute: resolving is not matching.
    assert.equal(resolveTag('SliceThickness', 'includefield'), 0x00180050);
  });

  test('unknown keywords, bad hex and sequence paths are 400s naming the key', () => {
    rejects400(() => resolveTag('FooBar', 'query'), 'FooBar', 'query');
    rejects400(() => resolveTag('FooBar', 'includefield'), 'FooBar', 'includefield');
    rejects400(() => resolveTag('0010002', 'query'), '0010002');
    rejects400(() => resolveTag('patientid', 'query'), 'patientid');
    rejects400(() => resolveTag('00400275.00401001', 'query'), '00400275.00401001', 'sequence');
    rejects400(() => resolveTag('RequestAttributesSequence.RequestedProcedureID', 'query'), 'sequence');
  });
});

describe('parseQido', () => {
  test('matching keys by keyword and by hex tag become conditions and return keys', () => {
    const { spec, includeFields } = parse([
      ['PatientID', 'P1'],
      ['00080050', 'AC1'],
    ]);
    assert.deepEqual(spec.conditions, [
      { kind: 'single', field: 'patientId', value: 'P1', caseInsensitive: false },
      { kind: 'single', field: 'accessionNumber', value: 'AC1', caseInsensitive: false },
    ]);
    assert.deepEqual(includeFields, { all: false, tags: new Set([0x00100020, 0x00080050]) });
    assert.equal(spec.level, 'STUDY');
    assert.deepEqual(spec.scope, {});
  });

  test('the scope from the path is kept', () => {
    const { spec } = parseQido('IMAGE', { studyInstanceUid: '1.2', seriesInstanceUid: '1.2.3' }, [], OPTIONS);
    assert.deepEqual(spec.scope, { studyInstanceUid: '1.2', seriesInstanceUid: '1.2.3' });
    assert.equal(spec.level, 'IMAGE');
  });

  test('limit and offset: the server maximum applies when the client sets no limit or a larger one', () => {
    let parsed = parse([]);
    assert.equal(parsed.spec.limit, 100);
    assert.equal(parsed.spec.offset, 0);
    assert.equal(parsed.limitCappedByServer, true);

    parsed = parse([
      ['limit', '10'],
      ['offset', '20'],
    ]);
    assert.equal(parsed.spec.limit, 10);
    assert.equal(parsed.spec.offset, 20);
    assert.equal(parsed.limitCappedByServer, false);

    parsed = parse([['limit', '100']]);
    assert.equal(parsed.spec.limit, 100);
    assert.equal(parsed.limitCappedByServer, false);

    parsed = parse([['limit', '101']]);
    assert.equal(parsed.spec.limit, 100);
    assert.equal(parsed.limitCappedByServer, true);

    // Control keys are case-insensitive.
    assert.equal(parse([['LIMIT', '7']]).spec.limit, 7);
  });

  test('malformed limit, offset and fuzzymatching are 400s', () => {
    rejects400(() => parse([['limit', '-1']]), 'limit', '-1');
    rejects400(() => parse([['limit', 'abc']]), 'limit', 'abc');
    rejects400(() => parse([['limit', '']]), 'limit');
    rejects400(() => parse([['limit', '1.5']]), 'limit');
    rejects400(() => parse([['offset', '-3']]), 'offset');
    rejects400(() => parse([['offset', "1'; DROP TABLE studies; --"]]), 'offset');
    rejects400(() => parse([['fuzzymatching', 'maybe']]), 'fuzzymatching', 'maybe');
    rejects400(() => parse([['fuzzymatching', '1']]), 'fuzzymatching');
  });

  test('includefield: comma lists, repeats, hex and keywords; all', () => {
    const { includeFields } = parse([
      ['includefield', '00081030,PatientBirthDate'],
      ['includefield', 'StationName'],
      ['includefield', ' 00180050 , '],
    ]);
    assert.deepEqual(includeFields, {
      all: false,
      tags: new Set([0x00081030, 0x00100030, 0x00081010, 0x00180050]),
    });
    assert.deepEqual(parse([['includefield', 'all']]).includeFields, { all: true, tags: new Set() });
    // "all" and named fields together: the named ones are kept too (a non-catalog field needs them).
    assert.deepEqual(parse([['includefield', 'PatientID,ALL']]).includeFields, {
      all: true,
      tags: new Set([0x00100020]),
    });
    rejects400(() => parse([['includefield', 'NoSuchAttribute']]), 'NoSuchAttribute', 'includefield');
  });

  test('fuzzymatching=true turns person names into fuzzy conditions; other VRs are unaffected', () => {
    const { spec } = parse([
      ['fuzzymatching', 'TRUE'],
      ['PatientName', 'jürg'],
      ['PatientID', 'P*'],
    ]);
    assert.deepEqual(spec.conditions, [
      { kind: 'fuzzyName', field: 'patientName', tokens: ['jurg'] },
      { kind: 'wildcard', field: 'patientId', pattern: 'P*', caseInsensitive: false },
    ]);
    assert.deepEqual(
      parse([
        ['fuzzymatching', 'false'],
        ['PatientName', 'Doe'],
      ]).spec.conditions,
      [{ kind: 'single', field: 'patientName', value: 'Doe', caseInsensitive: true }],
    );
  });

  test('person name case sensitivity follows the option', () => {
    const { spec } = parseQido('STUDY', {}, [['PatientName', 'doe*']], {
      ...OPTIONS,
      caseInsensitivePersonNames: false,
    });
    assert.deepEqual(spec.conditions, [
      { kind: 'wildcard', field: 'patientName', pattern: 'doe*', caseInsensitive: false },
    ]);
  });

  test('attributes that cannot be matched are 400s naming them, never ignored', () => {
    rejects400(
      () => parse([['PatientAge', '030Y']]),
      'PatientAge',
      '00101010',
      'cannot be used as a matching key',
    );
    rejects400(() => parse([['00101010', '030Y']]), 'PatientAge (00101010)');
    rejects400(() => parse([['FooBar', '1']]), 'FooBar');
    rejects400(() => parse([['00400275.00401001', 'x']]), '00400275.00401001');
    // Counts are returned, never matched.
    rejects400(() => parse([['NumberOfStudyRelatedInstances', '3']]), 'NumberOfStudyRelatedInstances');
    // An attribute of a lower level cannot match a higher one.
    rejects400(
      () => parse([['SOPInstanceUID', '1.2.3']]),
      'SOPInstanceUID',
      'attribute of instances',
      'cannot match studies',
    );
    rejects400(() => parse([['Modality', 'CT']]), 'Modality', 'attribute of series');
    rejects400(() => parse([['Rows', '512']], 'SERIES'), 'Rows');
    // ... but higher-level keys match lower levels.
    assert.equal(
      parse(
        [
          ['PatientID', 'P'],
          ['Modality', 'CT'],
          ['Rows', '16'],
        ],
        'IMAGE',
      ).spec.conditions.length,
      3,
    );
  });

  test('emptyvaluematching and multiplevaluematching are accepted; true is ignored with a warning', () => {
    assert.deepEqual(parse([['emptyvaluematching', 'false']]).warnings, []);
    assert.deepEqual(
      parse([
        ['EmptyValueMatching', 'true'],
        ['multiplevaluematching', 'TRUE'],
      ]).warnings,
      [
        'emptyvaluematching is not supported and was ignored',
        'multiplevaluematching is not supported and was ignored',
      ],
    );
    assert.throws(() => parse([['emptyvaluematching', 'yes']]), /emptyvaluematching must be true or false/);
  });

  test('the query controls accept and charset are ignored', () => {
    const { spec, includeFields } = parse([
      ['accept', 'application/dicom+json'],
      ['charset', 'utf-8'],
    ]);
    assert.deepEqual(spec.conditions, []);
    assert.deepEqual(includeFields, { all: false, tags: new Set() });
  });
});

describe('buildConditions', () => {
  test('universal matching: an empty value (or * for text) only asks for the attribute', () => {
    assert.deepEqual(
      conditions({ PatientName: '', AccessionNumber: '*', StudyDate: '', ModalitiesInStudy: '' }),
      [],
    );
    // * is no UID: a UID key takes UIDs only.
    rejects400(() => conditions({ StudyInstanceUID: '*' }), 'StudyInstanceUID', 'not a valid UID');
  });

  test('UID single values and lists, backslash- or comma-separated', () => {
    assert.deepEqual(conditions({ StudyInstanceUID: '1.2.3' }), [
      { kind: 'single', field: 'studyInstanceUid', value: '1.2.3', caseInsensitive: false },
    ]);
    assert.deepEqual(conditions({ StudyInstanceUID: '1.2.3\\1.2.4' }), [
      { kind: 'list', field: 'studyInstanceUid', values: ['1.2.3', '1.2.4'] },
    ]);
    assert.deepEqual(conditions({ SeriesInstanceUID: '1.2.3, 1.2.4,1.2.5' }, 'SERIES'), [
      { kind: 'list', field: 'seriesInstanceUid', values: ['1.2.3', '1.2.4', '1.2.5'] },
    ]);
    assert.deepEqual(conditions({ '00080018': '1.2.3,1.2.4' }, 'IMAGE'), [
      { kind: 'list', field: 'sopInstanceUid', values: ['1.2.3', '1.2.4'] },
    ]);
  });

  test('malformed UID lists are 400s', () => {
    rejects400(() => conditions({ StudyInstanceUID: '1.2.3,abc' }), 'StudyInstanceUID', '"abc"');
    rejects400(() => conditions({ StudyInstanceUID: '1.2.3\\1..2' }), '1..2');
    rejects400(() => conditions({ StudyInstanceUID: "1.2.3' OR '1'='1" }), 'not a valid UID');
    rejects400(() => conditions({ StudyInstanceUID: '1.2.*' }), 'not a valid UID');
    rejects400(() => conditions({ StudyInstanceUID: ',' }), 'StudyInstanceUID', 'no value');
    rejects400(() => conditions({ StudyInstanceUID: `1.${'2'.repeat(70)}` }), 'not a valid UID');
  });

  test('text: * and ? make a wildcard match; anything else, SQL metacharacters included, is a single value', () => {
    assert.deepEqual(conditions({ AccessionNumber: 'AC*' }), [
      { kind: 'wildcard', field: 'accessionNumber', pattern: 'AC*', caseInsensitive: false },
    ]);
    assert.deepEqual(conditions({ AccessionNumber: 'A?1' }), [
      { kind: 'wildcard', field: 'accessionNumber', pattern: 'A?1', caseInsensitive: false },
    ]);
    for (const value of ['A%', 'A_1', "O'Brien", 'a"b', 'x;--', '[AB]1', 'a\\b']) {
      assert.deepEqual(conditions({ AccessionNumber: value }), [
        { kind: 'single', field: 'accessionNumber', value, caseInsensitive: false },
      ]);
    }
    assert.deepEqual(conditions({ PatientName: 'D?E^*' }), [
      { kind: 'wildcard', field: 'patientName', pattern: 'D?E^*', caseInsensitive: true },
    ]);
    assert.deepEqual(conditions({ PatientName: 'Doe^John' }), [
      { kind: 'single', field: 'patientName', value: 'Doe^John', caseInsensitive: true },
    ]);
    assert.deepEqual(conditions({ PatientName: 'Doe' }, 'STUDY', { fuzzy: false, caseInsensitive: false }), [
      { kind: 'single', field: 'patientName', value: 'Doe', caseInsensitive: false },
    ]);
  });

  test('fuzzy person names: folded tokens, wildcards kept inside a token', () => {
    const fuzzy = { fuzzy: true, caseInsensitive: true };
    assert.deepEqual(conditions({ PatientName: 'MÜLLER^jürg' }, 'STUDY', fuzzy), [
      { kind: 'fuzzyName', field: 'patientName', tokens: ['muller', 'jurg'] },
    ]);
    assert.deepEqual(conditions({ ReferringPhysicianName: 'Doe^J?hn*' }, 'STUDY', fuzzy), [
      { kind: 'fuzzyName', field: 'referringPhysicianName', tokens: ['doe', 'j?hn*'] },
    ]);
    // No name component to be fuzzy about: matched literally, as without fuzzy matching.
    assert.deepEqual(conditions({ PatientName: '\\' }, 'STUDY', fuzzy), [
      { kind: 'single', field: 'patientName', value: '\\', caseInsensitive: true },
    ]);
    assert.deepEqual(conditions({ PatientName: '^' }, 'STUDY', fuzzy), [
      { kind: 'single', field: 'patientName', value: '^', caseInsensitive: true },
    ]);
    assert.deepEqual(conditions({ PatientName: '**' }, 'STUDY', fuzzy), [
      { kind: 'wildcard', field: 'patientName', pattern: '**', caseInsensitive: true },
    ]);
  });

  test('CS: single values, wildcards and lists (ModalitiesInStudy=CT\\MR as OHIF sends it)', () => {
    assert.deepEqual(conditions({ ModalitiesInStudy: 'CT' }), [
      { kind: 'single', field: 'modalitiesInStudy', value: 'CT', caseInsensitive: false },
    ]);
    assert.deepEqual(conditions({ ModalitiesInStudy: 'CT\\MR' }), [
      { kind: 'list', field: 'modalitiesInStudy', values: ['CT', 'MR'] },
    ]);
    assert.deepEqual(conditions({ ModalitiesInStudy: 'CT,SR' }), [
      { kind: 'list', field: 'modalitiesInStudy', values: ['CT', 'SR'] },
    ]);
    assert.deepEqual(conditions({ Modality: 'M*' }, 'SERIES'), [
      { kind: 'wildcard', field: 'modality', pattern: 'M*', caseInsensitive: false },
    ]);
    rejects400(() => conditions({ ModalitiesInStudy: '\\' }), 'ModalitiesInStudy', 'no value');
  });

  test('IS and US: integers, single or listed', () => {
    assert.deepEqual(conditions({ SeriesNumber: '+02' }, 'SERIES'), [
      { kind: 'single', field: 'seriesNumber', value: '2', caseInsensitive: false },
    ]);
    assert.deepEqual(conditions({ InstanceNumber: '1\\3' }, 'IMAGE'), [
      { kind: 'list', field: 'instanceNumber', values: ['1', '3'] },
    ]);
    rejects400(() => conditions({ InstanceNumber: '1*' }, 'IMAGE'), 'InstanceNumber', 'not an integer');
    rejects400(() => conditions({ Rows: "512' OR 1=1" }, 'IMAGE'), 'Rows', 'not an integer');
  });

  test('DA: single dates, closed and open ranges, the old YYYY.MM.DD form', () => {
    assert.deepEqual(conditions({ StudyDate: '20240115' }), [
      { kind: 'single', field: 'studyDate', value: '20240115', caseInsensitive: false },
    ]);
    assert.deepEqual(conditions({ StudyDate: '2024.01.15' }), [
      { kind: 'single', field: 'studyDate', value: '20240115', caseInsensitive: false },
    ]);
    assert.deepEqual(conditions({ StudyDate: '20240101-20240131' }), [
      { kind: 'range', field: 'studyDate', from: '20240101', to: '20240131' },
    ]);
    assert.deepEqual(conditions({ StudyDate: '-20240131' }), [
      { kind: 'range', field: 'studyDate', from: undefined, to: '20240131' },
    ]);
    assert.deepEqual(conditions({ PatientBirthDate: '19700101-' }), [
      { kind: 'range', field: 'patientBirthDate', from: '19700101', to: undefined },
    ]);
    assert.deepEqual(conditions({ StudyDate: '20240229' }).length, 1);
  });

  test('DA: malformed dates and reversed ranges are 400s', () => {
    for (const bad of [
      '2024-13',
      '20241301',
      '20240230',
      '20230229',
      '2024011',
      'yesterday',
      '-',
      '20240101-x',
      "20240101' --",
    ]) {
      rejects400(() => conditions({ StudyDate: bad }), 'StudyDate', bad);
    }
    rejects400(() => conditions({ StudyDate: '20240131-20240101' }), 'StudyDate', 'start lies after its end');
  });

  test('TM: partial times stand for their whole span; ranges; HH:MM:SS; fractions', () => {
    assert.deepEqual(conditions({ StudyTime: '10' }), [
      { kind: 'range', field: 'studyTime', from: '100000', to: '105959.999999' },
    ]);
    assert.deepEqual(conditions({ StudyTime: '1015' }), [
      { kind: 'range', field: 'studyTime', from: '101500', to: '101559.999999' },
    ]);
    assert.deepEqual(conditions({ StudyTime: '10:15:30' }), [
      { kind: 'range', field: 'studyTime', from: '101530', to: '101530.999999' },
    ]);
    assert.deepEqual(conditions({ StudyTime: '0800-1000' }), [
      { kind: 'range', field: 'studyTime', from: '080000', to: '100059.999999' },
    ]);
    assert.deepEqual(conditions({ StudyTime: '-0930' }), [
      { kind: 'range', field: 'studyTime', from: undefined, to: '093059.999999' },
    ]);
    assert.deepEqual(conditions({ SeriesTime: '120000.5-' }, 'SERIES'), [
      { kind: 'range', field: 'seriesTime', from: '120000.5', to: undefined },
    ]);
  });

  test('TM: malformed times and ranges crossing midnight are 400s', () => {
    for (const bad of ['2500', '1060', '106061', '1', '123', 'noon', '-', '10-1x']) {
      rejects400(() => conditions({ StudyTime: bad }), 'StudyTime', bad);
    }
    rejects400(() => conditions({ StudyTime: '2200-0200' }), 'StudyTime', 'start lies after its end');
  });

  test('StudyDate and StudyTime ranges of the same form combine into one date-time range', () => {
    // PS3.4 C.2.2.2.5: 20240101-20240102 with 2200-0200 is 1 January 22:00 to 2 January 02:00.
    assert.deepEqual(conditions({ StudyDate: '20240101-20240102', StudyTime: '2200-0200' }), [
      {
        kind: 'dateTimeRange',
        dateField: 'studyDate',
        timeField: 'studyTime',
        from: '20240101220000',
        to: '20240102020059.999999',
      },
    ]);
    assert.deepEqual(conditions({ StudyTime: '-1200', StudyDate: '-20240102' }), [
      {
        kind: 'dateTimeRange',
        dateField: 'studyDate',
        timeField: 'studyTime',
        from: undefined,
        to: '20240102120059.999999',
      },
    ]);
    assert.deepEqual(conditions({ StudyDate: '20240101-', StudyTime: '22-' }), [
      {
        kind: 'dateTimeRange',
        dateField: 'studyDate',
        timeField: 'studyTime',
        from: '20240101220000',
        to: undefined,
      },
    ]);
    // Hex tags combine the same way, and other keys are kept.
    assert.deepEqual(
      conditions({ '00080020': '20240101-20240102', '00080030': '2200-0200', PatientID: 'P' }).length,
      2,
    );
  });

  test('StudyDate and StudyTime of different forms match each on its own', () => {
    assert.deepEqual(conditions({ StudyDate: '20240101-20240103', StudyTime: '1000' }), [
      { kind: 'range', field: 'studyDate', from: '20240101', to: '20240103' },
      { kind: 'range', field: 'studyTime', from: '100000', to: '100059.999999' },
    ]);
    assert.deepEqual(conditions({ StudyDate: '20240101-20240102', StudyTime: '-0200' }), [
      { kind: 'range', field: 'studyDate', from: '20240101', to: '20240102' },
      { kind: 'range', field: 'studyTime', from: undefined, to: '020059.999999' },
    ]);
    assert.deepEqual(conditions({ StudyDate: '20240101', StudyTime: '0800-1000' }), [
      { kind: 'single', field: 'studyDate', value: '20240101', caseInsensitive: false },
      { kind: 'range', field: 'studyTime', from: '080000', to: '100059.999999' },
    ]);
    // Universal StudyTime leaves StudyDate alone.
    assert.deepEqual(conditions({ StudyDate: '20240101-20240102', StudyTime: '' }), [
      { kind: 'range', field: 'studyDate', from: '20240101', to: '20240102' },
    ]);
  });

  test('combined ranges are checked too: bad parts and a reversed whole are 400s', () => {
    rejects400(
      () => conditions({ StudyDate: '20240102-20240101', StudyTime: '0000-2359' }),
      'start lies after its end',
    );
    rejects400(
      () => conditions({ StudyDate: '20240101-20240101', StudyTime: '2200-0200' }),
      'start lies after its end',
    );
    rejects400(() => conditions({ StudyDate: '20240101-20241301', StudyTime: '2200-0200' }), 'StudyDate');
    rejects400(() => conditions({ StudyDate: '20240101-20240102', StudyTime: '2200-2600' }), 'StudyTime');
  });
});
