/**
 * Directory fsyncs shared between requests, and new entries made between a directory's fsyncs, never
 * during one (on ext4 without a journal a link into a directory being fsynced waits for the disk).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, linkSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { after, test } from 'node:test';
import { DirectorySync } from '../../../src/storage/directory-sync.js';

/** A DirectorySync whose fsyncs are held until released, one at a time, in order. */
function heldSyncs() {
  const sync = new DirectorySync();
  const log: string[] = [];
  const held: (() => void)[] = [];
  (sync as unknown as { fsync(dir: string): Promise<void> }).fsync = (dir) => {
    log.push(`fsync ${dir}`);
    return new Promise((resolve) => held.push(resolve));
  };
  const releaseNext = async () => {
    held.shift()!();
    await tick();
  };
  return { sync, log, releaseNext };
}

test('entries asked for during a fsync are made as it ends, before the next fsync, which covers them all', async () => {
  const { sync, log, releaseNext } = heldSyncs();
  const first = await sync.addEntry('d', () => log.push('entry 1'));
  const second = sync.addEntry('d', () => log.push('entry 2'));
  const refused = sync.addEntry('d', () => {
    log.push('entry 3');
    throw Object.assign(new Error('file exists'), { code: 'EEXIST' });
  });
  const refusal = assert.rejects(refused, /file exists/);
  const fourth = sync.addEntry('d', () => log.push('entry 4'));
  // Another directory does not wait for this one's fsync.
  const other = await sync.addEntry('e', () => log.push('entry in e'));
  await tick();
  assert.deepEqual(log, ['entry 1', 'fsync d', 'entry in e', 'fsync e']);

  await releaseNext();
  await first.durable;
  const [made2, made4] = await Promise.all([second, fourth]);
  await refusal;
  assert.deepEqual(log.slice(4), ['entry 2', 'entry 3', 'entry 4', 'fsync d']);

  // Entries 2 and 4 are durable only with the fsync that started after them.
  let durable = false;
  void Promise.all([made2.durable, made4.durable]).then(() => (durable = true));
  await tick();
  assert.equal(durable, false);
  await releaseNext(); // e's
  await releaseNext(); // d's second
  assert.equal(durable, true);
  await other.durable;
  assert.equal(log.filter((line) => line.startsWith('fsync d')).length, 2);
});

test("an entry asked for while no fsync runs is made at once, and its error is the caller's", async () => {
  const { sync, log, releaseNext } = heldSyncs();
  await assert.rejects(
    sync.addEntry('d', () => {
      throw new Error('no such file');
    }),
    /no such file/,
  );
  assert.equal(log.length, 0, 'a failed entry asks for no fsync');
  const made = await sync.addEntry('d', () => log.push('entry'));
  assert.deepEqual(log, ['entry', 'fsync d']);
  await releaseNext();
  await made.durable;
});

test('with real directories, links made through addEntry are all there and durable', async () => {
  const root = mkdtempSync(join(tmpdir(), 'directory-sync-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const sync = new DirectorySync();
  const source = join(root, 'source');
  writeFileSync(source, 'x');
  const made = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      sync.addEntry(root, () => linkSync(source, join(root, `link-${i}`))),
    ),
  );
  await Promise.all(made.map((entry) => entry.durable));
  assert.equal(readdirSync(root).filter((name) => name.startsWith('link-')).length, 20);
  await sync.close();
});
