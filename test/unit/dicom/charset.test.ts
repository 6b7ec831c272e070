import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTextDecoder, isSupportedCharacterSet } from '../../../src/dicom/charset.js';

/** Bytes from hex, whitespace ignored. */
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const decode = (scs: string[] | undefined, bytes: Buffer, vr?: string): string =>
  createTextDecoder(scs).decode(bytes, vr);

// ---- Worked examples of PS3.5 Annexes H to K ----

test('PS3.5 H.3.1: Japanese PN, value 1 empty + ISO 2022 IR 87', () => {
  const bytes = hex(`
    59 61 6d 61 64 61 5e 54 61 72 6f 75 3d
    1b 24 42 3b 33 45 44 1b 28 42 5e 1b 24 42 42 40 4f 3a 1b 28 42 3d
    1b 24 42 24 64 24 5e 24 40 1b 28 42 5e 1b 24 42 24 3f 24 6d 24 26 1b 28 42`);
  const decoder = createTextDecoder(['', 'ISO 2022 IR 87']);
  assert.equal(decoder.recognised, true);
  assert.equal(decoder.decode(bytes), 'Yamada^Tarou=山田^太郎=やまだ^たろう');
});

test('PS3.5 H.3.2: Japanese PN, ISO 2022 IR 13 + ISO 2022 IR 87 (ESC ( J back to Romaji)', () => {
  const bytes = hex(`
    d4 cf c0 de 5e c0 db b3 3d
    1b 24 42 3b 33 45 44 1b 28 4a 5e 1b 24 42 42 40 4f 3a 1b 28 4a 3d
    1b 24 42 24 64 24 5e 24 40 1b 28 4a 5e 1b 24 42 24 3f 24 6d 24 26 1b 28 4a`);
  assert.equal(decode(['ISO 2022 IR 13', 'ISO 2022 IR 87'], bytes), 'ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう');
});

test('PS3.5 I.2: Korean PN, value 1 empty + ISO 2022 IR 149', () => {
  const bytes = hex(`
    48 6f 6e 67 5e 47 69 6c 64 6f 6e 67 3d
    1b 24 29 43 fb f3 5e 1b 24 29 43 d1 ce d4 d7 3d
    1b 24 29 43 c8 ab 5e 1b 24 29 43 b1 e6 b5 bf`);
  assert.equal(decode(['', 'ISO 2022 IR 149'], bytes), 'Hong^Gildong=洪^吉洞=홍^길동');
});

test('PS3.5 I.3: Korean LT, KS X 1001 designated at the head of each line', () => {
  const line1 = '1b2429 43' + Buffer.from('The first line includes').toString('hex') + 'c7d1b1db 2e 0d0a';
  const line2 =
    '1b2429 43' + Buffer.from('The second line includes').toString('hex') + 'c7d1b1db 2c 20 74 6f 6f 2e 0d0a';
  const line3 = Buffer.from('The third line').toString('hex');
  assert.equal(
    decode(['', 'ISO 2022 IR 149'], hex(line1 + line2 + line3), 'LT'),
    'The first line includes한글.\r\nThe second line includes한글, too.\r\nThe third line',
  );
});

test('PS3.5 J.1: Chinese PN in UTF-8 (ISO_IR 192)', () => {
  const bytes = hex('57 61 6e 67 5e 58 69 61 6f 44 6f 6e 67 3d e7 8e 8b 5e e5 b0 8f e6 9d b1 3d');
  assert.equal(decode(['ISO_IR 192'], bytes), 'Wang^XiaoDong=王^小東=');
});

