/**
 * The object store interface the ingest pipeline and retrieval use: write a new object durably, read
 * it whole or by range, remove it, list them. A filesystem implementation lives beside it; an object
 * store (S3) can be added behind the same interface.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

export interface StoredObject {
  key: string;
  size: number;
}

/** An object being written; nothing is visible under a key until `commit`. */
export interface ObjectWriter {
  /**
   * Appends bytes. Resolves once they are accepted (the caller waits, which gives backpressure). The
   * buffer may be kept until it is written out: callers must not reuse it.
   */
  write(chunk: Buffer): Promise<void>;
  /** Bytes written so far. */
  readonly size: number;
  /** SHA-256 (hex) of everything written; valid once all bytes are written. */
  digest(): string;
  /**
   * Makes the object durable and visible under `key`, replacing nothing: fails with code EEXIST if the
   * key exists, after which commit may be called again with another key.
   */
  commit(key: string): Promise<StoredObject>;
  /**
   * The caller's record of the committed object (its index row) is durable. Until then the store keeps
   * a marker, so that after a crash `recoverPlacements` can tell objects committed but perhaps never
   * recorded. Never fails; callers need not wait for it.
   */
  confirm(): Promise<void>;
  /**
   * Discards the object if it was not committed, and the marker if it was (the caller removes a
   * committed object it could not record with `remove`). Safe to call at any time.
   */
  abort(): Promise<void>;
}

/**
 * Spare bytes around data read into a buffer, for framing the caller writes in place (the delimiters of
 * a multipart part), so half a megabyte of frame is not copied to add a few bytes around it.
 */
export interface Room {
  before: number;
  after: number;
}

/** `data` with `room` around it, copied (for data that could not be read into place). */
export function withRoom(data: Buffer, room: Room | undefined): Buffer {
  if (!room) return data;
  const out = Buffer.allocUnsafe(room.before + data.length + room.after);
  data.copy(out, room.before);
  return out;
}

export interface FileStore {
  createWriter(): Promise<ObjectWriter>;
  exists(key: string): Promise<boolean>;
  size(key: string): Promise<number | undefined>;
  /** Reads `length` bytes at `offset` (after `room.before` spare bytes); fails if the object is shorter. */
  read(key: string, offset: number, length: number, room?: Room): Promise<Buffer>;
  /** Fills `target` with the bytes at `offset`, for a caller that reuses its buffers; fails if shorter. */
  readInto(key: string, offset: number, target: Buffer): Promise<void>;
  /** Streams the object, or a byte range of it (end exclusive). */
  createReadStream(key: string, range?: { start: number; end: number }): Readable;
  remove(key: string): Promise<void>;
  /** Every committed object's key under a prefix (e.g. "files/"), in sorted order. */
  list(prefix: string): AsyncIterable<string>;
  /**
   * Objects a crash left committed but not confirmed, each handed to `settle`, which makes sure the
   * caller has recorded it (recording it now if the crash lost the record) and resolves true, or false
   * to keep it for the next start-up. A marker whose object is absent is dropped: the object never
   * became durable, so it was never acknowledged. So is an object the crash caught before it was durable
   * (torn), which goes to `discarded` instead of `settle`. Returns the keys settled. Run at start-up,
   * before cleanTemporary and before either door opens.
   */
  recoverPlacements(
    settle: (key: string) => Promise<boolean>,
    discarded?: (key: string) => void,
  ): Promise<string[]>;
  /** Removes partial objects left by a crash. Returns how many were removed. */
  cleanTemporary(): Promise<number>;
  /** Checks the store can be written, for readiness probes. */
  checkWritable(): Promise<void>;
  /** Releases what the store holds open (directory handles). */
  close(): Promise<void>;
}

/** Size and SHA-256 of a stored object, read as a stream. */
export async function hashStoredObject(
  store: FileStore,
  key: string,
): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of store.createReadStream(key)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}
