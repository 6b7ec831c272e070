/**
 * Native DICOM Model encoder (PS3.19 A.1), the XML form of WADO-RS metadata (PS3.18 8.7.3.5.1), written
 * from the DICOM JSON the gateway stores (PS3.18 Annex F), so both media types carry the same values.
 *
 * Choices, by PS3.19 Table A.1.5-2 (DICOM Data Set Macro) unless noted:
 * - Attributes in tag order, whatever the order of the JSON keys; Group Length (gggg,0000) is never written.
 * - `keyword` from the data dictionary, omitted for unknown tags, Private Creator elements and private
 *   data elements ("Required unless the DICOM Data Element is unknown to the host").
 * - Private data elements (gggg,xxee), xx >= 0x10, whose creator (gggg,00xx) is in the same data set are
 *   written as tag gggg00ee with `privateCreator` ("the block used in the DICOM encoding shall not be
 *   sent"), as dcm2xml and dcm4che do. Without a creator the full tag is kept (nothing else could say
 *   where the element belongs); the Private Creator elements themselves are written like any attribute.
 * - One `<Value number="n">` per value, 1-based; an empty value of a multi-valued attribute is an empty
 *   `<Value number="n"/>` (the "MPG\\XR3" example); a zero-length attribute has no Value at all.
 * - PN values as `<PersonName>` with Alphabetic, Ideographic and Phonetic groups, each split on "^" into
 *   FamilyName, GivenName, MiddleName, NamePrefix, NameSuffix. Empty components are omitted (the schema
 *   makes every one optional, they are named, so nothing is lost; dcm2xml does the same); components
 *   beyond the fifth are kept, "^"-joined, in NameSuffix. An empty PN value is an empty PersonName.
 * - Numbers in their shortest decimal form; FL values in the shortest form that reads back as the same
 *   32-bit float (0.1, not 0.10000000149011612).
 * - InlineBinary as `<InlineBinary>`, BulkDataURI as `<BulkData uri="..."/>` (A.1.5-2: uri, not uuid, in a
 *   WADO-RS Retrieve Metadata response).
 * - XML 1.0 has no way to carry most C0 control characters (not even as character references), nor
 *   U+FFFE, U+FFFF or unpaired surrogates: they are dropped. DICOM text allows only ESC and FF of
 *   these, ESC is consumed by character set decoding, so in practice this drops form feeds in LT/ST/UT.
 *   CR is written as &#13; (XML parsers would otherwise turn CR LF into LF), and TAB/LF/CR in attribute
 *   values as references (they would become spaces). All of & < > " ' are escaped everywhere.
 * - No whitespace between elements (the root says xml:space="preserve"), a newline after the declaration.
 */
import type { DicomJsonAttribute, DicomJsonDataset, JsonValue, PersonNameJson } from './dicom-json.js';
import { lookupTag, tagToHex } from './dictionary.js';

export const NATIVE_DICOM_MODEL_NAMESPACE = 'http://dicom.nema.org/PS3.19/models/NativeDICOM';

/** One instance's DICOM JSON as a Native DICOM Model XML document (PS3.19 A.1), UTF-8, with XML declaration. */
export function dicomJsonToXml(dataset: DicomJsonDataset): string {
  const out: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>\n',
    `<NativeDicomModel xmlns="${NATIVE_DICOM_MODEL_NAMESPACE}" xml:space="preserve">`,
  ];
  writeDataset(dataset, out);
  out.push('</NativeDicomModel>\n');
  return out.join('');
}

function writeDataset(dataset: DicomJsonDataset, out: string[]): void {
  const tags: [number, DicomJsonAttribute][] = [];
  for (const [key, attribute] of Object.entries(dataset)) {
    if (!/^[0-9A-Fa-f]{8}$/.test(key)) throw new Error(`DICOM JSON: invalid attribute tag "${key}"`);
    const tag = parseInt(key, 16) >>> 0;
    if ((tag & 0xffff) !== 0) tags.push([tag, attribute]);
  }
  // Object keys are not in tag order when some are integer-like ("20100100" sorts before "00080005").
  tags.sort(([a], [b]) => a - b);
  for (const [tag, attribute] of tags) writeAttribute(tag, attribute, dataset, out);
}

