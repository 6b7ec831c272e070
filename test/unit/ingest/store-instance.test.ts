/**
 * The ingest pipeline with its real parts (filesystem store, SQLite index) in a temp directory:
 * validation, UID path safety, duplicate policy, and what happens when indexing fails.
 */
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { setTimeout } from 'node:timers/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { isStorageSopClass } from '../../../src/dicom/storage-sop-classes.js';
import { SqliteIndex } from '../../../src/index/sqlite-index.js';
import type { IndexStore, InstanceRecord } from '../../../src/index/index-store.js';
import { createLogger } from '../../../src/log.js';
import { IngestService, type BeginOptions, type IngestListener } from '../../../src/ingest/store-instance.js';
import type { StoreOutcome } from '../../../src/ingest/outcome.js';
import { FsFileStore } from '../../../src/storage/fs-file-store.js';
import { buildInstance, newUid, type InstanceSpec } from '../../helpers/dicom-generator.js';
import { makeTempDir, removeDir } from '../../helpers/fixtures.js';
import { listStoredFiles } from '../../helpers/stored-files.js';

interface Setup {
  dir: string;
  store: FsFileStore;
  index: SqliteIndex;
  ingest: (bytes: Buffer, options?: Partial<BeginOptions>) => Promise<StoreOutcome>;
  service: IngestService;
}

async function setup(
  options: { overwrite?: boolean; maxInstanceBytes?: number; index?: IndexStore } = {},
): Promise<Setup> {
  const dir = await makeTempDir('ingest-');
  const store = new FsFileStore(dir);
  await store.init();
  const index = new SqliteIndex(join(dir, 'index.sqlite'));
  const service = new IngestService(
    store,
    options.index ?? index,
    {
      overwrite: options.overwrite ?? false,
      maxInstanceBytes: options.maxInstanceBytes ?? 1e9,
      acceptSopClass: isStorageSopClass,
    },
    createLogger('silent'),
  );
  const ingest = (bytes: Buffer, begin: Partial<BeginOptions> = {}) =>
    service.ingestStream(Readable.from(chunks(bytes, 1000)), { door: 'stow', ...begin });
  return { dir, store, index, ingest, service };
}

function* chunks(bytes: Buffer, size: number): Generator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

function failureOf(outcome: StoreOutcome): { code: string; message: string } {
  assert.equal(outcome.ok, false, 'expected a failure');
  if (outcome.ok) throw new Error('unreachable');
  return { code: outcome.error.code, message: outcome.error.message };
}

