/**
 * Small seed files for the DICOM mutation fuzzer: several transfer syntaxes (explicit/implicit little
 * endian, big endian, deflated, JPEG baseline and lossless, RLE, JPEG-LS), sequences of defined and
 * undefined length, multi-frame, palette LUTs and odd character sets. Each has a SOP Instance UID of a
 * fixed length, so every fuzz case can get its own (replaceUid) without changing any length field.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateRawSync, constants as zlibConstants } from 'node:zlib';
import { buildInstance, SopClassUid, type InstanceSpec } from './dicom-generator.js';
import { convertTransferSyntax, isCi, missingTools, toolsFor, type TransferSyntaxTarget } from './dcmtk.js';
import { writeInstance } from './fixtures.js';
import { Prng, scanPart10, TS_DEFLATED, type HeaderSite } from './mutation-fuzzer.js';

export interface SeedFile {
  name: string;
  bytes: Buffer;
  transferSyntaxUid: string;
  sopClassUid: string;
  /** The placeholder SOP Instance UID in `bytes` (UID_LENGTH characters). */
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  datasetOffset: number;
  /** Element and item headers, for structure-aware mutations (none inside a deflated dataset). */
  sites: HeaderSite[];
}

/** "2.25." and 39 digits. */
export const UID_LENGTH = 44;

export function caseUid(rng: Prng): string {
  return `2.25.${rng.digits(UID_LENGTH - 5)}`;
}

const placeholderUid = (index: number) => `2.25.${'9'.repeat(30)}${String(index).padStart(9, '0')}`;

/** Nested sequences, defined and undefined length, for the parsers' frame stacks. */
const nestedSequences: InstanceSpec['extra'] = [
  {
    tag: 0x00081140, // Referenced Image Sequence
    vr: 'SQ',
    undefinedLength: true,
    value: [
      [
        { tag: 0x00081150, vr: 'UI', value: SopClassUid.CTImage },
        { tag: 0x00081155, vr: 'UI', value: '1.2.3.4.5.6.7.8' },
        {
          tag: 0x0040a170, // Purpose of Reference Code Sequence
          vr: 'SQ',
          value: [
            [
              { tag: 0x00080100, vr: 'SH', value: '121311' },
              { tag: 0x00080102, vr: 'SH', value: 'DCM' },
              { tag: 0x00080104, vr: 'LO', value: 'Localizer' },
            ],
          ],
        },
      ],
      [{ tag: 0x00081155, vr: 'UI', value: '1.2.3.4.5.6.7.9' }],
    ],
  },
  { tag: 0x00091010, vr: 'LO', value: 'PRIVATE CREATOR' },
  { tag: 0x00104000, vr: 'LT', value: 'Free text comment\r\nwith a line break' },
];

interface SeedSpec {
  name: string;
  spec: InstanceSpec;
  target?: TransferSyntaxTarget;
}

const SEEDS: SeedSpec[] = [
  { name: 'explicit-le-ct16', spec: { image: { rows: 8, columns: 8 } } },
  {
    name: 'explicit-le-sequences-voilut',
    spec: { image: { rows: 8, columns: 8, voiLutSequence: true, bitsStored: 10 }, extra: nestedSequences },
  },
  { name: 'explicit-le-sr', spec: { image: false } },
  {
    name: 'explicit-le-palette',
    spec: { image: { rows: 8, columns: 8, photometric: 'PALETTE COLOR', bitsStored: 4 } },
  },
  { name: 'explicit-le-multiframe', spec: { image: { rows: 8, columns: 8, frames: 4, bitsAllocated: 8 } } },
  {
    name: 'iso2022-ir87',
    spec: { specificCharacterSet: '\\ISO 2022 IR 87', patientName: 'Yamada^Tarou=山田^太郎', image: false },
  },
  {
    name: 'gb18030',
    spec: { specificCharacterSet: 'GB18030', patientName: 'Wang^XiaoDong=王^小東', image: false },
  },
  {
    name: 'latin1',
    spec: { specificCharacterSet: 'ISO_IR 100', patientName: 'Müller^Jürgen', image: false },
  },
  {
    name: 'implicit-le',
    spec: { image: { rows: 8, columns: 8 }, extra: nestedSequences },
    target: 'implicit-le',
  },
  {
    name: 'explicit-be',
    spec: { image: { rows: 8, columns: 8 }, extra: nestedSequences },
    target: 'explicit-be',
  },
  { name: 'deflated', spec: { image: { rows: 8, columns: 8 }, extra: nestedSequences }, target: 'deflated' },
  {
    name: 'jpeg-baseline',
    spec: { image: { rows: 16, columns: 16, bitsAllocated: 8 } },
    target: 'jpeg-baseline',
  },
  {
    name: 'jpeg-lossless-multiframe',
    spec: { image: { rows: 8, columns: 8, frames: 3, bitsAllocated: 8 } },
    target: 'jpeg-lossless-sv1',
  },
  { name: 'rle-rgb', spec: { image: { rows: 8, columns: 8, photometric: 'RGB' } }, target: 'rle' },
  { name: 'jpeg-ls', spec: { image: { rows: 8, columns: 8 } }, target: 'jpeg-ls-lossless' },
];

