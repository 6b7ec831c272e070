/**
 * Crash safety: a gateway killed with SIGKILL in the middle of uploads loses no acknowledged instance,
 * and every indexed instance still has its file, intact, after a restart. A power loss can also take back
 * the last index commits (SQLite with synchronous=NORMAL): the files they recorded are indexed again at
 * start-up from their placement markers.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { loadConfig } from '../../src/config.js';
import { openCore } from '../../src/core.js';
import { createLogger } from '../../src/log.js';
import { FsFileStore } from '../../src/storage/fs-file-store.js';
import { buildInstance, newUid } from '../helpers/dicom-generator.js';
import { qido, stow, value } from '../helpers/dicomweb-client.js';
import { makeTempDir, removeDir } from '../helpers/fixtures.js';
import { CLI, spawnGateway } from '../helpers/gateway.js';
import { checkAcknowledged, runTraffic } from '../helpers/traffic.js';
import { datasetBytes, findStoredFile, listFilesUnder, listStoredFiles } from '../helpers/stored-files.js';

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

test('index commits a power loss took back: start-up indexes the placed files again, losing none', async (t) => {
  const dataDir = await makeTempDir('durability-power-');
  t.after(() => removeDir(dataDir));
  const config = loadConfig({ env: {}, flags: { data: dataDir, 'log-level': 'silent' } });
  const log = createLogger('silent');
  const keyOf = (i: ReturnType<typeof buildInstance>, suffix = '') =>
    `files/${i.studyInstanceUID}/${i.seriesInstanceUID}/${i.sopInstanceUID}${suffix}.dcm`;

  const kept = buildInstance({ patientName: 'Kept^Before' });
  const core = await openCore(config, log);
  assert.ok((await core.ingest.ingestStream(Readable.from([kept.bytes]), { door: 'import' })).ok);
  await core.close();

  // What ingest leaves when the power goes after the file is placed but before its index row is durable:
  // the file at its key and the marker naming it, no row. Written with the gateway's own store, gateway
  // stopped.
  const lost = buildInstance({ patientName: 'Lost^Row' });
  const newer = buildInstance({
    studyInstanceUID: kept.studyInstanceUID,
    seriesInstanceUID: kept.seriesInstanceUID,
    sopInstanceUID: kept.sopInstanceUID,
    sopClassUID: kept.sopClassUID,
    patientName: 'Kept^Overwritten',
  });
  // A series already indexed under another study: its row could never be written.
  const clash = buildInstance({ seriesInstanceUID: kept.seriesInstanceUID });
  const unlinked = buildInstance({});
  const store = new FsFileStore(dataDir);
  await store.init();
  const place = async (bytes: Buffer, key: string) => {
    const writer = await store.createWriter();
    await writer.write(bytes);
    await writer.commit(key);
  };
  await place(lost.bytes, keyOf(lost));
  await place(newer.bytes, keyOf(newer, '.0123456789abcdef'));
  await place(clash.bytes, keyOf(clash));
  // A marker whose file never got its name.
  await place(unlinked.bytes, keyOf(unlinked));
  await rm(join(dataDir, keyOf(unlinked)));
  await store.close();

  const restarted = await openCore(config, log);
  try {
    const lostRow = restarted.index.getInstance(lost.sopInstanceUID);
    assert.equal(lostRow?.storage.fileKey, keyOf(lost), 'the file whose row was lost is indexed where it is');
    assert.equal(
      restarted.index.getInstance(kept.sopInstanceUID)?.storage.fileKey,
      keyOf(newer, '.0123456789abcdef'),
      'an overwrite whose commit was lost wins over the older version',
    );
    assert.equal(restarted.index.getInstance(clash.sopInstanceUID), undefined);
    assert.equal(restarted.index.getInstance(unlinked.sopInstanceUID), undefined);
    assert.equal(restarted.index.counts().instances, 2);
    assert.deepEqual(await listStoredFiles(dataDir), [keyOf(lost), keyOf(newer, '.0123456789abcdef')].sort());
    // Nothing deleted: the older version and the file that cannot be indexed are in quarantine.
    const quarantined = (await listFilesUnder(dataDir, 'quarantine')).filter((q) => q.endsWith('.dcm'));
    assert.deepEqual(
      quarantined.map((q) => q.replace(/^quarantine\/[^/]+\//, '')).sort(),
      [keyOf(kept), keyOf(clash)].sort(),
    );
    assert.deepEqual(
      (await readdir(join(dataDir, 'tmp'))).filter((name) => name.endsWith('.placing')),
      [],
      'every marker was settled',
    );
    assert.ok((await readFile(join(dataDir, keyOf(lost)))).equals(lost.bytes));
  } finally {
    await restarted.close();
  }
});
