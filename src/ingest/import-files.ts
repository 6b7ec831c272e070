/**
 * Feeding files from disk through the ingest pipeline (the CLI import). Part 10 files stream straight
 * in; bare datasets (no preamble, as some old archives hold them) are read once for their UIDs and then
 * stored with File Meta Information written by the gateway.
 */
import { createReadStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DatasetReader } from '../dicom/dataset-reader.js';
import { Tag } from '../dicom/tags.js';
import { EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN } from '../dicom/transfer-syntax.js';
import { getString } from '../dicom/values.js';
import { isVR } from '../dicom/vr.js';
import { GatewayError } from '../errors.js';
import type { StoreOutcome } from './outcome.js';
import type { IngestService } from './store-instance.js';

/** Every regular file under the given paths, in a stable order. */
export async function* listFiles(paths: string[]): AsyncGenerator<string> {
  for (const path of paths) {
    const info = await stat(path);
    if (info.isDirectory()) {
      const entries = (await readdir(path)).sort();
      yield* listFiles(entries.filter((name) => !name.startsWith('.')).map((name) => join(path, name)));
    } else if (info.isFile()) {
      yield path;
    }
  }
}

export async function importFile(ingest: IngestService, path: string): Promise<StoreOutcome> {
  const head = await readHead(path, 132);
  if (head.length >= 132 && head.toString('latin1', 128, 132) === 'DICM') {
    return ingest.ingestStream(createReadStream(path), { door: 'import' });
  }
  const bare = await identifyBareDataset(path, head);
  if (!bare) {
    return {
      ok: false,
      error: new GatewayError(
        'INVALID_DICOM',
        'not a DICOM file (no Part 10 header, not a readable dataset)',
      ),
      instance: {},
      bytes: (await stat(path)).size,
    };
  }
  return ingest.ingestStream(createReadStream(path), { door: 'import', dataset: bare });
}

async function readHead(path: string, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** A bare dataset starts with a group 0008 element; explicit VR shows as two capital letters at bytes 4-5. */
async function identifyBareDataset(
  path: string,
  head: Buffer,
): Promise<{ sopClassUid: string; sopInstanceUid: string; transferSyntaxUid: string } | undefined> {
  if (head.length < 8 || head.readUInt16LE(0) !== 0x0008) return undefined;
  const transferSyntaxUid = isVR(head.toString('latin1', 4, 6))
    ? EXPLICIT_VR_LITTLE_ENDIAN
    : IMPLICIT_VR_LITTLE_ENDIAN;
  const reader = new DatasetReader({ transferSyntaxUid });
  try {
    for await (const chunk of createReadStream(path)) reader.write(chunk as Buffer);
    const { dataset } = reader.end();
    const sopClassUid = getString(dataset, Tag.SOPClassUID);
    const sopInstanceUid = getString(dataset, Tag.SOPInstanceUID);
    if (!sopClassUid || !sopInstanceUid) return undefined;
    return { sopClassUid, sopInstanceUid, transferSyntaxUid };
  } catch {
    return undefined;
  }
}
