/**
 * Helpers around the dcmtk and gdcm command line tools (apt packages dcmtk, libgdcm-tools), used as outside
 * readers/converters in tests. Commands are run with execFile (argument arrays, no shell).
 */
import { execFile as execFileCallback } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import type { TestContext } from 'node:test';
import { resolveImage, TransferSyntaxUid, type ImageSpec } from './dicom-generator.js';

export const execFile = promisify(execFileCallback);

/** True when process.env.CI is set (and not 'false' or '0'): missing tools then fail instead of skipping. */
export function isCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}

const toolCache = new Map<string, boolean>();

/** Whether an executable of this name is on PATH. */
export function hasTool(name: string): boolean {
  let found = toolCache.get(name);
  if (found === undefined) {
    found = (process.env.PATH ?? '').split(delimiter).some((dir) => {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
    toolCache.set(name, found);
  }
  return found;
}

export function missingTools(...names: string[]): string[] {
  return [...new Set(names)].filter((name) => !hasTool(name));
}

/**
 * Returns true when all tools are installed. Otherwise skips the test (`t.skip(reason)`, the caller should
 * return) on a developer machine, and throws when CI is set so missing tools never pass silently:
 *   if (!requireTools(t, 'dcmdump')) return;
 */
export function requireTools(t: TestContext, ...names: string[]): boolean {
  const missing = missingTools(...names);
  if (missing.length === 0) return true;
  const reason = `missing tool(s): ${missing.join(', ')} (apt-get install dcmtk libgdcm-tools)`;
  if (isCi()) throw new Error(`${reason}; CI is set, so this fails instead of skipping`);
  t.skip(reason);
  return false;
}

/** Runs dcmdump with the given options; rejects when it exits non-zero. */
export async function dcmdump(
  path: string,
  ...options: string[]
): Promise<{ stdout: string; stderr: string }> {
  return execFile('dcmdump', [...options, path], { maxBuffer: 64 * 1024 * 1024 });
}

export type TransferSyntaxTarget =
  | 'implicit-le'
  | 'explicit-le'
  | 'explicit-be'
  | 'deflated'
  | 'jpeg-baseline'
  | 'jpeg-extended'
  | 'jpeg-lossless-sv1'
  | 'jpeg-lossless'
  | 'jpeg-ls-lossless'
  | 'jpeg-ls-near-lossless'
  | 'rle'
  | 'jpeg2000-lossless'
  | 'jpeg2000';

interface TargetInfo {
  transferSyntaxUID: string;
  lossy: boolean;
  /** Tool and options; input and output paths are appended. */
  command: [string, ...string[]];
}

const KEEP_UID = '+un'; // dcmtk lossy encoders: keep the SOP Instance UID (test data must keep known UIDs)
const TS = TransferSyntaxUid;
const info = (transferSyntaxUID: string, lossy: boolean, ...command: [string, ...string[]]): TargetInfo => ({
  transferSyntaxUID,
  lossy,
  command,
});

export const TARGETS: Record<TransferSyntaxTarget, TargetInfo> = {
  'implicit-le': info(TS.ImplicitVRLittleEndian, false, 'dcmconv', '+ti'),
  'explicit-le': info(TS.ExplicitVRLittleEndian, false, 'dcmconv', '+te'),
  'explicit-be': info(TS.ExplicitVRBigEndian, false, 'dcmconv', '+tb'),
  deflated: info(TS.DeflatedExplicitVRLittleEndian, false, 'dcmconv', '+td'),
  'jpeg-baseline': info(TS.JPEGBaseline, true, 'dcmcjpeg', '+eb', KEEP_UID),
  'jpeg-extended': info(TS.JPEGExtended, true, 'dcmcjpeg', '+ee', KEEP_UID),
  'jpeg-lossless-sv1': info(TS.JPEGLosslessSV1, false, 'dcmcjpeg', '+e1'),
  'jpeg-lossless': info(TS.JPEGLossless, false, 'dcmcjpeg', '+el'),
  'jpeg-ls-lossless': info(TS.JPEGLSLossless, false, 'dcmcjpls', '+el'),
  'jpeg-ls-near-lossless': info(TS.JPEGLSNearLossless, true, 'dcmcjpls', '+en', KEEP_UID),
  rle: info(TS.RLELossless, false, 'dcmcrle'),
  'jpeg2000-lossless': info(TS.JPEG2000Lossless, false, 'gdcmconv', '--j2k'),
  jpeg2000: info(TS.JPEG2000, true, 'gdcmconv', '--j2k', '--lossy', '-q', '40'), // -q: PSNR quality
};

export const ALL_TARGETS = Object.keys(TARGETS) as TransferSyntaxTarget[];

/** The command line tools a target needs (dcmodify restores the SOP Instance UID after gdcm lossy). */
export function toolsFor(target: TransferSyntaxTarget): string[] {
  const tool = TARGETS[target].command[0];
  return tool === 'gdcmconv' && TARGETS[target].lossy ? [tool, 'dcmodify'] : [tool];
}

/**
 * Why a target cannot encode images like this without changing what they mean (undefined = it can), as
 * found with dcmtk 3.6.7 / gdcm 3.0.21: lossy dcmcjpeg renders >8 (baseline) or >12 (extended) bit and
 * signed images to fewer unsigned bits, and palette images to YBR; dcmcjpls near-lossless refuses signed and
 * palette images; gdcm refuses lossy palette; YBR_FULL_422 input is only accepted by lossy JPEG (the
 * lossless encoders refuse it, gdcm rewrites it as YBR_FULL).
 */
export function unsupportedReason(
  target: TransferSyntaxTarget,
  image: ImageSpec | false,
): string | undefined {
  if (['implicit-le', 'explicit-le', 'explicit-be', 'deflated'].includes(target)) return undefined;
  if (image === false) return 'no pixel data';
  const { bitsStored, photometric, pixelRepresentation } = resolveImage(image);
  const signed = pixelRepresentation === 1;
  const lossyJpeg = target === 'jpeg-baseline' || target === 'jpeg-extended';
  if (photometric === 'YBR_FULL_422' && !lossyJpeg) return 'YBR_FULL_422 input is only encoded by lossy JPEG';
  if (TARGETS[target].lossy && photometric === 'PALETTE COLOR') return 'lossy coding of palette indices';
  if (lossyJpeg && signed) return 'dcmcjpeg lossy would rewrite signed pixels as unsigned';
  if (target === 'jpeg-baseline' && bitsStored > 8) return 'baseline JPEG is 8-bit only';
  if (target === 'jpeg-extended' && bitsStored > 12) return 'extended JPEG is at most 12-bit';
  if (target === 'jpeg-ls-near-lossless' && signed) return 'dcmcjpls near-lossless refuses signed pixels';
  return undefined;
}

/**
 * The file meta information (group 0002) of a Part-10 file as tag ('00020010') -> value, text values
 * without padding, read by walking the explicit VR little endian group. Throws without a "DICM" prefix.
 */
export async function readFileMeta(path: string): Promise<Record<string, string>> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
    const b = buffer.subarray(0, bytesRead);
    if (b.toString('latin1', 128, 132) !== 'DICM') throw new Error(`${path}: no DICM prefix`);
    const meta: Record<string, string> = {};
    for (let o = 132; o + 8 <= b.length && b.readUInt16LE(o) === 0x0002;) {
      const tag = b.toString('hex', o, o + 4).replace(/^(..)(..)(..)(..)$/, '$2$1$4$3');
      const vr = b.toString('latin1', o + 4, o + 6);
      const long = ['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV'].includes(
        vr,
      );
      const length = long ? b.readUInt32LE(o + 8) : b.readUInt16LE(o + 6);
      const start = o + (long ? 12 : 8);
      meta[tag] = b.toString('latin1', start, start + length).replace(/[\0 ]+$/, '');
      o = start + length;
    }
    return meta;
  } finally {
    await file.close();
  }
}

