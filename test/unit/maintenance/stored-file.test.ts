/**
 * Indexing a file where it lies must give exactly what ingest recorded when the file arrived: the same
 * hashes (the dataset hash without File Meta Information), offsets, frame layout and metadata, for every
 * transfer syntax and for files whose File Meta Information the gateway wrote itself (C-STORE).
 */
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { isStorageSopClass } from '../../../src/dicom/storage-sop-classes.js';
import { SqliteIndex } from '../../../src/index/sqlite-index.js';
import { extractRecord } from '../../../src/ingest/extract-record.js';
import { IngestService, type BeginOptions } from '../../../src/ingest/store-instance.js';
import { validateInstance } from '../../../src/ingest/validate-instance.js';
import { createLogger } from '../../../src/log.js';
import { IndexBusyError, lockIndex, unlockIndex } from '../../../src/maintenance/sqlite-ops.js';
import { isCanonicalKey, readStoredFile } from '../../../src/maintenance/stored-file.js';
import { FsFileStore } from '../../../src/storage/fs-file-store.js';
import { buildInstance, TransferSyntaxUid } from '../../helpers/dicom-generator.js';
import { makeTempDir, makeTransferSyntaxSet, removeDir } from '../../helpers/fixtures.js';
import { datasetBytes } from '../../helpers/stored-files.js';

describe('readStoredFile', () => {
  let dir: string;
  let store: FsFileStore;
  let index: SqliteIndex;
  let ingest: IngestService;
  before(async () => {
    dir = await makeTempDir('stored-file-');
    store = new FsFileStore(join(dir, 'data'), { fsync: false });
    await store.init();
    index = new SqliteIndex(join(dir, 'data', 'index.sqlite'));
    ingest = new IngestService(
      store,
      index,
      { overwrite: false, maxInstanceBytes: 1e9, acceptSopClass: isStorageSopClass },
      createLogger('silent'),
    );
  });
  after(async () => {
    await store.close();
    await index.close();
    await removeDir(dir);
  });

  async function ingestAndCompare(bytes: Buffer, options: BeginOptions = { door: 'stow' }): Promise<void> {
    const outcome = await ingest.ingestStream(Readable.from([bytes]), options);
    assert.ok(outcome.ok, outcome.ok ? '' : outcome.error.message);
    const stored = index.getInstance(outcome.instance.sopInstanceUid)!;
    const key = stored.storage.fileKey;

    const file = await readStoredFile(store, key, { maxInstanceBytes: 1e9 });
    const id = validateInstance(file.parsed, {}, () => true);
    assert.deepEqual(id, outcome.instance);
    assert.ok(isCanonicalKey(key, id), key);
    const record = extractRecord(
      file.parsed,
      id,
      { fileKey: key, fileSize: file.fileSize, sha256: file.sha256, datasetSha256: file.datasetSha256 },
      { door: 'reindex' },
    );
    assert.deepEqual(record.storage, stored.storage);
    assert.equal(record.metadataJson, index.getMetadata(id.sopInstanceUid));
  }

  test('a Part 10 upload (Explicit VR Little Endian)', async () => {
    await ingestAndCompare(
      buildInstance({ image: { rows: 8, columns: 8, frames: 3, bitsAllocated: 8 } }).bytes,
    );
  });

  test('a bare C-STORE dataset behind File Meta Information the gateway wrote', async () => {
    const instance = buildInstance();
    await ingestAndCompare(datasetBytes(instance.bytes), {
      door: 'dimse',
      callingAETitle: 'MODALITY',
      dataset: {
        sopClassUid: instance.sopClassUID,
        sopInstanceUid: instance.sopInstanceUID,
        transferSyntaxUid: TransferSyntaxUid.ExplicitVRLittleEndian,
      },
    });
  });

  test('other transfer syntaxes: deflated, big endian, implicit, encapsulated', async () => {
    const sources = join(dir, 'sources');
    await mkdir(sources);
    const set = await makeTransferSyntaxSet(sources, undefined, [
      'implicit-le',
      'explicit-be',
      'deflated',
      'jpeg-lossless',
      'rle',
    ]);
    for (const file of set.files) await ingestAndCompare(await readFile(file.path));
    assert.equal(set.files.length + set.skipped.length, 5);
  });
});

describe('isCanonicalKey', () => {
  const id = {
    studyInstanceUid: '1.2',
    seriesInstanceUid: '1.2.3',
    sopInstanceUid: '1.2.3.4',
    sopClassUid: '1',
  };
  test('the names ingest gives, and nothing else', () => {
    assert.ok(isCanonicalKey('files/1.2/1.2.3/1.2.3.4.dcm', id));
    assert.ok(isCanonicalKey('files/1.2/1.2.3/1.2.3.4.0123456789abcdef.dcm', id));
    assert.ok(isCanonicalKey('files/1.2/1.2.3/1.2.3.4.0123456789abcdef.1700000000000.dcm', id));
    assert.ok(!isCanonicalKey('files/1.2/1.2.3/1.2.3.4.5.dcm', id), 'another SOP instance');
    assert.ok(!isCanonicalKey('files/1.2/1.2.9/1.2.3.4.dcm', id), 'another series');
    assert.ok(!isCanonicalKey('files/1.2/1.2.3/1.2.3.4', id));
    assert.ok(!isCanonicalKey('files/dropped/1.2.3.4.dcm', id));
  });
});

describe('lockIndex', () => {
  test('refuses while another connection has the index open, and keeps others out while held', async () => {
    const dir = await makeTempDir('lock-');
    try {
      const path = join(dir, 'index.sqlite');
      const gateway = new SqliteIndex(path);
      gateway.counts();
      const maintenance = new SqliteIndex(path);
      assert.throws(() => lockIndex(maintenance, 50), IndexBusyError);
      await gateway.close();

      lockIndex(maintenance, 50);
      const other = new Database(path);
      other.pragma('busy_timeout = 50');
      assert.throws(() => other.prepare('SELECT count(*) FROM instances').get(), /database is locked/);
      unlockIndex(maintenance);
      assert.deepEqual(other.prepare('SELECT count(*) AS n FROM instances').get(), { n: 0 });
      other.close();
      await maintenance.close();
    } finally {
      await removeDir(dir);
    }
  });
});
