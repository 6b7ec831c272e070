/**
 * Specific Character Set (0008,0005) decoding: PS3.3 C.12.1.1.2 (Defined Terms, Tables C.12-2 to C.12-5)
 * and PS3.5 6.1 (character repertoires and ISO/IEC 2022 code extensions).
 */
import iconv from 'iconv-lite';

export interface DicomTextDecoder {
  /**
   * Decode a string value of VR SH, LO, ST, LT, UT, UC, PN. For PN, the caller passes the whole value (all
   * component groups); the full decoded string is returned (delimiters `^` `=` `\` preserved). Padding is
   * not trimmed.
   *
   * `vr` is optional and only refines the ISO 2022 delimiter rules of PS3.5 6.1.2.5.3: without it, `\`,
   * `^` and `=` are all treated as delimiters (right for PN and the multi-valued VRs); for ST, LT and UT
   * `\` is text (a YEN SIGN under JIS X 0201 Romaji), and only PN treats `^` and `=` as delimiters.
   */
  decode(bytes: Buffer, vr?: string): string;
  /** true if every term was recognised; unknown terms fall back to Latin-1 (ISO_IR 100) with this false */
  readonly recognised: boolean;
}

/**
 * A graphic character set that ISO 2022 designates to G0 (GL, bytes 0x21-0x7E) or G1 (GR, bytes 0xA1-0xFE).
 * PS3.5 6.1.2.5.1: DICOM uses G0 and G1 only, both always invoked (no shifts, no G2/G3).
 */
interface CodeElement {
  readonly g: 0 | 1;
  /** true for the 94x94 sets whose characters are two bytes */
  readonly double: boolean;
  /** Decode a run of bytes that all belong to this set (GL bytes for G0, GR bytes for G1). */
  readonly decode: (run: Buffer) => string;
}

const single = (g: 0 | 1, decode: (run: Buffer) => string): CodeElement => ({ g, double: false, decode });
const codec = (g: 0 | 1, name: string): CodeElement => single(g, (run) => iconv.decode(run, name));
const double = (g: 0 | 1, decode: (run: Buffer) => string): CodeElement => ({ g, double: true, decode });

/** ISO-IR 6 (ISO 646 / ASCII), the default repertoire (PS3.5 6.1.2.1). */
const ASCII = single(0, (run) => run.toString('latin1'));
/** ISO-IR 14, JIS X 0201 Romaji: ASCII but 05/12 is YEN SIGN and 07/14 OVERLINE (PS3.5 H.1.1). */
const ROMAJI = single(0, (run) =>
  run.toString('latin1').replaceAll('\\', '\u00a5').replaceAll('~', '\u203e'),
);
/** ISO-IR 13, JIS X 0201 Katakana in GR: 0xA1-0xDF, the single-byte half-width katakana of Shift_JIS. */
const KATAKANA = single(1, (run) =>
  iconv.decode(
    run.map((b) => (b >= 0xa1 && b <= 0xdf ? b : 0xa0)), // 0xA0 is unassigned: U+FFFD
    'shiftjis',
  ),
);
/** ISO-IR 87, JIS X 0208 in GL: setting the high bit of both bytes gives its EUC-JP code. */
const JIS_X_0208 = double(0, (run) =>
  iconv.decode(
    run.map((b) => b | 0x80),
    'eucjp',
  ),
);
/** ISO-IR 159, JIS X 0212 in GL: EUC-JP code set 3, i.e. SS3 (0x8F) then both bytes with the high bit set. */
const JIS_X_0212 = double(0, (run) => {
  const euc: number[] = [];
  for (let i = 0; i < run.length; i += 2) euc.push(0x8f, run[i]! | 0x80, (run[i + 1] ?? 0) | 0x80);
  return iconv.decode(Buffer.from(euc), 'eucjp');
});
/** ISO-IR 149, KS X 1001 in GR: exactly EUC-KR's two-byte part. */
const KS_X_1001 = double(1, (run) => iconv.decode(run, 'euckr'));
/** ISO-IR 58, GB 2312 in GR: exactly EUC-CN's two-byte part. */
const GB_2312 = double(1, (run) => iconv.decode(run, 'gb2312'));

/** The ISO 8859 supplementary sets (and TIS 620) that the single-byte terms put in G1, by ISO-IR number. */
const SUPPLEMENTARY: Record<string, CodeElement> = {
  '100': codec(1, 'latin1'),
  '101': codec(1, 'iso88592'),
  '109': codec(1, 'iso88593'),
  '110': codec(1, 'iso88594'),
  '144': codec(1, 'iso88595'),
  '127': codec(1, 'iso88596'),
  '126': codec(1, 'iso88597'),
  '138': codec(1, 'iso88598'),
  '148': codec(1, 'iso88599'),
  '203': codec(1, 'iso885915'),
  '166': codec(1, 'tis620'),
};
const LATIN1 = SUPPLEMENTARY['100']!;

