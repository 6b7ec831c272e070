/**
 * The consistency tools as users run them (the built CLI) on a store a real gateway wrote: verify finds
 * every kind of damage and exits non-zero, verify --repair leaves exactly the good instances, reindex
 * rebuilds an index that answers like the old one, and both refuse to run beside a live gateway.
 */
import assert from 'node:assert/strict';
import { execFile as execFileCallback } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteIndex } from '../../src/index/sqlite-index.js';
import { buildInstance, newUid, type BuiltInstance, type InstanceSpec } from '../helpers/dicom-generator.js';
import { qido, stow, value, type DicomJson } from '../helpers/dicomweb-client.js';
import { makeTempDir, removeDir } from '../helpers/fixtures.js';
import { CLI, startTestGateway } from '../helpers/gateway.js';
import { findStoredFile, listFilesUnder, listStoredFiles } from '../helpers/stored-files.js';

const execFile = promisify(execFileCallback);

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return execFile(process.execPath, [CLI, ...args], {
    env: { ...process.env, DICOMWEB_LOG_LEVEL: 'warn' },
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );
}

/** Runs a maintenance command with --json and parses its report. */
async function runJson<T>(args: string[]): Promise<{ code: number; report: T; stderr: string }> {
  const { code, stdout, stderr } = await run([...args, '--json']);
  try {
    return { code, report: JSON.parse(stdout) as T, stderr };
  } catch {
    throw new Error(`no JSON report from ${args.join(' ')} (exit ${code}):\n${stdout}\n${stderr}`);
  }
}

interface VerifyJson {
  checked: { instances: number; files: number };
  missingFiles: { sopInstanceUid: string; fileKey: string }[];
  sizeMismatch: { sopInstanceUid: string; fileKey: string }[];
  hashMismatch: { sopInstanceUid: string; fileKey: string }[];
  unindexedFiles: { fileKey: string }[];
  indexIntegrity: string[];
  counterProblems: { level: string; uid: string }[];
  notes: { temporaryFiles: number; pendingRemovals: string[] };
  problems: number;
  remaining?: number;
  repaired?: {
    removedRows: { sopInstanceUid: string; reason: string }[];
    unindexedFiles: { action: string; fileKey: string; sopInstanceUid?: string }[];
    quarantined: { fileKey: string; to: string; reason: string }[];
    removedTemporary: number;
    removedPendingFiles: string[];
    failed: unknown[];
  };
}

interface ReindexJson {
  backup?: string;
  oldIndex?: { instances?: number };
  files: number;
  counts: Record<string, number>;
  details: { action: string; fileKey: string }[];
  quarantined: { fileKey: string; to: string; reason: string }[];
  removedPendingFiles: string[];
  instances: number;
  failed: number;
}

interface Store {
  dataDir: string;
  study: { a: string; b: string };
  series: { a1: string; a2: string; b1: string };
  /** a1..a3 in series A1, a4 and a5 in series A2, b1 and b2 in study B. */
  instances: Record<'a1' | 'a2' | 'a3' | 'a4' | 'a5' | 'b1' | 'b2', BuiltInstance>;
}

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await removeDir(dir);
});

