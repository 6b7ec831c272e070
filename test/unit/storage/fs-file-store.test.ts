import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs, { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import type { DirectorySync } from '../../../src/storage/directory-sync.js';
import { FsFileStore } from '../../../src/storage/fs-file-store.js';

const base = mkdtempSync(join(tmpdir(), 'fs-file-store-test-'));
after(() => rmSync(base, { recursive: true, force: true }));

let stores = 0;
async function newStore(fsync = false): Promise<FsFileStore> {
  const store = new FsFileStore(join(base, `store-${++stores}`), { fsync });
  await store.init();
  return store;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const tempFiles = (store: FsFileStore): Promise<string[]> => readdir(join(store.root, 'tmp'));

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function listAll(store: FsFileStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of store.list('')) keys.push(key);
  return keys;
}

/** Writes data through a new writer in chunks of the given sizes (cycled). */
async function writeObject(store: FsFileStore, data: Buffer, key: string, sizes = [7, 1, 300, 4096]) {
  const writer = await store.createWriter();
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    await writer.write(data.subarray(at, at + n));
    at += n;
  }
  const stored = await writer.commit(key);
  await writer.confirm();
  return { writer, stored };
}

function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  return assert.rejects(promise, (error: unknown) => {
    assert.equal((error as NodeJS.ErrnoException).code, code);
    return true;
  });
}

// ---- writing ----

test('digest() asked between writes covers the bytes written so far', async () => {
  const store = await newStore();
  const writer = await store.createWriter();
  const [first, second] = [randomBytes(1000), randomBytes(1000)];
  await writer.write(first);
  assert.equal(writer.digest(), sha256(first));
  await writer.write(second);
  assert.equal(writer.digest(), sha256(Buffer.concat([first, second])));
  await writer.abort();
});

test('many small chunks, then commit: exact bytes, size and SHA-256 digest', async () => {
  const store = await newStore();
  const data = randomBytes(200_000);
  const writer = await store.createWriter();
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = 1 + ((i * 37) % 500);
    await writer.write(data.subarray(at, at + n));
    at += n;
    assert.equal(writer.size, Math.min(at, data.length));
  }
  assert.equal(writer.digest(), sha256(data));
  // digest() does not consume the hash: calling it again gives the same answer.
  assert.equal(writer.digest(), sha256(data));
  const stored = await writer.commit('studies/1.2.3/series/4.5/6.7.dcm');
  assert.deepEqual(stored, { key: 'studies/1.2.3/series/4.5/6.7.dcm', size: data.length });
  assert.equal(writer.digest(), sha256(data));
  assert.deepEqual(await readFile(join(store.root, 'studies/1.2.3/series/4.5/6.7.dcm')), data);
  assert.deepEqual(
    await tempFiles(store),
    ['studies%2F1.2.3%2Fseries%2F4.5%2F6.7.dcm.placing'],
    'until confirmed, the temp file stays as a marker naming the key',
  );
  await writer.confirm();
  assert.deepEqual(await tempFiles(store), [], 'the temp file was linked into place, not copied');
  assert.equal(await store.exists('studies/1.2.3/series/4.5/6.7.dcm'), true);
  assert.equal(await store.size('studies/1.2.3/series/4.5/6.7.dcm'), data.length);
});

test('writes larger than the 1 MB batch, in big and odd-sized chunks', async () => {
  const store = await newStore();
  const data = randomBytes(5 * 1024 * 1024 + 123);
  for (const sizes of [[1024 * 1024 * 3], [1024 * 1024 - 1, 1, 2], [65536, 1000003]]) {
    const key = `big/${sizes.join('-')}`;
    const { writer, stored } = await writeObject(store, data, key, sizes);
    assert.equal(stored.size, data.length);
    assert.equal(writer.digest(), sha256(data));
    assert.equal(sha256(await readFile(join(store.root, key))), sha256(data));
  }
});

test('size counts every byte written, also while commit is writing them out', async () => {
  const store = await newStore();
  const data = randomBytes(700 * 1024);
  const writer = await store.createWriter();
  await writer.write(data);
  assert.equal(writer.size, data.length);
  const committing = writer.commit('sized');
  // 700 KB goes to the file through the thread pool: the commit is still writing now.
  assert.equal(writer.size, data.length);
  assert.equal((await committing).size, data.length);
  assert.equal(writer.size, data.length);
});

