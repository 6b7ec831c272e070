/**
 * FileStore on a local filesystem. Objects are written to a temporary file, renamed to a marker naming
 * their key, linked into place, and then the file and its new directory entry are fsynced together; a
 * commit returns only once both are durable, so a committed object survives a crash. An object small
 * enough to be still all in memory at its commit is created under its marker's name instead, and its
 * bytes are written with O_DSYNC while it is linked and its directory fsynced. The marker names a
 * digest of the content, so that recovery can tell an object a crash caught before its bytes were durable
 * (never acknowledged) from a whole one. Only the fsyncs, durable writes and large writes go through
 * libuv's thread pool; the calls that touch the page cache alone (creating, renaming, linking, closing,
 * small writes, removing the marker) are made inline, where they cost less than a hand-off to the pool
 * and back.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs, {
  closeSync,
  createReadStream,
  fsync,
  linkSync,
  openSync,
  readSync,
  renameSync,
  unlinkSync,
  writevSync,
  constants as fsConstants,
} from 'node:fs';
import { copyFile, mkdir, open, readdir, rm, stat, unlink } from 'node:fs/promises';
import { DirectorySync } from './directory-sync.js';
import { dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import {
  hashStoredObject,
  type FileStore,
  type ObjectWriter,
  type Room,
  type StoredObject,
} from './file-store.js';

const TEMP_DIR = 'tmp';
/**
 * Temp files are renamed to `<key, URI-encoded>+<digest>.placing` when placed, and stay until their commit
 * is confirmed. `+` never appears in a URI-encoded key. A marker without the digest (an earlier version's,
 * or one whose name would be too long with it) belongs to an object that was durable before it was linked.
 */
const MARKER_SUFFIX = '.placing';
const DIGEST_SEPARATOR = '+';
/** Hex characters of the content's SHA-256 in a marker's name: enough to tell torn content. */
const MARKER_DIGEST_CHARS = 16;
const MAX_NAME_LENGTH = 255;
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
/**
 * Directories whose durability is remembered (a study's and a series'): one forgotten costs an fsync of
 * its parent the next time something is placed in it.
 */
const MAX_KNOWN_DIRS = 4096;

const fsyncAsync = promisify(fsync);

/**
 * writev through the thread pool, resolving to the bytes written (which may be fewer than given). It is
 * looked up on `fs` at each call, so that a test can make it write short.
 */
function writevAsync(fd: number, buffers: Buffer[]): Promise<number> {
  return new Promise((resolve, reject) =>
    fs.writev(fd, buffers, (error, bytesWritten) => (error ? reject(error) : resolve(bytesWritten))),
  );
}

/** A directory of the store: when it exists, and when its entry and those above it are durable. */
interface DirectoryState {
  exists: Promise<void>;
  durable: Promise<void>;
  settled: boolean;
}

const READY: DirectoryState = { exists: Promise.resolve(), durable: Promise.resolve(), settled: true };

/** A placed object's content, while its file is not durable yet. */
export interface UnsyncedContent {
  /** SHA-256 (hex) of the whole object. */
  digest: string;
  /** fsyncs the object's file. */
  sync: () => Promise<void>;
}

export interface FsFileStoreOptions {
  /** fsync files and directories before a commit returns (on by default; off only for throwaway stores). */
  fsync?: boolean;
}

export class FsFileStore implements FileStore {
  /**
   * Directories this store has made or met: when each exists, and when its entry and every entry on the
   * way up to the root are durable (see `directory`).
   */
  private readonly dirs = new Map<string, DirectoryState>();
  private readonly fsync: boolean;
  private readonly directories = new DirectorySync();
  private closed = false;
  /** Temp file names: unique to this store's life, without asking the kernel for random bytes each time. */
  private readonly tempPrefix = `${Date.now()}-${randomBytes(6).toString('hex')}`;
  private tempCount = 0;

  constructor(
    readonly root: string,
    options: FsFileStoreOptions = {},
  ) {
    this.fsync = options.fsync ?? true;
  }

  /** Whether commits make files durable (the writer picks how it writes by it). */
  get syncsFiles(): boolean {
    return this.fsync;
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
    return new FsObjectWriter(this, this.tempPath());
  }

  /** A new temp file's path; the writer creates it when it first writes (see FsObjectWriter). */
  private tempPath(): string {
    return join(this.root, TEMP_DIR, `${this.tempPrefix}-${++this.tempCount}.part`);
  }

  /** Closes cached directory handles. */
  async close(): Promise<void> {
    this.closed = true;
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
    const before = room?.before ?? 0;
    const buffer = Buffer.allocUnsafe(before + length + (room?.after ?? 0));
    await this.readInto(key, offset, buffer.subarray(before, before + length));
    return buffer;
  }

