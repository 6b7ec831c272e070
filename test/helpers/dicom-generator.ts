/**
 * Test-data generator: builds small DICOM Part-10 files (Explicit VR Little Endian) as Buffers.
 *
 * Deliberately independent of the gateway's src/ (its own tiny writer, its own tag numbers), so tests that
 * feed these files to the gateway are not circular. The output is checked against dcmtk in
 * test/unit/helpers/dicom-generator.test.ts. Other transfer syntaxes are produced from these files with the
 * dcmtk/gdcm tools (see dcmtk.ts).
 *
 * Writer rules: 128-byte preamble, "DICM", group 0002 with a correct (0002,0000) group length, then the
 * data set sorted by tag; explicit VR little endian; values padded to even length (space for text VRs,
 * NUL for UI and binary VRs); sequences and items with defined length unless `undefinedLength` is set.
 * Pixel content is a pure function of (pattern, seed, frame, x, y, sample): deterministic and different
 * per frame.
 */
import { createHash, randomBytes } from 'node:crypto';
import iconv from 'iconv-lite';

export const TransferSyntaxUid = {
  ImplicitVRLittleEndian: '1.2.840.10008.1.2',
  ExplicitVRLittleEndian: '1.2.840.10008.1.2.1',
  DeflatedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.99',
  ExplicitVRBigEndian: '1.2.840.10008.1.2.2',
  JPEGBaseline: '1.2.840.10008.1.2.4.50',
  JPEGExtended: '1.2.840.10008.1.2.4.51',
  JPEGLossless: '1.2.840.10008.1.2.4.57',
  JPEGLosslessSV1: '1.2.840.10008.1.2.4.70',
  JPEGLSLossless: '1.2.840.10008.1.2.4.80',
  JPEGLSNearLossless: '1.2.840.10008.1.2.4.81',
  JPEG2000Lossless: '1.2.840.10008.1.2.4.90',
  JPEG2000: '1.2.840.10008.1.2.4.91',
  RLELossless: '1.2.840.10008.1.2.5',
} as const;

export const SopClassUid = {
  CTImage: '1.2.840.10008.5.1.4.1.1.2',
  MRImage: '1.2.840.10008.5.1.4.1.1.4',
  ComputedRadiography: '1.2.840.10008.5.1.4.1.1.1',
  DigitalXRay: '1.2.840.10008.5.1.4.1.1.1.1',
  UltrasoundImage: '1.2.840.10008.5.1.4.1.1.6.1',
  UltrasoundMultiFrame: '1.2.840.10008.5.1.4.1.1.3.1',
  SecondaryCapture: '1.2.840.10008.5.1.4.1.1.7',
  MultiFrameGrayscaleWordSC: '1.2.840.10008.5.1.4.1.1.7.3',
  MultiFrameTrueColorSC: '1.2.840.10008.5.1.4.1.1.7.4',
  BasicTextSR: '1.2.840.10008.5.1.4.1.1.88.11',
  EnhancedSR: '1.2.840.10008.5.1.4.1.1.88.22',
  ComprehensiveSR: '1.2.840.10008.5.1.4.1.1.88.33',
  KeyObjectSelection: '1.2.840.10008.5.1.4.1.1.88.59',
} as const;

const MODALITY_BY_SOP_CLASS: Record<string, string> = {
  [SopClassUid.CTImage]: 'CT',
  [SopClassUid.MRImage]: 'MR',
  [SopClassUid.ComputedRadiography]: 'CR',
  [SopClassUid.DigitalXRay]: 'DX',
  [SopClassUid.UltrasoundImage]: 'US',
  [SopClassUid.UltrasoundMultiFrame]: 'US',
  [SopClassUid.BasicTextSR]: 'SR',
  [SopClassUid.EnhancedSR]: 'SR',
  [SopClassUid.ComprehensiveSR]: 'SR',
  [SopClassUid.KeyObjectSelection]: 'KO',
};

/** Fixed UID of this generator, written as (0002,0012) Implementation Class UID. */
export const IMPLEMENTATION_CLASS_UID = '2.25.154431587374427519735541263914734402081';
export const IMPLEMENTATION_VERSION_NAME = 'DWG_TESTGEN_1';

export type Photometric =
  'MONOCHROME1' | 'MONOCHROME2' | 'RGB' | 'YBR_FULL' | 'YBR_FULL_422' | 'PALETTE COLOR';

export interface ImageSpec {
  rows: number;
  columns: number;
  /** Written as Number of Frames (0028,0008) when given, even when 1. */
  frames?: number;
  /** Default MONOCHROME2. */
  photometric?: Photometric;
  /** Default 16 for MONOCHROME*, 8 otherwise. YBR_* must be 8. */
  bitsAllocated?: 8 | 16;
  /** Default bitsAllocated. High Bit is bitsStored - 1. */
  bitsStored?: number;
  /** Default 0; colour images must be 0. */
  pixelRepresentation?: 0 | 1;
  /** Colour only; default 0. YBR_FULL_422 must be 0. */
  planarConfiguration?: 0 | 1;
  /** Default for CT Image Storage: 1 / 0; otherwise only written when given. */
  rescaleSlope?: number;
  rescaleIntercept?: number;
  windowCenter?: number | number[];
  windowWidth?: number | number[];
  /** Default 'gradient'. */
  pattern?: 'gradient' | 'checker' | 'noise';
  /** Default 0. */
  seed?: number;
  /** Include a VOI LUT Sequence with one (square-root shaped) LUT. */
  voiLutSequence?: boolean;
  /** PALETTE COLOR only: bits per LUT entry, default 16. */
  paletteLutBits?: 8 | 16;
}

