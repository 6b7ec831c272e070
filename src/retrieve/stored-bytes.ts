/**
 * Reading parts of a stored instance by the offsets recorded at ingest: frames, bulk data, the whole
 * dataset. Deflated instances keep offsets in the inflated dataset, so they are read through an inflater.
 */
import { Readable } from 'node:stream';
import { createInflateRaw } from 'node:zlib';
import type { ByteRange } from '../dicom/dataset.js';
import type { InstanceStorage } from '../index/index-store.js';
import { withRoom, type FileStore, type Room } from '../storage/file-store.js';

/**
 * Instances up to this size are read whole, in one call, where a stream would cost a thread-pool round
 * trip per chunk; larger ones are streamed.
 */
export const WHOLE_READ_MAX_BYTES = 4 * 1024 * 1024;

/**
 * Bytes [offset, offset + length) of the dataset as the reader saw it (inflated if deflated), after
 * `room.before` spare bytes.
 */
export async function readStoredRange(
  store: FileStore,
  storage: InstanceStorage,
  range: ByteRange,
  room?: Room,
): Promise<Buffer> {
  if (!storage.deflated) return store.read(storage.fileKey, range.offset, range.length, room);
  const chunks: Buffer[] = [];
  for await (const chunk of inflatedRange(store, storage, range)) chunks.push(chunk);
  return withRoom(Buffer.concat(chunks), room);
}

/** A stream of bytes [offset, offset + length), for large values (bulk data, video). */
export function streamStoredRange(store: FileStore, storage: InstanceStorage, range: ByteRange): Readable {
  if (!storage.deflated) {
    return store.createReadStream(storage.fileKey, { start: range.offset, end: range.offset + range.length });
  }
  return Readable.from(inflatedRange(store, storage, range));
}

async function* inflatedRange(
  store: FileStore,
  storage: InstanceStorage,
  range: ByteRange,
): AsyncGenerator<Buffer> {
  const source = store.createReadStream(storage.fileKey, {
    start: storage.datasetOffset,
    end: storage.fileSize,
  });
  const inflater = createInflateRaw();
  source.pipe(inflater);
  let position = 0;
  let remaining = range.length;
  try {
    for await (const chunk of inflater as AsyncIterable<Buffer>) {
      const start = Math.max(0, range.offset - position);
      position += chunk.length;
      if (start >= chunk.length) continue;
      const piece = chunk.subarray(start, start + remaining);
      remaining -= piece.length;
      yield piece;
      if (remaining === 0) return;
    }
  } finally {
    source.destroy();
    inflater.destroy();
  }
  if (remaining > 0) throw new Error('stored deflated dataset is shorter than its index says');
}