test('PS3.5 J.2: Chinese LT in UTF-8 (ISO_IR 192)', () => {
  const bytes = hex(`
    54 68 65 20 66 69 72 73 74 20 6c 69 6e 65 20 69 6e 63 6c 75 64 65 73 e4 b8 ad e6 96 87 2e 0d 0a
    54 68 65 20 73 65 63 6f 6e 64 20 6c 69 6e 65 20 69 6e 63 6c 75 64 65 73
    e4 b8 ad e6 96 87 2c 20 74 6f 6f 2e 0d 0a
    54 68 65 20 74 68 69 72 64 20 6c 69 6e 65 2e 0d 0a`);
  assert.equal(
    decode(['ISO_IR 192'], bytes),
    'The first line includes中文.\r\nThe second line includes中文, too.\r\nThe third line.\r\n',
  );
});

test('PS3.5 J.3: Chinese PN in GB18030, and the same bytes as GBK (Annex J introduction)', () => {
  const bytes = hex('57 61 6e 67 5e 58 69 61 6f 44 6f 6e 67 3d cd f5 5e d0 a1 b6 ab 3d');
  assert.equal(decode(['GB18030'], bytes), 'Wang^XiaoDong=王^小东=');
  assert.equal(decode(['GBK'], bytes), 'Wang^XiaoDong=王^小东=');
});

test('GB18030 four-byte sequences and GBK trail bytes equal to backslash', () => {
  // U+20000 (CJK Extension B) is only reachable with GB18030's four-byte form.
  assert.equal(decode(['GB18030'], hex('95 32 82 36')), '\u{20000}');
  // 0x5C is a legal GBK trail byte: 榎 is 0x98 0x5C. Decoding the whole value keeps it whole.
  assert.equal(decode(['GBK'], hex('98 5c 5c 41')), '榎\\A');
});

test('PS3.5 K.2: Chinese PN, value 1 empty + ISO 2022 IR 58', () => {
  const bytes = hex(`
    5a 68 61 6e 67 5e 58 69 61 6f 44 6f 6e 67 3d
    1b 24 29 41 d5 c5 5e 1b 24 29 41 d0 a1 b6 ab 3d 20`);
  assert.equal(decode(['', 'ISO 2022 IR 58'], bytes), 'Zhang^XiaoDong=张^小东= ');
});

test('PS3.5 K.3: Chinese LT in GB 2312 with explicit escapes', () => {
  const bytes = hex(`
    31 2e 1b 24 29 41 b5 da d2 bb d0 d0 ce c4 d7 d6 a1 a3 1b 28 42 0d 0a
    32 2e 1b 24 29 41 b5 da b6 fe d0 d0 ce c4 d7 d6 a1 a3 1b 28 42 0d 0a
    33 2e 1b 24 29 41 b5 da c8 fd d0 d0 ce c4 d7 d6 a1 a3 1b 28 42 0d 0a 20`);
  assert.equal(
    decode(['', 'ISO 2022 IR 58'], bytes, 'LT'),
    '1.第一行文字。\r\n2.第二行文字。\r\n3.第三行文字。\r\n ',
  );
});

// ---- Single-byte character sets (PS3.3 Table C.12-2) ----

test('each single-byte character set decodes its characteristic characters', () => {
  const cases: [string, string, string][] = [
    ['ISO_IR 100', '42 75 63 5e 4a e9 72 f4 6d 65', 'Buc^Jérôme'],
    ['ISO_IR 101', 'a3 f3 64 bc', 'Łódź'],
    ['ISO_IR 109', 'a1 b1 c5 e5', 'ĦħĊċ'],
    ['ISO_IR 110', 'a1 a2 a3 bb', 'ĄĸŖģ'],
    ['ISO_IR 144', 'bb ee da 63 65 dc d1 79 70 d3', 'Люкceмбypг'],
    ['ISO_IR 127', 'e2 c8 c7 e6 ea 5e e4 e6 d2 c7 d1', 'قباني^لنزار'],
    ['ISO_IR 126', 'c4 e9 ef ed f5 f3 e9 ef f2', 'Διονυσιος'],
    ['ISO_IR 138', 'f9 f8 e5 ef 5e e3 e1 e5 f8 e4', 'שרון^דבורה'],
    ['ISO_IR 148', 'c7 d0 dd de e7 f0 fd fe', 'ÇĞİŞçğış'],
    ['ISO_IR 203', 'a4 bc bd be', '€ŒœŸ'],
    ['ISO_IR 166', 'c0 d2 c9 d2 e4 b7 c2', 'ภาษาไทย'],
  ];
  for (const [term, bytes, text] of cases) {
    const decoder = createTextDecoder([term]);
    assert.equal(decoder.recognised, true, term);
    assert.equal(decoder.decode(hex(bytes)), text, term);
  }
});