/** An item of a sequence: a list of elements. */
export type ExtraItem = ExtraElement[];
export type ElementValue = string | string[] | number | number[] | Buffer | ExtraItem[];

export interface ExtraElement {
  /** 0xGGGGEEEE, e.g. 0x00081030. Group 0002 elements go to the file meta information. */
  tag: number;
  vr: string;
  /**
   * Text VRs: string (multiple values separated by '\\'), string[] or numbers; binary VRs (US, SS, UL, SL,
   * FL, FD, AT, OW, OF, OD, OL, SV, UV, OB): number or number[]; any VR: a Buffer of raw value bytes
   * (padded to even length); SQ: an array of items. Absent = empty value.
   */
  value?: ElementValue;
  /** SQ only: write the sequence and its items with undefined length and delimiters. */
  undefinedLength?: boolean;
}

export interface InstanceSpec {
  /** Generated (2.25.<random decimal>) if absent. */
  studyInstanceUID?: string;
  seriesInstanceUID?: string;
  sopInstanceUID?: string;
  /** Default: CT Image Storage for grey-scale images, Secondary Capture for colour, Basic Text SR without image. */
  sopClassUID?: string;
  patientName?: string;
  patientID?: string;
  patientBirthDate?: string;
  patientSex?: string;
  studyDate?: string;
  studyTime?: string;
  accessionNumber?: string;
  studyDescription?: string;
  studyID?: string;
  referringPhysicianName?: string;
  /** Default from the SOP class (CT, MR, SR ...), else 'OT'. */
  modality?: string;
  seriesNumber?: number;
  seriesDescription?: string;
  seriesDate?: string;
  seriesTime?: string;
  instanceNumber?: number;
  /** e.g. 'ISO_IR 192', 'ISO_IR 100', '\\ISO 2022 IR 87'. Text of SH/LO/ST/LT/UC/UT/PN is encoded with it. */
  specificCharacterSet?: string;
  /** Raw value bytes for text attributes, by keyword (see KEYWORD_TAGS), for character-set tests. */
  rawText?: Record<string, Buffer>;
  /** Default: a 16x16 MONOCHROME2 16-bit image. false = no pixel data (SR, KO ...). */
  image?: ImageSpec | false;
  /** Any other element; replaces a generated element with the same tag. */
  extra?: ExtraElement[];
}

export interface BuiltInstance {
  bytes: Buffer;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  sopClassUID: string;
}

/** Keywords usable in `rawText`, and the tags this generator writes itself. */
export const KEYWORD_TAGS = {
  SpecificCharacterSet: [0x00080005, 'CS'],
  ImageType: [0x00080008, 'CS'],
  SOPClassUID: [0x00080016, 'UI'],
  SOPInstanceUID: [0x00080018, 'UI'],
  StudyDate: [0x00080020, 'DA'],
  SeriesDate: [0x00080021, 'DA'],
  ContentDate: [0x00080023, 'DA'],
  StudyTime: [0x00080030, 'TM'],
  SeriesTime: [0x00080031, 'TM'],
  ContentTime: [0x00080033, 'TM'],
  AccessionNumber: [0x00080050, 'SH'],
  Modality: [0x00080060, 'CS'],
  InstitutionName: [0x00080080, 'LO'],
  ReferringPhysicianName: [0x00080090, 'PN'],
  StudyDescription: [0x00081030, 'LO'],
  SeriesDescription: [0x0008103e, 'LO'],
  PatientName: [0x00100010, 'PN'],
  PatientID: [0x00100020, 'LO'],
  PatientBirthDate: [0x00100030, 'DA'],
  PatientSex: [0x00100040, 'CS'],
  PatientComments: [0x00104000, 'LT'],
  StudyInstanceUID: [0x0020000d, 'UI'],
  SeriesInstanceUID: [0x0020000e, 'UI'],
  StudyID: [0x00200010, 'SH'],
  SeriesNumber: [0x00200011, 'IS'],
  InstanceNumber: [0x00200013, 'IS'],
} as const satisfies Record<string, readonly [number, string]>;

export type Keyword = keyof typeof KEYWORD_TAGS;

// ---------------------------------------------------------------------------------------------------------
// UIDs

/** A random UID: '2.25.' + the decimal value of 128 random bits. */
export function newUid(): string {
  return `2.25.${BigInt(`0x${randomBytes(16).toString('hex')}`).toString()}`;
}