/** A store written by a real gateway through STOW, with the gateway stopped again. */
async function buildStore(): Promise<Store> {
  const dataDir = await makeTempDir('maintenance-');
  dirs.push(dataDir);
  const study = { a: newUid(), b: newUid() };
  const series = { a1: newUid(), a2: newUid(), b1: newUid() };
  const a = { studyInstanceUID: study.a, patientID: 'MAINT-A', patientName: 'Verify^Alice' };
  const b = { studyInstanceUID: study.b, patientID: 'MAINT-B', patientName: 'Verify^Bob', modality: 'MR' };
  const make = (spec: InstanceSpec) => buildInstance({ image: { rows: 32, columns: 32 }, ...spec });
  const instances = {
    a1: make({ ...a, seriesInstanceUID: series.a1, seriesNumber: 1, instanceNumber: 1 }),
    a2: make({ ...a, seriesInstanceUID: series.a1, seriesNumber: 1, instanceNumber: 2 }),
    a3: make({ ...a, seriesInstanceUID: series.a1, seriesNumber: 1, instanceNumber: 3 }),
    a4: make({ ...a, seriesInstanceUID: series.a2, seriesNumber: 2, instanceNumber: 1, modality: 'OT' }),
    a5: make({ ...a, seriesInstanceUID: series.a2, seriesNumber: 2, instanceNumber: 2, modality: 'OT' }),
    b1: make({ ...b, seriesInstanceUID: series.b1, instanceNumber: 1 }),
    b2: make({ ...b, seriesInstanceUID: series.b1, instanceNumber: 2 }),
  };
  const gateway = await startTestGateway({}, { dataDir });
  try {
    const { status } = await stow(
      gateway.dicomweb,
      Object.values(instances).map((i) => i.bytes),
    );
    assert.equal(status, 200);
  } finally {
    await gateway.stop();
  }
  return { dataDir, study, series, instances };
}

/**
 * What a gateway on the data directory answers: every study (QIDO), its series and instances, and the
 * metadata of every instance (WADO), with the gateway's own address taken out of URLs.
 */
async function snapshot(dataDir: string): Promise<unknown> {
  const gateway = await startTestGateway({}, { dataDir });
  try {
    const base = gateway.dicomweb;
    const normalize = <T>(json: T): T =>
      JSON.parse(JSON.stringify(json).replaceAll(gateway.httpUrl, 'http://gateway')) as T;
    const byUid = (tag: string) => (x: DicomJson, y: DicomJson) =>
      String(value(x, tag)).localeCompare(String(value(y, tag)));
    const studies = (await qido(`${base}/studies`)).sort(byUid('0020000D'));
    const out = [];
    for (const study of studies) {
      const uid = String(value(study, '0020000D'));
      const series = (await qido(`${base}/studies/${uid}/series`)).sort(byUid('0020000E'));
      const instances = (await qido(`${base}/studies/${uid}/instances`)).sort(byUid('00080018'));
      const response = await fetch(`${base}/studies/${uid}/metadata`, {
        headers: { accept: 'application/dicom+json' },
      });
      assert.equal(response.status, 200);
      const metadata = ((await response.json()) as DicomJson[]).sort(byUid('00080018'));
      out.push(normalize({ study, series, instances, metadata }));
    }
    return out;
  } finally {
    await gateway.stop();
  }
}

/** SOP Instance UIDs a fresh gateway on the data directory finds, by study. */
async function indexedInstances(dataDir: string): Promise<{
  studies: Map<string, { series: number; instances: number }>;
  sops: Set<string>;
}> {
  const gateway = await startTestGateway({}, { dataDir });
  try {
    const studies = new Map<string, { series: number; instances: number }>();
    for (const study of await qido(`${gateway.dicomweb}/studies`)) {
      studies.set(String(value(study, '0020000D')), {
        series: Number(value(study, '00201206')),
        instances: Number(value(study, '00201208')),
      });
    }
    const sops = new Set(
      (await qido(`${gateway.dicomweb}/instances`)).map((i) => String(value(i, '00080018'))),
    );
    return { studies, sops };
  } finally {
    await gateway.stop();
  }
}

async function metadataOf(dataDir: string, instance: BuiltInstance): Promise<DicomJson> {
  const gateway = await startTestGateway({}, { dataDir });
  try {
    const url = `${gateway.dicomweb}/studies/${instance.studyInstanceUID}/series/${instance.seriesInstanceUID}/instances/${instance.sopInstanceUID}/metadata`;
    const response = await fetch(url, { headers: { accept: 'application/dicom+json' } });
    assert.equal(response.status, 200, url);
    return ((await response.json()) as DicomJson[])[0]!;
  } finally {
    await gateway.stop();
  }
}

const keyOf = (dataDir: string, path: string) => relative(dataDir, path).split('\\').join('/');

