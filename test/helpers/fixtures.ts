/**
 * Convenience wrappers that write generated DICOM files into temporary directories.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildInstance,
  DEFAULT_IMAGE,
  newUid,
  type ImageSpec,
  type InstanceSpec,
} from './dicom-generator.js';
import {
  ALL_TARGETS,
  convertTransferSyntax,
  isCi,
  missingTools,
  toolsFor,
  unsupportedReason,
  type TransferSyntaxTarget,
} from './dcmtk.js';

export interface WrittenInstance {
  path: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  sopClassUID: string;
}

/** A new empty directory under the OS temp dir. */
export function makeTempDir(prefix = 'dicom-fixtures-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

/** Writes one generated instance as `<dir>/<fileName ?? sopInstanceUID.dcm>`. */
export async function writeInstance(
  dir: string,
  spec: InstanceSpec = {},
  fileName?: string,
): Promise<WrittenInstance> {
  const { bytes, ...uids } = buildInstance(spec);
  const path = join(dir, fileName ?? `${uids.sopInstanceUID}.dcm`);
  await writeFile(path, bytes);
  return { path, ...uids };
}

export async function writeInstances(dir: string, specs: InstanceSpec[]): Promise<WrittenInstance[]> {
  const written: WrittenInstance[] = [];
  for (const spec of specs) written.push(await writeInstance(dir, spec));
  return written;
}

/**
 * Specs of one study: `series` series of `instancesPerSeries` instances with shared study/series UIDs,
 * series numbers 1..n and instance numbers 1..m; everything else from `base`.
 */
export function studySpecs(
  options: { series?: number; instancesPerSeries?: number; base?: InstanceSpec } = {},
): InstanceSpec[] {
  const { series = 1, instancesPerSeries = 1, base = {} } = options;
  const studyInstanceUID = base.studyInstanceUID ?? newUid();
  const specs: InstanceSpec[] = [];
  for (let s = 1; s <= series; s++) {
    const seriesInstanceUID = newUid();
    for (let i = 1; i <= instancesPerSeries; i++) {
      specs.push({ ...base, studyInstanceUID, seriesInstanceUID, seriesNumber: s, instanceNumber: i });
    }
  }
  return specs;
}

/** Named specs covering the photometric interpretations, bit depths, frames and character sets. */
export const FIXTURE_SPECS = {
  'mono2-8': { image: { rows: 16, columns: 16, bitsAllocated: 8 } },
  'mono2-16': { image: { rows: 16, columns: 16, windowCenter: 32768, windowWidth: 65536 } },
  'mono2-12-signed': {
    image: { rows: 16, columns: 16, bitsStored: 12, pixelRepresentation: 1, rescaleIntercept: -1024 },
  },
  'mono1-16': { image: { rows: 16, columns: 16, photometric: 'MONOCHROME1', bitsStored: 12 } },
  'rgb-planar0': { image: { rows: 16, columns: 16, photometric: 'RGB' } },
  'rgb-planar1': { image: { rows: 16, columns: 16, photometric: 'RGB', planarConfiguration: 1 } },
  'ybr-full': { image: { rows: 16, columns: 16, photometric: 'YBR_FULL' } },
  'ybr-full-422': { image: { rows: 16, columns: 16, photometric: 'YBR_FULL_422' } },
  palette: { image: { rows: 16, columns: 16, photometric: 'PALETTE COLOR' } },
  'multiframe-5': { image: { rows: 16, columns: 16, frames: 5, bitsAllocated: 8 } },
  'utf8-name': { specificCharacterSet: 'ISO_IR 192', patientName: '山田^太郎=やまだ^たろう' },
  'latin1-name': { specificCharacterSet: 'ISO_IR 100', patientName: 'Müller^Jürgen' },
  sr: { image: false },
} satisfies Record<string, InstanceSpec>;

export type FixtureKind = keyof typeof FIXTURE_SPECS;

export interface FixtureDir {
  dir: string;
  files: Partial<Record<FixtureKind, WrittenInstance>>;
  cleanup: () => Promise<void>;
}

/** Writes one file per kind (default: all of FIXTURE_SPECS) into a new temp dir, all in one study. */
export async function makeFixtureDir(
  kinds: FixtureKind[] = Object.keys(FIXTURE_SPECS) as FixtureKind[],
): Promise<FixtureDir> {
  const dir = await makeTempDir();
  const studyInstanceUID = newUid();
  const files: FixtureDir['files'] = {};
  let instanceNumber = 1;
  for (const kind of kinds) {
    const spec: InstanceSpec = { ...FIXTURE_SPECS[kind], studyInstanceUID, instanceNumber: instanceNumber++ };
    files[kind] = await writeInstance(dir, spec, `${kind}.dcm`);
  }
  return { dir, files, cleanup: () => removeDir(dir) };
}

export interface TransferSyntaxFile extends WrittenInstance {
  target: TransferSyntaxTarget;
  transferSyntaxUID: string;
}

export interface TransferSyntaxSet {
  files: TransferSyntaxFile[];
  skipped: { target: TransferSyntaxTarget; reason: string }[];
}

/**
 * One file per transfer syntax target, each a separate instance (own SOP Instance UID; same study and
 * series unless the base spec says otherwise), written as `<target>.dcm`. Targets that cannot encode the
 * base image (see unsupportedReason) are skipped, as are targets whose tool is missing, except on CI, where
 * a missing tool throws. Default base: a 16x16 8-bit MONOCHROME2 image, which every target can encode.
 */
export async function makeTransferSyntaxSet(
  dir: string,
  baseSpec: InstanceSpec = { image: { rows: 16, columns: 16, bitsAllocated: 8 } },
  targets: TransferSyntaxTarget[] = ALL_TARGETS,
): Promise<TransferSyntaxSet> {
  const image: ImageSpec | false = baseSpec.image ?? DEFAULT_IMAGE;
  const base = {
    ...baseSpec,
    studyInstanceUID: baseSpec.studyInstanceUID ?? newUid(),
    seriesInstanceUID: baseSpec.seriesInstanceUID ?? newUid(),
  };
  const set: TransferSyntaxSet = { files: [], skipped: [] };
  for (const [index, target] of targets.entries()) {
    const missing = missingTools(...toolsFor(target));
    if (missing.length > 0 && isCi()) throw new Error(`${target}: missing tool(s) ${missing.join(', ')}`);
    const reason =
      missing.length > 0 ? `missing tool(s) ${missing.join(', ')}` : unsupportedReason(target, image);
    if (reason) {
      set.skipped.push({ target, reason });
      continue;
    }
    const source = await writeInstance(dir, { ...base, sopInstanceUID: newUid(), instanceNumber: index + 1 });
    const path = join(dir, `${target}.dcm`);
    const { transferSyntaxUID } = await convertTransferSyntax(source.path, path, target);
    await rm(source.path);
    set.files.push({ ...source, path, target, transferSyntaxUID });
  }
  return set;
}
