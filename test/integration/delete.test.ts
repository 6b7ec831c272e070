/**
 * DELETE at the WADO-RS resource paths: study, series, instance. Rows and files go together, counts and
 * ModalitiesInStudy follow, unknown UIDs are 404, and a crash between the index transaction and the file
 * removal is finished at the next start-up instead of leaving files that look unindexed.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openCore } from '../../src/core.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { buildInstance, newUid, type InstanceSpec } from '../helpers/dicom-generator.js';
import { qido, stow, value } from '../helpers/dicomweb-client.js';
import { makeTempDir, removeDir, studySpecs } from '../helpers/fixtures.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { listStoredFiles } from '../helpers/stored-files.js';

let gateway: TestGateway;

before(async () => {
  gateway = await startTestGateway();
});
after(async () => {
  await gateway.stop();
});

/** A study with a CT series of 3 instances and an SR series of 1. */
async function storeStudy(): Promise<{ study: string; ct: string; sr: string; ctInstances: string[] }> {
  const study = newUid();
  const ct = studySpecs({ instancesPerSeries: 3, base: { studyInstanceUID: study, modality: 'CT' } });
  const sr: InstanceSpec = { studyInstanceUID: study, seriesInstanceUID: newUid(), image: false };
  const built = [...ct, sr].map((spec) => buildInstance(spec));
  const { status } = await stow(
    gateway.dicomweb,
    built.map((b) => b.bytes),
  );
  assert.equal(status, 200);
  return {
    study,
    ct: built[0]!.seriesInstanceUID,
    sr: built[3]!.seriesInstanceUID,
    ctInstances: built.slice(0, 3).map((b) => b.sopInstanceUID),
  };
}

async function studyRow(study: string) {
  const [row] = await qido(`${gateway.dicomweb}/studies?StudyInstanceUID=${study}`);
  return row;
}

async function del(path: string): Promise<Response> {
  return fetch(`${gateway.dicomweb}${path}`, { method: 'DELETE' });
}

test('deleting an instance, then a series, then the study keeps counts and modalities current', async () => {
  const { study, ct, sr, ctInstances } = await storeStudy();
  const before = await listStoredFiles(gateway.dataDir);

  const r1 = await del(`/studies/${study}/series/${ct}/instances/${ctInstances[0]}`);
  assert.equal(r1.status, 204);
  assert.equal(await r1.text(), '');
  let row = await studyRow(study);
  assert.equal(value(row, '00201208'), 3, 'NumberOfStudyRelatedInstances');
  assert.equal(value(row, '00201206'), 2, 'NumberOfStudyRelatedSeries');
  assert.equal(
    (await fetch(`${gateway.dicomweb}/studies/${study}/series/${ct}/instances/${ctInstances[0]}/metadata`))
      .status,
    404,
  );
  assert.equal((await listStoredFiles(gateway.dataDir)).length, before.length - 1);

  assert.equal((await del(`/studies/${study}/series/${sr}`)).status, 204);
  row = await studyRow(study);
  assert.equal(value(row, '00201206'), 1);
  assert.deepEqual(row?.['00080061']?.Value, ['CT'], 'SR gone from ModalitiesInStudy');
  const series = await qido(`${gateway.dicomweb}/studies/${study}/series`);
  assert.deepEqual(
    series.map((s) => value(s, '0020000E')),
    [ct],
  );

  assert.equal((await del(`/studies/${study}`)).status, 204);
  assert.equal(await studyRow(study), undefined);
  assert.equal((await fetch(`${gateway.dicomweb}/studies/${study}/metadata`)).status, 404);
  const left = await listStoredFiles(gateway.dataDir);
  assert.ok(
    left.every((file) => !file.includes(study)),
    'no file of the study is left',
  );
});

test('other studies are untouched and a deleted instance can be stored again', async () => {
  const keep = await storeStudy();
  const gone = await storeStudy();
  assert.equal((await del(`/studies/${gone.study}`)).status, 204);
  assert.equal(value(await studyRow(keep.study), '00201208'), 4);

  const again = buildInstance({ studyInstanceUID: gone.study, seriesInstanceUID: gone.ct });
  assert.equal((await stow(gateway.dicomweb, [again.bytes])).status, 200);
  assert.equal(value(await studyRow(gone.study), '00201208'), 1);
  const retrieved = await fetch(
    `${gateway.dicomweb}/studies/${gone.study}/series/${gone.ct}/instances/${again.sopInstanceUID}`,
    { headers: { accept: 'multipart/related; type="application/dicom"' } },
  );
  assert.equal(retrieved.status, 200);
});

test('unknown UIDs answer 404 and invalid UIDs 400, both with JSON bodies', async () => {
  const { study, ct } = await storeStudy();
  for (const path of [
    `/studies/${newUid()}`,
    `/studies/${study}/series/${newUid()}`,
    `/studies/${study}/series/${ct}/instances/${newUid()}`,
    `/studies/${newUid()}/series/${ct}`,
  ]) {
    const response = await del(path);
    assert.equal(response.status, 404, path);
    assert.equal(((await response.json()) as { error: string }).error, 'NOT_FOUND');
  }
  for (const path of [
    '/studies/1.2.abc',
    `/studies/${study}/series/..%2F..`,
    `/studies/${'1.'.repeat(40)}1`,
  ]) {
    const response = await del(path);
    assert.equal(response.status, 400, path);
    assert.equal(((await response.json()) as { error: string }).error, 'BAD_REQUEST');
  }
  assert.equal(value(await studyRow(study), '00201208'), 4, 'nothing was deleted by the failures');
});

test('files of a delete interrupted by a crash are removed at the next start-up', async () => {
  const dataDir = await makeTempDir('gw-delete-crash-');
  try {
    const config = loadConfig({ env: {}, flags: { data: dataDir, 'log-level': 'silent' } });
    const log = createLogger('silent');
    let core = await openCore(config, log);
    const instance = buildInstance();
    const outcome = await core.ingest.ingestStream(
      (async function* () {
        yield instance.bytes;
      })(),
      { door: 'import' },
    );
    assert.ok(outcome.ok);
    // The index half of a delete, without the file half: what a crash right after the commit leaves.
    const keys = core.index.deleteInstances({ studyInstanceUid: instance.studyInstanceUID });
    assert.equal(keys.length, 1);
    assert.ok(existsSync(join(dataDir, keys[0]!)));
    await core.close();

    core = await openCore(config, log);
    assert.ok(!existsSync(join(dataDir, keys[0]!)), 'start-up finished the removal');
    assert.deepEqual(core.index.pendingFileRemovals(), []);
    await core.close();
  } finally {
    await removeDir(dataDir);
  }
});