/** A stable UID derived from a name (for snapshots and benchmarks): '2.25.' + 128 bits of SHA-256(name). */
export function uidFromName(name: string): string {
  const hex = createHash('sha256').update(name).digest('hex').slice(0, 32);
  return `2.25.${BigInt(`0x${hex}`).toString()}`;
}

// ---------------------------------------------------------------------------------------------------------
// Element writer (explicit VR little endian)

/** VRs with a 4-byte length (and 2 reserved bytes) in explicit VR. */
const LONG_LENGTH_VRS = new Set('OB OD OF OL OV OW SQ SV UC UN UR UT UV'.split(' '));
const TEXT_VRS = new Set('AE AS CS DA DS DT IS LO LT PN SH ST TM UC UI UR UT'.split(' '));
/** VRs whose text is encoded with the Specific Character Set (PS3.5 6.1.2.3); the others are ASCII. */
const CHARSET_VRS = new Set(['LO', 'LT', 'PN', 'SH', 'ST', 'UC', 'UT']);
/** Bytes per value and writer for binary VRs. */
const BINARY_VRS: Record<string, [number, (b: Buffer, v: number, o: number) => void]> = {
  OB: [1, (b, v, o) => b.writeUInt8(v, o)],
  UN: [1, (b, v, o) => b.writeUInt8(v, o)],
  US: [2, (b, v, o) => b.writeUInt16LE(v, o)],
  OW: [2, (b, v, o) => b.writeUInt16LE(v & 0xffff, o)],
  SS: [2, (b, v, o) => b.writeInt16LE(v, o)],
  UL: [4, (b, v, o) => b.writeUInt32LE(v, o)],
  OL: [4, (b, v, o) => b.writeUInt32LE(v, o)],
  SL: [4, (b, v, o) => b.writeInt32LE(v, o)],
  AT: [4, (b, v, o) => (b.writeUInt16LE(v >>> 16, o), b.writeUInt16LE(v & 0xffff, o + 2))],
  FL: [4, (b, v, o) => b.writeFloatLE(v, o)],
  OF: [4, (b, v, o) => b.writeFloatLE(v, o)],
  FD: [8, (b, v, o) => b.writeDoubleLE(v, o)],
  OD: [8, (b, v, o) => b.writeDoubleLE(v, o)],
  SV: [8, (b, v, o) => b.writeBigInt64LE(BigInt(v), o)],
  UV: [8, (b, v, o) => b.writeBigUInt64LE(BigInt(v), o)],
  OV: [8, (b, v, o) => b.writeBigUInt64LE(BigInt(v), o)],
};

type TextEncoderFn = (text: string) => Buffer;

const TEXT_CONTROLS = new Set([0x09, 0x0a, 0x0c, 0x0d, 0x1b]); // TAB LF FF CR ESC

/** The default repertoire: printable ASCII and the text control characters. */
function asciiOnly(text: string): Buffer {
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (code > 0x7e || (code < 0x20 && !TEXT_CONTROLS.has(code))) {
      throw new Error(`non-ASCII text ${JSON.stringify(text)} needs a Specific Character Set (or rawText)`);
    }
  }
  return Buffer.from(text, 'latin1');
}

function formatNumber(vr: string, n: number): string {
  if (vr === 'IS') return String(Math.trunc(n));
  let s = String(n);
  for (let digits = 15; s.length > 16 && digits > 0; digits--) s = String(Number(n.toPrecision(digits)));
  return s;
}

function itemHeader(tag: number, length: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(tag >>> 16, 0);
  b.writeUInt16LE(tag & 0xffff, 2);
  b.writeUInt32LE(length, 4);
  return b;
}

const ITEM = 0xfffee000;
const ITEM_DELIMITATION = 0xfffee00d;
const SEQUENCE_DELIMITATION = 0xfffee0dd;
const UNDEFINED_LENGTH = 0xffffffff;

function elementHeader(tag: number, vr: string, length: number): Buffer {
  const long = LONG_LENGTH_VRS.has(vr);
  const b = Buffer.alloc(long ? 12 : 8);
  b.writeUInt16LE(tag >>> 16, 0);
  b.writeUInt16LE(tag & 0xffff, 2);
  b.write(vr, 4, 'latin1');
  if (long) b.writeUInt32LE(length, 8);
  else if (length > 0xffff) throw new Error(`value of ${tagString(tag)} ${vr} too long (${length} bytes)`);
  else b.writeUInt16LE(length, 6);
  return b;
}

function valueBytes(el: ExtraElement, encodeText: TextEncoderFn): Buffer {
  const { vr, value } = el;
  if (value === undefined) return Buffer.alloc(0);
  if (Buffer.isBuffer(value)) return value;
  if (TEXT_VRS.has(vr)) {
    const parts = Array.isArray(value) ? value : [value];
    const text = parts.map((v) => (typeof v === 'number' ? formatNumber(vr, v) : String(v))).join('\\');
    return CHARSET_VRS.has(vr) ? encodeText(text) : asciiOnly(text);
  }
  const binary = BINARY_VRS[vr];
  if (
    binary &&
    (typeof value === 'number' || (Array.isArray(value) && value.every((v) => typeof v === 'number')))
  ) {
    const numbers = typeof value === 'number' ? [value] : (value as number[]);
    const [size, write] = binary;
    const b = Buffer.alloc(numbers.length * size);
    numbers.forEach((v, i) => write(b, v, i * size));
    return b;
  }
  throw new Error(`cannot encode ${tagString(el.tag)} ${vr} from ${typeof value}`);
}

