/** Normal forms shared by ingest (what the index stores) and the query parsers (what they compare). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  foldForFuzzy,
  fuzzyTokens,
  isCalendarDate,
  isClockTime,
  normalizeDate,
  normalizeTime,
  personNameFuzzyKey,
  personNameMatchKey,
  timeUpperBound,
} from '../../../src/query/normalize.js';

describe('dates', () => {
  test('normalizeDate: YYYYMMDD, the old YYYY.MM.DD form, padding trimmed', () => {
    assert.equal(normalizeDate('20240115'), '20240115');
    assert.equal(normalizeDate('2024.01.15'), '20240115');
    assert.equal(normalizeDate(' 20240115 '), '20240115');
    assert.equal(normalizeDate(undefined), undefined);
  });

  test('normalizeDate: anything else is not a date', () => {
    for (const bad of [
      '',
      '2024',
      '202401',
      '2024011',
      '202401150',
      '2024-01-15',
      '2024.1.15',
      '2024/01/15',
      'abcdefgh',
    ]) {
      assert.equal(normalizeDate(bad), undefined, bad);
    }
  });

  test('isCalendarDate: months 01-12, days the month has, leap years', () => {
    for (const good of ['20240101', '20241231', '20240229', '20000229', '19700101'])
      assert.ok(isCalendarDate(good), good);
    for (const bad of [
      '20241301',
      '20240001',
      '20240100',
      '20240132',
      '20230229',
      '19000229',
      '20240431',
      '2024011',
    ]) {
      assert.ok(!isCalendarDate(bad), bad);
    }
  });
});

describe('times', () => {
  test('normalizeTime: HH, HHMM, HHMMSS, fractions, the old HH:MM:SS form', () => {
    assert.equal(normalizeTime('10'), '100000');
    assert.equal(normalizeTime('1015'), '101500');
    assert.equal(normalizeTime('101530'), '101530');
    assert.equal(normalizeTime('101530.5'), '101530.5');
    assert.equal(normalizeTime('101530.123456'), '101530.123456');
    assert.equal(normalizeTime('10:15:30'), '101530');
    assert.equal(normalizeTime('10:15'), '101500');
    assert.equal(normalizeTime('10:15:30.25'), '101530.25');
    assert.equal(normalizeTime(' 0930 '), '093000');
    assert.equal(normalizeTime(undefined), undefined);
  });

  test('normalizeTime: anything else is not a time', () => {
    for (const bad of ['', '1', '101', '10153', '1015301', '101530.1234567', '10-15', 'ten', '10.15.30']) {
      assert.equal(normalizeTime(bad), undefined, bad);
    }
  });

  test('timeUpperBound: the latest moment a partial time stands for', () => {
    assert.equal(timeUpperBound('10'), '105959.999999');
    assert.equal(timeUpperBound('1015'), '101559.999999');
    assert.equal(timeUpperBound('101530'), '101530.999999');
    assert.equal(timeUpperBound('101530.5'), '101530.599999');
    assert.equal(timeUpperBound('101530.123456'), '101530.123456');
    assert.equal(timeUpperBound('10:15'), '101559.999999');
    assert.equal(timeUpperBound('23:59:59'), '235959.999999');
    assert.equal(timeUpperBound('x'), undefined);
    assert.equal(timeUpperBound('123'), undefined);
  });

  test('bounds order as text the way the times order on the clock', () => {
    const stored = ['095959.999', '100000', '100000.5', '101559', '101559.999999', '101600'];
    const from = normalizeTime('1000')!;
    const to = timeUpperBound('1015')!;
    assert.deepEqual(
      stored.filter((t) => t >= from && t <= to),
      ['100000', '100000.5', '101559', '101559.999999'],
    );
  });

  test('isClockTime: hour 00-23, minute 00-59, second 00-60 (leap second)', () => {
    for (const good of ['000000', '235959', '235960', '120000.5', '235959.999999'])
      assert.ok(isClockTime(good), good);
    for (const bad of ['240000', '126000', '125961', '1200', '12000', 'abcdef'])
      assert.ok(!isClockTime(bad), bad);
  });
});

describe('person names', () => {
  test('personNameMatchKey: every component group (and every value) delimited by "="', () => {
    assert.equal(personNameMatchKey('Doe^John', true), '=doe^john=');
    assert.equal(personNameMatchKey('Doe^John', false), '=Doe^John=');
    assert.equal(
      personNameMatchKey('Yamada^Tarou=山田^太郎=やまだ^たろう', true),
      '=yamada^tarou=山田^太郎=やまだ^たろう=',
    );
    assert.equal(personNameMatchKey('Doe^John \\Roe^Jane', true), '=doe^john=roe^jane=');
    assert.equal(personNameMatchKey('Müller^Jürgen', true), '=müller^jürgen=');
    assert.equal(personNameMatchKey('', true), '==');
    assert.equal(personNameMatchKey(undefined, true), undefined);
  });

  test('foldForFuzzy: lower case without accents', () => {
    assert.equal(foldForFuzzy('Müller^JÜRGEN'), 'muller^jurgen');
    assert.equal(foldForFuzzy('Çelik Øre Ångström'), 'celik øre angstrom');
    assert.equal(foldForFuzzy('ＡＢＣ'), 'abc');
  });

  test('personNameFuzzyKey: every component of every group, folded, space-delimited', () => {
    assert.equal(personNameFuzzyKey('Müller^Jürgen'), ' muller jurgen ');
    assert.equal(personNameFuzzyKey('Doe^John^^Dr'), ' doe john dr ');
    assert.equal(personNameFuzzyKey('Yamada^Tarou=山田^太郎'), ' yamada tarou 山田 太郎 ');
    assert.equal(personNameFuzzyKey('van der Berg^Anna'), ' van der berg anna ');
    assert.equal(personNameFuzzyKey(undefined), undefined);
  });

  test('fuzzyTokens: folded components of the query, wildcards kept inside a token', () => {
    assert.deepEqual(fuzzyTokens('jurg'), ['jurg']);
    assert.deepEqual(fuzzyTokens('MÜLLER^Jürgen'), ['muller', 'jurgen']);
    assert.deepEqual(fuzzyTokens('Doe, John'), ['doe', 'john']);
    assert.deepEqual(fuzzyTokens('J?hn'), ['j?hn']);
    assert.deepEqual(fuzzyTokens('*ller^*'), ['*ller']);
    assert.deepEqual(fuzzyTokens('^='), []);
  });
});
