/**
 * The STOW part pipeline: parts are stored while the next are read, results keep the parts' order, the
 * number and bytes in flight are bounded, and parts of one SOP instance are stored one after another.
 * The parts here are stand-ins whose outcome the test settles by hand.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GatewayError } from '../../../src/errors.js';
import type { StoreOutcome } from '../../../src/ingest/outcome.js';
import type { ReceivedInstance } from '../../../src/ingest/store-instance.js';
import { StowPipeline } from '../../../src/http/stow-pipeline.js';
import type { PartResult } from '../../../src/http/stow-response.js';

interface Part extends ReceivedInstance {
  started: boolean;
  /** What the pipeline told the part to write its index row after. */
  indexAfter?: Promise<unknown>;
  outcome: Promise<StoreOutcome>;
  settle(): void;
}

/** `identified: false`: a part whose SOP Instance UID the parse has not reached. */
function part(name: string, bytes = 1000, identified = true): Part {
  let resolve!: (outcome: StoreOutcome) => void;
  const outcome = new Promise<StoreOutcome>((r) => (resolve = r));
  const p: Part = {
    bytes,
    sopInstanceUid: identified ? name : undefined,
    started: false,
    outcome,
    store: (indexAfter) => {
      p.started = true;
      p.indexAfter = indexAfter;
      return outcome;
    },
    settle: () =>
      resolve({
        ok: true,
        status: 'stored',
        bytes,
        instance: {
          sopInstanceUid: name,
          sopClassUid: '1.2',
          studyInstanceUid: '1.3',
          seriesInstanceUid: '1.4',
        },
      }),
  };
  return p;
}

const names = (results: PartResult[]) => results.map((r) => r.instance.sopInstanceUid);
/** Lets pending promise callbacks run. */
const tick = () => new Promise((resolve) => setImmediate(resolve));

test('results and index rows keep the order of the parts, whichever is stored first', async () => {
  const results: PartResult[] = [];
  const pipeline = new StowPipeline(results);
  const parts = ['a', 'b', 'c'].map((n) => part(n));
  for (const p of parts) await pipeline.add(p);
  assert.ok(
    parts.every((p) => p.started),
    'all three are being stored at once',
  );
  assert.equal(parts[0]!.indexAfter, undefined);
  assert.equal(parts[1]!.indexAfter, parts[0]!.outcome, "each index row waits for the previous part's");
  assert.equal(parts[2]!.indexAfter, parts[1]!.outcome);
  parts[2]!.settle();
  parts[1]!.settle();
  await tick();
  assert.deepEqual(results, [], 'nothing is reported ahead of the first part');
  parts[0]!.settle();
  await pipeline.drain();
  assert.deepEqual(names(results), ['a', 'b', 'c']);
  assert.equal(pipeline.parts, 3);
});

test('at most 8 parts are in flight; the next waits for the oldest', async () => {
  const results: PartResult[] = [];
  const pipeline = new StowPipeline(results);
  const parts = Array.from({ length: 8 }, (_, i) => part(`p${i}`));
  for (const p of parts.slice(0, 7)) await pipeline.add(p);
  let eighthAdded = false;
  const adding = pipeline.add(parts[7]!).then(() => (eighthAdded = true));
  await tick();
  assert.equal(eighthAdded, false, 'the eighth part waits for room');
  parts[0]!.settle();
  await adding;
  assert.deepEqual(names(results), ['p0']);
  for (const p of parts) p.settle();
  await pipeline.drain();
  assert.equal(results.length, 8);
});

test('parts over a megabyte in flight wait: a large part is stored before the next is read', async () => {
  const results: PartResult[] = [];
  const pipeline = new StowPipeline(results);
  const first = part('big1', 700_000);
  await pipeline.add(first);
  const second = part('big2', 700_000);
  let added = false;
  const adding = pipeline.add(second).then(() => (added = true));
  await tick();
  assert.equal(second.started, true, 'the second part is stored alongside the first');
  assert.equal(added, false, 'but the third is not read until the first is done');
  first.settle();
  await adding;
  second.settle();
  await pipeline.drain();
  assert.deepEqual(names(results), ['big1', 'big2']);
});

test('a later part of the same instance, or one not identified yet, waits for the earlier ones', async () => {
  const results: PartResult[] = [];
  const pipeline = new StowPipeline(results);
  const first = part('same');
  const other = part('other');
  await pipeline.add(first);
  await pipeline.add(other);
  const again = part('same');
  const adding = pipeline.add(again);
  await tick();
  assert.equal(again.started, false, 'not stored while the earlier part of its instance is');
  first.settle();
  await adding;
  assert.equal(again.started, true);

  const unknown = part('unknown', 1000, false);
  const addingUnknown = pipeline.add(unknown);
  await tick();
  assert.equal(unknown.started, false, 'an unidentified part waits for every earlier part');
  other.settle();
  again.settle();
  await addingUnknown;
  assert.equal(unknown.started, true);
  unknown.settle();
  await pipeline.drain();
  assert.deepEqual(names(results), ['same', 'other', 'same', 'unknown']);
});

test('a refused part keeps its place', async () => {
  const results: PartResult[] = [];
  const pipeline = new StowPipeline(results);
  const first = part('first');
  await pipeline.add(first);
  const refusing = pipeline.refuse({
    ok: false,
    error: new GatewayError('UNSUPPORTED_MEDIA_TYPE', 'not DICOM'),
    instance: { sopInstanceUid: 'refused' },
    bytes: 0,
  });
  first.settle();
  await refusing;
  await pipeline.drain();
  assert.deepEqual(names(results), ['first', 'refused']);
});