/**
 * Designating escape sequences (the bytes after ESC), PS3.3 Tables C.12-3 and C.12-4. All of them are
 * honoured even if their term is not declared in (0008,0005): being lenient costs nothing here.
 */
const ESCAPES: ReadonlyArray<readonly [string, CodeElement]> = [
  ['(B', ASCII],
  ['(J', ROMAJI],
  [')I', KATAKANA],
  ['-A', SUPPLEMENTARY['100']!],
  ['-B', SUPPLEMENTARY['101']!],
  ['-C', SUPPLEMENTARY['109']!],
  ['-D', SUPPLEMENTARY['110']!],
  ['-L', SUPPLEMENTARY['144']!],
  ['-G', SUPPLEMENTARY['127']!],
  ['-F', SUPPLEMENTARY['126']!],
  ['-H', SUPPLEMENTARY['138']!],
  ['-M', SUPPLEMENTARY['148']!],
  ['-b', SUPPLEMENTARY['203']!],
  ['-T', SUPPLEMENTARY['166']!],
  ['$B', JIS_X_0208],
  ['$(D', JIS_X_0212],
  ['$)C', KS_X_1001],
  ['$)A', GB_2312],
];

/** What a term designates at the start of a value: PS3.5 6.1.2.5.1 assumed initial states. */
interface Designation {
  readonly g0?: CodeElement;
  readonly g1?: CodeElement;
}

/** Defined Terms by canonical spelling; the single-byte ones exist with and without the ISO 2022 prefix. */
const ISO_2022_TERMS = new Map<string, Designation>([
  ['ISO_IR 6', { g0: ASCII }], // not a Defined Term (the default is an empty value) but common
  ['ISO 2022 IR 6', { g0: ASCII }],
  ['ISO_IR 13', { g0: ROMAJI, g1: KATAKANA }],
  ['ISO 2022 IR 13', { g0: ROMAJI, g1: KATAKANA }],
  ...Object.entries(SUPPLEMENTARY).flatMap(([ir, g1]): [string, Designation][] => [
    [`ISO_IR ${ir}`, { g0: ASCII, g1 }],
    [`ISO 2022 IR ${ir}`, { g0: ASCII, g1 }],
  ]),
  ['ISO 2022 IR 87', { g0: JIS_X_0208 }],
  ['ISO 2022 IR 159', { g0: JIS_X_0212 }],
  ['ISO 2022 IR 149', { g1: KS_X_1001 }],
  ['ISO 2022 IR 58', { g1: GB_2312 }],
]);

/** Multi-byte character sets without code extensions (PS3.3 Table C.12-5): one codec for the whole value. */
const STATELESS_TERMS = new Map([
  ['ISO_IR 192', 'utf8'],
  ['GB18030', 'gb18030'],
  ['GBK', 'gbk'],
]);

/** Canonical spelling of a term: upper case, and `ISO IR 100`, `ISO-IR100`... read as `ISO_IR 100`. */
function canonicalTerm(term: string): string {
  const t = term.trim().toUpperCase();
  const m = /^ISO[ _-]?(2022[ _-]?)?IR[ _-]?(\d+)$/.exec(t);
  if (!m) return t;
  const plain = `ISO_IR ${m[2]}`;
  const extended = `ISO 2022 IR ${m[2]}`;
  // The multi-byte sets exist only with the ISO 2022 prefix; `ISO_IR 149` & co. are frequent mistakes.
  return m[1] === undefined && (ISO_2022_TERMS.has(plain) || STATELESS_TERMS.has(plain)) ? plain : extended;
}

/** true if the term (e.g. 'ISO_IR 100', 'ISO 2022 IR 87', 'GB18030') is supported; '' is the default. */
export function isSupportedCharacterSet(term: string): boolean {
  return isKnown(canonicalTerm(term));
}

const isKnown = (canonical: string): boolean =>
  canonical === '' || ISO_2022_TERMS.has(canonical) || STATELESS_TERMS.has(canonical);

/** Decoders by Specific Character Set value, as every instance of a study asks for the same one. */
const decoders = new Map<string, DicomTextDecoder>();
/** Values beyond this many distinct ones (hostile input) get a decoder each, uncached. */
const MAX_CACHED_DECODERS = 64;

/** Parse the (0008,0005) Specific Character Set value(s) (already split on backslash, trimmed). */
export function createTextDecoder(specificCharacterSet: string[] | undefined): DicomTextDecoder {
  const key = (specificCharacterSet ?? []).join('\\');
  let decoder = decoders.get(key);
  if (!decoder) {
    decoder = buildTextDecoder(specificCharacterSet ?? []);
    if (decoders.size < MAX_CACHED_DECODERS) decoders.set(key, decoder);
  }
  return decoder;
}