test('an empty object commits as an empty file', async () => {
  const store = await newStore();
  const writer = await store.createWriter();
  await writer.write(Buffer.alloc(0));
  assert.equal(writer.size, 0);
  assert.equal(writer.digest(), sha256(Buffer.alloc(0)));
  assert.deepEqual(await writer.commit('empty'), { key: 'empty', size: 0 });
  assert.equal(await store.size('empty'), 0);
});

test('with fsync on, commits into new nested directories and existing ones', async () => {
  const store = await newStore(true);
  const a = randomBytes(3000);
  const b = randomBytes(10);
  await writeObject(store, a, 'x/y/z/a.dcm');
  await writeObject(store, b, 'x/y/z/b.dcm');
  await writeObject(store, b, 'x/other.dcm');
  assert.deepEqual(await readFile(join(store.root, 'x/y/z/a.dcm')), a);
  assert.deepEqual(await listAll(store), ['x/other.dcm', 'x/y/z/a.dcm', 'x/y/z/b.dcm']);
  await store.checkWritable();
  assert.deepEqual(await tempFiles(store), []);
});

/** Stands in for the store's directory fsyncs: records each, and holds those of `held` until released. */
function directorySyncs(store: FsFileStore, held: string[] = [], failOnce: string[] = []) {
  const requested: string[] = [];
  const waiting: (() => void)[] = [];
  const failing = new Set(failOnce);
  const sync = (dir: string): Promise<void> => {
    const name = relative(store.root, dir) || '.';
    requested.push(name);
    if (failing.delete(name)) return Promise.reject(new Error(`EIO syncing ${name}`));
    if (!held.includes(name)) return Promise.resolve();
    return new Promise((resolve) => waiting.push(resolve));
  };
  (store as unknown as { directories: Pick<DirectorySync, 'sync' | 'addEntry'> }).directories = {
    sync,
    addEntry(dir: string, make: () => void) {
      make();
      return Promise.resolve({ durable: sync(dir) });
    },
  };
  return { requested, release: () => waiting.splice(0).forEach((resolve) => resolve()) };
}

