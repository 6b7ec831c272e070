/**
 * `node --import tsx bench/fsync-floor.ts [dir]`: what the disk under `dir` (default: the temp directory)
 * allows for durable stores, with no server in the way. Each store writes a 9 KB file, fsyncs it, links it
 * into a directory and (in the second measure) fsyncs that directory, as the gateway does per instance.
 * Run one after another (a single C-STORE association) and with 8 writers at once (concurrent uploads).
 * `npm run bench` measures the serial figures at the start of runs that ingest, and leaves the files for
 * the end of the run (see keepFiles).
 */
import { link, mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';

const FILES = 2000;
const BODY = Buffer.alloc(9000, 7);

export async function storesPerSecond(
  root: string,
  writers: number,
  syncDirectory: boolean,
  /**
   * Leave the files, for the caller to remove later. On ext4 without a journal, creating a file skips
   * every inode deleted in the last 60 seconds (360 while its inode table block is unwritten), and each
   * skip reads that inode: deleting thousands of files just before a measurement makes the servers' file
   * creation cost several times its usual CPU for minutes.
   */
  options: { keepFiles?: boolean } = {},
): Promise<number> {
  const dir = await mkdtemp(join(root, 'fsync-floor-'));
  try {
    await mkdir(join(dir, 'tmp'));
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const target = join(dir, `w${w}`);
        await mkdir(target);
        const directory = await open(target, 'r');
        try {
          while (next < FILES) {
            const i = next++;
            const temp = join(dir, 'tmp', String(i));
            const file = await open(temp, 'wx');
            await file.write(BODY);
            await file.sync();
            await file.close();
            await link(temp, join(target, String(i)));
            if (syncDirectory) await directory.sync();
          }
        } finally {
          await directory.close();
        }
      }),
    );
    return FILES / ((performance.now() - started) / 1000);
  } finally {
    if (!options.keepFiles) await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.filename === process.argv[1]) {
  const root = process.argv[2] ?? os.tmpdir();
  for (const writers of [1, 8]) {
    const fileOnly = await storesPerSecond(root, writers, false);
    const withDirectory = await storesPerSecond(root, writers, true);
    process.stdout.write(
      `${writers} writer${writers > 1 ? 's' : ''}: ${fileOnly.toFixed(0)} files/s with the file fsynced, ` +
        `${withDirectory.toFixed(0)} files/s with the file and its directory fsynced\n`,
    );
  }
}
