/**
 * After hostile input: is the store still what the gateway said it is? Every acknowledged instance is
 * indexed once, its file is there and intact, retrievable byte for byte, counted by QIDO; nothing else
 * is indexed or lying around (no orphan files, no temp files left by failed uploads).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { qido, value } from './dicomweb-client.js';
import type { TestGateway } from './gateway.js';
import { fetchParts } from './multipart.js';
import { datasetBytes, listStoredFiles } from './stored-files.js';

export interface Acknowledged {
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  /**
   * What was sent: a whole Part 10 file (STOW-RS) or a bare dataset (C-STORE). Several when more than one
   * upload may have produced it (hostile values can make two parts claim the same UID).
   */
  sent: Buffer[];
  kind: 'part10' | 'dataset';
  /** For failure messages: which case it was. */
  label: string;
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Temp files of uploads in progress or left behind. */
export function leftoverTempFiles(gateway: TestGateway): Promise<string[]> {
  return readdir(join(gateway.dataDir, 'tmp'));
}

/** Waits (briefly) for temp files of aborted uploads, which are removed in the background, to go. */
export async function assertNoTempFiles(gateway: TestGateway, context: string): Promise<void> {
  let left: string[] = [];
  for (let i = 0; i < 50; i++) {
    left = await leftoverTempFiles(gateway);
    if (left.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.deepEqual(left, [], `${context}: temp files left behind`);
}

export async function assertHealthy(gateway: TestGateway, context: string): Promise<void> {
  const response = await fetch(`${gateway.httpUrl}/health`);
  assert.equal(response.status, 200, `${context}: /health answers 200`);
  await response.arrayBuffer();
}

/** Every check above; `acknowledged` must hold every instance the gateway holds. */
export async function assertStoreConsistent(
  gateway: TestGateway,
  acknowledged: ReadonlyMap<string, Acknowledged>,
  context: string,
): Promise<void> {
  await assertHealthy(gateway, context);
  const index = gateway.running.core.index;

  // Index rows and files: one row per acknowledged instance, each with its intact file, no other files.
  const rows = [...index.listFiles()];
  assert.equal(rows.length, acknowledged.size, `${context}: index rows = acknowledged instances`);
  for (const row of rows) {
    assert.ok(
      acknowledged.has(row.sopInstanceUid),
      `${context}: ${row.sopInstanceUid} indexed, never acknowledged`,
    );
    const bytes = await readFile(join(gateway.dataDir, row.fileKey)).catch(() => undefined);
    assert.ok(bytes, `${context}: index row ${row.sopInstanceUid} has no file (${row.fileKey})`);
    assert.equal(bytes.length, row.fileSize, `${context}: size of ${row.fileKey}`);
    assert.equal(sha(bytes), row.sha256, `${context}: content of ${row.fileKey}`);
  }
  const files = await listStoredFiles(gateway.dataDir);
  assert.deepEqual(files, rows.map((r) => r.fileKey).sort(), `${context}: files on disk = indexed files`);
  await assertNoTempFiles(gateway, context);

  // QIDO: the same instances, and study counts that agree.
  const limit = acknowledged.size + 10;
  const instances = await qido(`${gateway.dicomweb}/instances?limit=${limit}`);
  assert.deepEqual(
    instances.map((i) => String(value(i, '00080018'))).sort(),
    [...acknowledged.keys()].sort(),
    `${context}: QIDO finds exactly the acknowledged instances`,
  );
  const byStudy = new Map<string, Acknowledged[]>();
  for (const ack of acknowledged.values()) {
    byStudy.set(ack.studyInstanceUid, [...(byStudy.get(ack.studyInstanceUid) ?? []), ack]);
  }
  const studies = await qido(`${gateway.dicomweb}/studies?limit=${limit}`);
  assert.equal(studies.length, byStudy.size, `${context}: QIDO study count`);
  for (const study of studies) {
    const uid = String(value(study, '0020000D'));
    const expected = byStudy.get(uid);
    assert.ok(expected, `${context}: QIDO study ${uid} holds no acknowledged instance`);
    assert.equal(Number(value(study, '00201208')), expected.length, `${context}: instances of study ${uid}`);
    const series = new Set(expected.map((a) => a.seriesInstanceUid));
    assert.equal(Number(value(study, '00201206')), series.size, `${context}: series of study ${uid}`);
  }

  // WADO-RS, as stored: a STOW-RS upload comes back byte for byte; a C-STORE dataset behind the File
  // Meta Information the gateway wrote.
  for (const [study, expected] of byStudy) {
    const { status, parts } = await fetchParts(
      `${gateway.dicomweb}/studies/${study}`,
      'multipart/related; type="application/dicom"; transfer-syntax=*',
    );
    assert.equal(status, 200, `${context}: WADO-RS of study ${study}`);
    const bySop = new Map(
      parts.map((p) => [String(p.headers['content-location']).split('/').pop()!, p.body]),
    );
    assert.equal(bySop.size, expected.length, `${context}: WADO-RS parts of study ${study}`);
    for (const ack of expected) {
      const body = bySop.get(ack.sopInstanceUid);
      assert.ok(body, `${context}: ${ack.label} (${ack.sopInstanceUid}) not retrievable`);
      const stored = ack.kind === 'part10' ? body : datasetBytes(body);
      const same = ack.sent.some((sent) => stored.equals(sent));
      assert.ok(
        same,
        `${context}: ${ack.label} (${ack.sopInstanceUid}) comes back different from what was sent`,
      );
    }
  }
}
