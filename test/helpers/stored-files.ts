/** Looking at what the gateway wrote under its data directory, independently of its own code. */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** The stored file of a SOP instance (files/<study>/<series>/<sop>[...].dcm). */
export async function findStoredFile(dataDir: string, sopInstanceUid: string): Promise<string> {
  const found: string[] = [];
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.name.startsWith(`${sopInstanceUid}.`) && entry.name.endsWith('.dcm')) found.push(path);
    }
  }
  await walk(join(dataDir, 'files'));
  if (found.length !== 1)
    throw new Error(`expected one stored file for ${sopInstanceUid}, found ${found.length}`);
  return found[0]!;
}

/** Every stored file's path, relative to the data directory. */
export function listStoredFiles(dataDir: string): Promise<string[]> {
  return listFilesUnder(dataDir, 'files');
}

/** Every file under `dir` (e.g. "quarantine") of the data directory, as sorted paths relative to it. */
export async function listFilesUnder(dataDir: string, dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(path: string, rel: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.isDirectory()) await walk(join(path, entry.name), `${rel}${entry.name}/`);
      else out.push(`${rel}${entry.name}`);
    }
  }
  await walk(join(dataDir, dir), `${dir}/`);
  return out.sort();
}

/** A Part 10 file's dataset: what follows the File Meta Information (its group length says where). */
export function datasetBytes(part10: Buffer): Buffer {
  if (part10.toString('latin1', 128, 132) !== 'DICM') throw new Error('not a Part 10 file');
  // (0002,0000) UL is the first element: tag 4, VR 2, length 2, value 4.
  const groupLength = part10.readUInt32LE(132 + 8);
  return part10.subarray(132 + 12 + groupLength);
}
