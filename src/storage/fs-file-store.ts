/**
 * FileStore on a local filesystem. Objects are written to a temporary file, fsynced, then linked into
 * place and the directory fsynced, so a committed object survives a crash and a partial one never
 * appears under its key (the temp directory is emptied at start-up). Everything off the durability path
 * (opening the next temp file, closing, removing the temp name) happens in the background: a C-STORE
 * waits for its own fsyncs and little else.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  linkSync,
  openSync,
  readSync,
  renameSync,
  writevSync,
  constants as fsConstants,
} from 'node:fs';
import { copyFile, mkdir, open, readdir, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { DirectorySync } from './directory-sync.js';
import { dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import type { FileStore, ObjectWriter, Room, StoredObject } from './file-store.js';

const TEMP_DIR = 'tmp';
/** Temp files renamed to `<key, URI-encoded>.placing` once placed, until their commit is confirmed. */
const MARKER_SUFFIX = '.placing';
const WRITE_BATCH_BYTES = 1024 * 1024;
/**
 * Batches up to this size are written synchronously: into the page cache that takes microseconds, while
 * a hop through libuv's thread pool costs a few hundred on a busy machine. Larger ones go to the pool.
 */
const SYNC_WRITE_MAX_BYTES = 256 * 1024;
/**
 * Reads up to this size (a frame, a small instance) are done synchronously: from the page cache, where
 * recently stored and often read instances are, open+read+close takes tens of microseconds, against a few
 * hundred through the thread pool with a promise per step. A read the cache misses blocks the event loop
 * for one disk read; larger reads go to the pool so that never lasts long.
 */
const SYNC_READ_MAX_BYTES = 1024 * 1024;
/** Temp files opened ahead of need, so a new upload does not wait for open(). */
const SPARE_TEMP_FILES = 4;

interface TempFile {
  handle: FileHandle;
  path: string;
}

export interface FsFileStoreOptions {
  /** fsync files and directories before a commit returns (on by default; off only for throwaway stores). */
  fsync?: boolean;
}

export class FsFileStore implements FileStore {
  private readonly syncedDirs = new Set<string>();
  private readonly fsync: boolean;
  private readonly directories = new DirectorySync();
  private spares: Promise<TempFile>[] = [];
  /** Paths of the spare temp files, which the temp clean-up must leave alone. */
  private readonly sparePaths = new Set<string>();

  get spareTempFiles(): ReadonlySet<string> {
    return this.sparePaths;
  }
  private closed = false;

  constructor(
    readonly root: string,
    options: FsFileStoreOptions = {},
  ) {
    this.fsync = options.fsync ?? true;
  }

  async init(): Promise<void> {
    await mkdir(join(this.root, TEMP_DIR), { recursive: true });
  }

  /** Maps a key to a path, refusing anything that could leave the root. */
  pathOf(key: string): string {
    if (
      key.length === 0 ||
      key.startsWith('/') ||
      key.includes('\\') ||
      key.includes('\0') ||
      key.split('/').some((part) => part === '' || part === '.' || part === '..') ||
      key === TEMP_DIR ||
      key.startsWith(`${TEMP_DIR}/`)
    ) {
      throw new Error(`invalid object key: ${JSON.stringify(key)}`);
    }
    return join(this.root, key);
  }

  async createWriter(): Promise<ObjectWriter> {
    if (this.closed) throw new Error('file store is closed');
    while (this.spares.length < SPARE_TEMP_FILES + 1) this.spares.push(this.openTempFile());
    let spare: TempFile;
    try {
      spare = await this.spares.shift()!;
    } catch {
      // Spares opened while the directory was failing (ENOSPC, EMFILE) would fail the next writers too,
      // after it recovered: drop them all and open one now, which reports the current state.
      for (const dropped of this.spares.splice(0)) void this.discard(dropped);
      spare = await this.openTempFile();
    }
    this.sparePaths.delete(spare.path);
    return new FsObjectWriter(this, spare.handle, spare.path);
  }

  private async discard(spare: Promise<TempFile>): Promise<void> {
    try {
      const { handle, path } = await spare;
      this.sparePaths.delete(path);
      await handle.close();
      await rm(path, { force: true });
    } catch {
      // it never opened
    }
  }

