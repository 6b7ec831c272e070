/**
 * A small, seeded mutation fuzzer for the hostile-input tests: a deterministic PRNG, the case budget, an
 * independent walker that finds the element headers of a DICOM file (so mutations hit tags, VRs and
 * length fields where a parser is most fragile), and the mutations themselves.
 *
 * Reproducing a failure: every failure message names the seed (`FUZZ_SEED=...`) and the case. Run the
 * same test with that FUZZ_SEED (decimal or 0x hex; `random` picks a fresh one) and the same FUZZ_CASES.
 * FUZZ_CASES scales every fuzzer's case count against the CI default (DEFAULT_FUZZ_CASES in total).
 *
 * Independent of src/ on purpose, like dicom-generator.ts: the gateway's own parser is what is tested.
 */
import { deflateRawSync, inflateRawSync, constants as zlibConstants } from 'node:zlib';

// ---------------------------------------------------------------------------------------------------------
// Seed and case budget

/** Default seed: fixed, so CI runs are reproducible; FUZZ_SEED overrides it. */
export const DEFAULT_FUZZ_SEED = 0x6d17c0de;

/**
 * Total cases of all hostile-input fuzzers in the default (CI) configuration. Each fuzzer asks for its
 * own share with `fuzzCases(share)`; FUZZ_CASES=N scales all shares so that they add up to about N.
 * Shares: DICOM files through STOW-RS 2000, through C-STORE 300, stored mutants retrieved 120,
 * A-ASSOCIATE and out-of-order PDUs 400, P-DATA-TF on established associations 200.
 */
export const DEFAULT_FUZZ_CASES = 3020;

let cachedSeed: number | undefined;

/** The run's seed: FUZZ_SEED (decimal, 0x hex, or `random`) or DEFAULT_FUZZ_SEED. */
export function fuzzSeed(): number {
  if (cachedSeed !== undefined) return cachedSeed;
  const text = process.env.FUZZ_SEED?.trim();
  if (!text) cachedSeed = DEFAULT_FUZZ_SEED;
  else if (text === 'random') cachedSeed = (Math.random() * 2 ** 32) >>> 0;
  else {
    const value = Number(text);
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** 32)
      throw new Error(`FUZZ_SEED must be an integer from 0 to 2^32-1 (or "random"), not ${text}`);
    cachedSeed = value;
  }
  return cachedSeed;
}

/** `FUZZ_SEED=... FUZZ_CASES=...`, for failure messages: how to run this exact case again. */
export function reproduce(): string {
  const cases = process.env.FUZZ_CASES ? ` FUZZ_CASES=${process.env.FUZZ_CASES}` : '';
  return `FUZZ_SEED=${fuzzSeed()}${cases}`;
}

/** A fuzzer's case count: `share` of the default total, scaled by FUZZ_CASES when set (at least 1). */
export function fuzzCases(share: number): number {
  const text = process.env.FUZZ_CASES?.trim();
  if (!text) return share;
  const total = Number(text);
  if (!Number.isInteger(total) || total < 1)
    throw new Error(`FUZZ_CASES must be a positive integer: ${text}`);
  return Math.max(1, Math.round((share * total) / DEFAULT_FUZZ_CASES));
}

// ---------------------------------------------------------------------------------------------------------
// PRNG