function writeAttribute(
  tag: number,
  attribute: DicomJsonAttribute,
  dataset: DicomJsonDataset,
  out: string[],
): void {
  const { vr } = attribute;
  let xmlTag = tag;
  let keyword: string | undefined;
  let creator: string | undefined;
  if (isPrivateGroup(tag >>> 16)) {
    const block = (tag >>> 8) & 0xff;
    if (block >= 0x10) {
      creator = privateCreator(dataset, ((tag & 0xffff0000) | block) >>> 0);
      if (creator !== undefined) xmlTag = (tag & 0xffff00ff) >>> 0;
    }
  } else {
    keyword = lookupTag(tag)?.keyword;
  }
  let open = `<DicomAttribute tag="${tagToHex(xmlTag)}" vr="${escapeAttribute(vr)}"`;
  if (keyword) open += ` keyword="${escapeAttribute(keyword)}"`;
  if (creator !== undefined) open += ` privateCreator="${escapeAttribute(creator)}"`;

  const content: string[] = [];
  const values = attribute.Value;
  if (values && values.length > 0) {
    values.forEach((value, index) => {
      const number = index + 1;
      if (vr === 'SQ') writeItem(value, number, content);
      else if (vr === 'PN') writePersonName(value, number, content);
      else writeValue(value, vr, number, content);
    });
  } else if (attribute.InlineBinary !== undefined) {
    content.push(`<InlineBinary>${escapeText(attribute.InlineBinary)}</InlineBinary>`);
  } else if (attribute.BulkDataURI !== undefined) {
    content.push(`<BulkData uri="${escapeAttribute(attribute.BulkDataURI)}"/>`);
  }
  out.push(content.length ? `${open}>${content.join('')}</DicomAttribute>` : `${open}/>`);
}

/** Odd groups, except those PS3.5 7.8.1 forbids for private use (0001, 0003, 0005, 0007, FFFF). */
function isPrivateGroup(group: number): boolean {
  return group % 2 === 1 && group > 0x0008 && group !== 0xffff;
}

/** The value of the Private Creator element reserving a block, if the data set has one. */
function privateCreator(dataset: DicomJsonDataset, creatorTag: number): string | undefined {
  const value =
    dataset[tagToHex(creatorTag)]?.Value?.[0] ?? dataset[tagToHex(creatorTag).toLowerCase()]?.Value?.[0];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function writeItem(value: JsonValue, number: number, out: string[]): void {
  const item: string[] = [];
  if (value !== null && typeof value === 'object') writeDataset(value as DicomJsonDataset, item);
  out.push(item.length ? `<Item number="${number}">${item.join('')}</Item>` : `<Item number="${number}"/>`);
}

const NAME_GROUPS = ['Alphabetic', 'Ideographic', 'Phonetic'] as const;
const NAME_COMPONENTS = ['FamilyName', 'GivenName', 'MiddleName', 'NamePrefix', 'NameSuffix'] as const;

function writePersonName(value: JsonValue, number: number, out: string[]): void {
  let name: PersonNameJson | undefined;
  if (typeof value === 'string') {
    // Not DICOM JSON (PS3.18 F.2.2 wants an object), but unambiguous: the PN text itself.
    const [Alphabetic, Ideographic, Phonetic] = value.split('=');
    name = { Alphabetic, Ideographic, Phonetic };
  } else if (value !== null && typeof value === 'object') {
    name = value as PersonNameJson;
  }
  const groups: string[] = [];
  for (const group of NAME_GROUPS) {
    const text = name?.[group];
    if (typeof text !== 'string' || text === '') continue;
    const parts = text.split('^');
    const components = [...parts.slice(0, 4), parts.slice(4).join('^')];
    const inner = components
      .map((component, i) =>
        component ? `<${NAME_COMPONENTS[i]!}>${escapeText(component)}</${NAME_COMPONENTS[i]!}>` : '',
      )
      .join('');
    groups.push(inner ? `<${group}>${inner}</${group}>` : `<${group}/>`);
  }
  out.push(
    groups.length
      ? `<PersonName number="${number}">${groups.join('')}</PersonName>`
      : `<PersonName number="${number}"/>`,
  );
}

function writeValue(value: JsonValue, vr: string, number: number, out: string[]): void {
  let text = '';
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number') text = formatNumber(value, vr);
  out.push(text ? `<Value number="${number}">${escapeText(text)}</Value>` : `<Value number="${number}"/>`);
}

/** Shortest decimal form; FL in the shortest form that reads back as the same 32-bit float. */
function formatNumber(value: number, vr: string): string {
  if (!Number.isFinite(value)) return '';
  if (vr === 'FL' && Math.fround(value) === value) {
    for (let digits = 1; digits < 9; digits++) {
      const shorter = Number(value.toPrecision(digits));
      if (Math.fround(shorter) === value) return String(shorter);
    }
  }
  return String(value);
}

/**
 * Characters outside the XML 1.0 Char production (2.2): C0 controls other than TAB, LF and CR, U+FFFE, U+FFFF,
 * and surrogates not in a pair.
 */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\r': '&#13;',
  '\n': '&#10;',
  '\t': '&#9;',
};

function escapeText(text: string): string {
  return text.replace(NOT_XML_CHAR, '').replace(/[&<>"'\r]/g, (c) => ENTITIES[c]!);
}

function escapeAttribute(text: string): string {
  return text.replace(NOT_XML_CHAR, '').replace(/[&<>"'\r\n\t]/g, (c) => ENTITIES[c]!);
}