test('new directories: the parent of every new entry is fsynced, all at once, before any commit in them returns', async () => {
  const store = await newStore(true);
  // Hold the fsync that makes study S's entry durable: nothing placed under S may return before it.
  const syncs = directorySyncs(store, ['files']);
  let returned = 0;
  const commits = ['files/S/X1/a.dcm', 'files/S/X2/b.dcm', 'files/S/X1/c.dcm'].map(async (key) => {
    await writeObject(store, randomBytes(100), key);
    returned++;
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(returned, 0, 'a commit returned while its study directory entry was not durable');
  // The fsyncs below the held one did not wait for it.
  for (const dir of ['.', 'files', 'files/S', 'files/S/X1', 'files/S/X2']) {
    assert.ok(syncs.requested.includes(dir), `${dir} fsynced (requested: ${syncs.requested.join(', ')})`);
  }
  syncs.release();
  await Promise.all(commits);
  assert.deepEqual(await listAll(store), ['files/S/X1/a.dcm', 'files/S/X1/c.dcm', 'files/S/X2/b.dcm']);
  // Each parent fsynced once for its new entries; the leaf directories once per commit.
  const count = (dir: string) => syncs.requested.filter((d) => d === dir).length;
  assert.deepEqual([count('.'), count('files'), count('files/S')], [1, 1, 2]);
  assert.deepEqual([count('files/S/X1'), count('files/S/X2')], [2, 1]);
});

test('a directory whose entry could not be made durable is tried again by the next commit', async () => {
  const store = await newStore(true);
  const syncs = directorySyncs(store, [], ['files/S']);
  await assert.rejects(writeObject(store, randomBytes(10), 'files/S/X/a.dcm'), /EIO syncing files\/S/);
  await writeObject(store, randomBytes(10), 'files/S/X/b.dcm');
  assert.equal(syncs.requested.filter((d) => d === 'files/S').length, 2);
  assert.deepEqual(await listAll(store), ['files/S/X/b.dcm']);
});

test('a commit never replaces an existing key: EEXIST, the first object is unchanged', async () => {
  const store = await newStore();
  const first = Buffer.from('the first object');
  await writeObject(store, first, 'a/b.dcm');

  const writer = await store.createWriter();
  await writer.write(Buffer.from('a second, different object'));
  await rejectsWithCode(writer.commit('a/b.dcm'), 'EEXIST');
  assert.deepEqual(await readFile(join(store.root, 'a/b.dcm')), first);
  // The failed writer's temp file stays until it is aborted, which is allowed after a failed commit.
  assert.equal((await tempFiles(store)).length, 1);
  await writer.abort();
  assert.deepEqual(await tempFiles(store), []);
  assert.deepEqual(await readFile(join(store.root, 'a/b.dcm')), first);
});

test('after EEXIST the same writer can commit under another key, with the same bytes', async () => {
  const store = await newStore();
  await writeObject(store, Buffer.from('taken'), 'k1');
  const data = randomBytes(1024 * 1024 + 17);
  const writer = await store.createWriter();
  await writer.write(data.subarray(0, 1000));
  await writer.write(data.subarray(1000));
  await rejectsWithCode(writer.commit('k1'), 'EEXIST');
  assert.deepEqual(await writer.commit('k2'), { key: 'k2', size: data.length });
  assert.deepEqual(await readFile(join(store.root, 'k2')), data);
  assert.equal((await readFile(join(store.root, 'k1'))).toString(), 'taken');
  await writer.confirm();
  assert.deepEqual(await tempFiles(store), []);
  // Once committed, a further commit fails and leaves both objects alone.
  await assert.rejects(writer.commit('k3'));
  assert.deepEqual(await listAll(store), ['k1', 'k2']);
});

test('with fsync on, an object still in memory at commit is created as its marker and written durably', async () => {
  const store = await newStore(true);
  const data = randomBytes(9000);
  const writer = await store.createWriter();
  await writer.write(data.subarray(0, 100));
  await writer.write(data.subarray(100));
  assert.deepEqual(await tempFiles(store), [], 'nothing is on disk before the commit');
  await rejectsWithCode(
    (async () => {
      await writeObject(store, Buffer.from('taken'), 'files/1/2/taken.dcm');
      await writer.commit('files/1/2/taken.dcm');
    })(),
    'EEXIST',
  );
  // Its link failed; its bytes went to the marker all the same, and the key's object is untouched.
  const [marker] = await tempFiles(store);
  assert.equal(marker, `files%2F1%2F2%2Ftaken.dcm+${sha256(data).slice(0, 16)}.placing`);
  assert.deepEqual(await readFile(join(store.root, 'tmp', marker!)), data);
  assert.equal(await readFile(join(store.root, 'files/1/2/taken.dcm'), 'utf8'), 'taken');
  // Committed under another key: its file was durable before this link, so its marker names no digest.
  assert.deepEqual(await writer.commit('files/1/2/other.dcm'), { key: 'files/1/2/other.dcm', size: 9000 });
  assert.deepEqual(await readFile(join(store.root, 'files/1/2/other.dcm')), data);
  assert.deepEqual(await tempFiles(store), ['files%2F1%2F2%2Fother.dcm.placing']);
  await writer.confirm();
  assert.deepEqual(await tempFiles(store), []);
});

test('with fsync on, a durable write that fails fails the commit and leaves nothing under the key', async () => {
  const store = await newStore(true);
  const original = fs.writev;
  fs.writev = ((_fd: number, _buffers: unknown, callback: (error: NodeJS.ErrnoException) => void) =>
    callback(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }))) as typeof fs.writev;
  const writer = await store.createWriter();
  try {
    await writer.write(randomBytes(5000));
    await rejectsWithCode(writer.commit('files/1/2/full.dcm'), 'ENOSPC');
  } finally {
    fs.writev = original;
  }
  assert.equal(await store.exists('files/1/2/full.dcm'), false);
  await writer.abort();
  assert.deepEqual(await tempFiles(store), []);
  assert.deepEqual(await listAll(store), []);
});

test('concurrent commits to one key: exactly one wins', async () => {
  const store = await newStore();
  const writers = await Promise.all(Array.from({ length: 8 }, () => store.createWriter()));
  await Promise.all(writers.map((w, i) => w.write(Buffer.from(`writer ${i}`))));
  const results = await Promise.allSettled(writers.map((w) => w.commit('same/key')));
  const won = results.filter((r) => r.status === 'fulfilled');
  assert.equal(won.length, 1);
  for (const r of results) {
    if (r.status === 'rejected') assert.equal((r.reason as NodeJS.ErrnoException).code, 'EEXIST');
  }
  const winner = results.findIndex((r) => r.status === 'fulfilled');
  assert.equal((await readFile(join(store.root, 'same/key'))).toString(), `writer ${winner}`);
  await Promise.all(writers.map((w) => w.abort()));
  assert.deepEqual(await tempFiles(store), []);
  assert.deepEqual(await listAll(store), ['same/key']);
});