function encodeElement(el: ExtraElement, encodeText: TextEncoderFn): Buffer {
  if (el.vr === 'SQ') return encodeSequence(el, encodeText);
  let value = valueBytes(el, encodeText);
  if (value.length % 2 === 1) {
    const pad = TEXT_VRS.has(el.vr) && el.vr !== 'UI' ? 0x20 : 0x00;
    value = Buffer.concat([value, Buffer.of(pad)]);
  }
  return Buffer.concat([elementHeader(el.tag, el.vr, value.length), value]);
}

function encodeSequence(el: ExtraElement, encodeText: TextEncoderFn): Buffer {
  const items = (el.value ?? []) as ExtraItem[];
  if (!Array.isArray(items) || !items.every(Array.isArray)) {
    throw new Error(`SQ ${tagString(el.tag)} value must be an array of items (arrays of elements)`);
  }
  const parts: Buffer[] = [];
  for (const item of items) {
    const body = encodeDataset(item, encodeText);
    if (el.undefinedLength)
      parts.push(itemHeader(ITEM, UNDEFINED_LENGTH), body, itemHeader(ITEM_DELIMITATION, 0));
    else parts.push(itemHeader(ITEM, body.length), body);
  }
  if (el.undefinedLength) parts.push(itemHeader(SEQUENCE_DELIMITATION, 0));
  const content = Buffer.concat(parts);
  const length = el.undefinedLength ? UNDEFINED_LENGTH : content.length;
  return Buffer.concat([elementHeader(el.tag, 'SQ', length), content]);
}

/** Encodes elements sorted by tag; with duplicate tags the last one wins. */
function encodeDataset(elements: ExtraElement[], encodeText: TextEncoderFn): Buffer {
  const byTag = new Map<number, ExtraElement>();
  for (const el of elements) byTag.set(el.tag >>> 0, el);
  const sorted = [...byTag.entries()].sort(([a], [b]) => a - b).map(([, el]) => el);
  return Buffer.concat(sorted.map((el) => encodeElement(el, encodeText)));
}

function tagString(tag: number): string {
  const hex = (tag >>> 0).toString(16).padStart(8, '0').toUpperCase();
  return `(${hex.slice(0, 4)},${hex.slice(4)})`;
}

// ---------------------------------------------------------------------------------------------------------
// Character sets

/** Single-byte and multi-byte character sets without code extensions, mapped to iconv-lite encodings. */
const ICONV_BY_CHARSET: Record<string, string> = {
  'ISO_IR 192': 'utf8',
  'ISO_IR 100': 'latin1',
  'ISO_IR 101': 'iso-8859-2',
  'ISO_IR 109': 'iso-8859-3',
  'ISO_IR 110': 'iso-8859-4',
  'ISO_IR 144': 'iso-8859-5',
  'ISO_IR 127': 'iso-8859-6',
  'ISO_IR 126': 'iso-8859-7',
  'ISO_IR 138': 'iso-8859-8',
  'ISO_IR 148': 'iso-8859-9',
  'ISO_IR 203': 'iso-8859-15',
  'ISO_IR 166': 'tis620',
  GB18030: 'gb18030',
  GBK: 'gbk',
};

/**
 * ISO 2022 IR 87 (JIS X 0208 kanji/kana) with ASCII as the default: every run of non-ASCII characters is
 * wrapped in ESC $ B ... ESC ( B, so the code returns to ASCII before each delimiter and at the end of the
 * value (PS3.5 6.1.2.5.3, example in PS3.5 H.3.1). JIS X 0208 bytes are EUC-JP bytes minus 0x80.
 */
function encodeIso2022Jp(text: string): Buffer {
  const parts: Buffer[] = [];
  for (const run of text.match(/\p{ASCII}+|\P{ASCII}+/gu) ?? []) {
    if (/^\p{ASCII}/u.test(run)) {
      parts.push(Buffer.from(run, 'latin1'));
      continue;
    }
    const euc = iconv.encode(run, 'euc-jp');
    if (euc.length !== run.length * 2 || euc.some((b) => b < 0xa1 || b > 0xfe)) {
      throw new Error(`${JSON.stringify(run)} is not representable in JIS X 0208 (ISO 2022 IR 87)`);
    }
    parts.push(
      Buffer.of(0x1b, 0x24, 0x42),
      Buffer.from(euc.map((b) => b & 0x7f)),
      Buffer.of(0x1b, 0x28, 0x42),
    );
  }
  return Buffer.concat(parts);
}

/**
 * The text encoder for a Specific Character Set value (undefined = default repertoire, ASCII). Supported:
 * ISO_IR 192, the single-byte ISO_IR sets, GB18030, GBK, and ISO 2022 IR 87 (JIS X 0208) extensions. For
 * anything else only ASCII text can be written; use rawText for the bytes.
 */