  private openTempFile(): Promise<TempFile> {
    const path = join(this.root, TEMP_DIR, `${Date.now()}-${randomBytes(8).toString('hex')}.part`);
    this.sparePaths.add(path);
    const opened = open(path, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o640).then(
      (handle) => ({ handle, path }),
    );
    // A spare that fails to open is reported to whoever takes it; until then it must not go unhandled.
    opened.catch(() => undefined);
    return opened;
  }

  /** Closes spare temp files and cached directory handles. */
  async close(): Promise<void> {
    this.closed = true;
    const spares = this.spares;
    this.spares = [];
    await Promise.all(
      spares.map((spare) =>
        spare.then(
          async ({ handle, path }) => {
            await handle.close();
            await rm(path, { force: true });
          },
          () => undefined,
        ),
      ),
    );
    await this.directories.close();
  }

  async exists(key: string): Promise<boolean> {
    return (await this.size(key)) !== undefined;
  }

  async size(key: string): Promise<number | undefined> {
    try {
      return (await stat(this.pathOf(key))).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async read(key: string, offset: number, length: number, room?: Room): Promise<Buffer> {
    const path = this.pathOf(key);
    const before = room?.before ?? 0;
    const buffer = Buffer.allocUnsafe(before + length + (room?.after ?? 0));
    if (length <= SYNC_READ_MAX_BYTES) {
      const fd = openSync(path, 'r');
      try {
        for (let filled = 0; filled < length;) {
          const bytesRead = readSync(fd, buffer, before + filled, length - filled, offset + filled);
          if (bytesRead === 0) throw shorterThan(key, offset + length);
          filled += bytesRead;
        }
      } finally {
        closeSync(fd);
      }
      return buffer;
    }
    const handle = await open(path, 'r');
    try {
      for (let filled = 0; filled < length;) {
        const { bytesRead } = await handle.read(buffer, before + filled, length - filled, offset + filled);
        if (bytesRead === 0) throw shorterThan(key, offset + length);
        filled += bytesRead;
      }
      return buffer;
    } finally {
      await handle.close();
    }
  }

  createReadStream(key: string, range?: { start: number; end: number }): Readable {
    const path = this.pathOf(key);
    if (!range) return createReadStream(path, { highWaterMark: 256 * 1024 });
    // fs.createReadStream throws ERR_OUT_OF_RANGE for start > end, so an empty range gets an empty stream.
    if (range.end <= range.start) return Readable.from([]);
    return createReadStream(path, { start: range.start, end: range.end - 1, highWaterMark: 256 * 1024 });
  }

  async remove(key: string): Promise<void> {
    try {
      await unlink(this.pathOf(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    const dir = prefix.replace(/\/+$/, '');
    yield* this.walk(dir ? this.pathOf(dir) : this.root);
  }

  private async *walk(dir: string): AsyncIterable<string> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (dir === this.root && entry.name === TEMP_DIR) continue;
        yield* this.walk(path);
      } else if (entry.isFile()) {
        yield relative(this.root, path).split(sep).join('/');
      }
    }
  }

  async cleanTemporary(): Promise<number> {
    const dir = join(this.root, TEMP_DIR);
    await mkdir(dir, { recursive: true });
    const names = (await readdir(dir)).filter((name) => !this.sparePaths.has(join(dir, name)));
    await Promise.all(names.map((name) => rm(join(dir, name), { force: true, recursive: true })));
    return names.length;
  }

  async checkWritable(): Promise<void> {
    const writer = await this.createWriter();
    await writer.abort();
  }

  /**
   * Moves a finished temp file into place without replacing anything, and makes that durable. The temp
   * file is first renamed to a marker naming the key, and stays until the caller confirms: a crash between
   * placement and the caller's record leaves the marker for recoverPlacements. Returns the marker's path.
   */
  async place(tempPath: string, key: string): Promise<string> {
    const path = this.pathOf(key);
    const dir = dirname(path);
    await this.ensureDir(dir);
    const marker = this.markerOf(key);
    // Directory entries are page-cache work: done inline, like the small writes.
    if (marker !== tempPath) renameSync(tempPath, marker);
    // link() fails with EEXIST rather than silently replacing an existing object, unlike rename().
    try {
      linkSync(marker, path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw Object.assign(error as Error, { marker });
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
      // Filesystems without hard links: check, then copy (callers hold a per-instance lock), keeping
      // the marker until the caller confirms.
      if (await this.exists(key)) throw Object.assign(new Error(`${key} exists`), { code: 'EEXIST', marker });
      await copyFile(marker, path, fsConstants.COPYFILE_EXCL);
      if (this.fsync) await fsyncPath(path);
    }
    if (this.fsync) await this.directories.sync(dir);
    return marker;
  }

  private markerOf(key: string): string {
    const name = `${encodeURIComponent(key)}${MARKER_SUFFIX}`;
    if (name.length > 255) throw new Error(`object key too long: ${key.slice(0, 80)}...`);
    return join(this.root, TEMP_DIR, name);
  }

  async recoverPlacements(settle: (key: string) => Promise<boolean>): Promise<string[]> {
    const dir = join(this.root, TEMP_DIR);
    const settled: string[] = [];
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (!name.endsWith(MARKER_SUFFIX)) continue;
      const key = decodeURIComponent(name.slice(0, -MARKER_SUFFIX.length));
      // No object under the key: its directory entry never became durable, so nothing was acknowledged.
      if (await this.exists(key)) {
        if (!(await settle(key))) continue;
        settled.push(key);
      }
      await rm(join(dir, name), { force: true });
    }
    return settled;
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.syncedDirs.has(dir)) return;
    const created = await mkdir(dir, { recursive: true });
    if (created && this.fsync) {
      // Every newly created directory's entry lives in its parent: fsync from the top one down.
      const newDirs: string[] = [];
      for (let d = dir; d.length >= created.length; d = dirname(d)) newDirs.unshift(d);
      for (const d of newDirs) await this.directories.sync(dirname(d));
    }
    this.syncedDirs.add(dir);
  }

  get fsyncEnabled(): boolean {
    return this.fsync;
  }
}

class FsObjectWriter implements ObjectWriter {
  private readonly hash = createHash('sha256');
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes accepted by write(), whether or not they have reached the file yet. */
  private accepted = 0;
  private closed = false;
  private closing: Promise<void> | undefined;
  private committed: string | undefined;