test('abort removes the temp file; the writer is closed afterwards; abort is idempotent', async () => {
  const store = await newStore();
  const writer = await store.createWriter();
  await writer.write(randomBytes(2 * 1024 * 1024)); // past a flush, so bytes are on disk
  await writer.write(Buffer.from('pending'));
  assert.equal((await tempFiles(store)).length, 1);
  await writer.abort();
  assert.deepEqual(await tempFiles(store), []);
  await writer.abort();
  await assert.rejects(writer.write(Buffer.from('x')), /writer is closed/);
  assert.deepEqual(await listAll(store), []);
});

test('after a commit the writer is closed; a late abort does not remove the committed object', async () => {
  const store = await newStore();
  const { writer } = await writeObject(store, Buffer.from('kept'), 'k');
  await assert.rejects(writer.write(Buffer.from('more')), /writer is closed/);
  await writer.abort();
  assert.equal((await readFile(join(store.root, 'k'))).toString(), 'kept');
});

test('writev partial writes are continued where they stopped', async () => {
  const store = await newStore();
  // Make every writev write at most 1000 bytes, as a short write on a full pipe or disk might.
  const original = fs.writev;
  let calls = 0;
  let partial = 0;
  const limited = (
    fd: number,
    buffers: readonly NodeJS.ArrayBufferView[],
    callback: (
      error: NodeJS.ErrnoException | null,
      bytesWritten: number,
      buffers: NodeJS.ArrayBufferView[],
    ) => void,
  ): void => {
    calls++;
    const views: Buffer[] = [];
    let room = 1000;
    for (const b of buffers) {
      if (room === 0) break;
      const view = Buffer.from(b.buffer, b.byteOffset, Math.min(b.byteLength, room));
      views.push(view);
      room -= view.length;
    }
    const total = buffers.reduce((sum, b) => sum + b.byteLength, 0);
    if (views.reduce((sum, b) => sum + b.length, 0) < total) partial++;
    original(fd, views, (error, bytesWritten) => callback(error, bytesWritten, [...buffers]));
  };
  fs.writev = limited as typeof fs.writev;
  try {
    const data = randomBytes(1024 * 1024 + 5000);
    const { stored, writer } = await writeObject(store, data, 'partial', [333, 4096, 1, 77777]);
    assert.equal(stored.size, data.length);
    assert.equal(writer.digest(), sha256(data));
    assert.deepEqual(await readFile(join(store.root, 'partial')), data);
    // The async writev serves the first ~768 KB (1000 bytes a call here); the rest, under the
    // synchronous-write threshold, is written inline.
    assert.ok(partial > 0 && calls > 500, `writev calls ${calls}, partial ${partial}`);
  } finally {
    fs.writev = original;
  }
});

test('abort while a large write is in the thread pool closes the file only after it', async () => {
  const store = await newStore();
  const writer = await store.createWriter();
  // Past the batch and the inline threshold: the writev goes to the pool, and abort comes before it ends.
  const writing = writer.write(randomBytes(2 * 1024 * 1024));
  await writer.abort();
  // Closed under it, the write would fail with EBADF (or, worse, land in a file opened since).
  await writing;
  assert.deepEqual(await tempFiles(store), []);
});

// ---- keys ----

