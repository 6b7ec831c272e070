/**
 * The Native DICOM Model encoder (PS3.19 A.1): documents written from DICOM JSON are well-formed XML
 * (checked with the small strict parser below), exact output for hand-made datasets (person names,
 * private elements, empty values, escaping, dropped characters), and the whole output for generated files
 * compared with dcmtk's `dcm2xml --native-format` where the two should agree.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DatasetReader } from '../../../src/dicom/dataset-reader.js';
import { encodeDicomJson, type DicomJsonDataset } from '../../../src/dicom/dicom-json.js';
import { dicomJsonToXml, NATIVE_DICOM_MODEL_NAMESPACE } from '../../../src/dicom/dicom-xml.js';
import { buildInstance, type InstanceSpec } from '../../helpers/dicom-generator.js';
import { execFile, requireTools, type TransferSyntaxTarget } from '../../helpers/dcmtk.js';
import { makeTempDir, makeTransferSyntaxSet, removeDir } from '../../helpers/fixtures.js';

// ---------------------------------------------------------------------------------------------------------
// A small strict XML 1.0 parser: enough for these documents (declaration, elements, attributes, text,
// predefined entities and character references); it rejects what a conforming parser rejects there, and
// normalizes line ends and attribute whitespace as one does (XML 1.0 2.11, 3.3.3).

interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const NAME = /[A-Za-z_:][A-Za-z0-9_.:-]*/y;
const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function parseXml(source: string): XmlElement {
  const bad = NOT_XML_CHAR.exec(source);
  if (bad) throw new Error(`character U+${bad[0].charCodeAt(0).toString(16)} is not allowed in XML`);
  const xml = source.replace(/\r\n?/g, '\n');
  let at = 0;
  const fail = (why: string): never => {
    throw new Error(`${why} at ${at}: ${JSON.stringify(xml.slice(at, at + 30))}`);
  };
  const skipSpace = (): void => {
    while (/[ \t\n]/.test(xml[at] ?? '')) at++;
  };
  const name = (): string => {
    NAME.lastIndex = at;
    const match = NAME.exec(xml) ?? fail('name expected');
    at += match[0].length;
    return match[0];
  };
  const decode = (raw: string): string =>
    raw.replace(/&([^;&]*);|&/g, (whole, ref: string | undefined) => {
      if (ref === undefined) return fail('bare &');
      if (ref in PREDEFINED) return PREDEFINED[ref]!;
      const code = /^#x[0-9A-Fa-f]+$/.test(ref)
        ? parseInt(ref.slice(2), 16)
        : /^#[0-9]+$/.test(ref)
          ? parseInt(ref.slice(1), 10)
          : fail(`unknown reference ${whole}`);
      const char = code <= 0x10ffff ? String.fromCodePoint(code) : '\0';
      if (NOT_XML_CHAR.test(char) || (code >= 0xd800 && code <= 0xdfff)) fail(`reference ${whole}`);
      return char;
    });
  const element = (): XmlElement => {
    if (xml[at] !== '<') fail('< expected');
    at++;
    const node: XmlElement = { name: name(), attributes: {}, children: [], text: '' };
    for (;;) {
      const before = at;
      skipSpace();
      if (xml.startsWith('/>', at)) {
        at += 2;
        return node;
      }
      if (xml[at] === '>') break;
      if (at === before) fail('space expected before an attribute');
      const attribute = name();
      skipSpace();
      if (xml[at] !== '=') fail('= expected');
      at++;
      skipSpace();
      const quote = xml[at];
      if (quote !== '"' && quote !== "'") return fail('quoted value expected');
      const end = xml.indexOf(quote, at + 1);
      if (end < 0) fail('unterminated attribute value');
      const raw = xml.slice(at + 1, end);
      if (raw.includes('<')) fail('< in attribute value');
      if (attribute in node.attributes) fail(`duplicate attribute ${attribute}`);
      node.attributes[attribute] = decode(raw.replace(/[\t\n]/g, ' '));
      at = end + 1;
    }
    at++;
    for (;;) {
      if (xml.startsWith('</', at)) {
        at += 2;
        if (name() !== node.name) fail(`</${node.name}> expected`);
        skipSpace();
        if (xml[at] !== '>') fail('> expected');
        at++;
        return node;
      }
      if (xml.startsWith('<!', at) || xml.startsWith('<?', at)) fail('comments, CDATA and PIs not supported');
      if (xml[at] === '<') {
        node.children.push(element());
        continue;
      }
      const end = xml.indexOf('<', at);
      if (end < 0) fail('unterminated element');
      const raw = xml.slice(at, end);
      if (raw.includes(']]>')) fail(']]> in text');
      node.text += decode(raw);
      at = end;
    }
  };
  const declaration = /^<\?xml version="1\.0"( encoding="UTF-8")?\s*\?>/.exec(xml);
  if (declaration) at = declaration[0].length;
  skipSpace();
  const root = element();
  skipSpace();
  if (at !== xml.length) fail('content after the root element');
  return root;
}