export function textEncoderFor(specificCharacterSet: string | undefined): (text: string) => Buffer {
  const terms = (specificCharacterSet ?? '').split('\\').map((t) => t.trim());
  if (terms.includes('ISO 2022 IR 87')) return encodeIso2022Jp;
  const first = (terms[0] ?? '').replace(/^ISO 2022 IR /, 'ISO_IR ');
  const encoding = terms.length === 1 ? ICONV_BY_CHARSET[first] : undefined;
  if (encoding) return (text) => iconv.encode(text, encoding);
  return (text) => {
    try {
      return asciiOnly(text);
    } catch (error) {
      if (!specificCharacterSet) throw error;
      throw new Error(
        `no encoder for '${specificCharacterSet}' here: give ${JSON.stringify(text)} as rawText`,
        {
          cause: error,
        },
      );
    }
  };
}

// ---------------------------------------------------------------------------------------------------------
// Pixel data

/** An ImageSpec with every default applied. */
export interface ResolvedImage {
  rows: number;
  columns: number;
  frames: number;
  photometric: Photometric;
  samplesPerPixel: 1 | 3;
  bitsAllocated: 8 | 16;
  bitsStored: number;
  pixelRepresentation: 0 | 1;
  planarConfiguration: 0 | 1;
  pattern: 'gradient' | 'checker' | 'noise';
  seed: number;
  paletteLutBits: 8 | 16;
  /** Range the pattern is mapped to: the stored range, or the palette indices. */
  valueMin: number;
  valueMax: number;
}

/** Applies the defaults and checks the spec; throws for impossible combinations. */
export function resolveImage(image: ImageSpec): ResolvedImage {
  const photometric = image.photometric ?? 'MONOCHROME2';
  const color = photometric === 'RGB' || photometric.startsWith('YBR');
  const bitsAllocated = image.bitsAllocated ?? (photometric.startsWith('MONOCHROME') ? 16 : 8);
  const r: ResolvedImage = {
    rows: image.rows,
    columns: image.columns,
    frames: image.frames ?? 1,
    photometric,
    samplesPerPixel: color ? 3 : 1,
    bitsAllocated,
    bitsStored: image.bitsStored ?? bitsAllocated,
    pixelRepresentation: image.pixelRepresentation ?? 0,
    planarConfiguration: image.planarConfiguration ?? 0,
    pattern: image.pattern ?? 'gradient',
    seed: image.seed ?? 0,
    paletteLutBits: image.paletteLutBits ?? 16,
    valueMin: 0,
    valueMax: 0,
  };
  const fail = (why: string): never => {
    throw new Error(`invalid ImageSpec (${photometric}): ${why}`);
  };
  if (!(r.rows > 0 && r.columns > 0 && r.frames > 0)) fail('rows, columns and frames must be positive');
  if (r.bitsStored < 1 || r.bitsStored > r.bitsAllocated) fail('bitsStored must be 1..bitsAllocated');
  if (r.samplesPerPixel === 3 && r.pixelRepresentation !== 0) fail('colour images are unsigned');
  if (photometric.startsWith('YBR') && r.bitsAllocated !== 8) fail('YBR images must be 8-bit');
  if (photometric === 'YBR_FULL_422' && r.planarConfiguration !== 0) fail('YBR_FULL_422 needs planar 0');
  if (photometric === 'YBR_FULL_422' && r.columns % 2 !== 0) fail('YBR_FULL_422 needs an even column count');
  if (photometric === 'PALETTE COLOR' && r.pixelRepresentation !== 0) fail('palette indices are unsigned');
  if (photometric === 'PALETTE COLOR') r.valueMax = paletteEntries(r) - 1;
  else if (r.pixelRepresentation === 1)
    [r.valueMin, r.valueMax] = [-(2 ** (r.bitsStored - 1)), 2 ** (r.bitsStored - 1) - 1];
  else r.valueMax = 2 ** r.bitsStored - 1;
  return r;
}

/** Range of the generated values: [min, max] of the stored values (palette: of the LUT indices). */
export function valueRange(image: ImageSpec): [number, number] {
  const r = resolveImage(image);
  return [r.valueMin, r.valueMax];
}

