/**
 * Reading a file that is already in the store the way ingest read it when it arrived, so that what
 * maintenance computes (file and dataset SHA-256, dataset offset, frame layout, metadata) is exactly
 * what ingest recorded: the bytes go through the same InstanceReceiver, into a sink that only hashes.
 */
import { createHash } from 'node:crypto';
import type { ParsedDicom, ReaderLimits } from '../dicom/dataset-reader.js';
import type { InstanceIdentity } from '../ingest/outcome.js';
import { InstanceReceiver } from '../ingest/receive-instance.js';
import type { FileStore, ObjectWriter, StoredObject } from '../storage/file-store.js';

/** An ObjectWriter that keeps nothing: it counts and hashes what it is given. */
class DigestSink implements ObjectWriter {
  private readonly hash = createHash('sha256');
  private bytes = 0;

  async write(chunk: Buffer): Promise<void> {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }

  get size(): number {
    return this.bytes;
  }

  digest(): string {
    return this.hash.copy().digest('hex');
  }

  commit(): Promise<StoredObject> {
    return Promise.reject(new Error('a digest sink stores nothing'));
  }

  async confirm(): Promise<void> {}

  async abort(): Promise<void> {}
}

export interface StoredFile {
  parsed: ParsedDicom;
  fileSize: number;
  /** SHA-256 of the whole file. */
  sha256: string;
  /** SHA-256 of the dataset, File Meta Information excluded (what tells duplicates from conflicts). */
  datasetSha256: string;
}

export interface ReadOptions {
  /** Size limit for the receiver; the file's own size is always allowed (it was accepted once). */
  maxInstanceBytes: number;
  readerLimits?: Partial<ReaderLimits>;
}

/** Parses and hashes a stored Part 10 file; throws a GatewayError when it cannot be read as one. */
export async function readStoredFile(
  store: FileStore,
  key: string,
  options: ReadOptions,
): Promise<StoredFile> {
  const size = await store.size(key);
  if (size === undefined) throw new Error(`${key} does not exist`);
  const sink = new DigestSink();
  const receiver = new InstanceReceiver(sink, {
    maxInstanceBytes: Math.max(options.maxInstanceBytes, size),
    readerLimits: options.readerLimits,
  });
  for await (const chunk of store.createReadStream(key)) await receiver.write(chunk as Buffer);
  const parsed = await receiver.finish();
  return { parsed, fileSize: sink.size, sha256: sink.digest(), datasetSha256: receiver.datasetDigest() };
}

/** Whether the object starts like a Part 10 file (128-byte preamble, then "DICM"). */
export async function hasPart10Header(store: FileStore, key: string): Promise<boolean> {
  const size = await store.size(key);
  if (size === undefined || size < 132) return false;
  return (await store.read(key, 128, 4)).toString('latin1') === 'DICM';
}

/**
 * Whether a key is where ingest puts this instance: files/<study>/<series>/<sop>.dcm, or with the
 * content suffix (.<16 hex digits>[.<timestamp>]) it uses when that name is taken.
 */
export function isCanonicalKey(key: string, id: InstanceIdentity): boolean {
  const base = `files/${id.studyInstanceUid}/${id.seriesInstanceUid}/${id.sopInstanceUid}.`;
  return key.startsWith(base) && /^(?:[0-9a-f]{16}\.(?:\d+\.)?)?dcm$/.test(key.slice(base.length));
}
