/**
 * Hostile HTTP (issue 6): path traversal and malformed UIDs on every route and in datasets (STOW-RS and
 * C-STORE), SQL metacharacters in every QIDO parameter, broken multipart bodies and clients that hang up
 * mid-upload, oversized request headers. Every answer is a 4xx with a JSON error body (never a 500), the
 * server stays up, nothing lands outside the data root and nothing is half-stored.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildInstance, newUid, type BuiltInstance } from '../helpers/dicom-generator.js';
import { items, multipartRelated, qido, stow, value, type DicomJson } from '../helpers/dicomweb-client.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { fuzzSeed, Prng } from '../helpers/mutation-fuzzer.js';
import { RawAssociation } from '../helpers/raw-dimse.js';
import {
  assertHealthy,
  assertNoTempFiles,
  assertStoreConsistent,
  type Acknowledged,
} from '../helpers/store-consistency.js';
import { listStoredFiles } from '../helpers/stored-files.js';
import { CATALOG } from '../../src/query/attributes.js';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request with its path exactly as given (fetch would resolve `..` and re-encode). */
function rawRequest(
  base: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: Buffer } = {},
): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, method, path, headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolvePromise({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A JSON error body: { error, message } (the gateway's own, or fastify's for router-level errors). */
function assertJsonError(response: RawResponse, what: string): void {
  assert.match(String(response.headers['content-type']), /^application\/json/, `${what}: JSON error body`);
  const body = JSON.parse(response.body) as { error?: unknown; message?: unknown };
  assert.equal(typeof body.error, 'string', `${what}: error code in the body`);
  assert.equal(typeof body.message, 'string', `${what}: message in the body`);
}

const MARKER = `hostile-${process.pid}-${Date.now()}`;

/** Values for a UID path segment, as they go on the wire (percent-encoded where a client would). */
const HOSTILE_SEGMENTS = [
  '..',
  '.',
  '%2e%2e',
  '%2e%2e%2f',
  '..%2F..%2F..%2Fetc%2Fpasswd',
  `..%2F..%2F..%2F..%2Ftmp%2F${MARKER}`,
  '..%5C..%5Cwindows',
  '%c0%ae%c0%ae%2f',
  '%00',
  '1.2.3%00',
  '1.2.3%00.dcm',
  '%2F',
  '1.2.3%2F..%2F..',
  '%252e%252e%252f',
  `1.${'2'.repeat(63)}`,
  '1'.repeat(65),
  '1.2.abc',
  'abc',
  '-1',
  '1..2',
  '.1',
  '1.',
  '%20',
  '1.2.3%0d%0aSet-Cookie:%20x=1',
  '%ff%fe',
  '%e2%80%ae1.2',
  `1.${'2'.repeat(299)}`,
];

/** UID values a dataset may carry that the UID checks must refuse before they name any file. */
const HOSTILE_DATASET_UIDS = [
  `../../../../tmp/${MARKER}`,
  '1.2.3/../../x',
  '..',
  '.',
  '/',
  '/etc/passwd',
  '1.2.3\\..\\x',
  `1.${'2'.repeat(63)}`,
  '',
  '\0',
  '1.2\x003',
  '1.2.3 4',
  '1.2.3\x7f4',
  '1.2.\u00e94',
  'C:\\x',
  '1.2.3.',
];

describe('hostile HTTP and UIDs', () => {
  let gateway: TestGateway;
  let known: BuiltInstance;
  const acknowledged = new Map<string, Acknowledged>();

  const remember = (instance: BuiltInstance, label: string) =>
    acknowledged.set(instance.sopInstanceUID, {
      sopInstanceUid: instance.sopInstanceUID,
      studyInstanceUid: instance.studyInstanceUID,
      seriesInstanceUid: instance.seriesInstanceUID,
      sent: [instance.bytes],
      kind: 'part10',
      label,
    });

  /** Nothing outside the data root, and every stored path made of valid UIDs. */
  async function assertNothingOutsideRoot(context: string): Promise<void> {
    for (const candidate of [join('/tmp', MARKER), join(dirname(gateway.dataDir), MARKER)]) {
      assert.ok(!existsSync(candidate), `${context}: ${candidate} was created`);
    }
    for (const file of await listStoredFiles(gateway.dataDir)) {
      const absolute = resolve(gateway.dataDir, file);
      assert.ok(
        !relative(gateway.dataDir, absolute).startsWith(`..${sep}`),
        `${context}: ${file} leaves the root`,
      );
      assert.match(
        file,
        /^files\/[0-9.]{1,64}\/[0-9.]{1,64}\/[0-9.]{1,64}(\.[0-9a-f]+)*\.dcm$/,
        `${context}: ${file}`,
      );
    }
    // Nothing named after a hostile value next to the gateway's own files and folders.
    const top = (await readdir(gateway.dataDir)).filter((name) =>
      /hostile|etc|passwd|windows|^x$|^\.+$/.test(name),
    );
    assert.deepEqual(top, [], `${context}: entries in the data root named after hostile values`);
  }

  before(async () => {
    gateway = await startTestGateway({ limits: { qidoMaxLimit: 100_000 } });
    known = buildInstance({ image: { rows: 8, columns: 8, frames: 2 } });
    assert.equal((await stow(gateway.dicomweb, [known.bytes])).status, 200);
    remember(known, 'known');
  });
  after(() => gateway?.stop());

  test('hostile UIDs in the path of every route: 400/404 (414/431 when over-long) with a JSON body, never a 500', async () => {
    const routes = gateway.running.http.routeTable.filter((r) => r.url.includes(':') || r.url.includes('*'));
    assert.ok(routes.length >= 20, 'the route table lists the DICOMweb routes');
    const valid: Record<string, string> = {
      study: known.studyInstanceUID,
      series: known.seriesInstanceUID,
      instance: known.sopInstanceUID,
      frames: '1',
      '*': '7FE00010',
    };
    const hostileFor: Record<string, string[]> = {
      frames: ['0', '-1', '1,,2', '99999999999', '1%2C..%2F2', 'a', '1-2', '%00', '1'.repeat(300)],
      '*': [
        '..%2F..%2F..%2Fetc%2Fpasswd',
        '../../../../etc/passwd',
        '%2e%2e/%2e%2e/x',
        '7FE00010/../../x',
        'ZZZZZZZZ',
        '%00',
      ],
    };
    let requests = 0;
    const statuses = new Map<number, number>();
    for (const route of routes) {
      const names = [...route.url.matchAll(/:(\w+)|(\*)/g)].map((m) => m[1] ?? '*');
      for (const name of names) {
        const values = hostileFor[name] ?? HOSTILE_SEGMENTS;
        for (const hostile of route.method === 'HEAD' ? values.slice(0, 3) : values) {
          const path = route.url.replace(/:(\w+)|\*/g, (_match, param: string | undefined) =>
            (param ?? '*') === name ? hostile : valid[param ?? '*']!,
          );
          const body = route.method === 'POST' ? buildInstance({}).bytes : undefined;
          const headers = body ? { 'content-type': 'application/dicom' } : undefined;
          const response = await rawRequest(gateway.httpUrl, route.method, path, { headers, body });
          requests++;
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          const what = `${route.method} ${path.slice(0, 200)}`;
          assert.ok(
            [400, 404, 414, 431].includes(response.status),
            `${what}: answered ${response.status} ${response.body.slice(0, 200)}`,
          );
          if (route.method !== 'HEAD') assertJsonError(response, what);
        }
      }
    }
    // WADO-URI takes its UIDs from the query.
    for (const name of ['studyUID', 'seriesUID', 'objectUID']) {
      for (const hostile of HOSTILE_SEGMENTS) {
        const query = {
          studyUID: known.studyInstanceUID,
          seriesUID: known.seriesInstanceUID,
          objectUID: known.sopInstanceUID,
          [name]: hostile,
        };
        const path = `/wado?requestType=WADO&${Object.entries(query)
          .map(([k, v]) => `${k}=${v}`)
          .join('&')}`;
        const response = await rawRequest(gateway.httpUrl, 'GET', path);
        requests++;
        assert.ok([400, 404, 431].includes(response.status), `GET ${path.slice(0, 200)}: ${response.status}`);
        assertJsonError(response, path);
      }
    }
    console.log(
      `hostile-http paths: ${requests} requests, statuses ${[...statuses].map(([s, n]) => `${s}: ${n}`).join(', ')}`,
    );
    await assertNothingOutsideRoot('after hostile paths');
    await assertStoreConsistent(gateway, acknowledged, 'after hostile paths (DELETE included)');
  });

  test('hostile Study/Series/SOP Instance UIDs in datasets: refused through STOW-RS and C-STORE, no path made of them', async () => {
    const association = await RawAssociation.open(gateway.dimsePort);
    const CT = '1.2.840.10008.5.1.4.1.1.2';
    const answer = await association.associate({
      called: gateway.aeTitle,
      contexts: [{ id: 1, abstractSyntax: CT, transferSyntaxes: ['1.2.840.10008.1.2.1'] }],
    });
    assert.equal(answer?.type, 0x02);
    try {
      for (const field of ['studyInstanceUID', 'seriesInstanceUID', 'sopInstanceUID'] as const) {
        for (const hostile of HOSTILE_DATASET_UIDS) {
          const raw = Buffer.from(
            hostile,
            [...hostile].some((c) => c.charCodeAt(0) > 0xff) ? 'utf8' : 'latin1',
          );
          const tag = {
            studyInstanceUID: 0x0020000d,
            seriesInstanceUID: 0x0020000e,
            sopInstanceUID: 0x00080018,
          }[field];
          const instance = buildInstance({
            image: { rows: 4, columns: 4 },
            extra: [{ tag, vr: 'UI', value: raw }],
          });
          const what = `${field} ${JSON.stringify(hostile)}`;

          const response = await stow(gateway.dicomweb, [instance.bytes]);
          assert.equal(response.status, 409, `${what}: STOW-RS refuses it`);
          assert.equal(value(items(response.json, '00081198')[0], '00081197'), 0xc000, `${what}: 0xC000`);
          assert.doesNotMatch(
            String(response.headers.get('warning')),
            /[^\x20-\x7e]/,
            `${what}: Warning is ASCII`,
          );

          // C-STORE: the command names the same SOP Instance UID as the dataset (else it is a mismatch).
          const dataset = instance.bytes.subarray(132 + 12 + instance.bytes.readUInt32LE(140));
          const sop = field === 'sopInstanceUID' ? raw.toString('latin1') : instance.sopInstanceUID;
          const { status } = await association.cStore(1, CT, sop, dataset);
          assert.ok(
            status === 0xc000 || status === 0xa900,
            `${what}: C-STORE status 0x${status?.toString(16)}`,
          );
        }
      }
      // A trailing NUL is the padding of a UI value (PS3.5 6.2): that UID is valid and is stored.
      const padded = newUid();
      const instance = buildInstance({ sopInstanceUID: padded.length % 2 ? padded : `${padded}1` });
      assert.equal((await stow(gateway.dicomweb, [instance.bytes])).status, 200);
      remember(instance, 'NUL-padded UID');
      assert.ok(await association.release());
    } finally {
      association.destroy();
    }
    await assertNothingOutsideRoot('after hostile dataset UIDs');
    await assertStoreConsistent(gateway, acknowledged, 'after hostile dataset UIDs');
  });

  describe('SQL metacharacters in every QIDO parameter', () => {
    // Plain instances (letters and digits only) and bait instances whose values hold the metacharacters.
    const plain = [
      buildInstance({
        patientName: 'Plain^Alice',
        patientID: 'PLAIN001',
        accessionNumber: 'ACC100',
        studyDescription: 'Plain study',
        studyID: 'S1',
        modality: 'CT',
        referringPhysicianName: 'Ref^Doc',
      }),
      buildInstance({
        patientName: 'Plain^Bob',
        patientID: 'PLAIN002',
        accessionNumber: 'ACC200',
        studyDescription: 'Other study',
        studyID: 'S2',
        modality: 'MR',
        referringPhysicianName: 'Ref^Other',
      }),
    ];
    const bait = buildInstance({
      specificCharacterSet: 'ISO_IR 192',
      patientName: "O'Brien^%_*",
      patientID: "1' OR '1'='1",
      accessionNumber: '%_\\x',
      studyDescription: 'a"b;c--DROP',
      studyID: '%',
      referringPhysicianName: 'Müller^Jürgen',
    });

    before(async () => {
      const response = await stow(gateway.dicomweb, [...plain.map((p) => p.bytes), bait.bytes]);
      assert.equal(response.status, 200);
      plain.forEach((p, i) => remember(p, `plain ${i}`));
      remember(bait, 'bait');
    });

    const HOSTILE_VALUES = [
      "' OR 1=1 --",
      "' OR '1'='1",
      '"; DROP TABLE instances; --',
      "'; DELETE FROM studies; --",
      "1; ATTACH DATABASE '/tmp/x' AS x; --",
      '%',
      '_',
      '%%',
      "'%",
      '\\',
      '\\\\',
      '\\%',
      '[a-z]%',
      '*',
      '?',
      '\0',
      'a\0b',
      '\u202e',
      '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
      'Müller*',
      "' UNION SELECT sop_uid FROM instances --",
      ') OR (1=1',
      '-',
      '--',
      '1-',
      ',',
      '^',
      '=',
    ];

    /** Values for which every plain instance must not match (no `*`/`?` wildcard, not empty). */
    const mustNotMatchPlain = (v: string) => !/[*?]/.test(v) && v !== '';

    test('every key of the attributes catalog, at every level: 200 without spurious matches, or 400', async () => {
      const controls = [
        'includefield',
        'limit',
        'offset',
        'fuzzymatching',
        'emptyvaluematching',
        'orderby',
        "PatientName'--",
        '%00',
        "00100010'",
        'PatientName.0',
        '',
      ];
      const plainUids = new Set(plain.map((p) => p.sopInstanceUID));
      const plainStudies = new Set(plain.map((p) => p.studyInstanceUID));
      const statuses = new Map<number, number>();
      let requests = 0;
      const check = async (level: string, key: string, v: string, fuzzy = false) => {
        const query = `${encodeURIComponent(key)}=${encodeURIComponent(v)}${fuzzy ? '&fuzzymatching=true' : ''}&includefield=all`;
        const url = `${gateway.dicomweb}/${level}?${query}`;
        const response = await fetch(url, { headers: { accept: 'application/dicom+json' } });
        const text = await response.text();
        requests++;
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        assert.ok([200, 400].includes(response.status), `${url}: ${response.status} ${text.slice(0, 200)}`);
        if (response.status === 400) {
          assertJsonError({ status: 400, headers: Object.fromEntries(response.headers), body: text }, url);
          return;
        }
        const results = JSON.parse(text) as DicomJson[];
        if (!mustNotMatchPlain(v) || fuzzy) return;
        const isControl = controls.includes(key);
        if (isControl) return;
        for (const r of results) {
          const sop = value(r, '00080018');
          const study = value(r, '0020000D');
          assert.ok(
            !(level === 'instances' && plainUids.has(String(sop))) &&
              !(level === 'studies' && plainStudies.has(String(study))),
            `${url}: spurious match of a plain instance (${String(sop ?? study)})`,
          );
        }
      };
      // Every value for every key at the level the key belongs to; the hex form of the key, and the
      // levels above and below, with a third of the values each (chosen by the seeded PRNG).
      const rng = Prng.for(fuzzSeed(), 'qido');
      const LEVELS = ['studies', 'series', 'instances'];
      const own = { PATIENT: 0, STUDY: 0, SERIES: 1, IMAGE: 2 } as const;
      for (const entry of CATALOG) {
        const hex = entry.tag.toString(16).padStart(8, '0').toUpperCase();
        for (const v of HOSTILE_VALUES) {
          await check(LEVELS[own[entry.level]]!, entry.keyword, v);
          if (rng.chance(1 / 3)) await check(rng.pick(LEVELS), rng.chance(0.5) ? hex : entry.keyword, v);
        }
      }
      for (const key of controls) {
        for (const v of HOSTILE_VALUES) await check(rng.pick(LEVELS), key, v);
      }
      // fuzzymatching and wildcards take other code paths.
      for (const v of HOSTILE_VALUES) {
        await check('studies', 'PatientName', v, true);
        await check('studies', 'ReferringPhysicianName', `${v}*`);
      }
      console.log(
        `hostile-http QIDO: ${requests} requests, statuses ${[...statuses].map(([s, n]) => `${s}: ${n}`).join(', ')}`,
      );
    });

    test('LIKE metacharacters next to real values match nothing more than they say', async () => {
      const [alice] = plain;
      const studiesOf = async (query: string) =>
        (await qido(`${gateway.dicomweb}/studies?${query}`)).map((s) => String(value(s, '0020000D')));
      // A literal %, _ or quote beside a real value must not widen the match to it.
      for (const [key, real] of [
        ['PatientName', 'Plain^Alice'],
        ['PatientID', 'PLAIN001'],
        ['AccessionNumber', 'ACC100'],
        ['StudyDescription', 'Plain study'],
        ['StudyID', 'S1'],
        ['ReferringPhysicianName', 'Ref^Doc'],
      ] as const) {
        for (const v of [
          `${real}%`,
          `%${real.slice(1)}`,
          `${real.slice(0, -1)}_`,
          `_${real.slice(1)}`,
          `${real}'`,
          `${real}' OR '1'='1`,
          `${real}\\`,
          `${real.slice(0, 3)}%`,
        ]) {
          const response = await fetch(`${gateway.dicomweb}/studies?${key}=${encodeURIComponent(v)}`);
          assert.ok([200, 400].includes(response.status), `${key}=${v}: ${response.status}`);
          if (response.status !== 200) continue;
          const found = ((await response.json()) as DicomJson[]).map((s) => String(value(s, '0020000D')));
          assert.ok(!found.includes(alice!.studyInstanceUID), `${key}=${v} matched ${real}`);
        }
        // The real value itself still matches, and a real wildcard still works.
        assert.ok(
          (await studiesOf(`${key}=${encodeURIComponent(real)}`)).includes(alice!.studyInstanceUID),
          `${key}=${real}`,
        );
        assert.ok(
          (await studiesOf(`${key}=${encodeURIComponent(`${real.slice(0, 3)}*`)}`)).includes(
            alice!.studyInstanceUID,
          ),
          `${key}=${real.slice(0, 3)}*`,
        );
      }
      // PatientName '% must not match everything; the bait's literal values are found as such.
      assert.deepEqual(await studiesOf(`PatientName=${encodeURIComponent("'%")}`), []);
      assert.deepEqual(await studiesOf('PatientName=%25'), []);
      assert.deepEqual(await studiesOf('PatientName=_'), []);
      assert.deepEqual(await studiesOf(`PatientID=${encodeURIComponent("1' OR '1'='1")}`), [
        bait.studyInstanceUID,
      ]);
      assert.deepEqual(await studiesOf('StudyID=%25'), [bait.studyInstanceUID]);
      assert.deepEqual(await studiesOf(`PatientName=${encodeURIComponent("O'Brien^%_*")}`), [
        bait.studyInstanceUID,
      ]);
      assert.deepEqual(await studiesOf(`StudyDescription=${encodeURIComponent('a"b;c--DROP')}`), [
        bait.studyInstanceUID,
      ]);
      assert.deepEqual(
        (await studiesOf(`PatientName=${encodeURIComponent('*')}&limit=100`)).sort(),
        [...new Set([...acknowledged.values()].map((a) => a.studyInstanceUid))].sort(),
        '* matches every study',
      );
    });

    test('the index still works afterwards: same content, writable, intact', async () => {
      const db = (gateway.running.core.index as { db?: { pragma(p: string, o?: object): unknown } }).db;
      if (db) assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      const more = buildInstance({ patientName: "After^Attack'" });
      assert.equal((await stow(gateway.dicomweb, [more.bytes])).status, 200);
      remember(more, 'after the QIDO attack');
      assert.equal(
        (await qido(`${gateway.dicomweb}/instances?SOPInstanceUID=${more.sopInstanceUID}`)).length,
        1,
      );
      await assertStoreConsistent(gateway, acknowledged, 'after SQL metacharacters');
    });
  });

  describe('broken multipart bodies and clients that hang up', () => {
    const post = (contentType: string | undefined, body: Buffer) =>
      fetch(`${gateway.dicomweb}/studies`, {
        method: 'POST',
        headers: contentType ? { 'content-type': contentType } : {},
        body,
      });
    const notStored = async (instance: BuiltInstance, what: string) =>
      assert.deepEqual(
        await qido(`${gateway.dicomweb}/instances?SOPInstanceUID=${instance.sopInstanceUID}`),
        [],
        `${what}: nothing stored`,
      );

    test('missing final boundary: the complete parts are stored, the cut one is not', async () => {
      for (const cutAt of [2, 100, 'boundary'] as const) {
        const first = buildInstance({});
        const second = buildInstance({});
        const { body, contentType } = multipartRelated([first.bytes, second.bytes]);
        // Cut inside the second part, or just before its closing delimiter (a whole part, no close).
        const end =
          cutAt === 'boundary' ? body.lastIndexOf('\r\n--') : body.length - second.bytes.length / cutAt;
        const response = await post(contentType, body.subarray(0, end));
        const json = (await response.json()) as DicomJson;
        assert.ok([202, 400].includes(response.status), `cut at ${cutAt}: ${response.status}`);
        assert.equal(value(items(json, '00081199')[0], '00081155'), first.sopInstanceUID);
        remember(first, `first part, cut at ${cutAt}`);
        await notStored(second, `cut at ${cutAt}`);
      }
      await assertStoreConsistent(gateway, acknowledged, 'after missing final boundaries');
    });

    test('wrong, missing or malformed boundary parameters: 400 with a JSON body, nothing stored', async () => {
      const instance = buildInstance({});
      const { body } = multipartRelated([instance.bytes], { boundary: 'theRealBoundary' });
      for (const contentType of [
        'multipart/related; type="application/dicom"; boundary=notTheBoundary',
        'multipart/related; type="application/dicom"',
        'multipart/related; type="application/dicom"; boundary=',
        'multipart/related; type="application/dicom"; boundary=""',
        `multipart/related; type="application/dicom"; boundary=${'x'.repeat(71)}`,
        'multipart/related; type="application/dicom"; boundary=theReal',
        'multipart/related; type="application/dicom"; boundary="theRealBoundary',
      ]) {
        const response = await post(contentType, body);
        const text = await response.text();
        assert.equal(response.status, 400, `${contentType}: ${text}`);
        assertJsonErrorOrStowFailure(response.status, text, contentType);
      }
      await notStored(instance, 'bad boundaries');
      const noType = await post(undefined, body);
      assert.equal(noType.status, 415, 'no Content-Type at all');
      await assertHealthy(gateway, 'after bad boundaries');
    });

    test('parts without Content-Type are read as application/dicom; junk between parts is refused', async () => {
      const a = buildInstance({});
      const b = buildInstance({});
      const boundary = 'noTypeBoundary';
      const body = Buffer.concat([
        Buffer.from(`--${boundary}\r\n\r\n`),
        a.bytes,
        Buffer.from(`\r\n--${boundary}\r\nX-Other: 1\r\n\r\n`),
        b.bytes,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      const response = await post(`multipart/related; type="application/dicom"; boundary=${boundary}`, body);
      assert.equal(response.status, 200);
      remember(a, 'part without headers');
      remember(b, 'part without Content-Type');

      const c = buildInstance({});
      const junk = Buffer.concat([
        Buffer.from(`--${boundary}junk after the delimiter\r\n\r\n`),
        c.bytes,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      const refused = await post(`multipart/related; type="application/dicom"; boundary=${boundary}`, junk);
      assert.equal(refused.status, 400);
      assertJsonErrorOrStowFailure(400, await refused.text(), 'junk after the delimiter');
      await notStored(c, 'junk after the delimiter');
      const badHeaders = Buffer.concat([
        Buffer.from(`--${boundary}\r\nno colon here\r\n\r\n`),
        c.bytes,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      assert.equal((await post(`multipart/related; boundary=${boundary}`, badHeaders)).status, 400);
      await notStored(c, 'malformed part headers');
      await assertStoreConsistent(gateway, acknowledged, 'after parts without Content-Type');
    });

    test('a client that hangs up mid-part leaves nothing half-stored and no temp file', async () => {
      const complete: BuiltInstance[] = [];
      for (const mode of ['content-length', 'chunked'] as const) {
        const first = buildInstance({});
        const second = buildInstance({ image: { rows: 256, columns: 256 } });
        complete.push(first);
        const { body, contentType } = multipartRelated([first.bytes, second.bytes]);
        const cut = body.length - Math.floor(second.bytes.length / 2);
        await new Promise<void>((resolvePromise) => {
          const socket = connect(Number(new URL(gateway.httpUrl).port), '127.0.0.1');
          socket.on('error', () => undefined);
          socket.on('close', () => resolvePromise());
          socket.on('connect', () => {
            const length =
              mode === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`;
            socket.write(
              `POST /dicom-web/studies HTTP/1.1\r\nHost: x\r\nContent-Type: ${contentType}\r\n${length}\r\n\r\n`,
            );
            const sent = body.subarray(0, cut);
            socket.write(
              mode === 'chunked'
                ? Buffer.concat([Buffer.from(`${sent.length.toString(16)}\r\n`), sent, Buffer.from('\r\n')])
                : sent,
            );
            // Usually long enough for the server to store the first part and start on the second.
            setTimeout(() => socket.destroy(), 300);
          });
        });
        // Once the upload is given up, its temp file goes: the part cut short is never stored.
        await assertNoTempFiles(gateway, `${mode} hang-up`);
        await notStored(second, `${mode}: the part cut by the hang-up`);
      }
      // The first parts were complete: stored or not (the request never finished), but whole if stored.
      await new Promise((resolvePromise) => setTimeout(resolvePromise, 200));
      for (const first of complete) {
        if (gateway.running.core.index.getInstance(first.sopInstanceUID)) remember(first, 'before a hang-up');
      }
      await assertStoreConsistent(gateway, acknowledged, 'after clients hung up');
    });
  });

  describe('oversized request headers', () => {
    const rawHttp = (write: (socket: ReturnType<typeof connect>) => void) =>
      new Promise<{ status: number; body: string }>((resolvePromise) => {
        const socket = connect(Number(new URL(gateway.httpUrl).port), '127.0.0.1');
        const chunks: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => chunks.push(chunk));
        socket.on('error', () => undefined);
        socket.on('close', () => {
          const text = Buffer.concat(chunks).toString('latin1');
          resolvePromise({
            status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0),
            body: text.split('\r\n\r\n')[1] ?? '',
          });
        });
        socket.on('connect', () => write(socket));
      });
    const MiB = 1024 * 1024;

    test('10 MB of headers (one header, many headers, or a long request line): 431, and the server stays up', async () => {
      const cases: [string, (s: ReturnType<typeof connect>) => void][] = [
        [
          'one 10 MB header',
          (s) => {
            s.write('GET /dicom-web/studies HTTP/1.1\r\nHost: x\r\nX-Big: ');
            for (let i = 0; i < 10 && !s.destroyed; i++) s.write('a'.repeat(MiB));
            if (!s.destroyed) s.end('\r\n\r\n');
          },
        ],
        [
          '100,000 small headers',
          (s) => {
            s.write('GET /dicom-web/studies HTTP/1.1\r\nHost: x\r\n');
            const block = Array.from({ length: 1000 }, (_, i) => `X-H${i}: ${'b'.repeat(90)}\r\n`).join('');
            for (let i = 0; i < 100 && !s.destroyed; i++) s.write(block);
            if (!s.destroyed) s.end('\r\n');
          },
        ],
        [
          'a 10 MB request line',
          (s) => {
            s.write('GET /dicom-web/studies?PatientName=');
            for (let i = 0; i < 10 && !s.destroyed; i++) s.write('c'.repeat(MiB));
            if (!s.destroyed) s.end(' HTTP/1.1\r\nHost: x\r\n\r\n');
          },
        ],
      ];
      for (const [what, write] of cases) {
        const response = await rawHttp(write);
        assert.equal(response.status, 431, what);
        assert.equal((JSON.parse(response.body) as { error: string }).error, 'HEADERS_TOO_LARGE', what);
        await assertHealthy(gateway, `after ${what}`);
      }
      // Under the configured limit (64 KiB by default, above Node's own 16 KiB) a big header is fine.
      const fine = await fetch(`${gateway.httpUrl}/health`, {
        headers: { 'x-padding': 'd'.repeat(40 * 1024) },
      });
      assert.equal(fine.status, 200, 'a 40 KiB header is under limits.maxHeaderBytes');
    });
  });
});

/** STOW-RS refusals come as a JSON error body or a DICOM JSON FailedSOPSequence. */
function assertJsonErrorOrStowFailure(status: number, text: string, what: string): void {
  const json = JSON.parse(text) as Record<string, unknown>;
  if (status === 409) {
    assert.ok(json['00081198'], `${what}: a FailedSOPSequence`);
    return;
  }
  assert.equal(typeof json.error, 'string', `${what}: error code`);
  assert.equal(typeof json.message, 'string', `${what}: message`);
}