test('pathOf maps keys under the root and refuses anything that could leave it or reach tmp', async () => {
  const store = await newStore();
  assert.equal(store.pathOf('a'), join(store.root, 'a'));
  assert.equal(store.pathOf('a/b/c.dcm'), join(store.root, 'a', 'b', 'c.dcm'));
  assert.equal(store.pathOf('tmpx/y'), join(store.root, 'tmpx', 'y'));
  assert.equal(store.pathOf('a/tmp/y'), join(store.root, 'a', 'tmp', 'y'));
  assert.equal(store.pathOf('..a/b..'), join(store.root, '..a', 'b..'));
  for (const key of [
    '',
    '../x',
    'a/../../x',
    'a/..',
    '..',
    '.',
    '/abs',
    '/etc/passwd',
    'a//b',
    'a/./b',
    './a',
    'a/',
    'tmp',
    'tmp/x',
    'tmp/x/y',
    'a\\b',
    '..\\x',
    'a\0b',
  ]) {
    assert.throws(() => store.pathOf(key), /invalid object key/, JSON.stringify(key));
  }
  // Every operation that takes a key refuses them too.
  await assert.rejects(store.read('../x', 0, 1), /invalid object key/);
  await assert.rejects(store.exists('tmp/x'), /invalid object key/);
  await assert.rejects(store.remove('/abs'), /invalid object key/);
  assert.throws(() => store.createReadStream('a//b'), /invalid object key/);
  const writer = await store.createWriter();
  await assert.rejects(writer.commit('tmp/escape'), /invalid object key/);
  await writer.abort();
  assert.deepEqual(await tempFiles(store), []);
});

// ---- reading ----

test('read with offset and length; a short object is an error', async () => {
  const store = await newStore();
  const data = Buffer.from('0123456789abcdefghij');
  await writeObject(store, data, 'r');
  assert.equal((await store.read('r', 0, 20)).toString(), '0123456789abcdefghij');
  assert.equal((await store.read('r', 5, 3)).toString(), '567');
  assert.equal((await store.read('r', 19, 1)).toString(), 'j');
  assert.equal((await store.read('r', 20, 0)).length, 0);
  await assert.rejects(store.read('r', 15, 6), /object r is shorter than 21 bytes/);
  await assert.rejects(store.read('r', 100, 1), /shorter than 101 bytes/);
  await rejectsWithCode(store.read('missing', 0, 1), 'ENOENT');
  // Larger than one read call may return.
  const big = randomBytes(3 * 1024 * 1024);
  await writeObject(store, big, 'big', [1 << 20]);
  assert.deepEqual(await store.read('big', 1000, big.length - 1000), big.subarray(1000));
});

test('read with room: the data sits after room.before spare bytes, room.after follow it', async () => {
  const store = await newStore();
  const small = Buffer.from('0123456789');
  await writeObject(store, small, 'small');
  const framed = await store.read('small', 2, 5, { before: 3, after: 4 });
  assert.equal(framed.length, 12);
  assert.equal(framed.subarray(3, 8).toString(), '23456');
  // Above the synchronous read size, through the thread pool.
  const big = randomBytes(2 * 1024 * 1024);
  await writeObject(store, big, 'big-room', [1 << 20]);
  const bigFramed = await store.read('big-room', 10, big.length - 10, { before: 100, after: 7 });
  assert.equal(bigFramed.length, 100 + big.length - 10 + 7);
  assert.deepEqual(bigFramed.subarray(100, 100 + big.length - 10), big.subarray(10));
  await assert.rejects(store.read('small', 8, 5, { before: 1, after: 1 }), /shorter than 13 bytes/);
});

test('createReadStream: whole object, ranges with an exclusive end, empty ranges', async () => {
  const store = await newStore();
  const data = randomBytes(600_000);
  await writeObject(store, data, 's', [65536]);
  assert.deepEqual(await collect(store.createReadStream('s')), data);
  assert.deepEqual(await collect(store.createReadStream('s', { start: 0, end: 1 })), data.subarray(0, 1));
  assert.deepEqual(await collect(store.createReadStream('s', { start: 2, end: 5 })), data.subarray(2, 5));
  assert.deepEqual(
    await collect(store.createReadStream('s', { start: 1000, end: 500_000 })),
    data.subarray(1000, 500_000),
  );
  assert.deepEqual(
    await collect(store.createReadStream('s', { start: 599_990, end: 600_000 })),
    data.subarray(599_990),
  );
  assert.equal((await collect(store.createReadStream('s', { start: 0, end: 0 }))).length, 0);
  assert.equal((await collect(store.createReadStream('s', { start: 3, end: 3 }))).length, 0);
  assert.equal((await collect(store.createReadStream('s', { start: 600_000, end: 600_000 }))).length, 0);
  assert.equal((await collect(store.createReadStream('s', { start: 10, end: 5 }))).length, 0);
  await rejectsWithCode(collect(store.createReadStream('missing')), 'ENOENT');
});

