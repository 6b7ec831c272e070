/** Value representations and the facts about them the reader and the JSON encoder need (PS3.5 6.2). */

export type VR =
  | 'AE'
  | 'AS'
  | 'AT'
  | 'CS'
  | 'DA'
  | 'DS'
  | 'DT'
  | 'FD'
  | 'FL'
  | 'IS'
  | 'LO'
  | 'LT'
  | 'OB'
  | 'OD'
  | 'OF'
  | 'OL'
  | 'OV'
  | 'OW'
  | 'PN'
  | 'SH'
  | 'SL'
  | 'SQ'
  | 'SS'
  | 'ST'
  | 'SV'
  | 'TM'
  | 'UC'
  | 'UI'
  | 'UL'
  | 'UN'
  | 'UR'
  | 'US'
  | 'UT'
  | 'UV';

const ALL_VRS = new Set<string>([
  'AE',
  'AS',
  'AT',
  'CS',
  'DA',
  'DS',
  'DT',
  'FD',
  'FL',
  'IS',
  'LO',
  'LT',
  'OB',
  'OD',
  'OF',
  'OL',
  'OV',
  'OW',
  'PN',
  'SH',
  'SL',
  'SQ',
  'SS',
  'ST',
  'SV',
  'TM',
  'UC',
  'UI',
  'UL',
  'UN',
  'UR',
  'US',
  'UT',
  'UV',
]);

export function isVR(value: string): value is VR {
  return ALL_VRS.has(value);
}

/** VRs whose explicit-VR header has two reserved bytes and a 32-bit length (PS3.5 7.1.2). */
const LONG_LENGTH_VRS = new Set<VR>([
  'OB',
  'OD',
  'OF',
  'OL',
  'OV',
  'OW',
  'SQ',
  'SV',
  'UC',
  'UN',
  'UR',
  'UT',
  'UV',
]);

export function hasLongLength(vr: VR): boolean {
  return LONG_LENGTH_VRS.has(vr);
}

/** Binary VRs that DICOM JSON carries as InlineBinary or BulkDataURI (PS3.18 F.2.7). */
const BINARY_VRS = new Set<VR>(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);

export function isBinaryVR(vr: VR): boolean {
  return BINARY_VRS.has(vr);
}

/** VRs whose values are character strings decoded through the Specific Character Set. */
const CHARSET_TEXT_VRS = new Set<VR>(['LO', 'LT', 'PN', 'SH', 'ST', 'UC', 'UT']);

export function usesSpecificCharacterSet(vr: VR): boolean {
  return CHARSET_TEXT_VRS.has(vr);
}

/** Text VRs (any character repertoire) that hold backslash-separated multiple values. */
const MULTI_VALUED_TEXT_VRS = new Set<VR>([
  'AE',
  'AS',
  'CS',
  'DA',
  'DS',
  'DT',
  'IS',
  'LO',
  'PN',
  'SH',
  'TM',
  'UC',
  'UI',
]);

export function isMultiValuedText(vr: VR): boolean {
  return MULTI_VALUED_TEXT_VRS.has(vr);
}

const STRING_VRS = new Set<VR>([
  'AE',
  'AS',
  'CS',
  'DA',
  'DS',
  'DT',
  'IS',
  'LO',
  'LT',
  'PN',
  'SH',
  'ST',
  'TM',
  'UC',
  'UI',
  'UR',
  'UT',
]);

export function isStringVR(vr: VR): boolean {
  return STRING_VRS.has(vr);
}

/** The byte that pads an odd-length value to even length (PS3.5 6.2): a space for text, NUL for UI and binary. */
export function paddingByte(vr: VR): number {
  return vr !== 'UI' && STRING_VRS.has(vr) ? 0x20 : 0x00;
}

/** Size in bytes of one value of a fixed-size numeric VR, or undefined for other VRs. */
export function numericValueSize(vr: VR): number | undefined {
  switch (vr) {
    case 'SS':
    case 'US':
      return 2;
    case 'SL':
    case 'UL':
    case 'FL':
    case 'AT':
      return 4;
    case 'FD':
    case 'SV':
    case 'UV':
      return 8;
    default:
      return undefined;
  }
}