/** xoshiro128** seeded through splitmix32: fast, 32-bit, and the same sequence on every platform. */
export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  /** An independent stream for a named purpose, so adding draws in one place does not shift another. */
  static for(seed: number, label: string): Prng {
    let h = seed >>> 0;
    for (const char of label) h = Math.imul(h ^ char.charCodeAt(0), 0x01000193) >>> 0;
    return new Prng(h);
  }

  /** Next 32-bit unsigned integer. */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 2 ** 32;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor(this.float() * n);
  }

  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  /** An index chosen with the given weights. */
  weighted(weights: readonly number[]): number {
    const total = weights.reduce((a, b) => a + b, 0);
    let r = this.float() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i]!;
      if (r < 0) return i;
    }
    return weights.length - 1;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }

  /** A decimal string of `n` digits without a leading zero. */
  digits(n: number): string {
    let s = String(this.range(1, 9));
    while (s.length < n) s += String(this.int(10));
    return s;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

// ---------------------------------------------------------------------------------------------------------
// DICOM structure: where the headers are

export const TS_IMPLICIT_LE = '1.2.840.10008.1.2';
export const TS_EXPLICIT_BE = '1.2.840.10008.1.2.2';
export const TS_DEFLATED = '1.2.840.10008.1.2.1.99';

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UNDEFINED = 0xffffffff;

/** One element or item header found in the bytes: offsets are absolute in the buffer scanned. */
export interface HeaderSite {
  tag: number;
  tagOffset: number;
  /** Explicit VR only. */
  vrOffset?: number;
  lengthOffset: number;
  lengthSize: 2 | 4;
  littleEndian: boolean;
  length: number;
  valueOffset: number;
}

export interface Part10Layout {
  /** Offset of the dataset (after the File Meta Information). */
  datasetOffset: number;
  transferSyntaxUid: string;
  /** Headers of group 0002 and of the dataset (the dataset's only when it is not deflated). */
  sites: HeaderSite[];
}

/** Walks a Part 10 file's File Meta Information and, unless deflated, its dataset. Lenient: stops early. */
export function scanPart10(bytes: Buffer): Part10Layout {
  if (bytes.length < 132 || bytes.toString('latin1', 128, 132) !== 'DICM')
    throw new Error('not a Part 10 file');
  const sites: HeaderSite[] = [];
  let at = 132;
  let transferSyntaxUid = '';
  while (at + 8 <= bytes.length && bytes.readUInt16LE(at) === 0x0002) {
    const site = readHeader(bytes, at, true, true);
    if (!site) break;
    sites.push(site);
    if (site.tag === 0x00020010)
      transferSyntaxUid = bytes
        .toString('latin1', site.valueOffset, site.valueOffset + site.length)
        .replace(/[\0 ]+$/, '');
    at = site.valueOffset + site.length;
  }
  if (transferSyntaxUid !== TS_DEFLATED) {
    sites.push(...scanDataset(bytes, at, transferSyntaxUid));
  }
  return { datasetOffset: at, transferSyntaxUid, sites };
}

/** Walks a bare dataset from `start`, descending into sequences, items and encapsulated pixel data. */
export function scanDataset(bytes: Buffer, start: number, transferSyntaxUid: string): HeaderSite[] {
  const explicit = transferSyntaxUid !== TS_IMPLICIT_LE;
  const little = transferSyntaxUid !== TS_EXPLICIT_BE;
  const sites: HeaderSite[] = [];
  let at = start;
  // Inside encapsulated pixel data, items are fragments whose values are skipped.
  let inFragments = false;
  while (at + 8 <= bytes.length) {
    const group = little ? bytes.readUInt16LE(at) : bytes.readUInt16BE(at);
    if (group === 0xfffe) {
      // Items and delimiters: tag and a 4-byte length, in the dataset's byte order.
      const site = readHeader(bytes, at, false, little);
      if (!site) break;
      sites.push(site);
      if (site.tag === 0xfffee0dd) inFragments = false;
      at = site.valueOffset;
      if (inFragments && site.tag === 0xfffee000 && site.length !== UNDEFINED) at += site.length;
      continue;
    }
    const site = readHeader(bytes, at, explicit, little);
    if (!site) break;
    sites.push(site);
    const vr = site.vrOffset !== undefined ? bytes.toString('latin1', site.vrOffset, site.vrOffset + 2) : '';
    if (site.length === UNDEFINED) {
      // Undefined length: a sequence, or encapsulated pixel data; either way its items come next.
      if (site.tag === 0x7fe00010) inFragments = true;
      at = site.valueOffset;
      continue;
    }
    const looksLikeItems =
      site.length >= 8 &&
      site.valueOffset + 4 <= bytes.length &&
      (little ? bytes.readUInt32LE(site.valueOffset) : bytes.readUInt32BE(site.valueOffset)) ===
        (little ? 0xe000fffe : 0xfffee000);
    if (vr === 'SQ' || (!explicit && looksLikeItems)) {
      at = site.valueOffset; // descend into the items
      continue;
    }
    at = site.valueOffset + site.length;
  }
  return sites;
}

function readHeader(bytes: Buffer, at: number, explicit: boolean, little: boolean): HeaderSite | undefined {
  if (at + 8 > bytes.length) return undefined;
  const u16 = (o: number) => (little ? bytes.readUInt16LE(o) : bytes.readUInt16BE(o));
  const u32 = (o: number) => (little ? bytes.readUInt32LE(o) : bytes.readUInt32BE(o));
  const tag = ((u16(at) << 16) | u16(at + 2)) >>> 0;
  if (tag >>> 16 === 0xfffe || !explicit) {
    return {
      tag,
      tagOffset: at,
      lengthOffset: at + 4,
      lengthSize: 4,
      littleEndian: little,
      length: u32(at + 4),
      valueOffset: at + 8,
    };
  }
  const vr = bytes.toString('latin1', at + 4, at + 6);
  if (!/^[A-Z]{2}$/.test(vr)) return undefined;
  if (LONG_VRS.has(vr)) {
    if (at + 12 > bytes.length) return undefined;
    return {
      tag,
      tagOffset: at,
      vrOffset: at + 4,
      lengthOffset: at + 8,
      lengthSize: 4,
      littleEndian: little,
      length: u32(at + 8),
      valueOffset: at + 12,
    };
  }
  return {
    tag,
    tagOffset: at,
    vrOffset: at + 4,
    lengthOffset: at + 6,
    lengthSize: 2,
    littleEndian: little,
    length: u16(at + 6),
    valueOffset: at + 8,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Deflated datasets and UIDs

/** The dataset of a deflated Part 10 file, inflated (tolerating a broken stream: what inflates). */
export function inflateDataset(part10: Buffer, datasetOffset: number): Buffer {
  return inflateRawSync(part10.subarray(datasetOffset), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
}

export function deflateDataset(meta: Buffer, dataset: Buffer): Buffer {
  return Buffer.concat([meta, deflateRawSync(dataset)]);
}

/**
 * Replaces every occurrence of a UID (same length) in a Part 10 file, inside a deflated dataset too: each
 * fuzz case gets its own SOP Instance UID from one fixture.
 */
export function replaceUid(part10: Buffer, from: string, to: string): Buffer {
  if (from.length !== to.length) throw new Error('replaceUid needs UIDs of the same length');
  const layout = scanPart10(part10);
  if (layout.transferSyntaxUid === TS_DEFLATED) {
    const meta = replaceAll(part10.subarray(0, layout.datasetOffset), from, to);
    return deflateDataset(meta, replaceAll(inflateDataset(part10, layout.datasetOffset), from, to));
  }
  return replaceAll(part10, from, to);
}

export function replaceAll(bytes: Buffer, from: string, to: string): Buffer {
  const out = Buffer.from(bytes);
  const needle = Buffer.from(from, 'latin1');
  const replacement = Buffer.from(to, 'latin1');
  for (let at = out.indexOf(needle); at >= 0; at = out.indexOf(needle, at + needle.length)) {
    replacement.copy(out, at);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Mutations

export interface Mutant {
  bytes: Buffer;
  /** What was done, for failure messages. */
  ops: string[];
}

const hex = (n: number) => `0x${n.toString(16)}`;

const HOSTILE_LONG_LENGTHS = [
  0xffffffff, 0xfffffffe, 0xfffffff0, 0x7fffffff, 0x80000000, 0x80000001, 0x10000000, 0x00ffffff, 0,
];
const HOSTILE_SHORT_LENGTHS = [0xffff, 0xfffe, 0xff01, 0x8000, 0x7fff, 0, 1];
const VR_CODES = ['SQ', 'UN', 'OB', 'OW', 'OF', 'UT', 'UC', 'UL', 'US', 'AT', 'FD', 'SV', 'PN', 'UI', 'DA'];
const BAD_VR_CODES = ['\0\0', 'ZZ', 'sq', '  ', '\xff\xff', 'S\0'];
const HOSTILE_TAGS = [
  0xfffee000, 0xfffee00d, 0xfffee0dd, 0x7fe00010, 0x00020010, 0x00020000, 0x00080018, 0x0020000d, 0x00280008,
  0x00280010, 0x00080005, 0xffffffff, 0x00000000,
];

/** Applies 1-3 mutations, chosen by the PRNG, to `input` (whose header layout is `sites`). */
export function mutate(
  rng: Prng,
  input: Buffer,
  sites: HeaderSite[],
  options: { protect?: number } = {},
): Mutant {
  let bytes: Buffer = Buffer.from(input);
  const ops: string[] = [];
  const count = rng.weighted([6, 3, 1]) + 1;
  // Mutations after the first may shift bytes; headers found in the original are then approximate,
  // which is fine: they still point at header-like places.
  for (let i = 0; i < count; i++) {
    const result = mutateOnce(rng, bytes, sites, options.protect ?? 0);
    bytes = result.bytes;
    ops.push(result.op);
  }
  return { bytes, ops };
}

function mutateOnce(
  rng: Prng,
  input: Buffer,
  sites: HeaderSite[],
  protect: number,
): { bytes: Buffer; op: string } {
  const bytes = Buffer.from(input);
  const n = bytes.length;
  // Offsets to mutate: mostly after `protect` (e.g. the preamble), sometimes anywhere.
  const from = rng.chance(0.9) ? Math.min(protect, n) : 0;
  const anywhere = () => from + rng.int(Math.max(1, n - from));
  const site = sites.length > 0 ? rng.pick(sites) : undefined;
  const kind = rng.weighted([
    /* truncate */ 14, /* truncate at header */ 8, /* bit flips */ 14, /* overwrite run */ 8,
    /* length field */ 18, /* VR */ 8, /* tag */ 8, /* duplicate */ 6, /* remove */ 6, /* insert */ 5,
    /* swap VR length size */ 3, /* hostile value, same length */ 22,
  ]);
  switch (kind) {
    case 0: {
      const at = rng.chance(0.3) ? anywhere() : n - 1 - rng.int(Math.min(n, 64));
      return { bytes: bytes.subarray(0, Math.max(0, at)), op: `truncate@${at}` };
    }
    case 1: {
      if (!site) break;
      const at = Math.max(0, Math.min(n, site.tagOffset + rng.range(-1, 12)));
      return { bytes: bytes.subarray(0, at), op: `truncate-at-header@${at}` };
    }
    case 2: {
      const flips = rng.weighted([5, 3, 1, 1]) * 3 + 1;
      const at: number[] = [];
      // Flips near headers hurt most; the rest land anywhere.
      for (let i = 0; i < flips; i++) {
        const o = site && rng.chance(0.5) ? Math.min(n - 1, site.tagOffset + rng.int(12)) : anywhere();
        if (o < 0 || o >= n) continue;
        bytes[o]! ^= 1 << rng.int(8);
        at.push(o);
      }
      return { bytes, op: `bitflip@${at.join(',')}` };
    }
    case 3: {
      const at = anywhere();
      const length = Math.min(n - at, rng.range(1, 64));
      const fill = rng.weighted([2, 1, 1]);
      const run = fill === 0 ? rng.bytes(length) : Buffer.alloc(length, fill === 1 ? 0 : 0xff);
      run.copy(bytes, at);
      return { bytes, op: `overwrite@${at}+${length}:${['random', '00', 'ff'][fill]}` };
    }
    case 4: {
      if (!site) break;
      if (site.lengthSize === 4) {
        const value = rng.chance(0.7)
          ? rng.pick(HOSTILE_LONG_LENGTHS)
          : rng.pick([
              site.length + 1,
              Math.max(0, site.length - 1),
              site.length + 2,
              site.length * 2 + 1,
              n,
              n * 2,
              rng.u32(),
            ]) >>> 0;
        writeLength(bytes, site, value);
        return { bytes, op: `length32@${site.lengthOffset}(${hex(site.tag)})=${hex(value)}` };
      }
      const value = rng.chance(0.6)
        ? rng.pick(HOSTILE_SHORT_LENGTHS)
        : rng.pick([site.length + 1, Math.max(0, site.length - 1), site.length + 2, rng.int(0x10000)]) &
          0xffff;
      writeLength(bytes, site, value);
      return { bytes, op: `length16@${site.lengthOffset}(${hex(site.tag)})=${hex(value)}` };
    }
    case 5: {
      const vrSite = sites.filter((s) => s.vrOffset !== undefined);
      if (vrSite.length === 0) break;
      const s = rng.pick(vrSite);
      const vr = rng.chance(0.75) ? rng.pick(VR_CODES) : rng.pick(BAD_VR_CODES);
      if (s.vrOffset! + 2 > n) break;
      bytes.write(vr, s.vrOffset!, 'latin1');
      return { bytes, op: `vr@${s.vrOffset}(${hex(s.tag)})=${JSON.stringify(vr)}` };
    }
    case 6: {
      if (!site || site.tagOffset + 4 > n) break;
      const tag = rng.chance(0.8) ? rng.pick(HOSTILE_TAGS) : rng.u32();
      const hi = tag >>> 16;
      const lo = tag & 0xffff;
      if (site.littleEndian) {
        bytes.writeUInt16LE(hi, site.tagOffset);
        bytes.writeUInt16LE(lo, site.tagOffset + 2);
      } else {
        bytes.writeUInt16BE(hi, site.tagOffset);
        bytes.writeUInt16BE(lo, site.tagOffset + 2);
      }
      return { bytes, op: `tag@${site.tagOffset}(${hex(site.tag)})=${hex(tag)}` };
    }
    case 7: {
      const start = site && rng.chance(0.6) ? site.tagOffset : anywhere();
      const length = Math.min(n - start, rng.chance(0.5) ? rng.range(8, 32) : rng.range(1, 512));
      const chunk = input.subarray(start, start + length);
      const at = rng.chance(0.5) ? start + length : anywhere();
      return {
        bytes: Buffer.concat([input.subarray(0, at), chunk, input.subarray(at)]),
        op: `duplicate@${start}+${length}->${at}`,
      };
    }
    case 8: {
      const start = site && rng.chance(0.6) ? site.tagOffset : anywhere();
      const length = Math.min(n - start, rng.chance(0.5) ? rng.range(1, 12) : rng.range(1, 512));
      return {
        bytes: Buffer.concat([input.subarray(0, start), input.subarray(start + length)]),
        op: `remove@${start}+${length}`,
      };
    }
    case 9: {
      const at = site && rng.chance(0.5) ? site.tagOffset : anywhere();
      const length = rng.range(1, 24);
      return {
        bytes: Buffer.concat([input.subarray(0, at), rng.bytes(length), input.subarray(at)]),
        op: `insert@${at}+${length}`,
      };
    }
    case 10: {
      // A short-length VR turned into a long-length one (or back): the header is now misread by 4 bytes.
      const vrSite = sites.filter((s) => s.vrOffset !== undefined && s.vrOffset + 2 <= n);
      if (vrSite.length === 0) break;
      const s = rng.pick(vrSite);
      const vr = s.lengthSize === 2 ? rng.pick(['OB', 'UT', 'SQ', 'UN']) : rng.pick(['US', 'CS', 'UI', 'LO']);
      bytes.write(vr, s.vrOffset!, 'latin1');
      return { bytes, op: `vr-width@${s.vrOffset}(${hex(s.tag)})=${vr}` };
    }
    case 11: {
      // Keeps the structure: only a value changes, so the file parses and what reads values is hit.
      const valued = sites.filter(
        (s) => s.tag >>> 16 !== 0xfffe && s.length > 0 && s.length <= 512 && s.valueOffset + s.length <= n,
      );
      if (valued.length === 0) break;
      const s = rng.pick(valued);
      const value = hostileValue(rng, s.length);
      value.copy(bytes, s.valueOffset);
      return {
        bytes,
        op: `value@${s.valueOffset}(${hex(s.tag)})=${JSON.stringify(value.toString('latin1').slice(0, 24))}`,
      };
    }
  }
  // The chosen mutation needed a header and there was none: flip a byte instead.
  const at = anywhere();
  if (at < n) bytes[at]! ^= 0xff;
  return { bytes, op: `invert@${at}` };
}

/** Texts and numbers that value decoders trip over (charsets, numbers, dates, delimiters). */
const HOSTILE_VALUES = [
  '\\\\\\\\',
  '\x1b$B\x1b(J\x1b$)C\x1b-A',
  '\x1b$B',
  '\x1b',
  '99999999999999999999',
  '-1e309',
  'NaN',
  '1e400\\-0',
  '00000000',
  '99991399',
  '20240230-19000101',
  '^^^^====',
  '%_*?[]\'";--',
  '\xff\xfe\xfd\xc3\x28',
  '\0\0\0\0',
  ' ',
  'ISO_IR 192',
  'ISO 2022 IR 87\\ISO 2022 IR 159',
  'GB18030',
  'ISO_IR 13',
  '1.2.840.10008.1.2.4.50',
];

function hostileValue(rng: Prng, length: number): Buffer {
  const kind = rng.weighted([3, 2, 1]);
  if (kind === 0) {
    const text = Buffer.from(rng.pick(HOSTILE_VALUES), 'latin1');
    const out = Buffer.alloc(length, 0x20);
    for (let i = 0; i < length; i++) out[i] = text[i % text.length]!;
    return out;
  }
  if (kind === 1) return Buffer.alloc(length, rng.pick([0x00, 0xff, 0x7f, 0x80]));
  return rng.bytes(length);
}

function writeLength(bytes: Buffer, site: HeaderSite, value: number): void {
  if (site.lengthOffset + site.lengthSize > bytes.length) return;
  if (site.lengthSize === 4) {
    if (site.littleEndian) bytes.writeUInt32LE(value >>> 0, site.lengthOffset);
    else bytes.writeUInt32BE(value >>> 0, site.lengthOffset);
  } else if (site.littleEndian) bytes.writeUInt16LE(value & 0xffff, site.lengthOffset);
  else bytes.writeUInt16BE(value & 0xffff, site.lengthOffset);
}
