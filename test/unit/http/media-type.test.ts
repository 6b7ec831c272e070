import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAccept, parseMediaType, type MediaType } from '../../../src/http/media-type.js';

const mt = (type: string, all: [string, string][] = [], q = 1): MediaType => {
  const params: Record<string, string> = {};
  for (const [name, value] of all) params[name] ??= value;
  return { type, params, all, q };
};

test('plain media types, case-folded', () => {
  assert.deepEqual(parseMediaType('application/dicom'), mt('application/dicom'));
  assert.deepEqual(parseMediaType('Application/DICOM+JSON'), mt('application/dicom+json'));
  assert.deepEqual(parseMediaType('  image/jpeg  '), mt('image/jpeg'));
  assert.deepEqual(parseMediaType('application/vnd.ms-excel'), mt('application/vnd.ms-excel'));
  assert.deepEqual(parseMediaType('*/*'), mt('*/*'));
  assert.deepEqual(parseMediaType('image/*'), mt('image/*'));
});

test('quoted and unquoted parameters; names case-folded, values kept as sent', () => {
  assert.deepEqual(
    parseMediaType('multipart/related; type="application/dicom"; boundary=AbC123'),
    mt('multipart/related', [
      ['type', 'application/dicom'],
      ['boundary', 'AbC123'],
    ]),
  );
  assert.deepEqual(
    parseMediaType('Multipart/Related;Type=application/dicom;BOUNDARY="Quoted Boundary"'),
    mt('multipart/related', [
      ['type', 'application/dicom'],
      ['boundary', 'Quoted Boundary'],
    ]),
  );
});

test('STOW-RS Content-Type with type, boundary and start', () => {
  const parsed = parseMediaType(
    'multipart/related; type=application/dicom; boundary=x; start="<1.2.3@example.org>"; start-info="a;b"',
  );
  assert.ok(parsed);
  assert.equal(parsed.type, 'multipart/related');
  assert.deepEqual(parsed.params, {
    type: 'application/dicom',
    boundary: 'x',
    start: '<1.2.3@example.org>',
    'start-info': 'a;b',
  });
  assert.equal(parsed.q, 1);
});

test('odd spacing around separators and "=" is tolerated; spaces inside quotes are kept', () => {
  assert.deepEqual(
    parseMediaType('  multipart/related  ;  type = "application/dicom" ;boundary =  x  ;  '),
    mt('multipart/related', [
      ['type', 'application/dicom'],
      ['boundary', 'x'],
    ]),
  );
  assert.equal(parseMediaType('multipart/related; boundary=" a b "')?.params.boundary, ' a b ');
  assert.equal(parseMediaType('multipart/related;\tboundary=\ttab')?.params.boundary, 'tab');
});

test('quoted values with separators and backslash escapes', () => {
  const parsed = parseMediaType(
    'text/plain; title="a \\"quoted\\" word; with, commas"; path="c:\\\\dir"; x=1',
  );
  assert.deepEqual(parsed?.params, { title: 'a "quoted" word; with, commas', path: 'c:\\dir', x: '1' });
  assert.equal(parseMediaType('a/b; e=""')?.params.e, '');
  assert.equal(parseMediaType('a/b; e=')?.params.e, '');
});

test('repeated transfer-syntax parameters (OHIF sends two) are all kept in order', () => {
  const parsed = parseMediaType(
    'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1; Transfer-Syntax="1.2.840.10008.1.2.4.50"',
  );
  assert.ok(parsed);
  assert.equal(parsed.params['transfer-syntax'], '1.2.840.10008.1.2.1', 'params keeps the first value');
  assert.deepEqual(parsed.all, [
    ['type', 'application/octet-stream'],
    ['transfer-syntax', '1.2.840.10008.1.2.1'],
    ['transfer-syntax', '1.2.840.10008.1.2.4.50'],
  ]);
  assert.deepEqual(
    parsed.all.filter(([name]) => name === 'transfer-syntax').map(([, value]) => value),
    ['1.2.840.10008.1.2.1', '1.2.840.10008.1.2.4.50'],
  );
});