  async readInto(key: string, offset: number, target: Buffer): Promise<void> {
    const path = this.pathOf(key);
    const length = target.length;
    if (length <= SYNC_READ_MAX_BYTES) {
      const fd = openSync(path, 'r');
      try {
        for (let filled = 0; filled < length;) {
          const bytesRead = readSync(fd, target, filled, length - filled, offset + filled);
          if (bytesRead === 0) throw shorterThan(key, offset + length);
          filled += bytesRead;
        }
      } finally {
        closeSync(fd);
      }
      return;
    }
    const handle = await open(path, 'r');
    try {
      for (let filled = 0; filled < length;) {
        const { bytesRead } = await handle.read(target, filled, length - filled, offset + filled);
        if (bytesRead === 0) throw shorterThan(key, offset + length);
        filled += bytesRead;
      }
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
    const names = await readdir(dir);
    await Promise.all(names.map((name) => rm(join(dir, name), { force: true, recursive: true })));
    return names.length;
  }

  async checkWritable(): Promise<void> {
    const path = this.tempPath();
    closeSync(createFile(path));
    unlinkSync(path);
  }

  /**
   * Moves a finished temp file into place without replacing anything, and makes that durable. The temp
   * file is first renamed to a marker naming the key, and stays until the caller confirms: a crash between
   * placement and the caller's record leaves the marker for recoverPlacements. A file not durable yet
   * (`unsynced`) is made durable alongside the link and its directory's fsync, and its marker names its
   * digest; should either fail, the object is removed again. Returns the marker's path.
   */
  async place(tempPath: string, key: string, unsynced?: UnsyncedContent): Promise<string> {
    const path = this.pathOf(key);
    const dir = dirname(path);
    const directory = this.directory(dir);
    await directory.exists;
    let syncFile = this.fsync ? unsynced?.sync : undefined;
    let marker = syncFile && this.markerOf(key, unsynced!.digest);
    if (syncFile && !marker) {
      // No room for the digest in the marker's name: the file is made durable before it gets its name.
      await syncFile();
      syncFile = undefined;
    }
    marker ??= this.markerOf(key);
    if (!marker) throw new Error(`object key too long: ${key.slice(0, 80)}...`);
    // Directory entries are page-cache work: done inline, like the small writes.
    if (marker !== tempPath) renameSync(tempPath, marker);
    // From here on the temp file goes by the marker's name, which every error carries for the caller.
    const withMarker = (error: unknown) => Object.assign(error as Error, { marker });
    // Started before the link: the marker's digest tells recovery a file linked before it was durable.
    let fileDurable = syncFile?.();
    fileDurable?.catch(() => undefined);
    let dirDurable: Promise<void> | undefined;
    // link() fails with EEXIST rather than silently replacing an existing object, unlike rename().
    try {
      if (this.fsync)
        ({ durable: dirDurable } = await this.directories.addEntry(dir, () => linkSync(marker, path)));
      else linkSync(marker, path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') {
        // Nothing of this object is left running when its commit fails: a retry starts from a settled file.
        await fileDurable?.catch(() => undefined);
        throw withMarker(error);
      }
      // Filesystems without hard links: check, then copy (callers hold a per-instance lock), keeping
      // the marker until the caller confirms. The copy is made durable on its own, and is made only once
      // the marker has all its content (a writer may write it in its sync).
      await fileDurable;
      if (await this.exists(key))
        throw withMarker(Object.assign(new Error(`${key} exists`), { code: 'EEXIST' }));
      await copyFile(marker, path, fsConstants.COPYFILE_EXCL).catch(async (copyError: unknown) => {
        // A copy cut short (no space) must not stay under the key.
        if ((copyError as NodeJS.ErrnoException).code !== 'EEXIST') await rm(path, { force: true });
        throw withMarker(copyError);
      });
      fileDurable = this.fsync ? fsyncPath(path) : undefined;
      dirDurable = this.fsync ? this.directories.sync(dir) : undefined;
    }
    try {
      await Promise.all([fileDurable, dirDurable, directory.durable]);
    } catch (error) {
      // Not durable, so never acknowledged: the object goes, the marker with the caller's abort.
      await rm(path, { force: true }).catch(() => undefined);
      throw withMarker(error);
    }
    return marker;
  }

  /** The marker's path for a key (with the content's digest when given), or undefined if too long. */
  markerOf(key: string, digest?: string): string | undefined {
    const named = digest ? `${DIGEST_SEPARATOR}${digest.slice(0, MARKER_DIGEST_CHARS)}` : '';
    const name = `${encodeURIComponent(key)}${named}${MARKER_SUFFIX}`;
    return name.length > MAX_NAME_LENGTH ? undefined : join(this.root, TEMP_DIR, name);
  }

  async recoverPlacements(
    settle: (key: string) => Promise<boolean>,
    discarded?: (key: string) => void,
  ): Promise<string[]> {
    const dir = join(this.root, TEMP_DIR);
    const settled: string[] = [];
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (!name.endsWith(MARKER_SUFFIX)) continue;
      const marker = join(dir, name);
      const { key, digest } = parseMarkerName(name.slice(0, -MARKER_SUFFIX.length));
      // No object under the key: its directory entry never became durable, so nothing was acknowledged.
      if (await this.exists(key)) {
        if (digest && (await this.isTorn(marker, key, digest))) {
          // Linked before its fsync finished, and the crash came first: never acknowledged either.
          await rm(this.pathOf(key), { force: true });
          discarded?.(key);
        } else {
          if (!(await settle(key))) continue;
          settled.push(key);
        }
      }
      await rm(marker, { force: true });
    }
    return settled;
  }

