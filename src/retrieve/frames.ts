/**
 * Frame bytes from the frame layout recorded at ingest (PS3.18 10.4.1.1.5): only the bytes of the frames
 * asked for are read; nothing is parsed.
 */
import type { ByteRange } from '../dicom/dataset.js';
import { frameCount } from '../dicom/frame-layout.js';
import { GatewayError } from '../errors.js';
import type { InstanceStorage } from '../index/index-store.js';
import { withRoom, type FileStore, type Room } from '../storage/file-store.js';
import { readStoredRange } from './stored-bytes.js';

/** Parses "1,3,5" (1-based, as in the URL) and checks each against the instance's frame count. */
export function parseFrameList(list: string, storage: InstanceStorage): number[] {
  const count = frameCount(storage.frames);
  if (storage.frames.kind === 'none') throw new GatewayError('NOT_FOUND', 'the instance has no pixel data');
  const frames = list.split(',').map((part) => part.trim());
  if (frames.length === 0 || frames.length > 10_000)
    throw new GatewayError('BAD_REQUEST', 'malformed frame list');
  return frames.map((text) => {
    if (!/^\d{1,9}$/.test(text))
      throw new GatewayError('BAD_REQUEST', `frame number "${text.slice(0, 20)}" is not a positive integer`);
    const number = Number(text);
    if (number < 1 || number > count) {
      throw new GatewayError('NOT_FOUND', `frame ${number} does not exist (the instance has ${count})`);
    }
    return number;
  });
}

/**
 * The stored bytes of one frame (1-based): native pixels, or the frame's fragments joined; after
 * `room.before` spare bytes when room is asked for.
 */
export async function readFrame(
  store: FileStore,
  storage: InstanceStorage,
  frameNumber: number,
  room?: Room,
): Promise<Buffer> {
  const layout = storage.frames;
  const index = frameNumber - 1;
  switch (layout.kind) {
    case 'native': {
      if (!layout.bitPacked) {
        return readStoredRange(
          store,
          storage,
          { offset: layout.offset + index * layout.frameLength, length: layout.frameLength },
          room,
        );
      }
      // 1-bit frames may start mid-byte: read the covering bytes and shift them into place.
      const startBit = index * layout.frameLength;
      const first = Math.floor(startBit / 8);
      const bytes = await readStoredRange(store, storage, {
        offset: layout.offset + first,
        length: Math.ceil((startBit + layout.frameLength) / 8) - first,
      });
      return withRoom(extractBits(bytes, startBit % 8, layout.frameLength), room);
    }
    case 'encapsulated':
      return readFragments(store, storage, layout.frames[index]!, room);
    case 'video':
      return readFragments(store, storage, layout.fragments, room);
    case 'none':
      throw new GatewayError('NOT_FOUND', 'the instance has no pixel data');
  }
}

async function readFragments(
  store: FileStore,
  storage: InstanceStorage,
  fragments: ByteRange[],
  room: Room | undefined,
): Promise<Buffer> {
  if (fragments.length === 1) return readStoredRange(store, storage, fragments[0]!, room);
  const parts = await Promise.all(fragments.map((fragment) => readStoredRange(store, storage, fragment)));
  return withRoom(Buffer.concat(parts), room);
}

/** Bits [shift, shift + bitCount) of `bytes` (least significant bit first, PS3.5 8.1.1) as whole bytes. */
function extractBits(bytes: Buffer, shift: number, bitCount: number): Buffer {
  const out = Buffer.alloc(Math.ceil(bitCount / 8));
  for (let bit = 0; bit < bitCount; bit++) {
    const source = bit + shift;
    if (bytes[source >> 3]! & (1 << (source & 7))) out[bit >> 3]! |= 1 << (bit & 7);
  }
  return out;
}