function hash32(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const v of values) {
    h = Math.imul(h ^ (v | 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

const GOLDEN = 0.6180339887;
const frac = (v: number): number => v - Math.floor(v);

/** Pattern value in [0, 1) for one sample; different for every frame. */
function patternValue(r: ResolvedImage, frame: number, x: number, y: number, sample: number): number {
  const phase = frame * GOLDEN + r.seed * 0.1234567 + sample / 3;
  switch (r.pattern) {
    case 'gradient':
      return frac((x / r.columns + y / r.rows) / 2 + phase);
    case 'checker': {
      const cell = Math.max(1, Math.floor(Math.min(r.rows, r.columns) / 4));
      return frac(((Math.floor(x / cell) + Math.floor(y / cell)) % 2 ? 0.75 : 0.25) + phase);
    }
    case 'noise':
      return hash32(r.seed, frame, x, y, sample) / 2 ** 32;
  }
}

/** Number of palette entries (PALETTE COLOR): one per possible stored value, at most 4096. */
function paletteEntries(r: { bitsStored: number }): number {
  return 2 ** Math.min(r.bitsStored, 12);
}

/** Stored value of one sample: grey level, palette index or R/G/B (colour images are made as RGB first). */
function storedValue(r: ResolvedImage, frame: number, x: number, y: number, sample: number): number {
  return r.valueMin + Math.floor(patternValue(r, frame, x, y, sample) * (r.valueMax - r.valueMin + 1));
}

/** RGB -> YCbCr full range, PS3.3 C.7.6.3.1.2. */
function toYbr(rgb: [number, number, number]): [number, number, number] {
  const [R, G, B] = rgb;
  const clamp = (v: number): number => Math.min(255, Math.max(0, Math.round(v)));
  return [
    clamp(0.299 * R + 0.587 * G + 0.114 * B),
    clamp(-0.1687 * R - 0.3313 * G + 0.5 * B + 128),
    clamp(0.5 * R - 0.4187 * G - 0.0813 * B + 128),
  ];
}

/** Number of bytes of one native frame. */
export function frameLength(image: ImageSpec): number {
  const r = resolveImage(image);
  if (r.photometric === 'YBR_FULL_422') return r.rows * r.columns * 2;
  return r.rows * r.columns * r.samplesPerPixel * (r.bitsAllocated / 8);
}

/**
 * The native (uncompressed, little endian) bytes of frame `frame` (0-based), in the layout of the image's
 * photometric interpretation and planar configuration. Colour content is the same RGB picture whatever the
 * photometric interpretation (YBR_* is converted from it), so a test can compare a rendered YBR image with
 * generateFrame({ ...image, photometric: 'RGB' }, frame).
 */
export function generateFrame(image: ImageSpec, frame: number): Buffer {
  const r = resolveImage(image);
  const { rows, columns } = r;
  const out = Buffer.alloc(frameLength(image));
  const pixels = rows * columns;
  if (r.samplesPerPixel === 1) {
    for (let i = 0; i < pixels; i++) {
      const v = storedValue(r, frame, i % columns, Math.floor(i / columns), 0);
      if (r.bitsAllocated === 8) out[i] = v & 0xff;
      else out.writeUInt16LE(v & 0xffff, i * 2);
    }
    return out;
  }
  const rgbAt = (i: number): [number, number, number] => {
    const x = i % columns;
    const y = Math.floor(i / columns);
    return [storedValue(r, frame, x, y, 0), storedValue(r, frame, x, y, 1), storedValue(r, frame, x, y, 2)];
  };
  if (r.photometric === 'YBR_FULL_422') {
    for (let i = 0; i < pixels; i += 2) {
      const a = toYbr(rgbAt(i));
      const b = toYbr(rgbAt(i + 1));
      const o = i * 2;
      out[o] = a[0];
      out[o + 1] = b[0];
      out[o + 2] = Math.round((a[1] + b[1]) / 2);
      out[o + 3] = Math.round((a[2] + b[2]) / 2);
    }
    return out;
  }
  const bytes = r.bitsAllocated / 8;
  for (let i = 0; i < pixels; i++) {
    const samples = r.photometric === 'YBR_FULL' ? toYbr(rgbAt(i)) : rgbAt(i);
    samples.forEach((v, s) => {
      const index = r.planarConfiguration === 0 ? i * 3 + s : s * pixels + i;
      if (bytes === 1) out[index] = v;
      else out.writeUInt16LE(v, index * 2);
    });
  }
  return out;
}

export interface PaletteLuts {
  entries: number;
  bits: 8 | 16;
  red: number[];
  green: number[];
  blue: number[];
}

/** The Red/Green/Blue palette LUTs written for a PALETTE COLOR image (first mapped value 0). */
export function paletteLuts(image: ImageSpec): PaletteLuts {
  const r = resolveImage({ ...image, photometric: 'PALETTE COLOR' });
  const entries = paletteEntries(r);
  const top = 2 ** r.paletteLutBits - 1;
  const ramp = (f: (t: number) => number): number[] =>
    Array.from({ length: entries }, (_, i) => Math.round(f(i / (entries - 1)) * top));
  return {
    entries,
    bits: r.paletteLutBits,
    red: ramp((t) => t),
    green: ramp((t) => 1 - t),
    blue: ramp((t) => 1 - Math.abs(2 * t - 1)),
  };
}

function lutData(values: number[], bits: 8 | 16): Buffer {
  // 8-bit entries are packed two per 16-bit word, first entry in the low byte (PS3.3 C.7.6.3.1.6).
  return bits === 8 ? Buffer.from(values) : valueBytes({ tag: 0, vr: 'OW', value: values }, asciiOnly);
}

function imageElements(image: ImageSpec, sopClassUID: string): ExtraElement[] {
  const r = resolveImage(image);
  const els: ExtraElement[] = [
    { tag: 0x00280002, vr: 'US', value: r.samplesPerPixel },
    { tag: 0x00280004, vr: 'CS', value: r.photometric },
    { tag: 0x00280010, vr: 'US', value: r.rows },
    { tag: 0x00280011, vr: 'US', value: r.columns },
    { tag: 0x00280100, vr: 'US', value: r.bitsAllocated },
    { tag: 0x00280101, vr: 'US', value: r.bitsStored },
    { tag: 0x00280102, vr: 'US', value: r.bitsStored - 1 },
    { tag: 0x00280103, vr: 'US', value: r.pixelRepresentation },
  ];
  if (r.samplesPerPixel === 3) els.push({ tag: 0x00280006, vr: 'US', value: r.planarConfiguration });
  if (image.frames !== undefined) els.push({ tag: 0x00280008, vr: 'IS', value: r.frames });
  if (image.windowCenter !== undefined) els.push({ tag: 0x00281050, vr: 'DS', value: image.windowCenter });
  if (image.windowWidth !== undefined) els.push({ tag: 0x00281051, vr: 'DS', value: image.windowWidth });
  const isCt = sopClassUID === SopClassUid.CTImage;
  const slope = image.rescaleSlope ?? (isCt ? 1 : undefined);
  const intercept = image.rescaleIntercept ?? (isCt ? 0 : undefined);
  if (intercept !== undefined) els.push({ tag: 0x00281052, vr: 'DS', value: intercept });
  if (slope !== undefined) els.push({ tag: 0x00281053, vr: 'DS', value: slope });
  if (r.photometric === 'PALETTE COLOR') {
    const luts = paletteLuts(image);
    const descriptor = [luts.entries, 0, luts.bits]; // entries <= 4096, so never the 0 = 65536 case
    [luts.red, luts.green, luts.blue].forEach((lut, i) => {
      els.push({ tag: 0x00281101 + i, vr: 'US', value: descriptor });
      els.push({ tag: 0x00281201 + i, vr: 'OW', value: lutData(lut, luts.bits) });
    });
  }
  if (image.voiLutSequence) els.push(voiLutSequence(image, slope ?? 1, intercept ?? 0));
  const frames = Array.from({ length: r.frames }, (_, f) => generateFrame(image, f));
  els.push({ tag: 0x7fe00010, vr: r.bitsAllocated === 8 ? 'OB' : 'OW', value: Buffer.concat(frames) });
  return els;
}

/** One VOI LUT (square-root curve, 16-bit entries) starting at the smallest modality value. */
function voiLutSequence(image: ImageSpec, slope: number, intercept: number): ExtraElement {
  const r = resolveImage(image);
  const entries = 2 ** Math.min(r.bitsStored, 12);
  const firstMapped = Math.round(r.valueMin * slope + intercept);
  const data = Array.from({ length: entries }, (_, i) => Math.round(65535 * Math.sqrt(i / (entries - 1))));
  const item: ExtraItem = [
    { tag: 0x00283002, vr: firstMapped < 0 ? 'SS' : 'US', value: [entries, firstMapped, 16] },
    { tag: 0x00283003, vr: 'LO', value: 'SQRT TEST LUT' },
    { tag: 0x00283006, vr: 'OW', value: data },
  ];
  return { tag: 0x00283010, vr: 'SQ', value: [item] };
}

// ---------------------------------------------------------------------------------------------------------
// Instances

/** The image of `buildInstance` when the spec has none: 16x16 MONOCHROME2, 16 bits. */
export const DEFAULT_IMAGE: ImageSpec = { rows: 16, columns: 16 };

const code = (value: string, scheme: string, meaning: string): ExtraItem => [
  { tag: 0x00080100, vr: 'SH', value },
  { tag: 0x00080102, vr: 'SH', value: scheme },
  { tag: 0x00080104, vr: 'LO', value: meaning },
];

/** Minimal SR document content: a CONTAINER titled "Diagnostic Imaging Report" with one TEXT item. */
function srContent(date: string, time: string): ExtraElement[] {
  return [
    { tag: 0x00080023, vr: 'DA', value: date },
    { tag: 0x00080033, vr: 'TM', value: time },
    { tag: 0x0040a040, vr: 'CS', value: 'CONTAINER' },
    { tag: 0x0040a043, vr: 'SQ', value: [code('18748-4', 'LN', 'Diagnostic Imaging Report')] },
    { tag: 0x0040a050, vr: 'CS', value: 'SEPARATE' },
    { tag: 0x0040a491, vr: 'CS', value: 'COMPLETE' },
    { tag: 0x0040a493, vr: 'CS', value: 'UNVERIFIED' },
    {
      tag: 0x0040a730,
      vr: 'SQ',
      value: [
        [
          { tag: 0x0040a010, vr: 'CS', value: 'CONTAINS' },
          { tag: 0x0040a040, vr: 'CS', value: 'TEXT' },
          { tag: 0x0040a043, vr: 'SQ', value: [code('121071', 'DCM', 'Finding')] },
          { tag: 0x0040a160, vr: 'UT', value: 'No abnormality detected.' },
        ],
      ],
    },
  ];
}

function defaultSopClass(image: ImageSpec | false): string {
  if (image === false) return SopClassUid.BasicTextSR;
  return (image.photometric ?? 'MONOCHROME2').startsWith('MONOCHROME')
    ? SopClassUid.CTImage
    : SopClassUid.SecondaryCapture;
}

function encodeFileMeta(sopClassUID: string, sopInstanceUID: string, extraMeta: ExtraElement[]): Buffer {
  const body = encodeDataset(
    [
      { tag: 0x00020001, vr: 'OB', value: Buffer.of(0, 1) },
      { tag: 0x00020002, vr: 'UI', value: sopClassUID },
      { tag: 0x00020003, vr: 'UI', value: sopInstanceUID },
      { tag: 0x00020010, vr: 'UI', value: TransferSyntaxUid.ExplicitVRLittleEndian },
      { tag: 0x00020012, vr: 'UI', value: IMPLEMENTATION_CLASS_UID },
      { tag: 0x00020013, vr: 'SH', value: IMPLEMENTATION_VERSION_NAME },
      ...extraMeta,
    ],
    asciiOnly,
  );
  const groupLength = encodeElement({ tag: 0x00020000, vr: 'UL', value: body.length }, asciiOnly);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), groupLength, body]);
}

