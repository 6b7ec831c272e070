/**
 * The DICOM JSON encoder (PS3.18 Annex F) on parsed generated files: value types, person names in several
 * character sets, sequences, inline and bulk binary data, excluded attributes, implicit VR and big endian
 * sources; and the whole output compared with dcmtk's dcm2json where the two should agree.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import iconv from 'iconv-lite';
import { DatasetReader, type ParsedDicom, type ReaderLimits } from '../../../src/dicom/dataset-reader.js';
import { UNDEFINED_LENGTH } from '../../../src/dicom/dataset.js';
import {
  encodeDicomJson,
  personName,
  type DicomJsonAttribute,
  type DicomJsonDataset,
  type EncodedDataset,
} from '../../../src/dicom/dicom-json.js';
import {
  buildInstance,
  encodeElements,
  SopClassUid,
  TransferSyntaxUid,
  type ExtraElement,
  type InstanceSpec,
} from '../../helpers/dicom-generator.js';
import { execFile, requireTools, type TransferSyntaxTarget } from '../../helpers/dcmtk.js';
import { makeTempDir, makeTransferSyntaxSet, removeDir, writeInstance } from '../../helpers/fixtures.js';

// ---------------------------------------------------------------------------------------------------------
// Helpers

const PREFIX = 'studies/1.2/series/1.3/instances/1.4/bulkdata/';

interface Parsed {
  parsed: ParsedDicom;
  /** The bytes element offsets refer to: the file, or its inflated dataset. */
  source: Buffer;
}

function parse(bytes: Buffer, limits?: Partial<ReaderLimits>): Parsed {
  const reader = new DatasetReader({ limits });
  const rest = reader.write(bytes);
  let source = bytes;
  if (rest) {
    source = inflateRawSync(rest);
    reader.write(source);
  }
  return { parsed: reader.end(), source };
}

function encode(bytes: Buffer, limits?: Partial<ReaderLimits>): EncodedDataset & Parsed {
  const p = parse(bytes, limits);
  return { ...p, ...encodeDicomJson(p.parsed.dataset, { bulkDataUriPrefix: PREFIX }) };
}

function bare(elements: ExtraElement[], specificCharacterSet?: string): DicomJsonDataset {
  const reader = new DatasetReader({ transferSyntaxUid: TransferSyntaxUid.ExplicitVRLittleEndian });
  reader.write(encodeElements(elements, specificCharacterSet));
  return encodeDicomJson(reader.end().dataset, { bulkDataUriPrefix: PREFIX }).json;
}

function attr(json: DicomJsonDataset, key: string): DicomJsonAttribute {
  const found = json[key];
  assert.ok(found, `attribute ${key} missing`);
  return found;
}

function item(json: DicomJsonDataset, key: string, index: number): DicomJsonDataset {
  const value = attr(json, key).Value?.[index];
  assert.ok(value && typeof value === 'object' && !('Alphabetic' in value), `${key} item ${index}`);
  return value as DicomJsonDataset;
}

const LATIN1_NAME = 'Müller^Jürgen';
const CYRILLIC_NAME = 'Иванов^Иван';
const CHINESE_NAME = 'Wang^XiaoDong=王^小东=';
const JAPANESE_NAME = 'Yamada^Tarou=山田^太郎=やまだ^たろう';