test('exists, size and remove', async () => {
  const store = await newStore();
  assert.equal(await store.exists('a/b'), false);
  assert.equal(await store.size('a/b'), undefined);
  await writeObject(store, Buffer.from('xyz'), 'a/b');
  assert.equal(await store.exists('a/b'), true);
  assert.equal(await store.size('a/b'), 3);
  await store.remove('a/b');
  assert.equal(await store.exists('a/b'), false);
  await store.remove('a/b'); // removing what is not there is fine
  await store.remove('never/there');
  // The key can be written again once removed.
  await writeObject(store, Buffer.from('again'), 'a/b');
  assert.equal(await store.size('a/b'), 5);
});

// ---- listing and clean-up ----

test('list yields committed keys only, sorted, never temp files', async () => {
  const store = await newStore();
  for (const key of ['b/2', 'a/1', 'a/0/z', 'c', 'a/tmp/inner', 'tmpx']) {
    await writeObject(store, Buffer.from(key), key);
  }
  const pending = await store.createWriter();
  await pending.write(Buffer.from('not committed'));
  await writeFile(join(store.root, 'tmp', 'leftover.part'), 'crash leftover');
  await mkdir(join(store.root, 'empty-dir/deeper'), { recursive: true });
  assert.deepEqual(await listAll(store), ['a/0/z', 'a/1', 'a/tmp/inner', 'b/2', 'c', 'tmpx']);
  const underA: string[] = [];
  for await (const key of store.list('a/')) underA.push(key);
  assert.deepEqual(underA, ['a/0/z', 'a/1', 'a/tmp/inner'], 'a prefix lists only its subtree');
  await pending.abort();
  // A store whose root does not exist lists nothing.
  assert.deepEqual(await listAll(new FsFileStore(join(base, 'no-such-root'))), []);
});

test('recoverPlacements hands over objects committed but never confirmed, and keeps every one', async () => {
  const store = await newStore(true);
  const placed = async (key: string) => {
    const writer = await store.createWriter();
    await writer.write(Buffer.from(key));
    await writer.commit(key);
    return writer;
  };
  await placed('files/1/2/recorded.dcm');
  await placed('files/1/2/lost.dcm');
  await placed('files/1/2/failing.dcm');
  const confirmed = await placed('files/1/2/confirmed.dcm');
  await confirmed.confirm();
  // A marker whose object never got its name: the link had not reached the disk.
  await placed('files/1/2/unlinked.dcm');
  await rm(join(store.root, 'files/1/2/unlinked.dcm'));

  const handed: string[] = [];
  const settled = await store.recoverPlacements(async (key) => {
    handed.push(key);
    return key !== 'files/1/2/failing.dcm';
  });
  assert.deepEqual(handed.sort(), ['files/1/2/failing.dcm', 'files/1/2/lost.dcm', 'files/1/2/recorded.dcm']);
  assert.deepEqual(settled.sort(), ['files/1/2/lost.dcm', 'files/1/2/recorded.dcm']);
  assert.deepEqual(
    await listAll(store),
    ['files/1/2/confirmed.dcm', 'files/1/2/failing.dcm', 'files/1/2/lost.dcm', 'files/1/2/recorded.dcm'],
    'recovery removes no object',
  );
  const failingDigest = sha256(Buffer.from('files/1/2/failing.dcm')).slice(0, 16);
  assert.deepEqual(
    await tempFiles(store),
    [`files%2F1%2F2%2Ffailing.dcm+${failingDigest}.placing`],
    'only the marker of the object not settled stays, for the next start-up; it names the content digest',
  );
  const again: string[] = [];
  await store.recoverPlacements(async (key) => {
    again.push(key);
    return true;
  });
  assert.deepEqual(again, ['files/1/2/failing.dcm']);
  assert.deepEqual(await tempFiles(store), [], 'nothing left to recover');
});