/** Builds one Part-10 file (Explicit VR Little Endian). Every field of the spec is optional. */
export function buildInstance(spec: InstanceSpec = {}): BuiltInstance {
  const image = spec.image === undefined ? DEFAULT_IMAGE : spec.image;
  const studyInstanceUID = spec.studyInstanceUID ?? newUid();
  const seriesInstanceUID = spec.seriesInstanceUID ?? newUid();
  const sopInstanceUID = spec.sopInstanceUID ?? newUid();
  const sopClassUID = spec.sopClassUID ?? defaultSopClass(image);
  const studyDate = spec.studyDate ?? '20240115';
  const studyTime = spec.studyTime ?? '101500';

  const values: Partial<Record<Keyword, ElementValue>> = {
    SpecificCharacterSet: spec.specificCharacterSet,
    ImageType:
      image === false
        ? undefined
        : sopClassUID === SopClassUid.CTImage
          ? 'ORIGINAL\\PRIMARY\\AXIAL'
          : 'ORIGINAL\\PRIMARY',
    SOPClassUID: sopClassUID,
    SOPInstanceUID: sopInstanceUID,
    StudyDate: studyDate,
    SeriesDate: spec.seriesDate ?? studyDate,
    StudyTime: studyTime,
    SeriesTime: spec.seriesTime ?? studyTime,
    AccessionNumber: spec.accessionNumber ?? 'ACC0001',
    Modality: spec.modality ?? MODALITY_BY_SOP_CLASS[sopClassUID] ?? 'OT',
    ReferringPhysicianName: spec.referringPhysicianName ?? '',
    StudyDescription: spec.studyDescription ?? 'Generated test study',
    SeriesDescription: spec.seriesDescription ?? 'Generated test series',
    PatientName: spec.patientName ?? 'Test^Patient',
    PatientID: spec.patientID ?? 'PID0001',
    PatientBirthDate: spec.patientBirthDate ?? '19700101',
    PatientSex: spec.patientSex ?? 'O',
    StudyInstanceUID: studyInstanceUID,
    SeriesInstanceUID: seriesInstanceUID,
    StudyID: spec.studyID ?? '1',
    SeriesNumber: spec.seriesNumber ?? 1,
    InstanceNumber: spec.instanceNumber ?? 1,
  };
  for (const [keyword, raw] of Object.entries(spec.rawText ?? {})) {
    if (!(keyword in KEYWORD_TAGS)) throw new Error(`rawText: unknown keyword ${keyword}`);
    values[keyword as Keyword] = raw;
  }
  const elements: ExtraElement[] = [];
  for (const [keyword, value] of Object.entries(values)) {
    const [tag, vr] = KEYWORD_TAGS[keyword as Keyword];
    if (value !== undefined) elements.push({ tag, vr, value });
  }
  if (image !== false) elements.push(...imageElements(image, sopClassUID));
  else if (sopClassUID.startsWith('1.2.840.10008.5.1.4.1.1.88.'))
    elements.push(...srContent(studyDate, studyTime));

  const extra = spec.extra ?? [];
  const meta = extra.filter((el) => el.tag >>> 16 === 0x0002);
  const dataset = [...elements, ...extra.filter((el) => el.tag >>> 16 !== 0x0002)];
  const bytes = Buffer.concat([
    encodeFileMeta(sopClassUID, sopInstanceUID, meta),
    encodeDataset(dataset, textEncoderFor(spec.specificCharacterSet)),
  ]);
  return { bytes, studyInstanceUID, seriesInstanceUID, sopInstanceUID, sopClassUID };
}

/** Encodes a list of elements as an explicit VR little endian data set (no meta, sorted), for unit tests. */
export function encodeElements(elements: ExtraElement[], specificCharacterSet?: string): Buffer {
  return encodeDataset(elements, textEncoderFor(specificCharacterSet));
}