  constructor(
    private readonly store: FsFileStore,
    private readonly handle: FileHandle,
    private tempPath: string,
  ) {}

  get size(): number {
    return this.accepted;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.closed) throw new Error('writer is closed');
    this.hash.update(chunk);
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.accepted += chunk.length;
    if (this.pendingBytes >= WRITE_BATCH_BYTES) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const buffers = this.pending;
    const total = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    let done = 0;
    while (done < total) {
      const slices = remainingSlices(buffers, done);
      done +=
        total - done <= SYNC_WRITE_MAX_BYTES
          ? writevSync(this.handle.fd, slices)
          : (await this.handle.writev(slices)).bytesWritten;
    }
  }

  digest(): string {
    return this.hash.copy().digest('hex');
  }

  async commit(key: string): Promise<StoredObject> {
    if (this.committed) throw new Error(`already committed as ${this.committed}`);
    // A commit that failed because the key exists may be retried under another key: seal only once.
    if (!this.closed) {
      await this.flush();
      if (this.store.fsyncEnabled) await this.handle.sync();
      this.closed = true;
      // Closing does nothing for durability; it runs alongside the placement.
      this.closing = this.handle.close();
    }
    try {
      this.tempPath = await this.store.place(this.tempPath, key);
      this.committed = key;
    } catch (error) {
      // The temp file was renamed to the marker of a key that exists: it goes on from there.
      const marker = (error as { marker?: string }).marker;
      if (marker) this.tempPath = marker;
      throw error;
    } finally {
      await this.closing;
    }
    return { key, size: this.accepted };
  }

  confirm(): Promise<void> {
    // Only a crash-recovery hint: removing it needs no fsync, and callers need not wait for it.
    return unlink(this.tempPath).catch(() => undefined);
  }

  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.closing = this.handle.close();
    }
    await this.closing?.catch(() => undefined);
    await rm(this.tempPath, { force: true });
  }
}

/** The buffers after the first `skip` bytes, for a writev that was only partly done. */
function remainingSlices(buffers: Buffer[], skip: number): Buffer[] {
  if (skip === 0) return buffers;
  const out: Buffer[] = [];
  let left = skip;
  for (const buffer of buffers) {
    if (left >= buffer.length) {
      left -= buffer.length;
      continue;
    }
    out.push(left > 0 ? buffer.subarray(left) : buffer);
    left = 0;
  }
  return out;
}

function shorterThan(key: string, bytes: number): Error {
  return new Error(`object ${key} is shorter than ${bytes} bytes`);
}

/** fsync of a file or directory by path. */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
