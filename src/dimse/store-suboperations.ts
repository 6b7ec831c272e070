/**
 * C-STORE sub-operations (PS3.4 C.4.2.3, C.4.3.3): send stored instances over an association, as stored
 * when the peer accepted that transfer syntax, else transcoded to one it accepted. Used by C-MOVE (on
 * an association to the destination) and C-GET (on the requester's own association).
 */
import type { Logger } from '../log.js';
import type { StoredInstanceRef } from '../index/index-store.js';
import type { FileStore } from '../storage/file-store.js';
import { canTranscode } from '../transcode/capabilities.js';
import { WHOLE_READ_MAX_BYTES } from '../retrieve/stored-bytes.js';
import { transcodePart10 } from '../transcode/transcode-part10.js';
import { CommandField } from './command-set.js';
import type { DimseConnection, NegotiatedContext } from './connection.js';

export interface SubOperationCounts {
  remaining: number;
  completed: number;
  failed: number;
  warning: number;
  failedSopInstanceUids: string[];
}

export interface SendOptions {
  /** Identifies the C-MOVE on whose behalf the sub-operations run (PS3.7 9.1.1.1). */
  moveOriginator?: { aeTitle: string; messageId: number };
  /** Asked after each sub-operation; true stops the remaining ones (C-CANCEL). */
  cancelled: () => boolean;
  onProgress: (counts: SubOperationCounts) => Promise<void> | void;
  /** The association may only carry storage requests on these contexts (C-GET: the SCU granted us the SCU role). */
  allowedContext?: (context: NegotiatedContext) => boolean;
}

/** Warning statuses of C-STORE (PS3.4 B.2.3): coercion, elements discarded, dataset does not match. */
const STORE_WARNINGS = new Set([0xb000, 0xb006, 0xb007]);

export async function sendInstances(
  connection: DimseConnection,
  refs: StoredInstanceRef[],
  store: FileStore,
  log: Logger,
  options: SendOptions,
): Promise<SubOperationCounts & { cancelled: boolean }> {
  const counts: SubOperationCounts = {
    remaining: refs.length,
    completed: 0,
    failed: 0,
    warning: 0,
    failedSopInstanceUids: [],
  };
  // The next instance is read from disk while the current one is sent and answered.
  const buffers = new ReadBuffers();
  let ahead = refs[0] && readAhead(store, refs[0], buffers);
  for (const [i, ref] of refs.entries()) {
    if (options.cancelled()) return { ...counts, cancelled: true };
    const prefetched = ahead;
    ahead = refs[i + 1] && readAhead(store, refs[i + 1]!, buffers);
    let status: number;
    try {
      status = await sendOne(connection, ref, store, options, prefetched?.bytes);
    } catch (error) {
      log.warn({ err: error, sopInstanceUid: ref.sopInstanceUid }, 'C-STORE sub-operation failed');
      status = 0xa702;
    }
    // Sent and answered (or failed): its buffer is free once its read is over too.
    prefetched?.release();
    counts.remaining--;
    if (status === 0x0000) counts.completed++;
    else if (STORE_WARNINGS.has(status)) counts.warning++;
    else {
      counts.failed++;
      counts.failedSopInstanceUids.push(ref.sopInstanceUid);
    }
    await options.onProgress(counts);
  }
  return { ...counts, cancelled: false };
}

/**
 * Buffers for the instances read ahead, reused from one instance to the next: at most two are in use at
 * once (one sent, one read ahead), where a fresh half-megabyte buffer per instance kept the garbage
 * collector busy.
 */
class ReadBuffers {
  private readonly free: Buffer[] = [];

  take(length: number): Buffer {
    const fits = this.free.findIndex((buffer) => buffer.length >= length);
    return fits >= 0 ? this.free.splice(fits, 1)[0]! : Buffer.allocUnsafe(length);
  }

  give(buffer: Buffer): void {
    this.free.push(buffer);
    // Two are all a move uses at once; keep the larger ones.
    if (this.free.length > 2) this.free.sort((a, b) => b.length - a.length).pop();
  }
}

interface ReadAhead {
  /** The dataset bytes, as stored. */
  bytes: Promise<Buffer>;
  /** Hands the buffer back once its read is over: call when its bytes are sent, or never will be. */
  release(): void;
}

/** Starts reading the dataset bytes of a small instance; undefined for one that is streamed. */
function readAhead(store: FileStore, ref: StoredInstanceRef, buffers: ReadBuffers): ReadAhead | undefined {
  const length = ref.storage.fileSize - ref.storage.datasetOffset;
  if (length > WHOLE_READ_MAX_BYTES) return undefined;
  const buffer = buffers.take(length);
  const target = buffer.subarray(0, length);
  const bytes = store.readInto(ref.storage.fileKey, ref.storage.datasetOffset, target).then(() => target);
  // Not awaited when the instance goes out transcoded, or the move is cancelled.
  bytes.catch(() => undefined);
  const give = () => buffers.give(buffer);
  return { bytes, release: () => void bytes.then(give, give) };
}

/** Sends one instance; resolves with the peer's C-STORE status. */
async function sendOne(
  connection: DimseConnection,
  ref: StoredInstanceRef,
  store: FileStore,
  options: SendOptions,
  prefetched: Promise<Buffer> | undefined,
): Promise<number> {
  const stored = ref.storage.transferSyntaxUid;
  const candidates = [...connection.contexts.values()].filter(
    (c) => c.abstractSyntax === ref.sopClassUid && (options.allowedContext?.(c) ?? true),
  );
  const exact = candidates.find((c) => c.transferSyntax === stored);
  const other = exact ? undefined : candidates.find((c) => canTranscode(stored, c.transferSyntax));
  const context = exact ?? other;
  if (!context)
    throw new Error(
      `no accepted presentation context for ${ref.sopClassUid} in ${stored} or a syntax it converts to`,
    );

  let dataset: Buffer | AsyncIterable<Buffer>;
  if (exact && prefetched) {
    dataset = await prefetched;
  } else if (exact) {
    dataset = store.createReadStream(ref.storage.fileKey, {
      start: ref.storage.datasetOffset,
      end: ref.storage.fileSize,
    });
  } else {
    const file = await transcodePart10(
      await store.read(ref.storage.fileKey, 0, ref.storage.fileSize),
      context.transferSyntax,
    );
    dataset = file.subarray(datasetStart(file));
  }
  let status = 0xa702;
  await connection.request(
    context.id,
    {
      commandField: CommandField.CStoreRQ,
      affectedSopClassUid: ref.sopClassUid,
      affectedSopInstanceUid: ref.sopInstanceUid,
      priority: 0,
      moveOriginatorAETitle: options.moveOriginator?.aeTitle,
      moveOriginatorMessageId: options.moveOriginator?.messageId,
      hasDataset: true,
    },
    dataset,
    (response) => {
      status = response.command.status ?? 0xa702;
      return true;
    },
  );
  return status;
}

/** Where the dataset starts in a Part 10 file: after the preamble, DICM and the meta group. */
function datasetStart(file: Buffer): number {
  return 132 + 12 + file.readUInt32LE(140);
}