/**
 * Writes the seed files into `dir` (one study; a series per file) and reads them back. Seeds whose dcmtk
 * tool is missing are left out (and named in `skipped`), except on CI, where that throws.
 */
export async function makeSeedFiles(
  dir: string,
  rng: Prng,
): Promise<{ seeds: SeedFile[]; skipped: string[] }> {
  const studyInstanceUid = caseUid(rng);
  const seeds: SeedFile[] = [];
  const skipped: string[] = [];
  for (const [index, seed] of SEEDS.entries()) {
    const sopInstanceUid = placeholderUid(index);
    const spec: InstanceSpec = {
      ...seed.spec,
      studyInstanceUID: studyInstanceUid,
      seriesInstanceUID: caseUid(rng),
      sopInstanceUID: sopInstanceUid,
      instanceNumber: index + 1,
      seriesNumber: index + 1,
    };
    let bytes: Buffer;
    if (!seed.target) {
      bytes = buildInstance(spec).bytes;
    } else {
      const missing = missingTools(...toolsFor(seed.target));
      if (missing.length > 0) {
        if (isCi()) throw new Error(`${seed.name}: missing tool(s) ${missing.join(', ')}`);
        skipped.push(`${seed.name} (missing ${missing.join(', ')})`);
        continue;
      }
      const source = await writeInstance(dir, spec, `${seed.name}-source.dcm`);
      const path = join(dir, `${seed.name}.dcm`);
      await convertTransferSyntax(source.path, path, seed.target);
      bytes = await readFile(path);
    }
    const layout = scanPart10(bytes);
    const meta = (tag: number) => {
      const site = layout.sites.find((s) => s.tag === tag);
      return site
        ? bytes.toString('latin1', site.valueOffset, site.valueOffset + site.length).replace(/[\0 ]+$/, '')
        : '';
    };
    if (meta(0x00020003) !== sopInstanceUid)
      throw new Error(`${seed.name}: the SOP Instance UID was not kept`);
    seeds.push({
      name: seed.name,
      bytes,
      transferSyntaxUid: layout.transferSyntaxUid,
      sopClassUid: meta(0x00020002),
      sopInstanceUid,
      studyInstanceUid,
      seriesInstanceUid: spec.seriesInstanceUID!,
      datasetOffset: layout.datasetOffset,
      sites: layout.sites,
    });
  }
  return { seeds, skipped };
}

export const isDeflated = (seed: SeedFile) => seed.transferSyntaxUid === TS_DEFLATED;

/**
 * A deflate bomb: a Deflated Explicit VR Little Endian instance (Basic Text SR) whose dataset ends in a
 * Pixel Data OB of `zeros` bytes (at most 0xFFFFFFFE), all zeros. Built from one deflated MiB of zeros
 * repeated (each piece full-flushed, so it stands alone), it is about a thousandth of its inflated size.
 */
export function deflateBomb(zeros: number): { bytes: Buffer; sopInstanceUid: string } {
  const instance = buildInstance({
    image: false,
    extra: [{ tag: 0x00020010, vr: 'UI', value: TS_DEFLATED }],
  });
  const layout = scanPart10(instance.bytes);
  const header = Buffer.alloc(12);
  header.writeUInt16LE(0x7fe0, 0);
  header.writeUInt16LE(0x0010, 2);
  header.write('OB', 4, 'latin1');
  header.writeUInt32LE(zeros, 8);
  const flush = { finishFlush: zlibConstants.Z_FULL_FLUSH };
  const parts = [
    instance.bytes.subarray(0, layout.datasetOffset),
    deflateRawSync(Buffer.concat([instance.bytes.subarray(layout.datasetOffset), header]), flush),
  ];
  const MiB = 1024 * 1024;
  const zeroMiB = deflateRawSync(Buffer.alloc(MiB), flush);
  for (let left = zeros; left > 0; left -= MiB) {
    parts.push(left >= MiB ? zeroMiB : deflateRawSync(Buffer.alloc(left), flush));
  }
  parts.push(deflateRawSync(Buffer.alloc(0))); // the final block
  return { bytes: Buffer.concat(parts), sopInstanceUid: instance.sopInstanceUID };
}