/** Attributes of every kind that the tests below check, for a given character set. */
function richSpec(specificCharacterSet = 'ISO_IR 192', patientName = JAPANESE_NAME): InstanceSpec {
  return {
    specificCharacterSet,
    patientName,
    studyDescription: 'Generated test study',
    image: {
      rows: 4,
      columns: 6,
      frames: 2,
      bitsStored: 12,
      pixelRepresentation: 1,
      rescaleIntercept: -1024,
      voiLutSequence: true,
    },
    extra: [
      { tag: 0x00081050, vr: 'PN', value: 'Smith^John\\Doe^Jane' }, // Performing Physician's Name
      { tag: 0x00280009, vr: 'AT', value: [0x00181063, 0x00181065] }, // Frame Increment Pointer
      { tag: 0x00181063, vr: 'DS', value: 33.3 }, // Frame Time
      { tag: 0x00181149, vr: 'IS', value: [320, 240] }, // Field of View Dimensions
      { tag: 0x00200032, vr: 'DS', value: Buffer.from('-12.5\\\\1e3 ') }, // Image Position, empty value 2
      { tag: 0x00200037, vr: 'DS', value: Buffer.from(' ') }, // Image Orientation: padding only
      { tag: 0x00181310, vr: 'US', value: [1, 256, 65535, 0] }, // Acquisition Matrix
      { tag: 0x0072007e, vr: 'SS', value: [-1, 2, -32768, 32767] },
      { tag: 0x00720078, vr: 'UL', value: [0, 4294967295] },
      { tag: 0x0072007c, vr: 'SL', value: [-2147483648, 2147483647] },
      { tag: 0x00720076, vr: 'FL', value: [1.5, -0.25, 1024] },
      { tag: 0x00720074, vr: 'FD', value: [Math.PI, -1e-300, 12345.678] },
      { tag: 0x00720082, vr: 'SV', value: [-5, 9007199254740991] },
      { tag: 0x00720083, vr: 'UV', value: [5, 2 ** 53] },
      { tag: 0x00720065, vr: 'OB', value: Buffer.from([1, 2, 3, 4, 5, 6]) },
      { tag: 0x00720069, vr: 'OW', value: [1, 0x1234, 0xfffe] },
      { tag: 0x00720067, vr: 'OF', value: [1.5, -2] },
      { tag: 0x00720073, vr: 'OD', value: [Math.E] },
      { tag: 0x00280106, vr: 'SS', value: -100 }, // Smallest Image Pixel Value (US or SS)
      { tag: 0x00280107, vr: 'SS', value: 2000 }, // Largest Image Pixel Value (US or SS)
      { tag: 0x00104000, vr: 'LT', value: '  indented comment\r\nsecond line' },
      { tag: 0x00420011, vr: 'OB', value: Buffer.alloc(3000, 0x5a) }, // Encapsulated Document: bulk
      {
        tag: 0x00081140, // Referenced Image Sequence, undefined length, nested and empty items
        vr: 'SQ',
        undefinedLength: true,
        value: [
          [
            { tag: 0x00081150, vr: 'UI', value: SopClassUid.CTImage },
            { tag: 0x00081160, vr: 'IS', value: [1, 2] }, // Referenced Frame Number
            {
              tag: 0x0040a170, // Purpose of Reference Code Sequence
              vr: 'SQ',
              value: [
                [
                  { tag: 0x00080100, vr: 'SH', value: '121311' },
                  { tag: 0x00080104, vr: 'LO', value: 'Localizer' },
                ],
              ],
            },
          ],
          [],
        ],
      },
      { tag: 0x00101002, vr: 'SQ', value: [] }, // Other Patient IDs Sequence: empty
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------
// Value types

describe('DICOM JSON values', () => {
  it('writes person names as Alphabetic, Ideographic and Phonetic groups', () => {
    for (const specificCharacterSet of ['\\ISO 2022 IR 87', 'ISO_IR 192']) {
      const { json } = encode(buildInstance({ specificCharacterSet, patientName: JAPANESE_NAME }).bytes);
      assert.deepEqual(
        attr(json, '00100010'),
        {
          vr: 'PN',
          Value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }],
        },
        specificCharacterSet,
      );
      assert.deepEqual(attr(json, '00080005'), { vr: 'CS', Value: ['ISO_IR 192'] });
    }
    const utf8 = (name: string) =>
      attr(
        encode(buildInstance({ specificCharacterSet: 'ISO_IR 192', patientName: name }).bytes).json,
        '00100010',
      );
    assert.deepEqual(utf8('山田^太郎=やまだ^たろう'), {
      vr: 'PN',
      Value: [{ Alphabetic: '山田^太郎', Ideographic: 'やまだ^たろう' }],
    });
    assert.deepEqual(utf8(CHINESE_NAME), {
      vr: 'PN',
      Value: [{ Alphabetic: 'Wang^XiaoDong', Ideographic: '王^小东' }],
    });
    assert.deepEqual(utf8('==たろう'), { vr: 'PN', Value: [{ Phonetic: 'たろう' }] });
    assert.deepEqual(utf8(''), { vr: 'PN' });
  });

  it('writes multi-valued person names, with null for an empty one', () => {
    const json = bare(
      [
        { tag: 0x00080005, vr: 'CS', value: 'ISO_IR 192' },
        { tag: 0x00081050, vr: 'PN', value: 'Smith^John\\\\Doe^Jane=ドウ' },
      ],
      'ISO_IR 192',
    );
    assert.deepEqual(attr(json, '00081050'), {
      vr: 'PN',
      Value: [{ Alphabetic: 'Smith^John' }, null, { Alphabetic: 'Doe^Jane', Ideographic: 'ドウ' }],
    });
    assert.deepEqual(personName('Doe^John^^^'), { Alphabetic: 'Doe^John^^^' });
    assert.deepEqual(personName('Doe  =山田 '), { Alphabetic: 'Doe', Ideographic: '山田' });
    assert.equal(personName(''), null);
  });

  it('writes IS and DS as numbers, an empty value as null, padding only as no value', () => {
    const json = bare([
      { tag: 0x00181063, vr: 'DS', value: ' 33.30 ' },
      { tag: 0x00181149, vr: 'IS', value: '+320\\-240' },
      { tag: 0x00200032, vr: 'DS', value: '-12.5\\\\1e3' },
      { tag: 0x00200037, vr: 'DS', value: '  ' },
      { tag: 0x00200013, vr: 'IS', value: '' },
      { tag: 0x00201041, vr: 'DS', value: 'junk' },
    ]);
    assert.deepEqual(attr(json, '00181063'), { vr: 'DS', Value: [33.3] });
    assert.deepEqual(attr(json, '00181149'), { vr: 'IS', Value: [320, -240] });
    assert.deepEqual(attr(json, '00200032'), { vr: 'DS', Value: [-12.5, null, 1000] });
    assert.deepEqual(attr(json, '00200037'), { vr: 'DS' });
    assert.deepEqual(attr(json, '00200013'), { vr: 'IS' });
    assert.deepEqual(attr(json, '00201041'), { vr: 'DS', Value: [null] }, 'not a number: null, not NaN');
  });

  it('writes strings trimmed, with null for empty values of a multi-valued string', () => {
    const json = bare([
      { tag: 0x00080008, vr: 'CS', value: 'ORIGINAL\\\\ AXIAL' },
      { tag: 0x00080060, vr: 'CS', value: '\\' },
      { tag: 0x00081030, vr: 'LO', value: '  Head  ' },
      { tag: 0x00104000, vr: 'LT', value: '  indented\\not a delimiter  ' },
      { tag: 0x00080018, vr: 'UI', value: Buffer.from('1.2.3\0') },
    ]);
    assert.deepEqual(attr(json, '00080008'), { vr: 'CS', Value: ['ORIGINAL', null, 'AXIAL'] });
    assert.deepEqual(attr(json, '00080060'), { vr: 'CS' });
    assert.deepEqual(attr(json, '00081030'), { vr: 'LO', Value: ['Head'] });
    assert.deepEqual(attr(json, '00104000'), { vr: 'LT', Value: ['  indented\\not a delimiter'] });
    assert.deepEqual(attr(json, '00080018'), { vr: 'UI', Value: ['1.2.3'] });
  });

  it('writes AT as hex tags and binary numbers as numbers, 64-bit ones as strings when not exact', () => {
    const { json } = encode(buildInstance(richSpec()).bytes);
    assert.deepEqual(attr(json, '00280009'), { vr: 'AT', Value: ['00181063', '00181065'] });
    assert.deepEqual(attr(json, '00181310'), { vr: 'US', Value: [1, 256, 65535, 0] });
    assert.deepEqual(attr(json, '0072007E'), { vr: 'SS', Value: [-1, 2, -32768, 32767] });
    assert.deepEqual(attr(json, '00720078'), { vr: 'UL', Value: [0, 4294967295] });
    assert.deepEqual(attr(json, '0072007C'), { vr: 'SL', Value: [-2147483648, 2147483647] });
    assert.deepEqual(attr(json, '00720076'), { vr: 'FL', Value: [1.5, -0.25, 1024] });
    assert.deepEqual(attr(json, '00720074'), { vr: 'FD', Value: [Math.PI, -1e-300, 12345.678] });
    assert.deepEqual(attr(json, '00720082'), { vr: 'SV', Value: [-5, 9007199254740991] });
    assert.deepEqual(attr(json, '00720083'), { vr: 'UV', Value: [5, '9007199254740992'] });
    assert.deepEqual(attr(json, '00280106'), { vr: 'SS', Value: [-100] });
    assert.deepEqual(attr(json, '00200032'), { vr: 'DS', Value: [-12.5, null, 1000] });
    assert.deepEqual(attr(json, '00200037'), { vr: 'DS' });
    assert.deepEqual(attr(json, '00181149'), { vr: 'IS', Value: [320, 240] });
    assert.deepEqual(attr(json, '00104000'), { vr: 'LT', Value: ['  indented comment\r\nsecond line'] });
  });

  it('writes NaN and infinite floats as null', () => {
    const json = bare([
      { tag: 0x00720076, vr: 'FL', value: [NaN, 1, Infinity] },
      { tag: 0x00720074, vr: 'FD', value: [-Infinity, 2] },
    ]);
    assert.deepEqual(attr(json, '00720076'), { vr: 'FL', Value: [null, 1, null] });
    assert.deepEqual(attr(json, '00720074'), { vr: 'FD', Value: [null, 2] });
  });

  it('writes sequences, nested ones, empty items and empty sequences', () => {
    const { json } = encode(buildInstance(richSpec()).bytes);
    const references = attr(json, '00081140');
    assert.equal(references.vr, 'SQ');
    assert.equal(references.Value?.length, 2);
    assert.deepEqual(item(json, '00081140', 1), {}, 'an empty item is an empty object');
    const first = item(json, '00081140', 0);
    assert.deepEqual(first['00081150'], { vr: 'UI', Value: [SopClassUid.CTImage] });
    assert.deepEqual(first['00081160'], { vr: 'IS', Value: [1, 2] });
    assert.deepEqual(first['0040A170'], {
      vr: 'SQ',
      Value: [
        { '00080100': { vr: 'SH', Value: ['121311'] }, '00080104': { vr: 'LO', Value: ['Localizer'] } },
      ],
    });
    assert.deepEqual(attr(json, '00101002'), { vr: 'SQ' }, 'an empty sequence has no Value');
    // Keys in ascending tag order, upper-case hex.
    const keys = Object.keys(json);
    assert.deepEqual(keys, [...keys].sort());
    for (const key of keys) assert.match(key, /^[0-9A-F]{8}$/);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Binary data

describe('InlineBinary and BulkDataURI', () => {
  it('inlines small binary values and refers to pixel data and large ones by tag path', () => {
    const { json, bulk, source } = encode(buildInstance(richSpec()).bytes);
    assert.deepEqual(attr(json, '00720065'), {
      vr: 'OB',
      InlineBinary: Buffer.from([1, 2, 3, 4, 5, 6]).toString('base64'),
    });
    const ow = Buffer.alloc(6);
    [1, 0x1234, 0xfffe].forEach((v, i) => ow.writeUInt16LE(v, 2 * i));
    assert.deepEqual(attr(json, '00720069'), { vr: 'OW', InlineBinary: ow.toString('base64') });
    assert.deepEqual(attr(json, '7FE00010'), { vr: 'OW', BulkDataURI: `${PREFIX}7FE00010` });
    assert.deepEqual(attr(json, '00420011'), { vr: 'OB', BulkDataURI: `${PREFIX}00420011` });
    assert.deepEqual(
      bulk.map((b) => b.path),
      ['00283010/0/00283006', '00420011', '7FE00010'], // the 8 kB VOI LUT Data is bulk data too
    );
    const document = bulk.find((b) => b.path === '00420011')!;
    assert.equal(document.vr, 'OB');
    assert.deepEqual(
      source.subarray(document.offset, document.offset + document.length),
      Buffer.alloc(3000, 0x5a),
    );
    const pixels = bulk.find((b) => b.path === '7FE00010')!;
    assert.equal(pixels.length, 4 * 6 * 2 * 2);
    assert.equal(pixels.fragments, undefined);
  });

  it('addresses values inside sequences as <sequence>/<item>/<tag>', () => {
    const { bytes } = buildInstance({
      image: false,
      sopClassUID: SopClassUid.SecondaryCapture,
      extra: [
        {
          tag: 0x00540016, // Radiopharmaceutical Information Sequence
          vr: 'SQ',
          value: [
            [{ tag: 0x00181074, vr: 'DS', value: '123456789.5' }], // Radionuclide Total Dose
            [
              { tag: 0x00181074, vr: 'DS', value: '1' },
              { tag: 0x00420011, vr: 'OB', value: Buffer.alloc(2000, 7) },
            ],
          ],
        },
      ],
    });
    // With maxKeptValue 8, the 12-byte DS stays in the file too.
    const { json, bulk, source } = encode(bytes, { maxKeptValue: 8 });
    assert.deepEqual(item(json, '00540016', 0)['00181074'], {
      vr: 'DS',
      BulkDataURI: `${PREFIX}00540016/0/00181074`,
    });
    assert.deepEqual(item(json, '00540016', 1)['00181074'], { vr: 'DS', Value: [1] });
    assert.deepEqual(item(json, '00540016', 1)['00420011'], {
      vr: 'OB',
      BulkDataURI: `${PREFIX}00540016/1/00420011`,
    });
    // (At that limit the top-level UIDs and names are bulk data as well.)
    assert.ok(bulk.some((b) => b.path === '00080018'));
    const nested = bulk.filter((b) => b.path.includes('/'));
    assert.deepEqual(
      nested.map(({ path, vr }) => [path, vr]),
      [
        ['00540016/0/00181074', 'DS'],
        ['00540016/1/00420011', 'OB'],
      ],
    );
    const at = (i: number) => source.subarray(nested[i]!.offset, nested[i]!.offset + nested[i]!.length);
    assert.equal(at(0).toString('latin1'), '123456789.5 ');
    assert.deepEqual(at(1), Buffer.alloc(2000, 7));
  });

  it('lists the fragments of encapsulated pixel data', async (t) => {
    if (!requireTools(t, 'dcmcrle')) return;
    const dir = await makeTempDir('dicom-json-rle-');
    try {
      const { files } = await makeTransferSyntaxSet(
        dir,
        { image: { rows: 8, columns: 8, bitsAllocated: 8, frames: 3 } },
        ['rle'],
      );
      const { json, bulk, parsed } = encode(await readFile(files[0]!.path));
      assert.deepEqual(attr(json, '7FE00010'), { vr: 'OB', BulkDataURI: `${PREFIX}7FE00010` });
      const pixels = parsed.dataset.get(0x7fe00010)!;
      assert.deepEqual(bulk, [
        {
          path: '7FE00010',
          vr: 'OB',
          offset: pixels.offset,
          length: UNDEFINED_LENGTH,
          fragments: pixels.fragments,
        },
      ]);
      assert.equal(pixels.fragments!.length, 3);
    } finally {
      await removeDir(dir);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// What is left out, and character sets

describe('excluded attributes and character sets', () => {
  it('leaves out group 0002 and group lengths', async (t) => {
    const json = bare([
      { tag: 0x00020010, vr: 'UI', value: TransferSyntaxUid.ExplicitVRLittleEndian },
      { tag: 0x00080000, vr: 'UL', value: 30 },
      { tag: 0x00080060, vr: 'CS', value: 'OT' },
      { tag: 0x00090010, vr: 'LO', value: 'ACME' },
      { tag: 0x00100000, vr: 'UL', value: 12 },
      { tag: 0x00100010, vr: 'PN', value: 'Doe' },
    ]);
    assert.deepEqual(Object.keys(json), ['00080005', '00080060', '00090010', '00100010']);
    if (!requireTools(t, 'dcmconv')) return;
    const dir = await makeTempDir('dicom-json-gl-');
    try {
      const source = await writeInstance(dir, richSpec());
      const out = join(dir, 'group-lengths.dcm');
      await execFile('dcmconv', ['+g', source.path, out]);
      const { parsed, json: withLengths } = encode(await readFile(out));
      assert.ok(
        parsed.dataset.has(0x00080000) && parsed.dataset.has(0x00280000),
        'dcmconv +g wrote group lengths',
      );
      const keys = (ds: DicomJsonDataset): string[] =>
        Object.entries(ds).flatMap(([k, a]) => [
          k,
          ...(a.Value ?? []).flatMap((v) =>
            v && typeof v === 'object' && !('Alphabetic' in v || 'Ideographic' in v || 'Phonetic' in v)
              ? keys(v as DicomJsonDataset)
              : [],
          ),
        ]);
      assert.deepEqual(
        keys(withLengths).filter((k) => k.endsWith('0000') || k.startsWith('0002')),
        [],
      );
      assert.deepEqual(withLengths, encode(await readFile(source.path)).json);
    } finally {
      await removeDir(dir);
    }
  });

  it('says ISO_IR 192 for the character set, whatever the source had, items included', () => {
    for (const specificCharacterSet of [undefined, 'ISO_IR 100', 'ISO_IR 192', '\\ISO 2022 IR 87']) {
      const { json } = encode(buildInstance({ specificCharacterSet }).bytes);
      assert.deepEqual(Object.keys(json)[0], '00080005');
      assert.deepEqual(
        attr(json, '00080005'),
        { vr: 'CS', Value: ['ISO_IR 192'] },
        String(specificCharacterSet),
      );
    }
  });

  it('decodes text from ISO_IR 100, ISO_IR 144 and GB18030', () => {
    const cases: [string, string, string, string][] = [
      ['ISO_IR 100', LATIN1_NAME, 'Étude du thorax', 'Müller'],
      ['ISO_IR 144', CYRILLIC_NAME, 'Исследование', 'Иванов'],
      ['GB18030', CHINESE_NAME, '胸部检查', '王'],
    ];
    for (const [specificCharacterSet, patientName, studyDescription, family] of cases) {
      const { bytes } = buildInstance({ specificCharacterSet, patientName, studyDescription });
      const { json } = encode(bytes);
      const name = attr(json, '00100010').Value![0] as { Alphabetic?: string; Ideographic?: string };
      assert.ok(
        (name.Alphabetic ?? '').startsWith(family) || (name.Ideographic ?? '').startsWith(family),
        specificCharacterSet,
      );
      assert.deepEqual(attr(json, '00081030'), { vr: 'LO', Value: [studyDescription] });
    }
    const latin = attr(
      encode(buildInstance({ specificCharacterSet: 'ISO_IR 100', patientName: LATIN1_NAME }).bytes).json,
      '00100010',
    );
    assert.deepEqual(latin, { vr: 'PN', Value: [{ Alphabetic: 'Müller^Jürgen' }] });
    const cyrillic = attr(
      encode(buildInstance({ specificCharacterSet: 'ISO_IR 144', patientName: CYRILLIC_NAME }).bytes).json,
      '00100010',
    );
    assert.deepEqual(cyrillic, { vr: 'PN', Value: [{ Alphabetic: 'Иванов^Иван' }] });
    const chinese = attr(
      encode(buildInstance({ specificCharacterSet: 'GB18030', patientName: CHINESE_NAME }).bytes).json,
      '00100010',
    );
    assert.deepEqual(chinese, { vr: 'PN', Value: [{ Alphabetic: 'Wang^XiaoDong', Ideographic: '王^小东' }] });
  });

  it("decodes an item in its own character set, and items without one in their parent's", () => {
    const { bytes } = buildInstance({
      specificCharacterSet: 'ISO_IR 100',
      patientName: LATIN1_NAME,
      image: false,
      sopClassUID: SopClassUid.SecondaryCapture,
      extra: [
        {
          tag: 0x00081140,
          vr: 'SQ',
          value: [
            [
              { tag: 0x00080005, vr: 'CS', value: 'ISO_IR 144' },
              { tag: 0x00080104, vr: 'LO', value: iconv.encode('Снимок', 'iso-8859-5') },
            ],
            [{ tag: 0x00080104, vr: 'LO', value: 'Aufnahme ä' }],
          ],
        },
      ],
    });
    const { json } = encode(bytes);
    assert.deepEqual(item(json, '00081140', 0), {
      '00080005': { vr: 'CS', Value: ['ISO_IR 192'] },
      '00080104': { vr: 'LO', Value: ['Снимок'] },
    });
    assert.deepEqual(item(json, '00081140', 1), { '00080104': { vr: 'LO', Value: ['Aufnahme ä'] } });
  });
});

// ---------------------------------------------------------------------------------------------------------
// Transfer syntaxes, and dcm2json

/** Removes what differs between the instances of a transfer syntax set: their UIDs and numbers. */
function comparable(json: DicomJsonDataset): DicomJsonDataset {
  const copy = { ...json };
  for (const key of ['00080018', '00200013']) delete copy[key];
  return copy;
}

describe('the same JSON from every native transfer syntax', () => {
  let dir = '';
  before(async () => {
    dir = await makeTempDir('dicom-json-ts-');
  });
  after(() => removeDir(dir));

  it('resolves US/SS by Pixel Representation in implicit VR, and swaps big endian binary values', async (t) => {
    if (!requireTools(t, 'dcmconv')) return;
    const targets: TransferSyntaxTarget[] = ['explicit-le', 'implicit-le', 'explicit-be', 'deflated'];
    const { files } = await makeTransferSyntaxSet(dir, richSpec(), targets);
    assert.equal(files.length, 4);
    const results = await Promise.all(
      files.map(async (f) => ({ target: f.target, ...encode(await readFile(f.path)) })),
    );
    const reference = results.find((r) => r.target === 'explicit-le')!;
    for (const result of results) {
      assert.deepEqual(comparable(result.json), comparable(reference.json), result.target);
      assert.deepEqual(
        result.bulk.map((b) => [b.path, b.vr, b.length]),
        reference.bulk.map((b) => [b.path, b.vr, b.length]),
      );
    }
    const implicit = results.find((r) => r.target === 'implicit-le')!;
    assert.equal(
      implicit.parsed.dataset.get(0x00280106)!.vr,
      'US',
      'the dictionary says US or SS; the reader takes US',
    );
    assert.deepEqual(attr(implicit.json, '00280106'), { vr: 'SS', Value: [-100] });
    assert.deepEqual(attr(implicit.json, '00280107'), { vr: 'SS', Value: [2000] });
    const lut = item(implicit.json, '00283010', 0)['00283002'];
    assert.equal(lut?.vr, 'SS', 'LUT Descriptor in an item resolved by the top-level Pixel Representation');
    const big = results.find((r) => r.target === 'explicit-be')!;
    assert.equal(big.parsed.dataset.littleEndian, false);
    const of = Buffer.alloc(8);
    of.writeFloatLE(1.5, 0);
    of.writeFloatLE(-2, 4);
    assert.deepEqual(attr(big.json, '00720067'), { vr: 'OF', InlineBinary: of.toString('base64') });
    const od = Buffer.alloc(8);
    od.writeDoubleLE(Math.E, 0);
    assert.deepEqual(attr(big.json, '00720073'), { vr: 'OD', InlineBinary: od.toString('base64') });
  });

  it('writes US for the same attributes when Pixel Representation is 0', async (t) => {
    if (!requireTools(t, 'dcmconv')) return;
    const spec: InstanceSpec = {
      image: { rows: 4, columns: 4 },
      extra: [
        { tag: 0x00280106, vr: 'US', value: 3 },
        { tag: 0x00280107, vr: 'US', value: 40000 },
      ],
    };
    const { files } = await makeTransferSyntaxSet(dir, spec, ['implicit-le']);
    const { json } = encode(await readFile(files[0]!.path));
    assert.deepEqual(attr(json, '00280106'), { vr: 'US', Value: [3] });
    assert.deepEqual(attr(json, '00280107'), { vr: 'US', Value: [40000] });
  });
});

describe('compared with dcmtk dcm2json', () => {
  let dir = '';
  before(async () => {
    dir = await makeTempDir('dicom-json-dcm2json-');
  });
  after(() => removeDir(dir));

  const BINARY = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);

  /**
   * Everything both encoders must agree on: the same attributes (bar the character set we always state),
   * VRs, and values of every non-binary attribute; floats compared at their precision (dcm2json prints
   * FL with 9 and FD with 16 significant digits). Binary values are only checked to be present.
   */
  function compare(ours: DicomJsonDataset, theirs: DicomJsonDataset, path: string): number {
    const ourKeys = Object.keys(ours).filter((k) => k !== '00080005' || '00080005' in theirs);
    assert.deepEqual(ourKeys, Object.keys(theirs), `${path}: attributes`);
    let compared = 0;
    for (const key of ourKeys) {
      const a = ours[key]!;
      const b = theirs[key]!;
      const where = `${path}${key}`;
      if (BINARY.has(b.vr) || BINARY.has(a.vr)) {
        assert.ok(
          a.InlineBinary !== undefined || a.BulkDataURI !== undefined || a.Value === undefined,
          where,
        );
        continue;
      }
      if (key === '00283002' && a.vr === 'SS' && b.vr === 'US') {
        // LUT Descriptor (US or SS) in an implicit VR item: we resolve it by the image's Pixel
        // Representation (as the explicit VR source had it), dcmtk by the item's, which has none: US.
        assert.deepEqual(
          a.Value!.map((v) => ((v as number) + 65536) % 65536),
          b.Value,
          where,
        );
        compared++;
        continue;
      }
      assert.equal(a.vr, b.vr, `${where}: vr`);
      if (a.vr === 'SQ') {
        assert.equal(a.Value?.length ?? 0, b.Value?.length ?? 0, `${where}: items`);
        (a.Value ?? []).forEach((v, i) => {
          compared += compare(v as DicomJsonDataset, b.Value![i] as DicomJsonDataset, `${where}/${i}/`);
        });
        continue;
      }
      compared++;
      if (a.vr === 'FL' || a.vr === 'FD') {
        assert.equal(a.Value?.length, b.Value?.length, where);
        a.Value!.forEach((v, i) => {
          const w = b.Value![i] as number;
          if (a.vr === 'FL') assert.equal(Math.fround(v as number), Math.fround(w), where);
          else
            assert.ok(Math.abs((v as number) - w) <= 1e-14 * Math.abs(w), `${where}: ${String(v)} vs ${w}`);
        });
        continue;
      }
      assert.deepEqual(a.Value, b.Value, `${where}: values`);
    }
    return compared;
  }

  async function dcm2json(path: string): Promise<DicomJsonDataset> {
    const { stdout } = await execFile('dcm2json', ['-fc', path], { maxBuffer: 64 * 1024 * 1024 });
    return JSON.parse(stdout) as DicomJsonDataset;
  }

  const specs: [string, InstanceSpec][] = [
    ['ISO_IR 192 with every kind of value', richSpec()],
    ['ISO_IR 100', richSpec('ISO_IR 100', LATIN1_NAME)],
    ['ISO_IR 144', richSpec('ISO_IR 144', CYRILLIC_NAME)],
    ['GB18030', richSpec('GB18030', CHINESE_NAME)],
    ['no character set, an SR document', { image: false }],
  ];
  for (const [name, spec] of specs) {
    it(`agrees on ${name}`, async (t) => {
      if (!requireTools(t, 'dcm2json', 'dcmconv')) return;
      const { files } = await makeTransferSyntaxSet(dir, spec, ['explicit-le', 'implicit-le', 'explicit-be']);
      for (const file of files) {
        const ours = encode(await readFile(file.path)).json;
        const compared = compare(ours, await dcm2json(file.path), `${file.target}: `);
        assert.ok(compared > 20, `${file.target}: ${compared} values compared`);
      }
    });
  }

  it('agrees on the ISO 2022 IR 87 name, given to dcm2json as UTF-8', async (t) => {
    // dcm2json cannot convert ISO 2022 with glibc iconv: compare with the same name written in UTF-8.
    if (!requireTools(t, 'dcm2json')) return;
    const { bytes } = buildInstance({ specificCharacterSet: '\\ISO 2022 IR 87', patientName: JAPANESE_NAME });
    const utf8 = join(dir, 'utf8-name.dcm');
    await writeFile(
      utf8,
      buildInstance({ specificCharacterSet: 'ISO_IR 192', patientName: JAPANESE_NAME }).bytes,
    );
    assert.deepEqual(attr(encode(bytes).json, '00100010'), (await dcm2json(utf8))['00100010']);
  });
});