describe('ingest pipeline', () => {
  let s: Setup;
  beforeEach(async () => {
    s = await setup();
  });
  afterEach(async () => {
    await s.index.close();
    await s.store.close();
    await removeDir(s.dir);
  });

  test('stores the file under files/<study>/<series>/<sop>.dcm and indexes it', async () => {
    const instance = buildInstance({ patientName: 'Doe^Jane', modality: 'MR' });
    const outcome = await s.ingest(instance.bytes);
    assert.ok(outcome.ok);
    assert.equal(outcome.status, 'stored');
    const key = `files/${instance.studyInstanceUID}/${instance.seriesInstanceUID}/${instance.sopInstanceUID}.dcm`;
    assert.deepEqual(await listStoredFiles(s.dir), [key]);
    assert.ok((await readFile(join(s.dir, key))).equals(instance.bytes));
    const stored = s.index.getInstance(instance.sopInstanceUID);
    assert.equal(stored?.storage.fileKey, key);
    assert.equal(stored?.storage.fileSize, instance.bytes.length);
    assert.equal(s.index.counts().instances, 1);
  });

  test('precomputes DICOM JSON metadata and frame offsets', async () => {
    const instance = buildInstance({ image: { rows: 4, columns: 4, frames: 3, bitsAllocated: 8 } });
    assert.ok((await s.ingest(instance.bytes)).ok);
    const metadata = JSON.parse(s.index.getMetadata(instance.sopInstanceUID)!) as Record<
      string,
      { BulkDataURI?: string }
    >;
    assert.equal(
      metadata['7FE00010']?.BulkDataURI,
      `studies/${instance.studyInstanceUID}/series/${instance.seriesInstanceUID}/instances/${instance.sopInstanceUID}/bulkdata/7FE00010`,
    );
    const frames = s.index.getInstance(instance.sopInstanceUID)!.storage.frames;
    assert.equal(frames.kind, 'native');
    if (frames.kind !== 'native') return;
    assert.equal(frames.count, 3);
    assert.equal(frames.frameLength, 16);
    // The last 48 bytes of the file are the three frames.
    assert.equal(frames.offset, instance.bytes.length - 48);
  });

  for (const [name, spec, pattern] of [
    [
      'missing SOP Instance UID',
      { extra: [{ tag: 0x00080018, vr: 'UI' }] },
      /SOP Instance UID \(0008,0018\) is missing/,
    ],
    ['path traversal in the SOP Instance UID', { sopInstanceUID: '../../../etc/passwd' }, /not a valid UID/],
    ['slash in the series UID', { seriesInstanceUID: '1.2/3' }, /Series Instance UID .* not a valid UID/],
    [
      'a 65-character UID',
      { studyInstanceUID: `1.${'2'.repeat(63)}` },
      /Study Instance UID .* not a valid UID/,
    ],
    ['an empty component', { sopInstanceUID: '1..2' }, /not a valid UID/],
  ] as [string, InstanceSpec, RegExp][]) {
    test(`refuses ${name} and writes nothing`, async () => {
      const failure = failureOf(await s.ingest(buildInstance(spec).bytes));
      assert.equal(failure.code, 'INVALID_ATTRIBUTE');
      assert.match(failure.message, pattern);
      assert.deepEqual(await listStoredFiles(s.dir), []);
      assert.equal(s.index.counts().instances, 0);
    });
  }

  test('refuses truncated input and random bytes, leaving no temp files', async () => {
    const instance = buildInstance({ image: { rows: 32, columns: 32 } });
    for (const cut of [10, 131, 200, instance.bytes.length - 1]) {
      assert.equal(
        failureOf(await s.ingest(instance.bytes.subarray(0, cut))).code,
        'INVALID_DICOM',
        `cut at ${cut}`,
      );
    }
    assert.equal(failureOf(await s.ingest(Buffer.from('hello world'.repeat(50)))).code, 'INVALID_DICOM');
    assert.equal(await s.store.cleanTemporary(), 0, 'failed uploads left no temp files behind');
  });

  test('identical bytes again: success, nothing rewritten', async () => {
    const instance = buildInstance({});
    assert.ok((await s.ingest(instance.bytes)).ok);
    const again = await s.ingest(instance.bytes);
    assert.ok(again.ok && again.status === 'duplicate');
    assert.equal(s.index.counts().instances, 1);
  });

  test('same dataset with other File Meta Information is still the same instance', async () => {
    const instance = buildInstance({});
    assert.ok((await s.ingest(instance.bytes)).ok);
    const rewrapped = Buffer.from(instance.bytes);
    // Change the implementation version name's last character inside the meta header only.
    const at = rewrapped.indexOf('DWG_TESTGEN_1');
    rewrapped.write('2', at + 'DWG_TESTGEN_'.length);
    const again = await s.ingest(rewrapped);
    assert.ok(again.ok && again.status === 'duplicate');
  });

  test('different content under the same SOP Instance UID is refused by default', async () => {
    const first = buildInstance({ patientName: 'First^Version' });
    assert.ok((await s.ingest(first.bytes)).ok);
    const second = buildInstance({ ...idsOf(first), patientName: 'Second^Version' });
    const failure = failureOf(await s.ingest(second.bytes));
    assert.equal(failure.code, 'DUPLICATE_CONFLICT');
    assert.ok(
      (await readFile(join(s.dir, s.index.getInstance(first.sopInstanceUID)!.storage.fileKey))).equals(
        first.bytes,
      ),
    );
    assert.equal((await listStoredFiles(s.dir)).length, 1);
  });

  test('a study UID other than the expected one is a mismatch', async () => {
    const failure = failureOf(
      await s.ingest(buildInstance({}).bytes, { expectedStudyInstanceUid: newUid() }),
    );
    assert.equal(failure.code, 'DATASET_MISMATCH');
  });

  test('a C-STORE dataset whose UIDs differ from the command is a mismatch', async () => {
    const instance = buildInstance({});
    const dataset = instance.bytes.subarray(instance.bytes.readUInt32LE(140) + 144);
    const failure = failureOf(
      await s.ingest(dataset, {
        door: 'dimse',
        dataset: {
          sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
          sopInstanceUid: newUid(),
          transferSyntaxUid: '1.2.840.10008.1.2.1',
        },
      }),
    );
    assert.equal(failure.code, 'DATASET_MISMATCH');
  });

  test('a series already in another study is refused', async () => {
    const first = buildInstance({});
    assert.ok((await s.ingest(first.bytes)).ok);
    const failure = failureOf(
      await s.ingest(buildInstance({ seriesInstanceUID: first.seriesInstanceUID }).bytes),
    );
    assert.equal(failure.code, 'DATASET_MISMATCH');
    assert.equal((await listStoredFiles(s.dir)).length, 1, 'the refused file was removed');
  });
});