function buildTextDecoder(specificCharacterSet: string[]): DicomTextDecoder {
  const terms = specificCharacterSet.map(canonicalTerm);
  const recognised = terms.every(isKnown);

  // UTF-8, GB18030 and GBK cannot be combined with code extensions (PS3.5 6.1.2.3 and Annex J): if one
  // is declared it governs the whole value, whatever else is listed.
  const stateless = terms.map((t) => STATELESS_TERMS.get(t)).find((c) => c !== undefined);
  if (stateless !== undefined) return { recognised, decode: (bytes) => iconv.decode(bytes, stateless) };

  // Value 1 (empty = default repertoire) designates the initial G0 and G1 (PS3.5 6.1.2.5.1); an unknown
  // value 1 falls back to ISO_IR 100. A G1-only multi-byte term as value 1 (seen in the wild) keeps ASCII in
  // G0, and a G0 multi-byte one (not allowed by Table C.12-4) is ignored for the initial state.
  const first: Designation = terms[0] ? (ISO_2022_TERMS.get(terms[0]) ?? { g0: ASCII, g1: LATIN1 }) : {};
  const g0 = first.g0 && !first.g0.double ? first.g0 : ASCII;
  // With no G1 in value 1, GR bytes are only legal after an escape. Encoders that forget it (typically
  // `\ISO 2022 IR 149` Korean text) most plausibly meant the first declared G1 set; failing that, the
  // default repertoire is read leniently as Latin-1.
  const g1 = first.g1 ?? terms.map((t) => ISO_2022_TERMS.get(t)?.g1).find((e) => e !== undefined) ?? LATIN1;
  return { recognised, decode: (bytes, vr) => decodeIso2022(bytes, g0, g1, vr) };
}

const ESC = 0x1b;

function isPlainAscii(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b >= 0x80 || b === ESC) return false;
  }
  return true;
}

/** The known escape sequence at `bytes[at]` (an ESC): its bytes after ESC, and the set it designates. */
function matchEscape(bytes: Buffer, at: number): readonly [string, CodeElement] | undefined {
  return ESCAPES.find(([seq]) => bytes.toString('latin1', at + 1, at + 1 + seq.length) === seq);
}

/**
 * ISO 2022 decoding as profiled by PS3.5 6.1.2.5: ESC sequences designate G0/G1 sets; GL bytes belong to
 * G0 and GR bytes to G1. PS3.5 6.1.2.5.3 requires value 1's sets to be active again at each delimiter, so
 * the initial designations are restored there, and the delimiter itself is emitted as ASCII.
 */
function decodeIso2022(bytes: Buffer, initialG0: CodeElement, initialG1: CodeElement, vr?: string): string {
  // Most values (UIDs, dates, codes, plain names) are 7-bit without escapes: under ASCII that is Latin-1.
  if (initialG0 === ASCII && isPlainAscii(bytes)) return bytes.toString('latin1');
  const textVr = vr === 'ST' || vr === 'LT' || vr === 'UT';
  const pn = vr === undefined || vr === 'PN';
  /** Delimiters (PS3.5 6.1.2.5.3): control characters other than ESC, `\` between values, `^` `=` in PN. */
  const isDelimiter = (b: number): boolean =>
    (b < 0x20 && b !== ESC) || (b === 0x5c && !textVr) || ((b === 0x5e || b === 0x3d) && pn);

  let g0 = initialG0;
  let g1 = initialG1;
  let out = '';
  let run: CodeElement | undefined;
  let runStart = 0;
  /** Bytes are decoded by runs of one set, so that iconv sees whole multi-byte characters. */
  const flush = (end: number): void => {
    if (run && end > runStart) out += run.decode(bytes.subarray(runStart, end));
  };
  const switchTo = (element: CodeElement | undefined, at: number): void => {
    if (element === run) return;
    flush(at);
    run = element;
    runStart = at;
  };

  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    const escape = b === ESC ? matchEscape(bytes, i) : undefined;
    if (escape) {
      const [seq, element] = escape;
      switchTo(undefined, i);
      if (element.g === 0) g0 = element;
      else g1 = element;
      i += seq.length;
    } else if (b >= 0x80) {
      switchTo(g1, i);
    } else if (g0.double && b > 0x20 && b < 0x7f) {
      // Both bytes of a 94x94 character are GL bytes, so `^`, `=` or `\` may be half of a kanji here:
      // conforming encoders switch back to value 1's G0 before any delimiter (PS3.5 6.1.2.5.3).
      switchTo(g0, i);
    } else if (isDelimiter(b)) {
      switchTo(ASCII, i);
      g0 = initialG0;
      g1 = initialG1;
    } else {
      // SPACE and DEL are not part of 94-character sets, so they stay single bytes under any G0.
      // An unknown escape sequence lands here too and is passed through.
      switchTo(g0.double ? ASCII : g0, i);
    }
  }
  flush(bytes.length);
  return out;
}
