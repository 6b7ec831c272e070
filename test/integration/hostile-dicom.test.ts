/**
 * Hostile DICOM files (issue 6): a seeded mutation fuzzer over small seed files in several transfer
 * syntaxes, through STOW-RS (many mutants per multipart request, some alone) and C-STORE (raw PDUs, so
 * the dataset bytes are sent as they are). Every answer must be a per-instance result, never a crashed
 * connection or a processing failure; afterwards the store must hold exactly the acknowledged instances,
 * byte for byte. Reproduce a failure with the FUZZ_SEED (and FUZZ_CASES) its message names.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { buildInstance } from '../helpers/dicom-generator.js';
import { items, multipartRelated, qido, stow, value, type DicomJson } from '../helpers/dicomweb-client.js';
import { convertTransferSyntax, requireTools } from '../helpers/dcmtk.js';
import { makeTempDir, removeDir, writeInstance } from '../helpers/fixtures.js';
import { spawnGateway, startTestGateway, type GatewayProcess, type TestGateway } from '../helpers/gateway.js';
import {
  caseUid,
  deflateBomb,
  isDeflated,
  makeSeedFiles,
  type SeedFile,
} from '../helpers/hostile-fixtures.js';
import {
  fuzzCases,
  inflateDataset,
  mutate,
  Prng,
  reproduce,
  replaceUid,
  scanDataset,
  scanPart10,
  fuzzSeed,
  TS_DEFLATED,
  type Mutant,
} from '../helpers/mutation-fuzzer.js';
import { RawAssociation } from '../helpers/raw-dimse.js';
import { assertHealthy, assertStoreConsistent, type Acknowledged } from '../helpers/store-consistency.js';
import { listStoredFiles } from '../helpers/stored-files.js';

const EXPLICIT_LE = '1.2.840.10008.1.2.1';

/** Per-instance failure reasons a mutant may earn; 0x0110 (processing failure) is a gateway bug. */
const ACCEPTABLE_FAILURES = new Set([
  0xc000, // cannot understand
  0xc122, // transfer syntax not supported (a mutated Transfer Syntax UID)
  0x0122, // SOP class not supported (a mutated SOP Class UID)
  0xa900, // does not match (C-STORE command vs dataset; a series moved to another study)
  0x0111, // duplicate with other content
]);

interface Case {
  label: string;
  uid: string;
  bytes: Buffer;
  /** Unmutated controls: these must be stored. */
  control: boolean;
  seed: SeedFile;
}

/** One fuzz case: a seed with its own SOP Instance UID, mutated (or, rarely, left intact as a control). */
function makeCase(rng: Prng, seeds: SeedFile[], index: number, bare: boolean): Case {
  const seed = rng.pick(seeds);
  const uid = caseUid(rng);
  const fresh = replaceUid(seed.bytes, seed.sopInstanceUid, uid);
  const label = `case ${index} (${seed.name}${bare ? ', bare dataset' : ''})`;
  const offset = bare ? seed.datasetOffset : 0;
  if (rng.chance(0.03))
    return { label: `${label} [control]`, uid, bytes: fresh.subarray(offset), control: true, seed };
  let mutant: Mutant;
  if (isDeflated(seed) && rng.chance(0.5)) {
    // Mutate the inflated dataset and deflate it again: the parser, not only the inflater, gets hit.
    const dataset = inflateDataset(fresh, seed.datasetOffset);
    const m = mutate(rng, dataset, scanDataset(dataset, 0, EXPLICIT_LE));
    const deflated = deflateRawSync(m.bytes);
    mutant = {
      bytes: bare ? deflated : Buffer.concat([fresh.subarray(0, seed.datasetOffset), deflated]),
      ops: m.ops.map((op) => `inflated:${op}`),
    };
  } else if (bare) {
    const dataset = fresh.subarray(seed.datasetOffset);
    const sites = isDeflated(seed) ? [] : scanDataset(dataset, 0, seed.transferSyntaxUid);
    mutant = mutate(rng, dataset, sites);
  } else {
    const sites = isDeflated(seed) ? scanPart10(fresh).sites : seed.sites;
    mutant = mutate(rng, fresh, sites, { protect: 128 });
  }
  return { label: `${label} ${mutant.ops.join(' ')}`, uid, bytes: mutant.bytes, control: false, seed };
}