test('ISO_IR 13: JIS X 0201 Romaji in GL and half-width Katakana in GR', () => {
  assert.equal(decode(['ISO_IR 13'], hex('d4 cf c0 de 5e c0 db b3')), 'ﾔﾏﾀﾞ^ﾀﾛｳ');
  // 07/14 is OVERLINE; 05/12 is the value delimiter in SH/LO/PN/UC but YEN SIGN in text VRs (PS3.5 H.1.1).
  assert.equal(decode(['ISO_IR 13'], hex('41 7e 5c 42')), 'A‾\\B');
  assert.equal(decode(['ISO_IR 13'], hex('41 7e 5c 42'), 'LT'), 'A‾¥B');
  // GR bytes outside 0xA1-0xDF are not JIS X 0201.
  assert.equal(decode(['ISO_IR 13'], hex('b1 e0')), 'ｱ\ufffd');
});

test('default repertoire: absent, empty or ISO_IR 6; bytes above 0x7F read as Latin-1', () => {
  for (const scs of [undefined, [], [''], ['ISO_IR 6']]) {
    const decoder = createTextDecoder(scs);
    assert.equal(decoder.recognised, true);
    assert.equal(decoder.decode(Buffer.from('DOE^JOHN\\SMITH ')), 'DOE^JOHN\\SMITH ');
    assert.equal(decoder.decode(hex('4a e9 72 f4 6d 65')), 'Jérôme');
  }
});

test('UTF-8: multi-valued, and padding is left to the caller', () => {
  const decoder = createTextDecoder(['ISO_IR 192']);
  assert.equal(decoder.decode(Buffer.from('Jérôme\\Zoë\\日本 \0', 'utf8')), 'Jérôme\\Zoë\\日本 \0');
});

test('unknown terms fall back to Latin-1 with recognised = false', () => {
  const decoder = createTextDecoder(['ISO_IR 999']);
  assert.equal(decoder.recognised, false);
  assert.equal(decoder.decode(hex('4a e9 72 f4 6d 65')), 'Jérôme');
  // An unknown extra term does not disturb the known ones.
  const mixed = createTextDecoder(['', 'ISO 2022 IR 87', 'KOI8-R']);
  assert.equal(mixed.recognised, false);
  assert.equal(mixed.decode(hex('1b 24 42 3b 33 45 44 1b 28 42')), '山田');
});

test('term spelling is normalised (case, blanks, ISO-IR/ISO IR variants)', () => {
  assert.equal(decode(['iso_ir 100'], hex('e9')), 'é');
  assert.equal(decode(['ISO IR 144'], hex('bb')), 'Л');
  assert.equal(decode(['ISO-IR 192'], hex('c3 a9')), 'é');
  // The multi-byte sets only exist with the ISO 2022 prefix, but `ISO_IR 149` is frequent in the wild.
  assert.equal(decode(['ISO_IR 149'], hex('c8 ab')), '홍');
});

// ---- ISO 2022 code extensions (PS3.5 6.1.2.5) ----

