/**
 * Typed values out of parsed elements: text trimming per VR (PS3.5 Table 6.2-1), multi-valued strings,
 * character set decoding with inheritance into items, and numbers from text and binary VRs in both byte
 * orders.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import iconv from 'iconv-lite';
import { createTextDecoder } from '../../../src/dicom/charset.js';
import { DataSet, type DicomElement } from '../../../src/dicom/dataset.js';
import { DatasetReader } from '../../../src/dicom/dataset-reader.js';
import {
  decodeElementStrings,
  decodeElementText,
  elementNumbers,
  getNumber,
  getNumbers,
  getString,
  getStrings,
  getText,
  textDecoderFor,
} from '../../../src/dicom/values.js';
import type { VR } from '../../../src/dicom/vr.js';
import { buildInstance, SopClassUid } from '../../helpers/dicom-generator.js';

const TAG = 0x00111001;

/** A dataset of elements given as [tag, vr, value]; text is taken as Latin-1 bytes. */
function dataset(elements: [number, VR, Buffer | string][], littleEndian = true): DataSet {
  const ds = new DataSet(littleEndian, true);
  for (const [tag, vr, value] of elements) {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
    ds.set({ tag, vr, length: bytes.length, offset: 0, value: bytes });
  }
  return ds;
}

const one = (vr: VR, value: Buffer | string, littleEndian = true): DataSet =>
  dataset([[TAG, vr, value]], littleEndian);

function elementOf(vr: VR, value: Buffer | string): DicomElement {
  return one(vr, value).get(TAG)!;
}

/** Binary values written with Buffer's own writers, in either byte order. */
function binary(
  size: number,
  values: (number | bigint)[],
  write: (b: Buffer, v: never, at: number) => void,
): Buffer {
  const b = Buffer.alloc(size * values.length);
  values.forEach((v, i) => write(b, v as never, i * size));
  return b;
}

describe('text values', () => {
  it('trims leading and trailing spaces, and trailing NULs, of ordinary strings', () => {
    for (const vr of ['AE', 'CS', 'LO', 'SH', 'PN', 'DA', 'UC'] as VR[]) {
      assert.equal(getString(one(vr, '  Foo Bar  '), TAG), 'Foo Bar', vr);
      assert.equal(getText(one(vr, '  Foo Bar  '), TAG), 'Foo Bar', vr);
      assert.equal(getString(one(vr, 'abc\0'), TAG), 'abc', vr);
      assert.deepEqual(getStrings(one(vr, ' a \\ b\0'), TAG), ['a', 'b'], vr);
    }
    assert.equal(getString(one('UI', '1.2.840.10008.1.2\0'), TAG), '1.2.840.10008.1.2');
    assert.equal(getString(one('PN', 'Doe^John^^^ '), TAG), 'Doe^John^^^', 'only padding goes');
  });

  it('keeps leading spaces of LT, ST and UT, and does not split them at backslashes', () => {
    for (const vr of ['LT', 'ST', 'UT'] as VR[]) {
      const ds = one(vr, '  indented\\line\r\n  second  \0');
      assert.equal(getString(ds, TAG), '  indented\\line\r\n  second', vr);
      assert.equal(getText(ds, TAG), '  indented\\line\r\n  second', vr);
      assert.deepEqual(getStrings(ds, TAG), ['  indented\\line\r\n  second'], vr);
    }
    assert.deepEqual(getStrings(one('UR', 'http://example.com/a\\b '), TAG), ['http://example.com/a\\b']);
  });

  it('splits multi-valued strings, keeping empty values as empty strings', () => {
    assert.deepEqual(getStrings(one('CS', 'ORIGINAL\\ PRIMARY \\\\AXIAL '), TAG), [
      'ORIGINAL',
      'PRIMARY',
      '',
      'AXIAL',
    ]);
    assert.deepEqual(getStrings(one('CS', '\\'), TAG), ['', '']);
    assert.deepEqual(getStrings(one('CS', ''), TAG), []);
    assert.deepEqual(getStrings(one('DS', '1.5\\-2'), TAG), ['1.5', '-2']);
    assert.deepEqual(getStrings(dataset([]), TAG), []);
  });

  it('gives undefined for an absent, empty, padding-only or empty-first value', () => {
    assert.equal(getString(dataset([]), TAG), undefined);
    assert.equal(getString(one('LO', ''), TAG), undefined);
    assert.equal(getString(one('LO', '    '), TAG), undefined);
    assert.equal(getString(one('UI', '\0\0'), TAG), undefined);
    assert.equal(getString(one('CS', '\\SECOND'), TAG), undefined, 'first value empty');
    assert.equal(getText(dataset([]), TAG), undefined);
    assert.equal(getText(one('LO', '  '), TAG), undefined);
    assert.equal(getText(one('LT', '   '), TAG), undefined);
    const unkept: DicomElement = { tag: TAG, vr: 'LO', length: 5000, offset: 1234 };
    const ds = new DataSet(true, true);
    ds.set(unkept);
    assert.equal(getString(ds, TAG), undefined, 'a value left in the file');
    assert.equal(decodeElementText(unkept, createTextDecoder(undefined)), undefined);
    assert.deepEqual(decodeElementStrings(unkept, createTextDecoder(undefined)), []);
  });

  it('keeps the whole value, backslashes included, in getText', () => {
    assert.equal(getText(one('LO', ' A\\B \\C  '), TAG), 'A\\B \\C');
    assert.equal(getText(one('PN', 'Doe^John\\Roe^Jane '), TAG), 'Doe^John\\Roe^Jane');
    assert.equal(decodeElementText(elementOf('CS', ' X\\Y '), createTextDecoder(undefined)), 'X\\Y');
  });
});

