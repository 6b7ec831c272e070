/**
 * The benchmark's ingest phases with two servers: halves of the corpus in the order A B B A, and one row
 * per server from its two stretches.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { alternatingOrder, halfOf, ingestResult, type IngestStretch } from '../../../bench/phases/ingest.js';

describe('alternatingOrder', () => {
  test('two servers: A B B A over the two halves', () => {
    assert.deepEqual(alternatingOrder(['gateway', 'orthanc'], 3000), [
      { target: 'gateway', half: 0 },
      { target: 'orthanc', half: 0 },
      { target: 'orthanc', half: 1 },
      { target: 'gateway', half: 1 },
    ]);
  });

  test('one server, or a corpus of one file: everything in one go', () => {
    assert.deepEqual(alternatingOrder(['gateway'], 3000), [{ target: 'gateway', half: -1 }]);
    assert.deepEqual(alternatingOrder(['gateway', 'orthanc'], 1), [
      { target: 'gateway', half: -1 },
      { target: 'orthanc', half: -1 },
    ]);
  });
});

describe('halfOf', () => {
  test('the halves cover every file once, in order; -1 is all of them', () => {
    const files = [1, 2, 3, 4, 5];
    assert.deepEqual(halfOf(files, 0), [1, 2, 3]);
    assert.deepEqual(halfOf(files, 1), [4, 5]);
    assert.deepEqual(halfOf(files, -1), files);
  });
});

describe('ingestResult', () => {
  const stretch = (
    count: number,
    seconds: number,
    latencies: number[],
    peakRssMb: number,
  ): IngestStretch => ({
    count,
    bytes: count * 1024 * 1024,
    seconds,
    latencies,
    cpu: { serverMs: count * 2, machineBusyMs: count * 3, stealMs: count / 10, capacityMs: seconds * 2000 },
    peakRssMb,
  });

  test('adds up counts, times, bytes and CPU, and keeps the highest peak', () => {
    const row = ingestResult(
      'stow',
      { label: 'STOW 1 instance/request, 8 clients', note: 'latency per request' },
      'gateway',
      [stretch(100, 1, [10, 20], 150), stretch(300, 3, [30, 40], 120)],
    );
    assert.equal(row.count, 400);
    assert.equal(row.seconds, 4);
    assert.equal(row.throughput, 100);
    assert.equal(row.megabytesPerSecond, 100);
    assert.equal(row.peakRssMb, 150);
    assert.equal(row.p50, 20);
    assert.equal(row.cpu?.serverCpuMsPerOp, 2);
    assert.equal(row.cpu?.machineCpuMsPerOp, 3);
    assert.equal(row.cpu?.machineBusyPercent, (100 * 1200) / 8000);
    assert.match(row.note ?? '', /two halves, the servers alternating/);
  });

  test('one stretch keeps its note as it is', () => {
    const row = ingestResult('cstore', { label: 'C-STORE, 1 association', note: 'storescu' }, 'gateway', [
      stretch(50, 2, [], 100),
    ]);
    assert.equal(row.throughput, 25);
    assert.equal(row.note, 'storescu');
  });
});