async function storedKey(store: Store, name: keyof Store['instances']): Promise<string> {
  return keyOf(store.dataDir, await findStoredFile(store.dataDir, store.instances[name].sopInstanceUID));
}

describe('verify and reindex on an intact store', () => {
  test('verify passes; reindex rebuilds an index that answers exactly like the old one', async () => {
    const store = await buildStore();
    const before = await snapshot(store.dataDir);

    const verified = await run(['verify', '--data', store.dataDir]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /7 indexed instances .* and 7 files checked/);
    assert.match(verified.stdout, /no problems found/);

    const reindexed = await run(['reindex', '--data', store.dataDir]);
    assert.equal(reindexed.code, 0, reindexed.stdout + reindexed.stderr);
    assert.match(reindexed.stdout, /moved the old index to index\.sqlite\.bak-\S+, which held 7 instances/);
    assert.match(
      reindexed.stdout,
      /7 files: indexed 7, imported 0, duplicates removed 0, quarantined 0, failed 0/,
    );
    assert.match(reindexed.stderr, /7\/7 \(100%\)/, 'a progress bar on stderr');
    const backups = (await readdir(store.dataDir)).filter((name) => name.startsWith('index.sqlite.bak-'));
    assert.equal(backups.length, 1);

    assert.deepEqual(await snapshot(store.dataDir), before);
    // Nothing was rewritten or moved.
    assert.deepEqual((await listStoredFiles(store.dataDir)).length, 7);
    assert.equal((await run(['verify', '--data', store.dataDir])).code, 0);
  });
});