export async function readTransferSyntaxUID(path: string): Promise<string> {
  const uid = (await readFileMeta(path))['00020010'];
  if (!uid) throw new Error(`${path}: no (0002,0010) Transfer Syntax UID`);
  return uid;
}

export interface ConversionResult {
  transferSyntaxUID: string;
  sopInstanceUID: string;
}

async function run(tool: string, args: string[]): Promise<void> {
  try {
    await execFile(tool, args, { maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`${tool} ${args.join(' ')} failed: ${String(error)}\n${stderr}`, { cause: error });
  }
}

/**
 * Converts a Part-10 file to another transfer syntax with dcmtk/gdcm and checks that the output has the
 * expected Transfer Syntax UID. The SOP Instance UID is kept even for lossy targets (dcmtk: +un; gdcm
 * assigns a new one, which is put back with dcmodify), so fixtures keep known UIDs.
 */
export async function convertTransferSyntax(
  inputPath: string,
  outputPath: string,
  target: TransferSyntaxTarget,
): Promise<ConversionResult> {
  const { command, transferSyntaxUID: expected } = TARGETS[target];
  const [tool, ...options] = command;
  await run(tool, [...options, inputPath, outputPath]);
  const sopInstanceUID = (await readFileMeta(inputPath))['00020003'] ?? '';
  let meta = await readFileMeta(outputPath);
  if (meta['00020010'] !== expected) {
    throw new Error(`${target}: ${tool} wrote transfer syntax ${meta['00020010']}, expected ${expected}`);
  }
  if (sopInstanceUID && meta['00020003'] !== sopInstanceUID) {
    await run('dcmodify', ['-nb', '-m', `(0008,0018)=${sopInstanceUID}`, outputPath]);
    meta = await readFileMeta(outputPath);
  }
  return { transferSyntaxUID: meta['00020010'] ?? '', sopInstanceUID: meta['00020003'] ?? '' };
}