/** Where to look for a UID the gateway read from a part: its bytes, and its inflated dataset if any. */
function searchable(bytes: Buffer): Buffer {
  if (!bytes.includes(TS_DEFLATED)) return bytes;
  try {
    const { datasetOffset } = scanPart10(bytes);
    return Buffer.concat([bytes, inflateDataset(bytes, datasetOffset)]);
  } catch {
    return bytes;
  }
}

describe('hostile DICOM files', { concurrency: false }, () => {
  let gateway: TestGateway;
  let dir: string;
  let seeds: SeedFile[];
  const acknowledged = new Map<string, Acknowledged>();
  const processingFailures: string[] = [];
  /** Answers that are not acceptable for bad input, collected so one run shows them all. */
  const unexpected: string[] = [];
  const runSeed = fuzzSeed();

  /** Fails with every unacceptable answer and the distinct internal errors behind them. */
  const assertNoUnexpected = (door: string) => {
    const causes = [...new Set(processingFailures.map((f) => f.split('\n').slice(0, 4).join('\n')))];
    const cases = unexpected.splice(0);
    processingFailures.splice(0);
    assert.deepEqual(
      { cases: cases.slice(0, 20), count: cases.length, causes },
      { cases: [], count: 0, causes: [] },
      `${door}: answers for bad input that are not per-instance refusals (${reproduce()})`,
    );
  };

  before(async () => {
    gateway = await startTestGateway({ limits: { qidoMaxLimit: 100_000 } });
    // Outcomes as the ingest core reports them: a processing failure for bad input is a bug to see.
    gateway.running.core.ingest.onStored(({ door, outcome }) => {
      if (
        !outcome.ok &&
        (outcome.error.code === 'PROCESSING_FAILURE' || outcome.error.dimseStatus === 0x0110)
      ) {
        const cause = outcome.error.cause as Error | undefined;
        processingFailures.push(`${door}: ${cause?.stack ?? String(cause)}`);
      }
    });
    dir = await makeTempDir('hostile-dicom-');
    const made = await makeSeedFiles(dir, Prng.for(runSeed, 'seeds'));
    seeds = made.seeds;
    if (made.skipped.length) console.warn(`hostile-dicom: seeds skipped: ${made.skipped.join('; ')}`);
  });
  after(async () => {
    await gateway?.stop();
    if (dir) await removeDir(dir);
  });

  test('every seed file is stored intact first (the fuzzer starts from valid files)', async () => {
    const { body, contentType } = multipartRelated(seeds.map((s) => s.bytes));
    const response = await fetch(`${gateway.dicomweb}/studies`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body,
    });
    const json = (await response.json()) as DicomJson;
    assert.equal(response.status, 200, JSON.stringify(json['00081198']));
    for (const s of seeds) {
      acknowledged.set(s.sopInstanceUid, {
        sopInstanceUid: s.sopInstanceUid,
        studyInstanceUid: s.studyInstanceUid,
        seriesInstanceUid: s.seriesInstanceUid,
        sent: [s.bytes],
        kind: 'part10',
        label: `seed ${s.name}`,
      });
    }
    await assertStoreConsistent(gateway, acknowledged, 'seeds');
  });

  test('pixel data that does not fit its image attributes is refused as unreadable, not a processing failure', async () => {
    // Found by the fuzzer: the frame layout is worked out after parsing, and its error was a 0x0110.
    const cases = [
      // An SR (no Rows, Columns, Bits Allocated) with Pixel Data.
      buildInstance({ image: false, extra: [{ tag: 0x7fe00010, vr: 'OB', value: Buffer.alloc(64) }] }),
      // Columns far larger than the pixel data holds.
      buildInstance({ image: { rows: 4, columns: 4 }, extra: [{ tag: 0x00280011, vr: 'US', value: 40000 }] }),
      // Bits Allocated of 0.
      buildInstance({ image: { rows: 4, columns: 4 }, extra: [{ tag: 0x00280100, vr: 'US', value: 0 }] }),
    ];
    const { status, json } = await stow(
      gateway.dicomweb,
      cases.map((c) => c.bytes),
    );
    assert.equal(status, 409);
    assert.deepEqual(
      items(json, '00081198').map((f) => value(f, '00081197')),
      cases.map(() => 0xc000),
    );
    assertNoUnexpected('pixel data checks');
  });

  test('an image wider than JPEG allows renders as PNG, and as JPEG is refused with 406, not a 500', async () => {
    // Found by the fuzzer (an RLE image whose Columns became 65535): libjpeg stops at 65500 pixels.
    const wide = buildInstance({ image: { rows: 1, columns: 65501, bitsAllocated: 8 } });
    assert.equal((await stow(gateway.dicomweb, [wide.bytes])).status, 200);
    acknowledged.set(wide.sopInstanceUID, {
      sopInstanceUid: wide.sopInstanceUID,
      studyInstanceUid: wide.studyInstanceUID,
      seriesInstanceUid: wide.seriesInstanceUID,
      sent: [wide.bytes],
      kind: 'part10',
      label: 'a 65501 pixels wide image',
    });
    const url = `${gateway.dicomweb}/studies/${wide.studyInstanceUID}/series/${wide.seriesInstanceUID}/instances/${wide.sopInstanceUID}`;
    const jpeg = await fetch(`${url}/rendered`, { headers: { accept: 'image/jpeg' } });
    assert.equal(jpeg.status, 406, await jpeg.text());
    const png = await fetch(`${url}/rendered`, { headers: { accept: 'image/png' } });
    assert.equal(png.status, 200);
    await png.arrayBuffer();
    const thumbnail = await fetch(`${url}/thumbnail`, { headers: { accept: 'image/jpeg' } });
    assert.equal(thumbnail.status, 200, 'a thumbnail is small enough for JPEG');
    await thumbnail.arrayBuffer();
  });

  test('a big endian OF value whose length is not a multiple of 4 does not fail the metadata', async (t) => {
    // Found by the fuzzer: swapping the words of such a value for DICOM JSON threw, a 0x0110.
    if (!requireTools(t, 'dcmconv')) return;
    const source = await writeInstance(dir, {
      image: { rows: 4, columns: 4 },
      extra: [
        { tag: 0x00090010, vr: 'LO', value: 'HOSTILE' },
        { tag: 0x00091010, vr: 'OB', value: Buffer.from([1, 2, 3, 4, 5, 6]) },
      ],
    });
    const path = join(dir, 'odd-of-be.dcm');
    await convertTransferSyntax(source.path, path, 'explicit-be');
    const bytes = await readFile(path);
    const header = bytes.indexOf(Buffer.from([0x00, 0x09, 0x10, 0x10, 0x4f, 0x42])); // (0009,1010) OB
    assert.ok(header > 0, 'the private OB element is in the big endian file');
    bytes.write('OF', header + 4, 'latin1');
    const { status, json } = await stow(gateway.dicomweb, [bytes]);
    assert.equal(status, 200, JSON.stringify(json));
    acknowledged.set(source.sopInstanceUID, {
      sopInstanceUid: source.sopInstanceUID,
      studyInstanceUid: source.studyInstanceUID,
      seriesInstanceUid: source.seriesInstanceUID,
      sent: [bytes],
      kind: 'part10',
      label: 'odd-length OF, big endian',
    });
    assertNoUnexpected('odd-length OF');
  });

  test(`mutated files through STOW-RS (${fuzzCases(2000)} cases, ${reproduce()})`, async () => {
    const rng = Prng.for(runSeed, 'stow');
    const total = fuzzCases(2000);
    // Batches: mostly 20-50 parts per multipart request; one in ten a single application/dicom body.
    const batches: Case[][] = [];
    for (let made = 0; made < total;) {
      const size = rng.chance(0.1) ? 1 : Math.min(total - made, rng.range(20, 50));
      batches.push(Array.from({ length: size }, (_, i) => makeCase(rng, seeds, made + i, false)));
      made += size;
    }
    const stats = { requests: 0, stored: 0, failed: 0, byReason: new Map<number, number>() };

    const send = async (batch: Case[], single: boolean) => {
      const where = `${batch[0]!.label}${batch.length > 1 ? ` .. +${batch.length - 1}` : ''} (${reproduce()})`;
      let response: Response;
      if (single) {
        response = await fetch(`${gateway.dicomweb}/studies`, {
          method: 'POST',
          headers: { 'content-type': 'application/dicom' },
          body: batch[0]!.bytes,
        });
      } else {
        const { body, contentType } = multipartRelated(batch.map((c) => c.bytes));
        response = await fetch(`${gateway.dicomweb}/studies`, {
          method: 'POST',
          headers: { 'content-type': contentType },
          body,
        });
      }
      stats.requests++;
      const text = await response.text();
      assert.ok(
        [200, 202, 409].includes(response.status),
        `${where}: STOW answered ${response.status} ${text}`,
      );
      const json = JSON.parse(text) as DicomJson;
      const referenced = json['00081199'] ? items(json, '00081199') : [];
      const failed = json['00081198'] ? items(json, '00081198') : [];
      assert.equal(referenced.length + failed.length, batch.length, `${where}: one result per part`);
      const expectedStatus = failed.length === 0 ? 200 : referenced.length === 0 ? 409 : 202;
      assert.equal(response.status, expectedStatus, `${where}: status agrees with the per-instance results`);
      for (const f of failed) {
        const reason = Number(value(f, '00081197'));
        stats.byReason.set(reason, (stats.byReason.get(reason) ?? 0) + 1);
        if (!ACCEPTABLE_FAILURES.has(reason)) {
          const sop = String(value(f, '00081155'));
          const part = batch.find((c) => searchable(c.bytes).includes(sop, 0, 'latin1'));
          unexpected.push(`${part?.label ?? where}: failure reason 0x${reason.toString(16)} for ${sop}`);
        }
      }
      stats.failed += failed.length;
      stats.stored += referenced.length;
      const searched = batch.map((c) => searchable(c.bytes));
      for (const r of referenced) {
        const sop = String(value(r, '00081155'));
        const [, study, series] = /\/studies\/([^/]+)\/series\/([^/]+)\/instances\//.exec(
          String(value(r, '00081190')),
        )!;
        // Normally one part holds the UID; a hostile value (all nines) can put the same one in several.
        const candidates = batch.filter((_, i) => searched[i]!.includes(sop, 0, 'latin1'));
        assert.ok(candidates.length > 0, `${where}: the stored ${sop} is in none of the parts`);
        const earlier = acknowledged.get(sop);
        acknowledged.set(sop, {
          sopInstanceUid: sop,
          studyInstanceUid: study!,
          seriesInstanceUid: series!,
          sent: [...(earlier?.sent ?? []), ...candidates.map((c) => c.bytes)],
          kind: 'part10',
          label: candidates.map((c) => c.label).join(' / '),
        });
      }
      for (const c of batch.filter((c) => c.control)) {
        assert.ok(acknowledged.has(c.uid), `${where}: the unmutated control ${c.label} was not stored`);
      }
    };

    // Two clients at once, as real uploads would be.
    let next = 0;
    let stopped = false;
    const worker = async () => {
      while (next < batches.length && !stopped) {
        const batch = batches[next++]!;
        // After a failure the other client stops too, so nothing is stored that is not accounted for.
        await send(batch, batch.length === 1).catch((error: unknown) => {
          stopped = true;
          throw error;
        });
        if (next % 10 === 0) await assertHealthy(gateway, `after ${batch[0]!.label} (${reproduce()})`);
      }
    };
    await Promise.all([worker(), worker()]);
    console.log(
      `hostile-dicom STOW: ${total} cases in ${stats.requests} requests, ${stats.stored} stored, ` +
        `${stats.failed} refused (${[...stats.byReason].map(([r, n]) => `0x${r.toString(16)}: ${n}`).join(', ')})`,
    );
    assertNoUnexpected('STOW-RS');
    await assertStoreConsistent(gateway, acknowledged, `after the STOW-RS fuzz (${reproduce()})`);
  });

  test('stored mutants are served or refused by every retrieve route, never with an unhandled error', async () => {
    const rng = Prng.for(runSeed, 'retrieve');
    const stored = [...acknowledged.values()];
    const sample = Array.from({ length: Math.min(stored.length, fuzzCases(120)) }, () => rng.pick(stored));
    const statuses = new Map<string, number>();
    for (const ack of sample) {
      const base = `${gateway.dicomweb}/studies/${ack.studyInstanceUid}/series/${ack.seriesInstanceUid}/instances/${ack.sopInstanceUid}`;
      for (const [path, accept] of [
        ['/metadata', 'application/dicom+json'],
        ['', 'multipart/related; type="application/dicom"'],
        ['/frames/1', 'multipart/related; type="application/octet-stream"; transfer-syntax=*'],
        ['/frames/1', 'multipart/related; type="application/octet-stream"'],
        ['/rendered', 'image/jpeg'],
        ['/thumbnail', 'image/png'],
      ] as const) {
        const response = await fetch(`${base}${path}`, { headers: { accept } });
        const body = Buffer.from(await response.arrayBuffer());
        const key = `${path || '/'} ${response.status}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        // Decoding corrupt pixel data that was stored as sent fails by design with a 500 that says so
        // (the request was fine, the stored data is not); an unhandled exception (the error handler's
        // bare "Processing failure") or a 500 anywhere else is a bug.
        const decodes = path !== '' && path !== '/metadata' && !accept.includes('transfer-syntax=*');
        const deliberate =
          decodes &&
          response.status === 500 &&
          /^(frame \d+: |cannot render )/.test(
            String((JSON.parse(body.toString()) as { message?: string }).message),
          );
        assert.ok(
          response.status < 500 || deliberate,
          `${ack.label}: GET ${path || '/'} (${accept}) answered ${response.status} ${body.toString('utf8', 0, 300)} (${reproduce()})`,
        );
      }
    }
    console.log(`hostile-dicom retrieve: ${[...statuses].map(([k, n]) => `${k}: ${n}`).join(', ')}`);
    await assertHealthy(gateway, 'after retrieving stored mutants');
  });

  test(`mutated datasets through C-STORE (${fuzzCases(300)} cases, ${reproduce()})`, async () => {
    const rng = Prng.for(runSeed, 'c-store');
    const total = fuzzCases(300);
    // One presentation context per (SOP class, transfer syntax) of the seeds.
    const contexts = new Map<string, number>();
    for (const s of seeds) {
      const key = `${s.sopClassUid}|${s.transferSyntaxUid}`;
      if (!contexts.has(key)) contexts.set(key, contexts.size * 2 + 1);
    }
    const proposal = [...contexts].map(([key, id]) => {
      const [abstractSyntax, ts] = key.split('|') as [string, string];
      return { id, abstractSyntax, transferSyntaxes: [ts] };
    });
    const association = await RawAssociation.open(gateway.dimsePort);
    const answer = await association.associate({ called: gateway.aeTitle, contexts: proposal });
    assert.equal(answer?.type, 0x02, 'A-ASSOCIATE-AC');
    const statuses = new Map<number, number>();
    try {
      for (let i = 0; i < total; i++) {
        const c = makeCase(rng, seeds, i, true);
        const s = c.seed;
        const contextId = contexts.get(`${s.sopClassUid}|${s.transferSyntaxUid}`)!;
        assert.ok(association.accepted.has(contextId), `context for ${s.name} accepted`);
        // Fragment sizes vary too, so element headers and values are split across PDVs anywhere.
        const maxPdv = rng.pick([1, 3, 8, 13, 100, 1024, 16384]);
        const { status, pdu } = await association.cStore(contextId, s.sopClassUid, c.uid, c.bytes, maxPdv);
        const where = `${c.label} (${reproduce()})`;
        assert.notEqual(status, undefined, `${where}: no C-STORE response (got PDU ${pdu?.type})`);
        statuses.set(status!, (statuses.get(status!) ?? 0) + 1);
        if (status === 0) {
          // A mutant may have moved to another (valid) study or series UID: the index says where.
          const stored = gateway.running.core.index.getInstance(c.uid);
          assert.ok(stored, `${where}: acknowledged but not indexed`);
          acknowledged.set(c.uid, {
            sopInstanceUid: c.uid,
            studyInstanceUid: stored.studyInstanceUid,
            seriesInstanceUid: stored.seriesInstanceUid,
            sent: [c.bytes],
            kind: 'dataset',
            label: c.label,
          });
        } else {
          if (!ACCEPTABLE_FAILURES.has(status!))
            unexpected.push(`${where}: C-STORE status 0x${status!.toString(16)}`);
          assert.ok(!c.control, `${where}: the unmutated control was refused`);
        }
      }
      assert.ok(await association.release(), 'A-RELEASE-RP');
    } finally {
      association.destroy();
    }
    console.log(
      `hostile-dicom C-STORE: ${total} cases, statuses ${[...statuses].map(([s, n]) => `0x${s.toString(16)}: ${n}`).join(', ')}`,
    );
    assertNoUnexpected('C-STORE');
    await assertStoreConsistent(gateway, acknowledged, `after the C-STORE fuzz (${reproduce()})`);
  });
});

describe('a deflate bomb', () => {
  // The built CLI as a child process, so its peak RSS is its own (npm test builds dist/ first).
  let gateway: GatewayProcess;
  let dataDir: string;
  const MiB = 1024 * 1024;
  // Inflates to almost 4 GiB, twice the default limits.maxInstanceBytes (2 GiB); about 4 MB on the wire.
  const bomb = deflateBomb(0xfffffffe);

  before(async () => {
    dataDir = await makeTempDir('hostile-bomb-');
    gateway = await spawnGateway(['--data', dataDir]);
  });
  after(async () => {
    if (gateway && gateway.child.exitCode === null) {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
    if (dataDir) await removeDir(dataDir);
  });

  test(
    'is refused (0xA700, size limit) through both doors, in bounded memory, leaving no file',
    { timeout: 120_000 },
    async () => {
      const good = buildInstance({});
      assert.equal((await stow(gateway.dicomweb, [good.bytes])).status, 200);
      const before = gateway.peakRss();

      // STOW-RS, alone: the instance fails with "too large", and the Warning says why.
      const single = await fetch(`${gateway.dicomweb}/studies`, {
        method: 'POST',
        headers: { 'content-type': 'application/dicom' },
        body: bomb.bytes,
        // Inflating 2 GiB takes about a second; an upload that never finishes is the bug this catches.
        signal: AbortSignal.timeout(30_000),
      });
      const singleJson = (await single.json()) as DicomJson;
      assert.equal(single.status, 409);
      assert.equal(value(items(singleJson, '00081198')[0], '00081197'), 0xa700);
      assert.match(String(single.headers.get('warning')), /inflates beyond the instance limit/);

      // In a multipart request, followed by a good instance: the rest of the bomb is skipped, not inflated,
      // and the next part is stored.
      const next = buildInstance({});
      const mixed = await stow(gateway.dicomweb, [bomb.bytes, next.bytes]);
      assert.equal(mixed.status, 202);
      assert.equal(value(items(mixed.json, '00081198')[0], '00081197'), 0xa700);
      assert.equal(value(items(mixed.json, '00081199')[0], '00081155'), next.sopInstanceUID);

      // C-STORE of the deflated dataset: refused with 0xA700, and the association goes on (C-ECHO).
      const association = await RawAssociation.open(gateway.dimsePort);
      try {
        const answer = await association.associate({
          contexts: [
            { id: 1, abstractSyntax: '1.2.840.10008.5.1.4.1.1.88.11', transferSyntaxes: [TS_DEFLATED] },
            { id: 3, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] },
          ],
        });
        assert.equal(answer?.type, 0x02);
        const dataset = bomb.bytes.subarray(scanPart10(bomb.bytes).datasetOffset);
        const stored = await association.cStore(
          1,
          '1.2.840.10008.5.1.4.1.1.88.11',
          bomb.sopInstanceUid,
          dataset,
        );
        assert.equal(stored.status, 0xa700, 'C-STORE status: out of resources (too large)');
        assert.equal((await association.cEcho(3)).status, 0);
        assert.ok(await association.release());
      } finally {
        association.destroy();
      }

      const peak = gateway.peakRss();
      console.log(`deflate bomb: peak RSS ${(before / MiB).toFixed(0)} -> ${(peak / MiB).toFixed(0)} MB`);
      assert.ok(
        peak - before < 150 * MiB,
        `peak RSS grew by ${((peak - before) / MiB).toFixed(1)} MB inflating three bombs (limit 150 MB)`,
      );
      assert.deepEqual(
        (await qido(`${gateway.dicomweb}/instances`)).map((i) => value(i, '00080018')).sort(),
        [good.sopInstanceUID, next.sopInstanceUID].sort(),
      );
      assert.equal((await fetch(`${gateway.httpUrl}/health`)).status, 200);

      // Stopped cleanly, nothing of the bombs is left on disk.
      gateway.child.kill('SIGTERM');
      assert.equal((await gateway.exited).code, 0);
      assert.equal((await listStoredFiles(dataDir)).length, 2);
      assert.deepEqual(await readdir(join(dataDir, 'tmp')), []);
    },
  );
});