describe('verify on a damaged store', () => {
  test('finds every kind of damage, repairs it, and leaves exactly the good instances', async () => {
    const store = await buildStore();
    const { dataDir, instances } = store;
    const files = join(dataDir, 'files');

    // An indexed file deleted, one truncated, one with a byte flipped in its pixel data.
    await unlink(join(dataDir, await storedKey(store, 'a1')));
    const a2 = join(dataDir, await storedKey(store, 'a2'));
    await truncate(a2, instances.a2.bytes.length >> 1);
    const a3 = join(dataDir, await storedKey(store, 'a3'));
    const a3bytes = await readFile(a3);
    a3bytes.writeUInt8(a3bytes.readUInt8(a3bytes.length - 10) ^ 0xff, a3bytes.length - 10);
    await writeFile(a3, a3bytes);

    // Unindexed files: a valid instance at its proper place (a crash between placing and indexing), one
    // dropped elsewhere, garbage, a byte-identical copy of a4, and another version of a5.
    const a6 = buildInstance({
      studyInstanceUID: store.study.a,
      seriesInstanceUID: store.series.a1,
      patientID: 'MAINT-A',
      patientName: 'Verify^Alice',
      seriesNumber: 1,
      instanceNumber: 6,
    });
    const a6key = `files/${store.study.a}/${store.series.a1}/${a6.sopInstanceUID}.dcm`;
    await writeFile(join(dataDir, a6key), a6.bytes);
    const c1 = buildInstance({ patientID: 'MAINT-C' });
    await mkdir(join(files, 'dropped'));
    await writeFile(join(files, 'dropped', 'extra.dcm'), c1.bytes);
    await writeFile(join(files, 'junk.bin'), randomBytes(3000));
    const a4key = await storedKey(store, 'a4');
    const a4copy = a4key.replace(/\.dcm$/, '.0123456789abcdef.dcm');
    await copyFile(join(dataDir, a4key), join(dataDir, a4copy));
    const a5other = buildInstance({
      studyInstanceUID: store.study.a,
      seriesInstanceUID: store.series.a2,
      sopInstanceUID: instances.a5.sopInstanceUID,
      extra: [{ tag: 0x00204000, vr: 'LT', value: 'another version' }],
    });
    const a5key = (await storedKey(store, 'a5')).replace(/\.dcm$/, '.fedcba9876543210.dcm');
    await writeFile(join(dataDir, a5key), a5other.bytes);

    // Index rows lost: both instances of study B, deleted behind the index's back (counts left stale).
    const db = new Database(join(dataDir, 'index.sqlite'));
    db.prepare('DELETE FROM instances WHERE sop_uid IN (?, ?)').run(
      instances.b1.sopInstanceUID,
      instances.b2.sopInstanceUID,
    );
    db.close();
    // And a partial upload left in tmp/ by a crash.
    await writeFile(join(dataDir, 'tmp', '1700000000000-0123456789abcdef.part'), randomBytes(100));

    const found = await runJson<VerifyJson>(['verify', '--data', dataDir]);
    assert.equal(found.code, 4, found.stderr);
    const r = found.report;
    assert.deepEqual(
      r.missingFiles.map((p) => p.sopInstanceUid),
      [instances.a1.sopInstanceUID],
    );
    assert.deepEqual(
      r.sizeMismatch.map((p) => p.sopInstanceUid),
      [instances.a2.sopInstanceUID],
    );
    assert.deepEqual(
      r.hashMismatch.map((p) => p.sopInstanceUid),
      [instances.a3.sopInstanceUID],
    );
    const b1key = await storedKey(store, 'b1');
    const b2key = await storedKey(store, 'b2');
    assert.deepEqual(
      r.unindexedFiles.map((f) => f.fileKey).sort(),
      [a6key, 'files/dropped/extra.dcm', 'files/junk.bin', a4copy, a5key, b1key, b2key].sort(),
    );
    assert.ok(r.counterProblems.some((c) => c.level === 'series' && c.uid === store.series.b1));
    assert.ok(r.counterProblems.some((c) => c.level === 'study' && c.uid === store.study.b));
    assert.deepEqual(r.indexIntegrity, []);
    assert.equal(r.notes.temporaryFiles, 1);
    assert.equal(r.checked.instances, 5);
    assert.equal(r.checked.files, 11);

    // The human-readable report says the same, and nothing was changed.
    const text = await run(['verify', '--data', dataDir]);
    assert.equal(text.code, 4);
    assert.match(
      text.stdout,
      new RegExp(`missing file: \\S+ \\(SOP instance ${instances.a1.sopInstanceUID}\\)`),
    );
    assert.match(text.stdout, /size mismatch: .* bytes, indexed with \d+/);
    assert.match(text.stdout, /hash mismatch: /);
    assert.match(text.stdout, /unindexed file: files\/junk\.bin \(3000 bytes\)/);
    assert.match(text.stdout, /\d+ problems found; `dicomweb-gateway verify --repair` repairs them/);

    const repaired = await runJson<VerifyJson>(['verify', '--data', dataDir, '--repair']);
    assert.equal(repaired.code, 1, JSON.stringify(repaired.report.repaired, null, 2));
    assert.equal(repaired.report.remaining, 0);
    const fix = repaired.report.repaired!;
    assert.deepEqual(
      fix.removedRows.map((row) => [row.sopInstanceUid, row.reason]).sort(),
      [
        [instances.a1.sopInstanceUID, 'missing'],
        [instances.a2.sopInstanceUID, 'size mismatch'],
        [instances.a3.sopInstanceUID, 'hash mismatch'],
      ].sort(),
    );
    const action = (key: string) => fix.unindexedFiles.find((o) => o.fileKey === key)?.action;
    assert.equal(action(a6key), 'indexed');
    assert.equal(action(b1key), 'indexed');
    assert.equal(action(b2key), 'indexed');
    assert.equal(action('files/dropped/extra.dcm'), 'imported');
    assert.equal(action(a4copy), 'duplicate');
    assert.equal(action(a5key), 'quarantined');
    assert.equal(action('files/junk.bin'), 'quarantined');
    assert.deepEqual(fix.failed, []);
    assert.equal(fix.removedTemporary, 1);
    assert.deepEqual(
      fix.quarantined.map((q) => q.fileKey).sort(),
      [keyOf(dataDir, a2), keyOf(dataDir, a3), 'files/junk.bin', a5key].sort(),
    );

    // Quarantined files are kept, with their reasons, out of files/.
    const quarantined = await listFilesUnder(dataDir, 'quarantine');
    for (const q of fix.quarantined) assert.ok(quarantined.includes(q.to), `${q.to} exists`);
    const reasons = quarantined.find((path) => path.endsWith('/reasons.tsv'))!;
    assert.match(await readFile(join(dataDir, reasons), 'utf8'), /files\/junk\.bin\t.*not a DICOM file/);
    assert.ok(!existsSync(join(files, 'dropped', 'extra.dcm')), 'the imported original is gone');
    assert.ok(!existsSync(join(dataDir, a4copy)), 'the duplicate is gone');
    assert.deepEqual(await readdir(join(dataDir, 'tmp')), []);

    const again = await run(['verify', '--data', dataDir]);
    assert.equal(again.code, 0, again.stdout);

    // A gateway on the repaired store finds exactly the good instances, counted right.
    const { studies, sops } = await indexedInstances(dataDir);
    assert.deepEqual(
      [...sops].sort(),
      [
        instances.a4.sopInstanceUID,
        instances.a5.sopInstanceUID,
        a6.sopInstanceUID,
        instances.b1.sopInstanceUID,
        instances.b2.sopInstanceUID,
        c1.sopInstanceUID,
      ].sort(),
    );
    assert.deepEqual(studies.get(store.study.a), { series: 2, instances: 3 });
    assert.deepEqual(studies.get(store.study.b), { series: 1, instances: 2 });
    assert.deepEqual(studies.get(c1.studyInstanceUID), { series: 1, instances: 1 });
    assert.equal(studies.size, 3);
    // The indexed a5 is still the acknowledged version, not the stray one.
    assert.equal(value(await metadataOf(dataDir, instances.a5), '00204000'), undefined);
  });

  test('a running gateway is refused, and its index is left alone', async () => {
    const store = await buildStore();
    const gateway = await startTestGateway({}, { dataDir: store.dataDir });
    try {
      const verified = await run(['verify', '--data', store.dataDir, '--repair']);
      assert.equal(verified.code, 8);
      assert.match(verified.stderr, /in use by another (dicomweb-gateway )?process/);
      const reindexed = await run(['reindex', '--data', store.dataDir]);
      assert.equal(reindexed.code, 8);
      assert.match(reindexed.stderr, /in use by another (dicomweb-gateway )?process/);
      assert.ok(!(await readdir(store.dataDir)).some((name) => name.includes('.bak-')));
      // The gateway did not notice.
      assert.equal((await qido(`${gateway.dicomweb}/instances`)).length, 7);
    } finally {
      await gateway.stop();
    }
    const missing = await run(['verify', '--data', join(store.dataDir, 'nowhere')]);
    assert.equal(missing.code, 8);
    assert.match(missing.stderr, /no data directory/);
  });
});

