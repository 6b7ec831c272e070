import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyedMutex } from '../../../src/ingest/keyed-mutex.js';

const tails = (mutex: KeyedMutex): Map<string, Promise<void>> =>
  (mutex as unknown as { tails: Map<string, Promise<void>> }).tails;

/** A promise with its resolve function. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Lets queued promise callbacks and timers run. */
const settle = () => sleep(5);

test('work on one key runs one at a time, in the order asked', async () => {
  const mutex = new KeyedMutex();
  const events: string[] = [];
  let active = 0;
  let maxActive = 0;
  const tasks = Array.from({ length: 10 }, (_, i) =>
    mutex.run('1.2.3', async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      events.push(`start ${i}`);
      // Uneven durations: a later task that would finish first must still wait its turn.
      await sleep((10 - i) % 4);
      await Promise.resolve();
      events.push(`end ${i}`);
      active--;
      return i * 2;
    }),
  );
  assert.deepEqual(await Promise.all(tasks), [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
  assert.equal(maxActive, 1);
  assert.deepEqual(events, Array.from({ length: 10 }, (_, i) => [`start ${i}`, `end ${i}`]).flat());
  assert.equal(tails(mutex).size, 0);
});

test('a waiting task does not start until the running one has finished', async () => {
  const mutex = new KeyedMutex();
  const gate = deferred();
  let secondStarted = false;
  const first = mutex.run('k', () => gate.promise);
  const second = mutex.run('k', async () => {
    secondStarted = true;
  });
  await settle();
  assert.equal(secondStarted, false);
  gate.resolve();
  await first;
  await second;
  assert.equal(secondStarted, true);
});

test('different keys run concurrently', async () => {
  const mutex = new KeyedMutex();
  const aStarted = deferred();
  const bStarted = deferred();
  const events: string[] = [];
  // Each task waits for the other to have started: this finishes only if they overlap.
  const a = mutex.run('a', async () => {
    events.push('a start');
    aStarted.resolve();
    await bStarted.promise;
    events.push('a end');
  });
  const b = mutex.run('b', async () => {
    events.push('b start');
    bStarted.resolve();
    await aStarted.promise;
    events.push('b end');
  });
  const timeout = sleep(2000).then(() => 'timeout');
  assert.notEqual(await Promise.race([Promise.all([a, b]), timeout]), 'timeout', 'keys a and b deadlocked');
  assert.deepEqual(events.slice(0, 2).sort(), ['a start', 'b start']);
  assert.equal(tails(mutex).size, 0);
});

test('one busy key does not hold up another', async () => {
  const mutex = new KeyedMutex();
  const gate = deferred();
  const slow = mutex.run('slow', () => gate.promise);
  assert.equal(await mutex.run('fast', async () => 'done'), 'done');
  assert.equal(tails(mutex).size, 1);
  gate.resolve();
  await slow;
  assert.equal(tails(mutex).size, 0);
});

test('a rejecting task passes its error on and releases the lock', async () => {
  const mutex = new KeyedMutex();
  const order: string[] = [];
  const failing = mutex.run('k', async () => {
    order.push('failing');
    await sleep(2);
    throw new Error('boom');
  });
  const next = mutex.run('k', async () => {
    order.push('next');
    return 'ran';
  });
  await assert.rejects(failing, /boom/);
  assert.equal(await next, 'ran');
  assert.deepEqual(order, ['failing', 'next']);
  assert.equal(tails(mutex).size, 0);
});

test('work that throws synchronously is a rejection, and releases the lock', async () => {
  const mutex = new KeyedMutex();
  const work = (): Promise<never> => {
    throw new TypeError('sync');
  };
  await assert.rejects(mutex.run('k', work), TypeError);
  assert.equal(await mutex.run('k', async () => 1), 1);
  assert.equal(tails(mutex).size, 0);
});

test('a chain of failures and successes keeps the order and the lock', async () => {
  const mutex = new KeyedMutex();
  const seen: number[] = [];
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) =>
      mutex.run('k', async () => {
        seen.push(i);
        await Promise.resolve();
        if (i % 3 === 0) throw new Error(`fail ${i}`);
        return i;
      }),
    ),
  );
  assert.deepEqual(
    seen,
    Array.from({ length: 20 }, (_, i) => i),
  );
  results.forEach((r, i) => assert.equal(r.status, i % 3 === 0 ? 'rejected' : 'fulfilled'));
  assert.equal(tails(mutex).size, 0);
});

test('the map holds one entry per busy key and none once everything is done', async () => {
  const mutex = new KeyedMutex();
  const gates = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  const runs: Promise<unknown>[] = [];
  for (let i = 0; i < 100; i++) {
    const key = `uid-${i % 10}`;
    const gate = deferred<void>();
    gates.set(`${key}-${i}`, gate);
    runs.push(mutex.run(key, () => gate.promise));
  }
  assert.equal(tails(mutex).size, 10);
  for (const gate of gates.values()) gate.resolve();
  await Promise.all(runs);
  assert.equal(tails(mutex).size, 0);

  // Many distinct keys, one task each.
  await Promise.all(Array.from({ length: 1000 }, (_, i) => mutex.run(`key-${i}`, async () => i)));
  assert.equal(tails(mutex).size, 0);

  // The entry goes when the last task of a queue ends, not when the first does.
  const g1 = deferred();
  const g2 = deferred();
  const r1 = mutex.run('q', () => g1.promise);
  const r2 = mutex.run('q', () => g2.promise);
  g1.resolve();
  await r1;
  assert.equal(tails(mutex).size, 1);
  // A task queued now still waits for the second.
  let thirdRan = false;
  const r3 = mutex.run('q', async () => {
    thirdRan = true;
  });
  await settle();
  assert.equal(thirdRan, false);
  g2.resolve();
  await Promise.all([r2, r3]);
  assert.equal(thirdRan, true);
  assert.equal(tails(mutex).size, 0);
});

test('a key can be used again after its queue has emptied', async () => {
  const mutex = new KeyedMutex();
  for (let round = 0; round < 3; round++) {
    const results = await Promise.all([
      mutex.run('k', async () => round),
      mutex.run('k', async () => -round),
    ]);
    assert.deepEqual(results, [round, -round]);
    assert.equal(tails(mutex).size, 0);
  }
});