  /**
   * Whether the object under `key` is the marker's own file with content other than the marker names.
   * Another object under the key (the marker's own link failed with EEXIST) is not the marker's to judge.
   */
  private async isTorn(marker: string, key: string, digest: string): Promise<boolean> {
    const [ours, object] = await Promise.all([stat(marker), stat(this.pathOf(key))]);
    if (ours.ino !== object.ino || ours.dev !== object.dev) return false;
    return !(await hashStoredObject(this, key)).sha256.startsWith(digest);
  }

  /**
   * Makes `dir` and any missing parents with one mkdir, and tells when they exist and when all their
   * entries are durable. The fsyncs of the parents run at once, not one after another: each new
   * directory's entry lives in its parent, and they need only all be durable before the placement is
   * acknowledged. A directory found already there gets its parent fsynced once too, in case whoever made
   * it had not got that far. Every directory on the way is registered before the first await, so a
   * placement into a directory another one is still making waits for the same mkdir and fsyncs.
   */
  private directory(dir: string): DirectoryState {
    const known = this.dirs.get(dir);
    if (known) {
      // Most recently used last, so the oldest is evicted first.
      this.dirs.delete(dir);
      this.dirs.set(dir, known);
      return known;
    }
    // The directories from the nearest one known (or the root) down to `dir`.
    const missing: string[] = [];
    let ancestor: DirectoryState | undefined;
    for (let above = dir; !ancestor; above = dirname(above)) {
      ancestor = this.isRoot(above) ? READY : this.dirs.get(above);
      if (!ancestor) missing.unshift(above);
    }
    if (missing.length === 0) return ancestor;
    const made = ancestor.exists.then(() => mkdir(dir, { recursive: true })).then(() => undefined);
    let parentDurable = ancestor.durable;
    let state = ancestor;
    for (const d of missing) {
      const entrySynced = this.fsync ? made.then(() => this.directories.sync(dirname(d))) : made;
      const durable = Promise.all([entrySynced, parentDurable]).then(() => undefined);
      state = { exists: made, durable, settled: false };
      this.remember(d, state);
      parentDurable = durable;
    }
    return state;
  }

  /** The root itself is the operator's; relative() also covers a root given as "./data" or "data/". */
  private isRoot(dir: string): boolean {
    return relative(this.root, dir) === '' || dirname(dir) === dir;
  }

  private remember(dir: string, state: DirectoryState): void {
    this.dirs.set(dir, state);
    state.durable.then(
      () => {
        state.settled = true;
        this.evictDirs();
      },
      // Not made or not durable: the next placement here tries again.
      () => {
        if (this.dirs.get(dir) === state) this.dirs.delete(dir);
      },
    );
  }

  /** Forgets the least recently used directories already durable, beyond MAX_KNOWN_DIRS. */
  private evictDirs(): void {
    if (this.dirs.size <= MAX_KNOWN_DIRS) return;
    for (const [dir, entry] of this.dirs) {
      if (this.dirs.size <= MAX_KNOWN_DIRS) break;
      if (entry.settled) this.dirs.delete(dir);
    }
  }
}

/** Creates a file for writing, failing if it exists; inline, like the other directory-entry calls. */
function createFile(path: string, flags = 0): number {
  return openSync(path, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY | flags, 0o640);
}

/**
 * An object's bytes go to a temp file in batches, created at the first batch. An object small enough
 * never to have filled a batch is still all in memory at its commit: it is then created under its
 * marker's name, and its bytes are written with O_DSYNC by one call in the thread pool while it is linked
 * into place, which makes them durable. That spares the event loop the rename, the inline write and the
 * fsync's hand-off (a hand-off to the pool costs it some 50 µs here, the calls 30-40 µs each).
 */