describe('reindex on a damaged store', () => {
  test('quarantines unreadable files, keeps the newest of two versions, and exits non-zero', async () => {
    const store = await buildStore();
    const { dataDir, instances } = store;
    const a2 = join(dataDir, await storedKey(store, 'a2'));
    await truncate(a2, instances.a2.bytes.length >> 1);

    // Two versions of a4 and of a5, as an overwrite interrupted by a crash leaves them: for a4 the file with
    // the suffixed name is the newer one, for a5 the older one.
    const version = (name: 'a4' | 'a5') =>
      buildInstance({
        studyInstanceUID: store.study.a,
        seriesInstanceUID: store.series.a2,
        sopInstanceUID: instances[name].sopInstanceUID,
        patientID: 'MAINT-A',
        patientName: 'Verify^Alice',
        seriesNumber: 2,
        instanceNumber: name === 'a4' ? 1 : 2,
        modality: 'OT',
        image: { rows: 32, columns: 32 },
        extra: [{ tag: 0x00204000, vr: 'LT', value: 'second version' }],
      });
    const a4 = join(dataDir, await storedKey(store, 'a4'));
    const a4new = a4.replace(/\.dcm$/, '.00000000000000aa.dcm');
    await writeFile(a4new, version('a4').bytes);
    const a5 = join(dataDir, await storedKey(store, 'a5'));
    const a5old = a5.replace(/\.dcm$/, '.00000000000000bb.dcm');
    await writeFile(a5old, version('a5').bytes);
    const now = Date.now() / 1000;
    await utimes(a4, now - 3600, now - 3600);
    await utimes(a4new, now, now);
    await utimes(a5old, now - 3600, now - 3600);
    await utimes(a5, now, now);

    const result = await runJson<ReindexJson>(['reindex', '--data', dataDir]);
    assert.equal(result.code, 1, JSON.stringify(result.report, null, 2));
    const r = result.report;
    assert.equal(r.oldIndex?.instances, 7);
    assert.equal(r.files, 9);
    assert.equal(r.instances, 6);
    assert.equal(r.failed, 3);
    assert.deepEqual(
      r.quarantined.map((q) => q.fileKey).sort(),
      [keyOf(dataDir, a2), keyOf(dataDir, a4), keyOf(dataDir, a5old)].sort(),
    );
    assert.match(r.quarantined.find((q) => q.fileKey === keyOf(dataDir, a4))!.reason, /older version/);
    assert.match(r.quarantined.find((q) => q.fileKey === keyOf(dataDir, a5old))!.reason, /superseded/);

    const { sops } = await indexedInstances(dataDir);
    assert.equal(sops.size, 6);
    assert.ok(!sops.has(instances.a2.sopInstanceUID));
    assert.equal(value(await metadataOf(dataDir, instances.a4), '00204000'), 'second version');
    assert.equal(value(await metadataOf(dataDir, instances.a5), '00204000'), undefined);
    assert.equal((await run(['verify', '--data', dataDir])).code, 0);
  });

  test('files of deleted instances are not brought back', async () => {
    const store = await buildStore();
    const { dataDir, instances } = store;
    // An instance deleted, and the gateway gone before it removed the file.
    const index = new SqliteIndex(join(dataDir, 'index.sqlite'));
    const [fileKey] = index.deleteInstances({
      studyInstanceUid: instances.b1.studyInstanceUID,
      sopInstanceUid: instances.b1.sopInstanceUID,
    });
    assert.deepEqual(index.pendingFileRemovals(), [fileKey]);
    await index.close();
    assert.ok(existsSync(join(dataDir, fileKey!)));

    const verified = await runJson<VerifyJson>(['verify', '--data', dataDir]);
    assert.equal(verified.code, 0);
    assert.deepEqual(verified.report.notes.pendingRemovals, [fileKey]);
    assert.deepEqual(verified.report.unindexedFiles, []);

    const reindexed = await runJson<ReindexJson>(['reindex', '--data', dataDir]);
    assert.equal(reindexed.code, 0);
    assert.deepEqual(reindexed.report.removedPendingFiles, [fileKey]);
    assert.equal(reindexed.report.instances, 6);
    assert.ok(!existsSync(join(dataDir, fileKey!)));
    assert.ok(!(await indexedInstances(dataDir)).sops.has(instances.b1.sopInstanceUID));
  });

  test('verify --repair finishes the removal of a deleted instance', async () => {
    const store = await buildStore();
    const index = new SqliteIndex(join(store.dataDir, 'index.sqlite'));
    const [fileKey] = index.deleteInstances({
      studyInstanceUid: store.instances.a1.studyInstanceUID,
      sopInstanceUid: store.instances.a1.sopInstanceUID,
    });
    await index.close();
    const repaired = await runJson<VerifyJson>(['verify', '--data', store.dataDir, '--repair']);
    assert.equal(repaired.code, 0, 'a leftover of a crash is not a problem');
    assert.deepEqual(repaired.report.repaired?.removedPendingFiles, [fileKey]);
    assert.ok(!existsSync(join(store.dataDir, fileKey!)));
    const reopened = new SqliteIndex(join(store.dataDir, 'index.sqlite'));
    assert.deepEqual(reopened.pendingFileRemovals(), []);
    await reopened.close();
  });
});
