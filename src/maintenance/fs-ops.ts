/**
 * What the offline maintenance commands need from the filesystem store beyond the FileStore interface:
 * moving a file into quarantine (durably, replacing nothing), modification times, and a look at the
 * temp directory without emptying it.
 */
import { appendFile, mkdir, readdir, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fsyncPath, type FsFileStore } from '../storage/fs-file-store.js';

export const QUARANTINE_DIR = 'quarantine';

/** Last modification time of a stored object (ms since the epoch), undefined if it does not exist. */
export async function modifiedTime(store: FsFileStore, key: string): Promise<number | undefined> {
  try {
    return (await stat(store.pathOf(key))).mtimeMs;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Entries in the temp directory (partial uploads left by a crash when no gateway runs). */
export async function countTemporary(store: FsFileStore): Promise<number> {
  try {
    return (await readdir(join(store.root, 'tmp'))).length;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

/**
 * Files taken out of files/ because they are damaged, unreadable or conflict with what is indexed. They
 * are never deleted: each run moves them under quarantine/<run>/ keeping their path, and notes the
 * reason in quarantine/<run>/reasons.tsv, so an operator can inspect them and move one back.
 */
export class Quarantine {
  readonly dir: string;
  private readonly moved: { fileKey: string; to: string; reason: string }[] = [];

  constructor(
    private readonly store: FsFileStore,
    runId: string,
  ) {
    this.dir = `${QUARANTINE_DIR}/${runId}`;
  }

  get entries(): readonly { fileKey: string; to: string; reason: string }[] {
    return this.moved;
  }

  /**
   * Moves the object out of the way and returns its new key. Both directories are synced before this
   * returns, so a caller may then drop the file's index row: a crash cannot bring a damaged file back
   * into files/ without its row.
   */
  async put(fileKey: string, reason: string): Promise<string> {
    const to = `${this.dir}/${fileKey}`;
    const from = this.store.pathOf(fileKey);
    const target = this.store.pathOf(to);
    await mkdir(dirname(target), { recursive: true });
    try {
      await stat(target);
      throw Object.assign(new Error(`${to} exists`), { code: 'EEXIST' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    await rename(from, target);
    await fsyncPath(dirname(target));
    await fsyncPath(dirname(from));
    await appendFile(
      join(this.store.root, this.dir, 'reasons.tsv'),
      `${fileKey}\t${reason.replace(/[\t\r\n]+/g, ' ')}\n`,
    );
    this.moved.push({ fileKey, to, reason });
    return to;
  }
}

/** A run identifier usable in file names, e.g. 20240115T101500123Z. */
export function runId(now = new Date()): string {
  return now.toISOString().replace(/[-:.]/g, '');
}