test('recoverPlacements removes an object a crash caught before its fsync, and nothing else', async () => {
  const store = await newStore(true);
  const placed = async (key: string, content = Buffer.from(`content of ${key}`)) => {
    const writer = await store.createWriter();
    await writer.write(content);
    await writer.commit(key);
    return writer;
  };
  await placed('files/1/2/torn.dcm');
  await placed('files/1/2/whole.dcm');
  // What a crash can leave of a file linked before its data reached the disk: the same file, shorter.
  const torn = await open(join(store.root, 'files/1/2/torn.dcm'), 'r+');
  await torn.truncate(4);
  await torn.close();
  // A marker whose own link failed (EEXIST), next to the object already under the key: not its to judge.
  await placed('files/1/2/other.dcm');
  await placed('files/1/2/second.dcm', Buffer.from('a different object'));
  await rm(join(store.root, 'files/1/2/second.dcm'));
  await writeFile(join(store.root, 'files/1/2/second.dcm'), 'written by someone else');
  // A marker without a digest, as earlier versions named them: its object was durable before its link,
  // so it is trusted whatever it holds.
  await placed('files/1/2/legacy.dcm');
  const [legacyMarker] = (await tempFiles(store)).filter((name) => name.startsWith('files%2F1%2F2%2Flegacy'));
  await rename(
    join(store.root, 'tmp', legacyMarker!),
    join(store.root, 'tmp', 'files%2F1%2F2%2Flegacy.dcm.placing'),
  );
  await writeFile(join(store.root, 'files/1/2/legacy.dcm'), 'x', { flag: 'r+' });

  const handed: string[] = [];
  const discarded: string[] = [];
  const settled = await store.recoverPlacements(
    async (key) => {
      handed.push(key);
      return true;
    },
    (key) => discarded.push(key),
  );
  assert.deepEqual(discarded, ['files/1/2/torn.dcm']);
  assert.deepEqual(settled.sort(), [
    'files/1/2/legacy.dcm',
    'files/1/2/other.dcm',
    'files/1/2/second.dcm',
    'files/1/2/whole.dcm',
  ]);
  assert.deepEqual(handed.sort(), settled.sort());
  assert.deepEqual(await listAll(store), [
    'files/1/2/legacy.dcm',
    'files/1/2/other.dcm',
    'files/1/2/second.dcm',
    'files/1/2/whole.dcm',
  ]);
  assert.equal(await readFile(join(store.root, 'files/1/2/second.dcm'), 'utf8'), 'written by someone else');
  assert.deepEqual(await tempFiles(store), [], 'every marker was dealt with');
});

test('a key too long for a digest in its marker is made durable before its link, with a plain marker', async () => {
  const store = await newStore(true);
  // The marker's name is the URI-encoded key plus ".placing": 240 characters leave no room for the digest.
  const key = `files/${'1'.repeat(240 - 'files%2F'.length - '.placing'.length)}`;
  const writer = await store.createWriter();
  await writer.write(Buffer.from('long'));
  await writer.commit(key);
  assert.deepEqual(await tempFiles(store), [`${encodeURIComponent(key)}.placing`]);
  assert.equal(await readFile(join(store.root, key), 'utf8'), 'long');
  await writer.confirm();
  assert.deepEqual(await tempFiles(store), []);
});

test('cleanTemporary removes leftovers, files and directories, and counts them', async () => {
  const store = await newStore();
  await writeObject(store, Buffer.from('committed'), 'keep/me');
  await writeFile(join(store.root, 'tmp', 'a.part'), 'x');
  await writeFile(join(store.root, 'tmp', 'b.part'), 'y');
  await mkdir(join(store.root, 'tmp', 'dir', 'sub'), { recursive: true });
  await writeFile(join(store.root, 'tmp', 'dir', 'sub', 'c'), 'z');
  const abandoned = await store.createWriter();
  // Past a batch, so that its bytes went to a temp file (smaller objects stay in memory until commit).
  await abandoned.write(randomBytes(2 * 1024 * 1024));
  assert.equal(await store.cleanTemporary(), 4);
  assert.deepEqual(await tempFiles(store), []);
  assert.equal(await store.cleanTemporary(), 0);
  assert.deepEqual(await listAll(store), ['keep/me']);
  await abandoned.abort(); // its file is already gone: still fine

  // It also creates the temp directory when it is missing.
  const fresh = new FsFileStore(join(base, `fresh-${++stores}`), { fsync: false });
  assert.equal(await fresh.cleanTemporary(), 0);
  assert.deepEqual(await tempFiles(fresh), []);
});

test('checkWritable leaves nothing behind and fails when the store cannot be written', async () => {
  const store = await newStore();
  await store.checkWritable();
  assert.deepEqual(await tempFiles(store), []);
  const uninitialised = new FsFileStore(join(base, 'never-initialised'), { fsync: false });
  await rejectsWithCode(uninitialised.checkWritable(), 'ENOENT');
});