describe('the test XML parser', () => {
  it('rejects documents that are not well-formed', () => {
    for (const bad of [
      '<a>x & y</a>',
      '<a>x &unknown; y</a>',
      '<a>x < y</a>',
      '<a><b></a></b>',
      '<a b="1" b="2"/>',
      '<a b=1/>',
      '<a b="<"/>',
      '<a>\u0001</a>',
      '<a>&#1;</a>',
      '<a>\u000c</a>',
      '<a/><b/>',
      '<a>',
    ]) {
      assert.throws(() => parseXml(bad), Error, bad);
    }
  });

  it('decodes references and normalizes line ends and attribute whitespace', () => {
    const root = parseXml(
      '<?xml version="1.0" encoding="UTF-8"?>\n<a x="1\t2\n3&#10;4">p&amp;q&#x3C;\r\nr&#13;</a>',
    );
    assert.deepEqual(root, { name: 'a', attributes: { x: '1 2 3\n4' }, children: [], text: 'p&q<\nr\r' });
  });
});

// ---------------------------------------------------------------------------------------------------------
// Helpers

const PREFIX = 'studies/1.2/series/1.3/instances/1.4/bulkdata/';
const JAPANESE_NAME = 'Yamada^Tarou=山田^太郎=やまだ^たろう';
const SPECIAL = `Tom & Jerry <"quoted"> 'single' ]]>`;

function encodeJson(bytes: Buffer): DicomJsonDataset {
  const reader = new DatasetReader();
  if (reader.write(bytes)) throw new Error('deflated input is not used here');
  return encodeDicomJson(reader.end().dataset, { bulkDataUriPrefix: PREFIX }).json;
}