test('every designating escape sequence of PS3.3 Tables C.12-3 and C.12-4', () => {
  const cases: [string, string][] = [
    ['1b 2d 41 e9', 'é'], // ESC - A  ISO-IR 100
    ['1b 2d 42 a3', 'Ł'], // ESC - B  ISO-IR 101
    ['1b 2d 43 a1', 'Ħ'], // ESC - C  ISO-IR 109
    ['1b 2d 44 a2', 'ĸ'], // ESC - D  ISO-IR 110
    ['1b 2d 4c bb', 'Л'], // ESC - L  ISO-IR 144
    ['1b 2d 47 c8', 'ب'], // ESC - G  ISO-IR 127
    ['1b 2d 46 c4', 'Δ'], // ESC - F  ISO-IR 126
    ['1b 2d 48 f9', 'ש'], // ESC - H  ISO-IR 138
    ['1b 2d 4d d0', 'Ğ'], // ESC - M  ISO-IR 148
    ['1b 2d 62 a4', '€'], // ESC - b  ISO-IR 203
    ['1b 2d 54 c0', 'ภ'], // ESC - T  ISO-IR 166
    ['1b 29 49 b1', 'ｱ'], // ESC ) I  ISO-IR 13 (G1)
    ['1b 28 4a 7e 1b 28 42 7e', '‾~'], // ESC ( J  ISO-IR 14, ESC ( B  ISO-IR 6 (G0)
    ['1b 24 42 3b 33', '山'], // ESC $ B  ISO-IR 87
    ['1b 24 28 44 30 21', '丂'], // ESC $ ( D  ISO-IR 159 (JIS X 0212 0x3021)
    ['1b 24 29 43 c8 ab', '홍'], // ESC $ ) C  ISO-IR 149
    ['1b 24 29 41 d5 c5', '张'], // ESC $ ) A  ISO-IR 58
  ];
  const decoder = createTextDecoder(['ISO 2022 IR 6', 'ISO 2022 IR 100']);
  for (const [bytes, text] of cases) assert.equal(decoder.decode(hex(bytes), 'LT'), text, bytes);
});

test('JIS X 0212 declared with ISO 2022 IR 159', () => {
  const decoder = createTextDecoder(['', 'ISO 2022 IR 87', 'ISO 2022 IR 159']);
  assert.equal(decoder.recognised, true);
  // 山 (JIS X 0208) then 丂 (JIS X 0212), back to ASCII.
  assert.equal(decoder.decode(hex('1b 24 42 3b 33 1b 24 28 44 30 21 1b 28 42 41')), '山丂A');
});

test('G0 and G1 return to value 1 designations at PN delimiters ^ and =', () => {
  // Romaji is value 1's G0: after ESC ( B switched to ASCII, `^` restores Romaji, so 0x7E becomes OVERLINE.
  const jp = createTextDecoder(['ISO 2022 IR 13', 'ISO 2022 IR 87']);
  assert.equal(jp.decode(hex('1b 28 42 7e 5e 7e 3d 1b 28 42 7e'), 'PN'), '~^‾=~');
  // Cyrillic designated to G1 holds until the delimiter, then value 1's Latin-1 is back.
  const cyr = createTextDecoder(['ISO 2022 IR 100', 'ISO 2022 IR 144']);
  assert.equal(cyr.decode(hex('1b 2d 4c bb bb 5e bb 3d 1b 2d 4c bb')), 'ЛЛ^»=Л');
  // In text VRs `^` and `=` are ordinary characters: only line breaks and other controls reset.
  assert.equal(cyr.decode(hex('1b 2d 4c bb 5e bb 3d bb 0d 0a bb'), 'LT'), 'Л^Л=Л\r\n»');
});

test('backslash between values is a delimiter: emitted as ASCII and resets the designations', () => {
  const decoder = createTextDecoder(['', 'ISO 2022 IR 87']);
  const bytes = hex('1b 24 42 3b 33 45 44 1b 28 42 5c 59 61 6d 61 64 61 5c 1b 24 42 42 40 4f 3a 1b 28 42');
  assert.equal(decoder.decode(bytes, 'LO'), '山田\\Yamada\\太郎');
  // Under JIS X 0201 Romaji in G0, 0x5C between values stays a backslash.
  const jp = createTextDecoder(['ISO 2022 IR 13', 'ISO 2022 IR 87']);
  assert.equal(jp.decode(hex('b1 5c 1b 24 42 3b 33 1b 28 4a 5c 41'), 'LO'), 'ｱ\\山\\A');
});