describe('character sets', () => {
  it("decodes with the dataset's Specific Character Set, only for the VRs that use it", () => {
    const ds = dataset([
      [0x00080005, 'CS', 'ISO_IR 100'],
      [0x00100010, 'PN', iconv.encode('Müller^Jürgen', 'latin1')],
      [0x00081030, 'LO', iconv.encode('Études', 'latin1')],
    ]);
    assert.equal(getString(ds, 0x00100010), 'Müller^Jürgen');
    assert.equal(getText(ds, 0x00081030), 'Études');

    const utf8 = dataset([
      [0x00080005, 'CS', 'ISO_IR 192'],
      [0x00100010, 'PN', Buffer.from('山田^太郎=やまだ^たろう\\Smith', 'utf8')],
      [0x00104000, 'LT', Buffer.from('  注記 ', 'utf8')],
      [0x00080060, 'CS', Buffer.from('CT', 'latin1')],
    ]);
    assert.deepEqual(getStrings(utf8, 0x00100010), ['山田^太郎=やまだ^たろう', 'Smith']);
    assert.equal(getText(utf8, 0x00104000), '  注記');
    assert.equal(getString(utf8, 0x00080060), 'CT');

    const cyrillic = dataset([
      [0x00080005, 'CS', 'ISO_IR 144'],
      [0x00100010, 'PN', iconv.encode('Иванов^Иван', 'iso-8859-5')],
    ]);
    assert.equal(getString(cyrillic, 0x00100010), 'Иванов^Иван');

    const gb = dataset([
      [0x00080005, 'CS', 'GB18030'],
      [0x00100010, 'PN', iconv.encode('Wang^XiaoDong=王^小东=', 'gb18030')],
    ]);
    assert.equal(getString(gb, 0x00100010), 'Wang^XiaoDong=王^小东=');
  });

  it('decodes ISO 2022 IR 87 person names (PS3.5 H.3.1)', () => {
    const bytes = Buffer.from(
      '59616d6164615e5461726f753d1b24423b3345441b28425e1b244242404f3a1b28423d' +
        '1b24422464245e24401b28425e1b2442243f246d24261b2842',
      'hex',
    );
    const ds = dataset([
      [0x00080005, 'CS', '\\ISO 2022 IR 87'],
      [0x00100010, 'PN', bytes],
    ]);
    assert.equal(getString(ds, 0x00100010), 'Yamada^Tarou=山田^太郎=やまだ^たろう');
    assert.deepEqual(decodeElementStrings(ds.get(0x00100010)!, textDecoderFor(ds)), [
      'Yamada^Tarou=山田^太郎=やまだ^たろう',
    ]);
  });

  it("reads items in their parent's character set unless they declare their own", () => {
    const { bytes } = buildInstance({
      specificCharacterSet: 'ISO_IR 144',
      patientName: 'Иванов^Иван',
      image: false,
      sopClassUID: SopClassUid.SecondaryCapture,
      extra: [
        {
          tag: 0x00081140,
          vr: 'SQ',
          value: [
            [{ tag: 0x00080104, vr: 'LO', value: 'Снимок' }],
            [
              { tag: 0x00080005, vr: 'CS', value: 'ISO_IR 100' },
              { tag: 0x00080104, vr: 'LO', value: iconv.encode('Aufnahme ä', 'latin1') },
            ],
          ],
        },
      ],
    });
    const reader = new DatasetReader();
    reader.write(bytes);
    const ds = reader.end().dataset;
    const parentDecoder = textDecoderFor(ds);
    const [inherits, own] = ds.get(0x00081140)!.items!;
    assert.equal(getString(inherits!, 0x00080104, textDecoderFor(inherits!, parentDecoder)), 'Снимок');
    assert.equal(getString(own!, 0x00080104, textDecoderFor(own!, parentDecoder)), 'Aufnahme ä');
    assert.equal(getString(own!, 0x00080104), 'Aufnahme ä', "its own character set, without the parent's");
    assert.equal(
      getString(inherits!, 0x00080104),
      iconv.encode('Снимок', 'iso-8859-5').toString('latin1'),
      "without the parent's decoder: the default repertoire, read leniently as Latin-1",
    );
    assert.equal(getString(ds, 0x00100010), 'Иванов^Иван');
  });
});

