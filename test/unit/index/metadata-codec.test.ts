/**
 * The index's stored metadata: written as LZ4, and an index written before (raw deflate, no
 * metadata_codec column) still serves every instance's metadata after the gateway upgrades it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { deflateRawSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { isStorageSopClass } from '../../../src/dicom/storage-sop-classes.js';
import { decodeMetadata, encodeMetadata } from '../../../src/index/metadata-codec.js';
import { MIGRATIONS } from '../../../src/index/schema.js';
import { SqliteIndex } from '../../../src/index/sqlite-index.js';
import { IngestService } from '../../../src/ingest/store-instance.js';
import { createLogger } from '../../../src/log.js';
import { FsFileStore } from '../../../src/storage/fs-file-store.js';
import { buildInstance, newUid } from '../../helpers/dicom-generator.js';
import { makeTempDir, removeDir } from '../../helpers/fixtures.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('metadata-codec-');
});
after(() => removeDir(dir));

test('metadata round-trips through both encodings, and an unknown one is an error', () => {
  const json = JSON.stringify({
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Müller^Jürgen=山田^太郎' }] },
  });
  assert.equal(decodeMetadata(encodeMetadata(json), 'lz4'), json);
  assert.equal(decodeMetadata(deflateRawSync(json), 'deflate'), json);
  assert.throws(() => decodeMetadata(encodeMetadata(json), 'zstd'), /unknown encoding: zstd/);
});

test('an index from before LZ4 metadata is upgraded in place and serves old and new rows', async () => {
  const root = join(dir, 'upgrade');
  const store = new FsFileStore(root, { fsync: false });
  await store.init();
  const indexPath = join(root, 'index.sqlite');
  const study = newUid();
  const series = newUid();
  const ingestAll = async (index: SqliteIndex, firstNumber: number, count: number) => {
    const ingest = new IngestService(
      store,
      index,
      { overwrite: false, maxInstanceBytes: 1e9, acceptSopClass: isStorageSopClass },
      createLogger('silent'),
    );
    const uids: string[] = [];
    for (let i = 0; i < count; i++) {
      const { bytes, sopInstanceUID } = buildInstance({
        studyInstanceUID: study,
        seriesInstanceUID: series,
        instanceNumber: firstNumber + i,
        patientName: 'Müller^Jürgen',
        specificCharacterSet: 'ISO_IR 192',
        image: { rows: 4, columns: 4 },
      });
      const outcome = await ingest.ingestStream(Readable.from([bytes]), { door: 'stow' });
      assert.ok(outcome.ok, outcome.ok ? '' : outcome.error.message);
      uids.push(sopInstanceUID);
    }
    return uids;
  };

  // Written by this gateway, then turned into what the previous schema version held: raw deflate, no codec column.
  let index = new SqliteIndex(indexPath);
  const old = await ingestAll(index, 1, 3);
  const expected = new Map(old.map((uid) => [uid, index.getMetadata(uid)!]));
  const rows = index.db.prepare('SELECT pk, metadata, metadata_codec FROM instances').all() as {
    pk: number;
    metadata: Buffer;
    metadata_codec: string;
  }[];
  assert.deepEqual(new Set(rows.map((row) => row.metadata_codec)), new Set(['lz4']));
  for (const row of rows) {
    const json = decodeMetadata(row.metadata, row.metadata_codec);
    index.db.prepare('UPDATE instances SET metadata = ? WHERE pk = ?').run(deflateRawSync(json), row.pk);
  }
  index.db.exec('ALTER TABLE instances DROP COLUMN metadata_codec');
  index.db.pragma(`user_version = ${MIGRATIONS.length - 1}`);
  await index.close();

  index = new SqliteIndex(indexPath);
  try {
    assert.equal(index.db.pragma('user_version', { simple: true }), MIGRATIONS.length);
    for (const [uid, json] of expected) assert.equal(index.getMetadata(uid), json);
    const added = await ingestAll(index, 4, 2);
    const codecs = index.db
      .prepare('SELECT metadata_codec AS codec, count(*) AS n FROM instances GROUP BY 1 ORDER BY 1')
      .all();
    assert.deepEqual(codecs, [
      { codec: 'deflate', n: 3 },
      { codec: 'lz4', n: 2 },
    ]);
    const listed = index.listMetadata({ studyInstanceUid: study, seriesInstanceUid: series });
    assert.equal(listed.length, 5);
    assert.deepEqual(listed.slice(0, 3), [...expected.values()]);
    for (const [i, uid] of added.entries()) {
      const json = index.getMetadata(uid)!;
      assert.equal(listed[3 + i], json);
      assert.equal(
        (JSON.parse(json) as Record<string, { Value: { Alphabetic: string }[] }>)['00100010']!.Value[0]!
          .Alphabetic,
        'Müller^Jürgen',
      );
    }
  } finally {
    await index.close();
    await store.close();
  }
});