test('inside a JIS X 0208 run, 0x5E, 0x3D and 0x5C are halves of characters, not delimiters', () => {
  // ま is 0x24 0x5E, 宮 is 0x35 0x5C and 宗 is 0x3D 0x21.
  const decoder = createTextDecoder(['', 'ISO 2022 IR 87']);
  assert.equal(decoder.decode(hex('1b 24 42 24 5e 35 5c 3d 21 1b 28 42')), 'ま宮宗');
  // SPACE stays a single byte under a 94x94 G0 set.
  assert.equal(decoder.decode(hex('1b 24 42 3b 33 20 45 44 1b 28 42')), '山 田');
});

test('GR bytes without a designating escape use the declared G1 set (common in Korean data)', () => {
  assert.equal(decode(['', 'ISO 2022 IR 149'], hex('48 6f 6e 67 3d c8 ab 5e b1 e6 b5 bf')), 'Hong=홍^길동');
  assert.equal(decode(['ISO 2022 IR 149'], hex('c8 ab')), '홍');
});

test('UTF-8, GB18030 and GBK govern the whole value even if other terms are listed', () => {
  const decoder = createTextDecoder(['ISO_IR 192', 'ISO 2022 IR 87']);
  assert.equal(decoder.decode(hex('e5 b1 b1 1b 24 42')), '山\u001b$B');
});

test('unknown escape sequences pass through', () => {
  assert.equal(decode(['', 'ISO 2022 IR 100'], hex('41 1b 2d 5a 42')), 'A\u001b-ZB');
});

test('isSupportedCharacterSet', () => {
  const supported = [
    '',
    'ISO_IR 100',
    'ISO_IR 101',
    'ISO_IR 109',
    'ISO_IR 110',
    'ISO_IR 144',
    'ISO_IR 127',
    'ISO_IR 126',
    'ISO_IR 138',
    'ISO_IR 148',
    'ISO_IR 203',
    'ISO_IR 13',
    'ISO_IR 166',
    'ISO_IR 192',
    'GB18030',
    'GBK',
    'ISO 2022 IR 6',
    'ISO 2022 IR 100',
    'ISO 2022 IR 101',
    'ISO 2022 IR 109',
    'ISO 2022 IR 110',
    'ISO 2022 IR 144',
    'ISO 2022 IR 127',
    'ISO 2022 IR 126',
    'ISO 2022 IR 138',
    'ISO 2022 IR 148',
    'ISO 2022 IR 203',
    'ISO 2022 IR 13',
    'ISO 2022 IR 166',
    'ISO 2022 IR 87',
    'ISO 2022 IR 159',
    'ISO 2022 IR 149',
    'ISO 2022 IR 58',
  ];
  for (const term of supported) assert.equal(isSupportedCharacterSet(term), true, term);
  for (const term of ['ISO_IR 999', 'KOI8-R', 'UTF-16', 'ISO 2022 IR 192']) {
    assert.equal(isSupportedCharacterSet(term), false, term);
  }
});

test('decoders are shared per value, and many distinct values each still decode by their own terms', () => {
  assert.equal(createTextDecoder(['ISO_IR 100']), createTextDecoder(['ISO_IR 100']));
  // More distinct values than are cached: the later ones are built afresh and decode the same.
  for (let i = 0; i < 100; i++) {
    const decoder = createTextDecoder([`UNKNOWN ${i}`, 'ISO 2022 IR 87']);
    assert.equal(decoder.recognised, false);
    assert.equal(decoder.decode(hex('1b 24 42 3b 33 45 44 1b 28 42'), 'PN'), '山田');
    assert.equal(decoder.decode(Buffer.from('Yamada^Tarou'), 'PN'), 'Yamada^Tarou');
  }
  assert.equal(decode(['ISO 2022 IR 13'], Buffer.from('a\\b~'), 'LO'), 'a\\b\u203e');
});
