/**
 * The DICOM data dictionary (PS3.6), taken from dcmjs at start-up and indexed by numeric tag and by keyword.
 * Only used where a transfer syntax is implicit VR and for query keys named by keyword.
 */
import dcmjs from 'dcmjs';
import { isVR, type VR } from './vr.js';

export interface DictionaryEntry {
  tag: number;
  keyword: string;
  /** The VR to assume when the encoding does not carry one; ambiguous VRs resolved as PS3.5 A.1 allows. */
  vr: VR;
  /** The dictionary's own VR notation, including the ambiguous ones (ox, xs, lt, up). */
  dictionaryVR: string;
  vm: string;
  retired: boolean;
}

const byTag = new Map<number, DictionaryEntry>();
const byKeyword = new Map<string, DictionaryEntry>();

function resolveAmbiguousVR(vr: string): VR {
  switch (vr) {
    case 'ox':
    case 'lt':
      return 'OW';
    case 'xs':
      return 'US';
    case 'up':
      return 'UL';
    default:
      return isVR(vr) ? vr : 'UN';
  }
}

function load(): void {
  for (const raw of Object.values(dcmjs.data.DicomMetaDictionary.nameMap)) {
    const match = /^\(([0-9A-F]{4}),([0-9A-F]{4})\)$/i.exec(raw.tag);
    if (!match || raw.vr === 'na') continue;
    const tag = parseInt(match[1]! + match[2]!, 16);
    const retired = raw.name.startsWith('RETIRED_');
    const keyword = retired ? raw.name.slice('RETIRED_'.length) : raw.name;
    const entry: DictionaryEntry = {
      tag,
      keyword,
      vr: resolveAmbiguousVR(raw.vr),
      dictionaryVR: raw.vr,
      vm: raw.vm,
      retired,
    };
    byTag.set(tag, entry);
    if (!byKeyword.has(keyword) || !retired) byKeyword.set(keyword, entry);
  }
}
load();

/** Repeating groups (curves 50xx, overlays 60xx) are listed once in the dictionary, under xx = 00. */
function canonicalRepeatingTag(tag: number): number {
  const group = tag >>> 16;
  if ((group & 0xff00) === 0x5000 || (group & 0xff00) === 0x6000) {
    return (((group & 0xff00) << 16) | (tag & 0xffff)) >>> 0;
  }
  return tag;
}

export function lookupTag(tag: number): DictionaryEntry | undefined {
  return byTag.get(tag) ?? byTag.get(canonicalRepeatingTag(tag));
}

export function lookupKeyword(keyword: string): DictionaryEntry | undefined {
  return byKeyword.get(keyword);
}

/** The VR an implicit-VR element gets: from the dictionary, group lengths UL, private and unknown UN. */
export function implicitVR(tag: number): VR {
  if ((tag & 0xffff) === 0) return 'UL';
  const group = tag >>> 16;
  if (group % 2 === 1) {
    // Private creator elements (gggg,0010-00FF) are LO; other private elements are unknown.
    const element = tag & 0xffff;
    return element >= 0x10 && element <= 0xff ? 'LO' : 'UN';
  }
  return lookupTag(tag)?.vr ?? 'UN';
}

export function tagToHex(tag: number): string {
  return (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
}

export function parseHexTag(text: string): number | undefined {
  return /^[0-9A-Fa-f]{8}$/.test(text) ? parseInt(text, 16) >>> 0 : undefined;
}