describe('numbers', () => {
  it('reads IS and DS, trimming each value and skipping empty ones', () => {
    assert.deepEqual(getNumbers(one('IS', ' 12\\-3 \\+7'), TAG), [12, -3, 7]);
    assert.deepEqual(getNumbers(one('DS', '1.5e2\\ -0.25\\\\.5 '), TAG), [150, -0.25, 0.5]);
    assert.equal(getNumber(one('DS', ' 33.30 '), TAG), 33.3);
    assert.equal(getNumber(one('IS', ''), TAG), undefined);
    assert.equal(getNumber(one('IS', '  '), TAG), undefined);
    assert.equal(getNumber(one('IS', 'twelve'), TAG), undefined, 'not a number');
    assert.deepEqual(getNumbers(one('IS', 'twelve\\4'), TAG), [NaN, 4]);
    assert.equal(getNumber(dataset([]), TAG), undefined);
    assert.deepEqual(getNumbers(dataset([]), TAG), []);
  });

  const cases: [VR, number, (number | bigint)[], number[], string, string][] = [
    ['US', 2, [0, 1, 65535], [0, 1, 65535], 'writeUInt16LE', 'writeUInt16BE'],
    ['SS', 2, [-32768, -1, 32767], [-32768, -1, 32767], 'writeInt16LE', 'writeInt16BE'],
    ['UL', 4, [0, 4294967295], [0, 4294967295], 'writeUInt32LE', 'writeUInt32BE'],
    ['SL', 4, [-2147483648, 7], [-2147483648, 7], 'writeInt32LE', 'writeInt32BE'],
    ['FL', 4, [1.5, -0.25], [1.5, -0.25], 'writeFloatLE', 'writeFloatBE'],
    ['FD', 8, [Math.PI, -1e-300], [Math.PI, -1e-300], 'writeDoubleLE', 'writeDoubleBE'],
    ['SV', 8, [-5n, 9007199254740991n], [-5, 9007199254740991], 'writeBigInt64LE', 'writeBigInt64BE'],
    ['UV', 8, [5n, 2n ** 53n], [5, 2 ** 53], 'writeBigUInt64LE', 'writeBigUInt64BE'],
  ];
  for (const [vr, size, raw, expected, le, be] of cases) {
    it(`reads ${vr} in both byte orders`, () => {
      for (const [little, method] of [
        [true, le],
        [false, be],
      ] as const) {
        const write = (b: Buffer, v: never, at: number) =>
          (b as unknown as Record<string, (v: never, at: number) => void>)[method]!.call(b, v, at);
        const bytes = binary(size, raw, write);
        const ds = one(vr, bytes, little);
        assert.deepEqual(getNumbers(ds, TAG), expected, `${vr} ${little ? 'LE' : 'BE'}`);
        assert.equal(getNumber(ds, TAG), expected[0]);
        assert.deepEqual(elementNumbers(ds.get(TAG)!, little), expected);
        // A trailing partial value is ignored.
        const ragged = one(vr, Buffer.concat([bytes, Buffer.alloc(size - 1)]), little);
        assert.deepEqual(getNumbers(ragged, TAG), expected);
      }
    });
  }

  it('reads the same bytes under another VR, as the JSON encoder does for US or SS', () => {
    const element = elementOf('US', Buffer.from([0x9c, 0xff]));
    assert.deepEqual(elementNumbers(element, true), [65436]);
    assert.deepEqual(elementNumbers({ ...element, vr: 'SS' }, true), [-100]);
    assert.deepEqual(elementNumbers({ ...element, vr: 'SS' }, false), [-25345]);
  });

  it('gives no numbers for AT, OB, text or values left in the file, and undefined for NaN', () => {
    assert.deepEqual(getNumbers(one('AT', Buffer.from([0x10, 0, 0x10, 0])), TAG), []);
    assert.deepEqual(getNumbers(one('OB', Buffer.from([1, 2])), TAG), []);
    assert.deepEqual(getNumbers(one('LO', '12'), TAG), []);
    const ds = new DataSet(true, true);
    ds.set({ tag: TAG, vr: 'US', length: 4000, offset: 10 });
    assert.deepEqual(getNumbers(ds, TAG), []);
    assert.equal(getNumber(ds, TAG), undefined);
    const nan = Buffer.alloc(8);
    nan.writeDoubleLE(NaN, 0);
    assert.equal(getNumber(one('FD', nan), TAG), undefined);
  });

  it('reads numbers from a parsed big endian file as from a little endian one', () => {
    const { bytes } = buildInstance({
      image: { rows: 3, columns: 5 },
      extra: [{ tag: 0x0072007e, vr: 'SS', value: [-2, 3] }],
    });
    const reader = new DatasetReader();
    reader.write(bytes);
    const le = reader.end().dataset;
    // Byte-swap every binary numeric value by hand into a big endian dataset.
    const be = new DataSet(false, true);
    for (const element of le.elements.values()) {
      const value = element.value ? Buffer.from(element.value) : undefined;
      if (value && (element.vr === 'US' || element.vr === 'SS')) value.swap16();
      be.set({ ...element, value });
    }
    for (const tag of [0x00280010, 0x00280011, 0x00280100, 0x0072007e, 0x00200013]) {
      assert.deepEqual(getNumbers(be, tag), getNumbers(le, tag), tag.toString(16));
    }
    assert.deepEqual(getNumbers(be, 0x0072007e), [-2, 3]);
    assert.equal(getNumber(be, 0x00280011), 5);
  });
});