test('q is taken out of the parameters, clamped to 0..1; absent, blank or unparsable q means 1', () => {
  const q = (text: string): number | undefined => parseMediaType(text)?.q;
  assert.equal(q('a/b'), 1);
  assert.equal(q('a/b;q=0.5'), 0.5);
  assert.equal(q('a/b; Q=0.25'), 0.25);
  assert.equal(q('a/b; q="0.3"'), 0.3);
  assert.equal(q('a/b; q=0'), 0);
  assert.equal(q('a/b; q=0.000'), 0);
  assert.equal(q('a/b; q=1.0'), 1);
  assert.equal(q('a/b; q=7'), 1);
  assert.equal(q('a/b; q=-1'), 0);
  assert.equal(q('a/b; q=high'), 1);
  assert.equal(q('a/b; q='), 1);
  assert.equal(q('a/b; q=""'), 1);
  const parsed = parseMediaType('a/b; x=1; q=0.8; y=2');
  assert.deepEqual(parsed?.params, { x: '1', y: '2' });
  assert.deepEqual(parsed?.all, [
    ['x', '1'],
    ['y', '2'],
  ]);
});

test('malformed media types give undefined', () => {
  for (const text of [
    undefined,
    '',
    '   ',
    'application',
    'application/',
    '/dicom',
    'application/dicom/extra',
    'application /dicom',
    'app lication/dicom',
    'application/di com',
    '; boundary=x',
    '"application/dicom"',
    'application/dicom,text/html',
    'application/dïcom',
  ]) {
    assert.equal(parseMediaType(text), undefined, JSON.stringify(text));
  }
});

test('malformed parameters are skipped, the rest is kept', () => {
  assert.deepEqual(
    parseMediaType('application/dicom; flag; =novalue; ; transfer-syntax=1.2.840.10008.1.2'),
    mt('application/dicom', [['transfer-syntax', '1.2.840.10008.1.2']]),
  );
  // An unterminated quote swallows the rest but does not throw.
  const parsed = parseMediaType('multipart/related; boundary="abc; type=application/dicom');
  assert.equal(parsed?.type, 'multipart/related');
  assert.equal(parsed?.params.type, undefined);
});

test('parseAccept: media ranges in the order given, with q-values and parameters', () => {
  const ranges = parseAccept(
    'multipart/related; type="application/dicom"; transfer-syntax=*, application/dicom+json;q=0.9 ,*/*; q=0.1',
  );
  assert.deepEqual(ranges, [
    mt('multipart/related', [
      ['type', 'application/dicom'],
      ['transfer-syntax', '*'],
    ]),
    mt('application/dicom+json', [], 0.9),
    mt('*/*', [], 0.1),
  ]);
});

test('parseAccept: commas inside quoted parameter values do not split ranges', () => {
  const ranges = parseAccept('multipart/related; type="application/dicom, image/jpeg"; q=0.5, image/png');
  assert.deepEqual(
    ranges.map((r) => [r.type, r.params.type, r.q]),
    [
      ['multipart/related', 'application/dicom, image/jpeg', 0.5],
      ['image/png', undefined, 1],
    ],
  );
});

test('parseAccept: empty input gives no ranges, malformed ranges are filtered out', () => {
  assert.deepEqual(parseAccept(undefined), []);
  assert.deepEqual(parseAccept(''), []);
  assert.deepEqual(parseAccept('  \t '), []);
  assert.deepEqual(parseAccept(','), []);
  assert.deepEqual(
    parseAccept('text/html, garbage, , application/json;q=0.5, /x, a/b/c, image/*').map((r) => [r.type, r.q]),
    [
      ['text/html', 1],
      ['application/json', 0.5],
      ['image/*', 1],
    ],
  );
});

test('parseAccept: the same type may appear more than once, each range kept', () => {
  const ranges = parseAccept(
    'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1, multipart/related; type="application/octet-stream"; transfer-syntax=*;q=0.5',
  );
  assert.deepEqual(
    ranges.map((r) => [r.type, r.params['transfer-syntax'], r.q]),
    [
      ['multipart/related', '1.2.840.10008.1.2.1', 1],
      ['multipart/related', '*', 0.5],
    ],
  );
});
