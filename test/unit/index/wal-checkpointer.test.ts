/**
 * The index's write-ahead log stays bounded under steady writes: passive checkpoints alone never catch
 * up with a writer that keeps writing while they run, so the log would grow for as long as an import runs.
 */
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { isStorageSopClass } from '../../../src/dicom/storage-sop-classes.js';
import { SqliteIndex } from '../../../src/index/sqlite-index.js';
import { IngestService } from '../../../src/ingest/store-instance.js';
import { createLogger } from '../../../src/log.js';
import { FsFileStore } from '../../../src/storage/fs-file-store.js';
import { buildInstance } from '../../helpers/dicom-generator.js';
import { makeTempDir, removeDir } from '../../helpers/fixtures.js';

const MB = 1024 * 1024;
const INSTANCES = 1500;
/**
 * How many instances the writer may get ahead of the last finished checkpoint. Without a limit the log's
 * size would measure the machine: while a checkpoint waits for a busy disk's fsync (a second or more with
 * the whole suite running), a writer at a thousand instances a second adds tens of megabytes.
 */
const AHEAD = 20;

let dir: string;
before(async () => {
  dir = await makeTempDir('wal-');
});
after(() => removeDir(dir));

/** A store, an index checkpointing as given, and ingest over them. */
async function setup(
  name: string,
  walCheckpoint: { intervalMs: number; restartFrames?: number },
  fsync = true,
) {
  const root = join(dir, name);
  const store = new FsFileStore(root, { fsync });
  await store.init();
  const indexPath = join(root, 'index.sqlite');
  const index = new SqliteIndex(indexPath, { walCheckpoint });
  const ingest = new IngestService(
    store,
    index,
    { overwrite: false, maxInstanceBytes: 1e9, acceptSopClass: isStorageSopClass },
    createLogger('silent'),
  );
  return { store, index, indexPath, ingest };
}

const ingestOne = (ingest: IngestService) =>
  ingest.ingestStream(Readable.from([buildInstance({}).bytes]), { door: 'stow' });

/**
 * Ingests one instance after another, writing on while checkpoints run but never more than AHEAD
 * instances past the last one a finished checkpoint covered, and returns the largest log size seen.
 */
async function steadyWrites(name: string, restartFrames: number): Promise<number> {
  const { store, index, indexPath, ingest } = await setup(name, { intervalMs: 20, restartFrames }, false);
  let largest = 0;
  const covered: Promise<void>[] = [];
  try {
    for (let i = 0; i < INSTANCES; i++) {
      if (i >= AHEAD) await covered[i - AHEAD];
      const { bytes } = buildInstance({ image: { rows: 8, columns: 8 } });
      const outcome = await ingest.ingestStream(Readable.from([bytes]), { door: 'stow' });
      assert.ok(
        outcome.ok,
        outcome.ok ? '' : `${outcome.error.message} ${(outcome.error.cause as Error)?.stack}`,
      );
      covered.push(index.durable());
      if (i % 100 === 0) largest = Math.max(largest, (await stat(`${indexPath}-wal`)).size);
    }
    largest = Math.max(largest, (await stat(`${indexPath}-wal`)).size);
    assert.equal(index.counts().instances, INSTANCES);
  } finally {
    await index.close();
    await store.close();
  }
  return largest;
}

test('the write-ahead log starts over once it is large, while writes go on', async (t) => {
  const unbounded = await steadyWrites('passive-only', Number.MAX_SAFE_INTEGER);
  const bounded = await steadyWrites('with-restarts', 256);
  t.diagnostic(
    `largest log: ${(unbounded / MB).toFixed(1)} MB passive only, ${(bounded / MB).toFixed(1)} MB with restarts`,
  );
  // 256 frames of 4 KiB is 1 MiB; the log may grow past it by what is written before a checkpoint sees
  // it (at most AHEAD instances of a few frames each): 1.6-2.8 MB seen, also with both cores busy or the
  // disk syncing other files, against 5-114 MB without restarts.
  assert.ok(bounded < 16 * MB, `log grew to ${(bounded / MB).toFixed(1)} MB`);
  assert.ok(unbounded > 2 * bounded, 'passive checkpoints alone let the log grow (the case this guards)');
});

test('durable() answers once a sync of the log covers the writes made before it', async () => {
  // No periodic checkpoint within the test: only durable(true) syncs.
  const { store, index, ingest } = await setup('durable', { intervalMs: 600_000 });
  try {
    await index.durable();
    assert.ok((await ingestOne(ingest)).ok);
    let soon = false;
    const waiting = index.durable().then(() => (soon = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(soon, false, 'no sync has run since the write');
    await index.durable(true);
    await waiting;
    assert.equal(soon, true, 'the sync asked for at once answered the earlier waiter too');
    await index.durable();

    // Waiters still pending when the index closes are answered by the closing checkpoint.
    assert.ok((await ingestOne(ingest)).ok);
    let atClose = false;
    const pending = index.durable().then(() => (atClose = true));
    await index.close();
    await pending;
    assert.equal(atClose, true);
  } finally {
    await index.close();
    await store.close();
  }
});

test('a waiter for the next periodic checkpoint keeps the process alive until it is answered', async () => {
  const { store, index, ingest } = await setup('alive', { intervalMs: 300 });
  try {
    await index.durable(true);
    assert.ok((await ingestOne(ingest)).ok);
    // Nothing else holds the event loop here: were the checkpoint's timer not held, the test runner
    // would find the loop empty and cancel this test.
    await index.durable();
  } finally {
    await index.close();
    await store.close();
  }
});
