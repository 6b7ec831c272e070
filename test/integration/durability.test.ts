/**
 * Crash safety: a gateway killed with SIGKILL in the middle of uploads loses no acknowledged instance,
 * and every indexed instance still has its file, intact, after a restart.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { buildInstance, newUid } from '../helpers/dicom-generator.js';
import { qido, stow, value } from '../helpers/dicomweb-client.js';
import { makeTempDir, removeDir } from '../helpers/fixtures.js';
import { CLI, spawnGateway } from '../helpers/gateway.js';
import { checkAcknowledged, runTraffic } from '../helpers/traffic.js';
import { datasetBytes, findStoredFile } from '../helpers/stored-files.js';

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

test('kill -9 during STOW traffic: every acknowledged instance survives a restart', async () => {
  const dataDir = await makeTempDir('durability-');
  after(() => removeDir(dataDir));
  const gateway = await spawnGateway(['--data', dataDir]);

  const study = newUid();
  const planned = Array.from({ length: 200 }, (_, i) =>
    buildInstance({ studyInstanceUID: study, instanceNumber: i + 1, image: { rows: 64, columns: 64 } }),
  );
  const acknowledged = new Map<string, string>();
  let next = 0;
  let killed = false;

  // Four clients upload one instance per request; the server dies when half are acknowledged.
  const client = async () => {
    while (next < planned.length) {
      const instance = planned[next++]!;
      try {
        const { status } = await stow(gateway.dicomweb, [instance.bytes]);
        if (status === 200) acknowledged.set(instance.sopInstanceUID, sha(instance.bytes));
      } catch {
        // connection refused or reset after the kill: not acknowledged
      }
      if (!killed && acknowledged.size >= 100) {
        killed = true;
        gateway.child.kill('SIGKILL');
      }
    }
  };
  await Promise.all([client(), client(), client(), client()]);
  const exit = await gateway.exited;
  assert.equal(exit.signal, 'SIGKILL', 'the server was killed, not stopped');
  assert.ok(acknowledged.size >= 100);

  const restarted = await spawnGateway(['--data', dataDir]);
  try {
    const indexed = await qido(`${restarted.dicomweb}/studies/${study}/instances?limit=1000`);
    const indexedUids = new Set(indexed.map((i) => String(value(i, '00080018'))));
    for (const [uid, digest] of acknowledged) {
      assert.ok(indexedUids.has(uid), `acknowledged instance ${uid} is indexed after the restart`);
      assert.equal(
        sha(await readFile(await findStoredFile(dataDir, uid))),
        digest,
        `file of ${uid} is intact`,
      );
    }
    // Nothing indexed is missing its file, acknowledged or not.
    for (const uid of indexedUids) {
      const stored = await readFile(await findStoredFile(dataDir, uid));
      const original = planned.find((p) => p.sopInstanceUID === uid)!;
      assert.ok(
        datasetBytes(stored).equals(datasetBytes(original.bytes)),
        `indexed ${uid} has its whole file`,
      );
    }
  } finally {
    restarted.child.kill('SIGTERM');
    await restarted.exited;
  }
});

test('kill -9 during concurrent STOW and C-STORE traffic: nothing acknowledged is lost, verify is clean', async (t) => {
  const dataDir = await makeTempDir('durability-mixed-');
  const workDir = await makeTempDir('durability-mixed-files-');
  t.after(() => Promise.all([removeDir(dataDir), removeDir(workDir)]));
  const gateway = await spawnGateway(['--data', dataDir]);

  let killed = false;
  const traffic = await runTraffic({
    dicomweb: gateway.dicomweb,
    dimsePort: gateway.dimsePort,
    workDir,
    stowClients: 8,
    cstoreAssociations: 2,
    cstoreBatch: 20,
    readers: 0,
    expectWriteFailures: true,
    stop: () => killed,
    onAcknowledged: (count) => {
      if (!killed && count >= 150) {
        killed = true;
        gateway.child.kill('SIGKILL');
      }
    },
  });
  assert.equal((await gateway.exited).signal, 'SIGKILL');
  const doors = new Set(traffic.acknowledged.map((a) => a.door));
  assert.ok(doors.has('stow') && doors.has('dimse'), 'both doors had acknowledged instances');

  const restarted = await spawnGateway(['--data', dataDir]);
  try {
    assert.deepEqual(await checkAcknowledged(restarted.dicomweb, traffic.acknowledged, 100), []);
  } finally {
    restarted.child.kill('SIGTERM');
    await restarted.exited;
  }
  const verify = await promisify(execFile)(process.execPath, [CLI, 'verify', '--data', dataDir]).catch(
    (error: { code: number; stdout: string }) => error,
  );
  assert.equal('code' in verify ? verify.code : 0, 0, `verify found problems:\n${verify.stdout}`);
});
