/**
 * How an instance's DICOM JSON metadata is compressed in the index. New rows use LZ4 blocks (the
 * uncompressed size as 4 bytes little-endian, then the block, as python-lz4's `store_size`): at ingest
 * that takes about a fifth of what raw deflate did, the largest share of an index write that was not
 * SQLite's own. Rows written before keep raw deflate; the `metadata_codec` column tells them apart.
 */
import { compressSync, uncompressSync } from 'lz4-napi';
import { inflateRawSync } from 'node:zlib';

export type MetadataCodec = 'lz4' | 'deflate';

export const METADATA_CODEC: MetadataCodec = 'lz4';

export function encodeMetadata(json: string): Buffer {
  return compressSync(json);
}

export function decodeMetadata(blob: Buffer, codec: string): string {
  switch (codec) {
    case 'lz4':
      return uncompressSync(blob).toString('utf8');
    case 'deflate':
      return inflateRawSync(blob).toString('utf8');
    default:
      throw new Error(`index metadata in an unknown encoding: ${codec}`);
  }
}