function toXml(dataset: DicomJsonDataset): XmlElement {
  const xml = dicomJsonToXml(dataset);
  assert.ok(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n'), 'XML declaration');
  const root = parseXml(xml);
  assert.equal(root.name, 'NativeDicomModel');
  assert.deepEqual(root.attributes, { xmlns: NATIVE_DICOM_MODEL_NAMESPACE, 'xml:space': 'preserve' });
  return root;
}

/** The document's body: what follows the root start tag, up to the root end tag. */
function body(dataset: DicomJsonDataset): string {
  const xml = dicomJsonToXml(dataset);
  const start = xml.indexOf('>', xml.indexOf('<NativeDicomModel')) + 1;
  return xml.slice(start, xml.lastIndexOf('</NativeDicomModel>'));
}

function attributeOf(parent: XmlElement, tag: string, creator?: string): XmlElement {
  const found = parent.children.find(
    (c) => c.name === 'DicomAttribute' && c.attributes.tag === tag && c.attributes.privateCreator === creator,
  );
  assert.ok(found, `DicomAttribute ${tag}${creator ? ` (${creator})` : ''} missing`);
  return found;
}

const valueTexts = (attribute: XmlElement): string[] =>
  attribute.children.map((c, i) => {
    assert.equal(c.name, 'Value');
    assert.equal(c.attributes.number, String(i + 1));
    return c.text;
  });

// ---------------------------------------------------------------------------------------------------------
// Exact output

describe('Native DICOM Model output', () => {
  it('writes attributes in tag order with keywords, values numbered from 1 and empty values kept', () => {
    const dataset: DicomJsonDataset = {
      '20100100': { vr: 'CS', Value: ['GREY'] }, // integer-like key: first in Object.keys order
      '00200032': { vr: 'DS', Value: [-12.5, null, 1000] },
      '00181149': { vr: 'IS', Value: [320, 240] },
      '00280009': { vr: 'AT', Value: ['00181063', '00181065'] },
      '00720076': { vr: 'FL', Value: [Math.fround(0.1), 1.5, Math.fround(1 / 3)] },
      '00720074': { vr: 'FD', Value: [0.1, 1e300] },
      '00720082': { vr: 'SV', Value: [-5, '-9223372036854775808'] },
      '00200037': { vr: 'DS' },
      '00080005': { vr: 'CS', Value: ['ISO_IR 192'] },
      '00180000': { vr: 'UL', Value: [4] }, // group length: never written
    };
    assert.equal(
      body(dataset),
      '<DicomAttribute tag="00080005" vr="CS" keyword="SpecificCharacterSet"><Value number="1">ISO_IR 192</Value></DicomAttribute>' +
        '<DicomAttribute tag="00181149" vr="IS" keyword="FieldOfViewDimensions"><Value number="1">320</Value><Value number="2">240</Value></DicomAttribute>' +
        '<DicomAttribute tag="00200032" vr="DS" keyword="ImagePositionPatient"><Value number="1">-12.5</Value><Value number="2"/><Value number="3">1000</Value></DicomAttribute>' +
        '<DicomAttribute tag="00200037" vr="DS" keyword="ImageOrientationPatient"/>' +
        '<DicomAttribute tag="00280009" vr="AT" keyword="FrameIncrementPointer"><Value number="1">00181063</Value><Value number="2">00181065</Value></DicomAttribute>' +
        '<DicomAttribute tag="00720074" vr="FD" keyword="SelectorFDValue"><Value number="1">0.1</Value><Value number="2">1e+300</Value></DicomAttribute>' +
        '<DicomAttribute tag="00720076" vr="FL" keyword="SelectorFLValue"><Value number="1">0.1</Value><Value number="2">1.5</Value><Value number="3">0.33333334</Value></DicomAttribute>' +
        '<DicomAttribute tag="00720082" vr="SV" keyword="SelectorSVValue"><Value number="1">-5</Value><Value number="2">-9223372036854775808</Value></DicomAttribute>' +
        '<DicomAttribute tag="20100100" vr="CS" keyword="BorderDensity"><Value number="1">GREY</Value></DicomAttribute>',
    );
    const root = toXml(dataset);
    assert.deepEqual(valueTexts(attributeOf(root, '00200032')), ['-12.5', '', '1000']);
  });

  it('writes person names as groups of named components, empty ones omitted', () => {
    const dataset: DicomJsonDataset = {
      '00100010': {
        vr: 'PN',
        Value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }],
      },
      '00081050': {
        vr: 'PN',
        Value: [
          { Alphabetic: 'Doe^Jane^^Dr.' },
          null,
          { Ideographic: '王^小东' },
          { Alphabetic: 'a^b^c^d^e^f' },
        ],
      },
      '00080090': { vr: 'PN' },
    };
    assert.equal(
      body(dataset),
      '<DicomAttribute tag="00080090" vr="PN" keyword="ReferringPhysicianName"/>' +
        '<DicomAttribute tag="00081050" vr="PN" keyword="PerformingPhysicianName">' +
        '<PersonName number="1"><Alphabetic><FamilyName>Doe</FamilyName><GivenName>Jane</GivenName><NamePrefix>Dr.</NamePrefix></Alphabetic></PersonName>' +
        '<PersonName number="2"/>' +
        '<PersonName number="3"><Ideographic><FamilyName>王</FamilyName><GivenName>小东</GivenName></Ideographic></PersonName>' +
        '<PersonName number="4"><Alphabetic><FamilyName>a</FamilyName><GivenName>b</GivenName><MiddleName>c</MiddleName><NamePrefix>d</NamePrefix><NameSuffix>e^f</NameSuffix></Alphabetic></PersonName>' +
        '</DicomAttribute>' +
        '<DicomAttribute tag="00100010" vr="PN" keyword="PatientName"><PersonName number="1">' +
        '<Alphabetic><FamilyName>Yamada</FamilyName><GivenName>Tarou</GivenName></Alphabetic>' +
        '<Ideographic><FamilyName>山田</FamilyName><GivenName>太郎</GivenName></Ideographic>' +
        '<Phonetic><FamilyName>やまだ</FamilyName><GivenName>たろう</GivenName></Phonetic>' +
        '</PersonName></DicomAttribute>',
    );
    toXml(dataset);
  });

  it('writes sequences as numbered items, binary values inline or as bulk data URIs', () => {
    const dataset: DicomJsonDataset = {
      '00081140': {
        vr: 'SQ',
        Value: [
          {
            '00081150': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] },
            '0040A170': { vr: 'SQ', Value: [{ '00080100': { vr: 'SH', Value: ['121311'] } }] },
          },
          {},
        ],
      },
      '00101002': { vr: 'SQ' },
      '00720065': { vr: 'OB', InlineBinary: 'AQIDBAUG' },
      '7FE00010': { vr: 'OW', BulkDataURI: `${PREFIX}7FE00010?a=1&b=2` },
    };
    assert.equal(
      body(dataset),
      '<DicomAttribute tag="00081140" vr="SQ" keyword="ReferencedImageSequence">' +
        '<Item number="1">' +
        '<DicomAttribute tag="00081150" vr="UI" keyword="ReferencedSOPClassUID"><Value number="1">1.2.840.10008.5.1.4.1.1.2</Value></DicomAttribute>' +
        '<DicomAttribute tag="0040A170" vr="SQ" keyword="PurposeOfReferenceCodeSequence"><Item number="1">' +
        '<DicomAttribute tag="00080100" vr="SH" keyword="CodeValue"><Value number="1">121311</Value></DicomAttribute>' +
        '</Item></DicomAttribute>' +
        '</Item>' +
        '<Item number="2"/>' +
        '</DicomAttribute>' +
        '<DicomAttribute tag="00101002" vr="SQ" keyword="OtherPatientIDsSequence"/>' +
        '<DicomAttribute tag="00720065" vr="OB" keyword="SelectorOBValue"><InlineBinary>AQIDBAUG</InlineBinary></DicomAttribute>' +
        `<DicomAttribute tag="7FE00010" vr="OW" keyword="PixelData"><BulkData uri="${PREFIX}7FE00010?a=1&amp;b=2"/></DicomAttribute>`,
    );
    const root = toXml(dataset);
    assert.equal(attributeOf(root, '7FE00010').children[0]!.attributes.uri, `${PREFIX}7FE00010?a=1&b=2`);
  });

  it('names private elements by creator and block-less tag (gggg00ee), in items too', () => {
    const dataset: DicomJsonDataset = {
      '00090010': { vr: 'LO', Value: ['ACME 1.0'] },
      '00090011': { vr: 'LO', Value: ['OTHER'] },
      '00091001': { vr: 'LO', Value: ['first'] },
      '00091101': { vr: 'US', Value: [7] },
      '00111001': { vr: 'UN', InlineBinary: 'AAA=' }, // no creator: the tag is kept whole
      '00081140': {
        vr: 'SQ',
        Value: [
          {
            '00290010': { vr: 'LO', Value: ['ITEM'] },
            '00291020': { vr: 'CS', Value: ['X'] },
            '00091001': { vr: 'LO', Value: ['creator not in this item'] },
          },
        ],
      },
    };
    assert.equal(
      body(dataset),
      '<DicomAttribute tag="00081140" vr="SQ" keyword="ReferencedImageSequence"><Item number="1">' +
        '<DicomAttribute tag="00091001" vr="LO"><Value number="1">creator not in this item</Value></DicomAttribute>' +
        '<DicomAttribute tag="00290010" vr="LO"><Value number="1">ITEM</Value></DicomAttribute>' +
        '<DicomAttribute tag="00290020" vr="CS" privateCreator="ITEM"><Value number="1">X</Value></DicomAttribute>' +
        '</Item></DicomAttribute>' +
        '<DicomAttribute tag="00090010" vr="LO"><Value number="1">ACME 1.0</Value></DicomAttribute>' +
        '<DicomAttribute tag="00090011" vr="LO"><Value number="1">OTHER</Value></DicomAttribute>' +
        '<DicomAttribute tag="00090001" vr="LO" privateCreator="ACME 1.0"><Value number="1">first</Value></DicomAttribute>' +
        '<DicomAttribute tag="00090001" vr="US" privateCreator="OTHER"><Value number="1">7</Value></DicomAttribute>' +
        '<DicomAttribute tag="00111001" vr="UN"><InlineBinary>AAA=</InlineBinary></DicomAttribute>',
    );
    const root = toXml(dataset);
    assert.deepEqual(valueTexts(attributeOf(root, '00090001', 'OTHER')), ['7']);
  });

  it('escapes markup characters in text and attribute values', () => {
    const creator = `A&B <"C"> 'D'\t1\n2`;
    const dataset: DicomJsonDataset = {
      '00081030': { vr: 'LO', Value: [SPECIAL] },
      '00104000': { vr: 'LT', Value: ['  indented\r\nsecond line\twith tab\n'] },
      '00100010': { vr: 'PN', Value: [{ Alphabetic: 'O<Brien>^&Co' }] },
      '00090010': { vr: 'LO', Value: [creator] },
      '00091001': { vr: 'ST', Value: ['"'] },
    };
    const xml = dicomJsonToXml(dataset);
    assert.ok(xml.includes('Tom &amp; Jerry &lt;&quot;quoted&quot;&gt; &apos;single&apos; ]]&gt;'), xml);
    assert.ok(xml.includes('&#13;'), 'CR written as a reference');
    const root = toXml(dataset);
    assert.deepEqual(valueTexts(attributeOf(root, '00081030')), [SPECIAL]);
    assert.deepEqual(valueTexts(attributeOf(root, '00104000')), ['  indented\r\nsecond line\twith tab\n']);
    const name = attributeOf(root, '00100010').children[0]!.children[0]!;
    assert.deepEqual(
      name.children.map((c) => [c.name, c.text]),
      [
        ['FamilyName', 'O<Brien>'],
        ['GivenName', '&Co'],
      ],
    );
    assert.deepEqual(valueTexts(attributeOf(root, '00090010')), [creator]);
    assert.deepEqual(valueTexts(attributeOf(root, '00090001', creator)), ['"']);
  });

  it('drops characters XML 1.0 cannot carry, keeps everything else', () => {
    const text = 'a\u0000b\u0001c\u000cd\u001fe\uFFFEf\uFFFFg\uD800h\uDC00i\u0085j\u007Fk😀l\uFFFDm';
    const root = toXml({ '00104000': { vr: 'LT', Value: [text] }, '00090010': { vr: 'LO', Value: [text] } });
    const kept = 'abcdefghi\u0085j\u007Fk😀l\uFFFDm';
    assert.deepEqual(valueTexts(attributeOf(root, '00104000')), [kept]);
    assert.deepEqual(valueTexts(attributeOf(root, '00090010')), [kept]);
  });

  it('rejects keys that are not tags', () => {
    assert.throws(() => dicomJsonToXml({ PatientName: { vr: 'PN' } }), /invalid attribute tag/);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Compared with dcm2xml

/**
 * Many kinds of values: person names in three groups, multi-valued numbers with an empty value, AT, every
 * binary VR, bulk data, nested sequences with empty items, private blocks at top level and in an item, and
 * text that needs escaping.
 */
function richSpec(specificCharacterSet = 'ISO_IR 192', patientName = JAPANESE_NAME): InstanceSpec {
  return {
    specificCharacterSet,
    patientName,
    studyDescription: SPECIAL,
    image: {
      rows: 4,
      columns: 6,
      frames: 2,
      bitsStored: 12,
      pixelRepresentation: 1,
      rescaleIntercept: -1024,
      windowCenter: [40, -600],
      windowWidth: [400, 1500.5],
    },
    extra: [
      { tag: 0x00090010, vr: 'LO', value: 'ACME 1.0' },
      { tag: 0x00090011, vr: 'LO', value: 'ACME OTHER' },
      { tag: 0x00091010, vr: 'LO', value: 'private text' },
      { tag: 0x00091011, vr: 'DS', value: [1.5, -2, 1e-3] },
      { tag: 0x00091012, vr: 'OB', value: Buffer.from([1, 2, 3, 4]) },
      { tag: 0x00091013, vr: 'US', value: [1, 2] },
      { tag: 0x00091110, vr: 'CS', value: 'OTHER BLOCK' },
      // Multi-valued PN without empty values (dcm2xml 3.6.7 repeats the previous name for an empty one).
      { tag: 0x00081050, vr: 'PN', value: 'Smith^John\\Doe^Jane^^Dr.^Jr' }, // Performing Physician's Name
      { tag: 0x00280009, vr: 'AT', value: [0x00181063, 0x00181065] }, // Frame Increment Pointer
      { tag: 0x00181063, vr: 'DS', value: 33.3 }, // Frame Time
      { tag: 0x00181149, vr: 'IS', value: [320, 240] }, // Field of View Dimensions
      { tag: 0x00200032, vr: 'DS', value: Buffer.from('-12.5\\\\1e3 ') }, // Image Position, empty value 2
      { tag: 0x00280030, vr: 'DS', value: [0.5, 0.25] }, // Pixel Spacing
      { tag: 0x00181310, vr: 'US', value: [1, 256, 65535, 0] }, // Acquisition Matrix
      { tag: 0x0072007e, vr: 'SS', value: [-1, 2, -32768, 32767] },
      { tag: 0x00720078, vr: 'UL', value: [0, 4294967295] },
      { tag: 0x0072007c, vr: 'SL', value: [-2147483648, 2147483647] },
      { tag: 0x00720076, vr: 'FL', value: [0.1, -0.25, 1 / 3, 1e-30] },
      { tag: 0x00720074, vr: 'FD', value: [Math.PI, -1e-300, 0.1, 1e300] },
      { tag: 0x00720065, vr: 'OB', value: Buffer.from([1, 2, 3, 4, 5, 6]) },
      { tag: 0x00720069, vr: 'OW', value: [1, 0x1234, 0xfffe] },
      { tag: 0x00720067, vr: 'OF', value: [1.5, -2] },
      { tag: 0x00720073, vr: 'OD', value: [Math.E] },
      { tag: 0x00104000, vr: 'LT', value: '  indented comment\r\nsecond line\twith a tab' },
      { tag: 0x00420011, vr: 'OB', value: Buffer.alloc(3000, 0x5a) }, // Encapsulated Document: bulk
      {
        tag: 0x00081140, // Referenced Image Sequence, undefined length, nested and empty items
        vr: 'SQ',
        undefinedLength: true,
        value: [
          [
            { tag: 0x00081150, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' },
            { tag: 0x00081160, vr: 'IS', value: [1, 2] }, // Referenced Frame Number
            { tag: 0x00290010, vr: 'LO', value: 'ITEM CREATOR' },
            { tag: 0x00291001, vr: 'LO', value: 'in an item' },
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

const BINARY = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);
const NUMBERS = new Set(['DS', 'IS', 'US', 'SS', 'UL', 'SL', 'SV', 'UV']);

/** Elements whose text is data; in all others dcm2xml writes line breaks between (or instead of) elements. */
const TEXT_ELEMENTS = new Set([
  'Value',
  'InlineBinary',
  'FamilyName',
  'GivenName',
  'MiddleName',
  'NamePrefix',
  'NameSuffix',
]);

/** An element as [name, attributes, text or children], without the whitespace dcm2xml puts in. */
function leaves(e: XmlElement): unknown {
  return [e.name, e.attributes, TEXT_ELEMENTS.has(e.name) ? e.text : e.children.map(leaves)];
}

/** dcm2xml 3.6.7 writes the InlineBinary of OW, OF, OL, OD and OV big endian; DICOM JSON's is little endian. */
function littleEndian(base64: string, vr: string): string {
  const bytes = Buffer.from(base64, 'base64');
  if (vr === 'OW') bytes.swap16();
  else if (vr === 'OF' || vr === 'OL') bytes.swap32();
  else if (vr === 'OD' || vr === 'OV') bytes.swap64();
  return bytes.toString('base64');
}

const attributeKey = (a: XmlElement): string => `${a.attributes.tag}${a.attributes.privateCreator ?? ''}`;

/**
 * Everything both must agree on, at any depth: the attributes (tag, private creator, VR, keyword) in
 * order, numbered values, person names, items and inline binary values. Numbers compare by value (we
 * write DICOM JSON's numbers, "1000" for "1e3"), FD to 15 digits (dcm2xml's 17-digit output is not
 * always the closest), FL as 32-bit floats. Pixel Data is left out; where we write BulkData, dcm2xml
 * (+Eb) inlines the value: only its presence is compared. Returns the number of values compared.
 */
function compare(ours: XmlElement[], theirs: XmlElement[], path: string): number {
  const attributes = (list: XmlElement[]) =>
    list.filter((a) => a.name === 'DicomAttribute' && a.attributes.tag !== '7FE00010');
  const a = attributes(ours);
  const b = attributes(theirs);
  assert.deepEqual(a.map(attributeKey), b.map(attributeKey), `${path}: attributes`);
  let compared = 0;
  a.forEach((x, index) => {
    const y = b[index]!;
    const where = `${path}${attributeKey(x)}`;
    assert.deepEqual(x.attributes, y.attributes, `${where}: tag, vr, keyword, privateCreator`);
    const vr = x.attributes.vr!;
    const kinds = (e: XmlElement) => e.children.map((c) => [c.name, c.attributes.number]);
    if (vr === 'SQ') {
      assert.deepEqual(kinds(x), kinds(y), `${where}: items`);
      x.children.forEach((item, i) => {
        compared += compare(item.children, y.children[i]!.children, `${where}/${i + 1}/`);
      });
      return;
    }
    compared++;
    if (BINARY.has(vr)) {
      const [mine, other] = [x.children[0], y.children[0]];
      if (mine?.name === 'BulkData') {
        assert.ok(mine.attributes.uri?.startsWith(PREFIX), `${where}: bulk data URI`);
        assert.ok(other, `${where}: dcm2xml has a value`);
      } else {
        assert.deepEqual(
          [mine?.name, mine?.text],
          [other?.name, other && littleEndian(other.text, vr)],
          `${where}: inline binary`,
        );
      }
      return;
    }
    if (vr === 'PN') {
      assert.deepEqual(leaves(x), leaves(y), `${where}: person names`);
      return;
    }
    const mine = valueTexts(x);
    const other = valueTexts(y);
    assert.equal(mine.length, other.length, `${where}: values`);
    mine.forEach((value, i) => {
      const theirValue = other[i]!;
      if (value === '' || theirValue === '') assert.equal(value, theirValue, `${where}: value ${i + 1}`);
      else if (NUMBERS.has(vr)) assert.equal(Number(value), Number(theirValue), `${where}: value ${i + 1}`);
      else if (vr === 'FL')
        assert.equal(Math.fround(Number(value)), Math.fround(Number(theirValue)), `${where}: value ${i + 1}`);
      else if (vr === 'FD') {
        const [p, q] = [Number(value), Number(theirValue)];
        assert.ok(Math.abs(p - q) <= Math.abs(q) * 1e-15, `${where}: value ${i + 1}: ${p} vs ${q}`);
      } else assert.equal(value, theirValue, `${where}: value ${i + 1}`);
    });
  });
  return compared;
}

async function dcm2xml(path: string): Promise<XmlElement> {
  // +U8: text converted to UTF-8 (as DICOM JSON is), +Eb: binary values inline, +Xn: the namespace.
  const { stdout } = await execFile('dcm2xml', ['--native-format', '+U8', '+Eb', '+Xn', path], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return parseXml(stdout);
}

describe('compared with dcmtk dcm2xml --native-format', () => {
  let dir = '';
  before(async () => {
    dir = await makeTempDir('dicom-xml-dcm2xml-');
  });
  after(() => removeDir(dir));

  const specs: [string, InstanceSpec][] = [
    ['ISO_IR 192, names in three groups, every kind of value', richSpec()],
    ['ISO_IR 100', richSpec('ISO_IR 100', 'Müller^Jürgen')],
    ['no character set, an SR document', { image: false }],
  ];
  for (const [name, spec] of specs) {
    it(`agrees on ${name}`, async (t) => {
      if (!requireTools(t, 'dcm2xml', 'dcmconv')) return;
      const targets: TransferSyntaxTarget[] = ['explicit-le', 'implicit-le', 'explicit-be'];
      const { files } = await makeTransferSyntaxSet(dir, spec, targets);
      assert.equal(files.length, targets.length);
      for (const file of files) {
        const ours = toXml(encodeJson(await readFile(file.path)));
        const theirs = await dcm2xml(file.path);
        if (spec.extra) {
          attributeOf(ours, '00090010', 'ACME 1.0');
          attributeOf(ours, '00090010', 'ACME OTHER');
          attributeOf(attributeOf(ours, '00081140').children[0]!, '00290001', 'ITEM CREATOR');
        }
        // DICOM JSON states the character set even where the file has none; dcm2xml writes what is there.
        const withoutCharset = theirs.children.some((c) => c.attributes.tag === '00080005')
          ? ours.children
          : ours.children.filter((c) => c.attributes.tag !== '00080005');
        const compared = compare(withoutCharset, theirs.children, `${file.target}: `);
        assert.ok(compared > 20, `${file.target}: ${compared} values compared`);
      }
    });
  }

  it('agrees on the three-group Japanese name and the escaped text', async (t) => {
    if (!requireTools(t, 'dcm2xml')) return;
    const path = join(dir, 'names.dcm');
    await writeFile(path, buildInstance(richSpec()).bytes);
    const ours = toXml(encodeJson(await readFile(path)));
    const theirs = await dcm2xml(path);
    assert.deepEqual(leaves(attributeOf(ours, '00100010')), leaves(attributeOf(theirs, '00100010')));
    const name = attributeOf(ours, '00100010').children[0]!;
    assert.deepEqual(
      name.children.map((g) => [g.name, g.children.map((c) => c.text).join('^')]),
      [
        ['Alphabetic', 'Yamada^Tarou'],
        ['Ideographic', '山田^太郎'],
        ['Phonetic', 'やまだ^たろう'],
      ],
    );
    assert.deepEqual(valueTexts(attributeOf(ours, '00081030')), [SPECIAL]);
    assert.deepEqual(valueTexts(attributeOf(theirs, '00081030')), [SPECIAL]);
  });
});
