/**
 * A 200 MB multi-frame instance through both doors is stored intact while the server's peak memory stays
 * well under the instance size: neither door holds an instance in memory. Memory is measured (VmHWM of
 * the server process), not time.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { buildInstance } from '../helpers/dicom-generator.js';
import { execFile, requireTools } from '../helpers/dcmtk.js';
import { qido, value } from '../helpers/dicomweb-client.js';
import { makeTempDir, removeDir } from '../helpers/fixtures.js';
import { spawnGateway, type GatewayProcess } from '../helpers/gateway.js';
import { datasetBytes, findStoredFile } from '../helpers/stored-files.js';

const MB = 1024 * 1024;
/**
 * While it takes a 200 MB instance, the server's peak RSS may grow by at most this much over its peak
 * before the transfer (about 50 MB is measured: socket buffers not yet garbage-collected), and must stay
 * under the instance size in all.
 */
const GROWTH_LIMIT = 80 * MB;
const PEAK_LIMIT = 200 * MB;

function assertMemory(before: number, peak: number): void {
  assert.ok(
    peak - before < GROWTH_LIMIT,
    `peak RSS grew by ${((peak - before) / MB).toFixed(1)} MB (limit 80 MB)`,
  );
  assert.ok(peak < PEAK_LIMIT, `peak RSS ${(peak / MB).toFixed(1)} MB is under the instance size`);
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

describe('a 200 MB multi-frame instance', () => {
  let dir: string;
  // Each door gets a fresh server, so each peak is its own.
  let gateway: GatewayProcess;
  before(async () => {
    dir = await makeTempDir('large-');
  });
  beforeEach(async () => {
    gateway = await spawnGateway(['--data', join(dir, 'data')]);
  });
  afterEach(async () => {
    gateway.child.kill('SIGTERM');
    await gateway.exited;
  });
  after(() => removeDir(dir));

  // 400 frames of 512x512x16 bits = 200 MiB of pixel data.
  const large = () => buildInstance({ image: { rows: 512, columns: 512, frames: 400, pattern: 'gradient' } });

  test('through C-STORE (storescu)', async (t) => {
    if (!requireTools(t, 'storescu')) return;
    const instance = large();
    const path = join(dir, 'large-dimse.dcm');
    await writeFile(path, instance.bytes);
    assert.ok((await stat(path)).size > 200 * MB);
    const sentDataset = createHash('sha256').update(datasetBytes(instance.bytes)).digest('hex');
    const before = gateway.peakRss();
    await execFile('storescu', ['-aec', 'DICOMWEB', '-xe', '127.0.0.1', String(gateway.dimsePort), path], {
      maxBuffer: 16 * MB,
    });
    const peak = gateway.peakRss();
    t.diagnostic(
      `server peak RSS: ${(before / MB).toFixed(1)} MB before, ${(peak / MB).toFixed(1)} MB after C-STORE`,
    );
    const stored = await findStoredFile(join(dir, 'data'), instance.sopInstanceUID);
    const storedDataset = createHash('sha256')
      .update(datasetBytes(await readFile(stored)))
      .digest('hex');
    assert.equal(storedDataset, sentDataset, 'dataset stored intact');
    const [found] = await qido(`${gateway.dicomweb}/instances?SOPInstanceUID=${instance.sopInstanceUID}`);
    assert.equal(value(found, '00280008'), 400);
    assertMemory(before, peak);
  });

  test('through STOW-RS', async (t) => {
    const instance = large();
    const path = join(dir, 'large-stow.dcm');
    await writeFile(path, instance.bytes);
    const boundary = 'largeUploadBoundary';
    const before = gateway.peakRss();
    async function* body() {
      yield Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`);
      yield* createReadStream(path, { highWaterMark: MB });
      yield Buffer.from(`\r\n--${boundary}--\r\n`);
    }
    const response = await fetch(`${gateway.dicomweb}/studies`, {
      method: 'POST',
      headers: { 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}` },
      body: Readable.toWeb(Readable.from(body())) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    assert.equal(response.status, 200, await response.text());
    const peak = gateway.peakRss();
    t.diagnostic(
      `server peak RSS: ${(before / MB).toFixed(1)} MB before, ${(peak / MB).toFixed(1)} MB after STOW`,
    );
    const stored = await findStoredFile(join(dir, 'data'), instance.sopInstanceUID);
    assert.equal(await sha256File(stored), await sha256File(path), 'file stored byte for byte');
    assertMemory(before, peak);
  });
});