describe('overwrite and index failures', () => {
  test('overwrite: true replaces file and index row together', async () => {
    const s = await setup({ overwrite: true });
    try {
      const first = buildInstance({ patientName: 'First^Version' });
      const second = buildInstance({ ...idsOf(first), patientName: 'Second^Version' });
      assert.ok((await s.ingest(first.bytes)).ok);
      const replaced = await s.ingest(second.bytes);
      assert.ok(replaced.ok && replaced.status === 'replaced');
      const files = await listStoredFiles(s.dir);
      assert.equal(files.length, 1, 'the old file is gone');
      assert.ok((await readFile(join(s.dir, files[0]!))).equals(second.bytes));
      assert.equal(s.index.getInstance(first.sopInstanceUID)!.storage.fileKey, files[0]);
      assert.equal(s.index.counts().instances, 1);
    } finally {
      await s.index.close();
      await s.store.close();
      await s.store.close();
      await removeDir(s.dir);
    }
  });

  test('when indexing fails the file is removed and the failure reported', async () => {
    const dir = await makeTempDir('ingest-failing-');
    const real = new SqliteIndex(join(dir, 'real.sqlite'));
    const failing: IndexStore = Object.assign(Object.create(real) as IndexStore, {
      putInstance: (_record: InstanceRecord) => {
        throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
      },
    });
    const s = await setup({ index: failing });
    try {
      const failure = failureOf(await s.ingest(buildInstance({}).bytes));
      assert.equal(failure.code, 'PROCESSING_FAILURE');
      assert.deepEqual(await listStoredFiles(s.dir), []);
    } finally {
      await real.close();
      await s.index.close();
      await s.store.close();
      await s.store.close();
      await removeDir(s.dir);
      await removeDir(dir);
    }
  });

  test('the placement marker stays until the index row is durable, then goes', async () => {
    const dir = await makeTempDir('ingest-durable-');
    // No periodic checkpoint within the test: the row becomes durable only when asked.
    const slow = new SqliteIndex(join(dir, 'slow.sqlite'), { walCheckpoint: { intervalMs: 600_000 } });
    const s = await setup({ index: slow });
    const markers = async () => (await readdir(join(s.dir, 'tmp'))).filter((n) => n.endsWith('.placing'));
    try {
      const instance = buildInstance({});
      assert.ok((await s.ingest(instance.bytes)).ok);
      assert.equal((await markers()).length, 1, 'acknowledged, but a power loss could still take the row');
      await slow.durable(true);
      for (let i = 0; i < 100 && (await markers()).length > 0; i++) await setTimeout(20);
      assert.deepEqual(await markers(), []);
    } finally {
      await slow.close();
      await s.index.close();
      await s.store.close();
      await removeDir(s.dir);
      await removeDir(dir);
    }
  });

  test('an instance over maxInstanceBytes is refused as too large', async () => {
    const s = await setup({ maxInstanceBytes: 10_000 });
    try {
      const failure = failureOf(await s.ingest(buildInstance({ image: { rows: 128, columns: 128 } }).bytes));
      assert.equal(failure.code, 'PAYLOAD_TOO_LARGE');
      assert.deepEqual(await listStoredFiles(s.dir), []);
    } finally {
      await s.index.close();
      await s.store.close();
      await s.store.close();
      await removeDir(s.dir);
    }
  });

  test('listeners hear the origin the door passed; lines go through the logger it passed', async () => {
    const s = await setup();
    const events: Parameters<IngestListener>[0][] = [];
    s.service.onStored((event) => events.push(event));
    let logged = '';
    const log = createLogger(
      'debug',
      new Writable({
        write(chunk, _encoding, callback) {
          logged += String(chunk);
          callback();
        },
      }),
    ).child({ reqId: 'req-1' });
    const origin = { requestId: 'req-1', user: 'alice', address: '192.0.2.1' };
    const instance = buildInstance({});
    try {
      assert.ok((await s.ingest(instance.bytes, { origin, log })).ok);
      assert.equal(events.length, 1, 'heard before the door has the outcome');
      const refused = await s.ingest(instance.bytes, { origin, log, expectedStudyInstanceUid: newUid() });
      assert.equal(failureOf(refused).code, 'DATASET_MISMATCH');
      // With notifyAfterAnswer the door has its outcome (and can answer) first, in the same turn.
      await s.ingest(instance.bytes, { notifyAfterAnswer: true });
      assert.equal(events.length, 2, 'not heard before the door has the outcome');
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(events.length, 3, 'heard by the end of the turn');
      assert.deepEqual(
        events.map((e) => e.origin),
        [origin, origin, undefined],
      );
      assert.equal(events[0]?.origin, origin, 'the object the door passed');
      const lines = logged
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(
        lines.map((l) => [l.msg, l.reqId, l.door]),
        [
          ['instance stored', 'req-1', 'stow'],
          ['instance refused', 'req-1', 'stow'],
        ],
      );
    } finally {
      await s.index.close();
      await s.store.close();
      await removeDir(s.dir);
    }
  });
});

function idsOf(instance: ReturnType<typeof buildInstance>): InstanceSpec {
  return {
    studyInstanceUID: instance.studyInstanceUID,
    seriesInstanceUID: instance.seriesInstanceUID,
    sopInstanceUID: instance.sopInstanceUID,
  };
}