class FsObjectWriter implements ObjectWriter {
  private readonly hash = createHash('sha256');
  /** Open once the temp file (or the marker) is created. */
  private fd: number | undefined;
  /** The bytes still in memory are written with O_DSYNC in the sync that `place` runs. */
  private writesDurably = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes accepted by write(), whether or not they have reached the file yet. */
  private accepted = 0;
  private closed = false;
  /** The file's data and size are durable (an fsync succeeded). */
  private synced = false;
  private syncing: Promise<void> | undefined;
  private fdClosed = false;
  /** The file's calls in the thread pool: the descriptor is closed only after them. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private committed: string | undefined;
  /** The last digest and how many bytes it covers: ingest asks for it three times per instance. */
  private digested: { bytes: number; hex: string } | undefined;

  constructor(
    private readonly store: FsFileStore,
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

  /** Writes out the bytes in memory: inline up to `inlineMax` bytes, in the thread pool beyond. */
  private async flush(inlineMax = SYNC_WRITE_MAX_BYTES): Promise<void> {
    this.fd ??= createFile(this.tempPath);
    if (this.pendingBytes === 0) return;
    const fd = this.fd;
    const buffers = this.pending;
    const total = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    let done = 0;
    while (done < total) {
      const slices = remainingSlices(buffers, done);
      done += total - done <= inlineMax ? writevSync(fd, slices) : await this.track(writevAsync(fd, slices));
    }
  }

  /** Creates the object under its marker's name, to be written with O_DSYNC; false if it cannot be. */
  private createAsMarker(key: string): boolean {
    if (this.fd !== undefined || !this.store.syncsFiles || fsConstants.O_DSYNC === undefined) return false;
    const marker = this.store.markerOf(key, this.digest());
    if (!marker) return false;
    try {
      this.fd = createFile(marker, fsConstants.O_DSYNC);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
    this.tempPath = marker;
    this.writesDurably = true;
    return true;
  }

  /** Makes the file durable; asked again (a retry under another key), it answers with the same call. */
  private sync(): Promise<void> {
    this.syncing ??= (async () => {
      // An empty object has no write to carry its inode to the disk.
      if (this.writesDurably && this.pendingBytes > 0) await this.flush(0);
      else await this.track(fsyncAsync(this.fd!));
      this.synced = true;
    })();
    return this.syncing;
  }

  digest(): string {
    if (this.digested?.bytes !== this.accepted) {
      this.digested = { bytes: this.accepted, hex: this.hash.copy().digest('hex') };
    }
    return this.digested.hex;
  }

  async commit(key: string): Promise<StoredObject> {
    if (this.committed) throw new Error(`already committed as ${this.committed}`);
    // A commit that failed because the key exists may be retried under another key: flush only once.
    if (!this.closed) {
      if (!this.createAsMarker(key)) await this.flush();
      this.closed = true;
    }
    const unsynced = this.synced ? undefined : { digest: this.digest(), sync: () => this.sync() };
    try {
      this.tempPath = await this.store.place(this.tempPath, key, unsynced);
      this.committed = key;
    } catch (error) {
      // Once renamed, the temp file goes by its marker's name (after EEXIST, a retry goes on from there).
      const marker = (error as { marker?: string }).marker;
      if (marker) this.tempPath = marker;
      throw error;
    }
    await this.closeFd();
    return { key, size: this.accepted };
  }

  private track<T>(call: Promise<T>): Promise<T> {
    this.inFlight.add(call);
    const done = () => this.inFlight.delete(call);
    call.then(done, done);
    return call;
  }

  /** Closes the descriptor once no call in the thread pool can still use it (or a file opened after it). */
  private async closeFd(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled(this.inFlight);
    if (this.fdClosed || this.fd === undefined) return;
    this.fdClosed = true;
    try {
      // Nothing is left to flush after the fsync, so this takes microseconds: inline, like the open.
      closeSync(this.fd);
    } catch {
      // the descriptor is gone either way
    }
  }

  confirm(): Promise<void> {
    // Only a crash-recovery hint: removing it needs no fsync, and callers need not wait for it.
    try {
      unlinkSync(this.tempPath);
    } catch {
      // already gone; recovery drops a marker whose object is indexed
    }
    return Promise.resolve();
  }

  async abort(): Promise<void> {
    this.closed = true;
    await this.closeFd();
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

/** A marker's name without its suffix: the key, and the content digest when it names one. */
function parseMarkerName(name: string): { key: string; digest?: string } {
  const at = name.lastIndexOf(DIGEST_SEPARATOR);
  const digest = at < 0 ? '' : name.slice(at + 1);
  if (digest.length !== MARKER_DIGEST_CHARS || !/^[0-9a-f]+$/.test(digest)) {
    return { key: decodeURIComponent(name) };
  }
  return { key: decodeURIComponent(name.slice(0, at)), digest };
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
