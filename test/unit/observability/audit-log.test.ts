import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { GatewayError } from '../../../src/errors.js';
import type { IngestListener } from '../../../src/ingest/store-instance.js';
import {
  AuditLog,
  conditionKeys,
  dailyFileLayout,
  describeHttpRequest,
  httpAuditHook,
  qidoKeys,
  type AuditEvent,
} from '../../../src/observability/audit-log.js';
import { installRequestIdHeader, requestOrigin } from '../../../src/observability/context.js';
import { requestIdFrom } from '../../../src/observability/log-hygiene.js';
import type { MatchCondition } from '../../../src/query/query-model.js';
import { makeTempDir, removeDir } from '../../helpers/fixtures.js';

type StoredEvent = Parameters<IngestListener>[0];

const STUDY = '1.2.826.0.1.3680043.8.498.1';
const SERIES = '1.2.826.0.1.3680043.8.498.1.1';
const SOP = '1.2.826.0.1.3680043.8.498.1.1.1';
const identity = {
  sopClassUid: '1.2.840.10008.5.1.4.1.1.7',
  sopInstanceUid: SOP,
  studyInstanceUid: STUDY,
  seriesInstanceUid: SERIES,
};
/** Patient data that must never reach an audit line. */
const PATIENT_NAME = 'Doe^Secretname';
const PATIENT_ID = 'PID-99887766';

async function readEvents(path: string): Promise<AuditEvent[]> {
  const text = await readFile(path, 'utf8');
  assert.ok(text.endsWith('\n'), 'every line ends with a newline');
  return text
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as AuditEvent);
}

function clock(start: string): { now: () => Date; set(iso: string): void } {
  let current = new Date(start);
  return { now: () => current, set: (iso) => (current = new Date(iso)) };
}

describe('AuditLog', () => {
  let dir: string;
  let audit: AuditLog;
  const time = clock('2025-03-04T10:00:00.000Z');
  beforeEach(async () => {
    dir = await makeTempDir('audit-');
    time.set('2025-03-04T10:00:00.000Z');
    audit = new AuditLog({ dir: join(dir, 'audit'), now: time.now, cliUser: 'operator' });
    await audit.open();
  });
  afterEach(async () => {
    await audit.close();
    await removeDir(dir);
  });

  test('appends one JSON line per event, with the time, the ATNA event and no empty fields', async () => {
    audit.record({
      action: 'search',
      outcome: 'success',
      door: 'http',
      operation: 'QIDO-RS',
      actor: { user: 'alice', address: '10.1.2.3', aeTitle: ' ' },
      query: { level: 'STUDY', keys: ['PatientName'] },
      status: 200,
      requestId: 'req-1',
    });
    time.set('2025-03-04T10:00:01.500Z');
    audit.record({
      action: 'retrieve',
      outcome: 'success',
      door: 'http',
      resource: 'metadata',
      actor: {},
      study: STUDY,
    });
    await audit.flush();
    const path = join(dir, 'audit', 'audit-2025-03-04.jsonl');
    assert.equal(audit.pathFor(), path);
    const events = await readEvents(path);
    assert.deepEqual(events, [
      {
        time: '2025-03-04T10:00:00.000Z',
        action: 'search',
        outcome: 'success',
        door: 'http',
        operation: 'QIDO-RS',
        actor: { user: 'alice', address: '10.1.2.3' },
        query: { level: 'STUDY', keys: ['PatientName'] },
        status: 200,
        requestId: 'req-1',
        atna: { eventId: '110112', action: 'E' },
      },
      {
        time: '2025-03-04T10:00:01.500Z',
        action: 'retrieve',
        outcome: 'success',
        door: 'http',
        resource: 'metadata',
        actor: {},
        study: STUDY,
        atna: { eventId: '110103', action: 'R' },
      },
    ]);
    assert.equal((await stat(path)).mode & 0o777, 0o640);
    assert.equal((await stat(join(dir, 'audit'))).mode & 0o777, 0o750);
  });

  test('appends to the day file that exists, and starts a new file at UTC midnight', async () => {
    const first = join(dir, 'audit', 'audit-2025-03-04.jsonl');
    await writeFile(first, '{"earlier":true}\n');
    audit.record({ action: 'store', outcome: 'success', door: 'cli', actor: {} });
    time.set('2025-03-04T23:59:59.999Z');
    audit.record({ action: 'search', outcome: 'success', door: 'cli', actor: {} });
    time.set('2025-03-05T00:00:00.000Z');
    audit.record({ action: 'retrieve', outcome: 'success', door: 'cli', actor: {} });
    time.set('2025-03-05T08:00:00.000Z');
    audit.record({ action: 'delete', outcome: 'success', door: 'cli', actor: {} });
    await audit.flush();
    await audit.close();
    assert.deepEqual((await readdir(join(dir, 'audit'))).sort(), [
      'audit-2025-03-04.jsonl',
      'audit-2025-03-05.jsonl',
    ]);
    const day1 = await readFile(first, 'utf8');
    assert.equal(day1.split('\n')[0], '{"earlier":true}');
    assert.deepEqual(
      (await readEvents(first)).slice(1).map((e) => e.action),
      ['store', 'search'],
    );
    assert.deepEqual(
      (await readEvents(join(dir, 'audit', 'audit-2025-03-05.jsonl'))).map((e) => e.action),
      ['retrieve', 'delete'],
    );
  });

  test('close writes everything still pending; events after close are appended directly', async () => {
    for (let i = 0; i < 2000; i++) {
      audit.record({ action: 'retrieve', outcome: 'success', door: 'http', actor: {}, requestId: `r${i}` });
    }
    await audit.close();
    audit.record({ action: 'search', outcome: 'success', door: 'http', actor: {}, requestId: 'late' });
    const events = await readEvents(join(dir, 'audit', 'audit-2025-03-04.jsonl'));
    assert.equal(events.length, 2001);
    assert.equal(events[1999]!.requestId, 'r1999');
    assert.equal(events[2000]!.requestId, 'late');
    assert.equal(audit.writeErrors, 0);
    await assert.rejects(audit.checkWritable(), { code: 'closed' });
  });

  test('store events from the ingest pipeline: one per instance, actor from the door', async () => {
    const listener = audit.ingestListener();
    const ok: StoredEvent = {
      door: 'stow',
      outcome: { ok: true, status: 'stored', instance: identity, bytes: 10 },
    };
    // The origin the STOW route passes with its instances.
    const http = { requestId: 'req-7', address: '192.0.2.1', user: 'alice' };
    assert.equal(audit.recordedFor(http), false);
    listener({ ...ok, origin: http });
    assert.equal(audit.recordedFor(http), true, 'the HTTP hook learns the request was audited');
    assert.equal(audit.recordedFor({ ...http }), false, 'by the request, not by its values');
    // A C-STORE with the origin the DIMSE services pass (association and address).
    const dimse = { associationId: 42, address: '192.0.2.9' };
    listener({
      door: 'dimse',
      callingAETitle: 'CT01',
      origin: dimse,
      outcome: {
        ok: false,
        error: new GatewayError('DUPLICATE_CONFLICT', `SOP instance ${SOP} of ${PATIENT_NAME} differs`),
        instance: identity,
        bytes: 10,
      },
    });
    assert.equal(audit.recordedFor(dimse), false, 'only HTTP requests are looked up');
    // Without an origin the event still names the calling AE.
    listener({ door: 'dimse', callingAETitle: 'MR02', outcome: { ...ok.outcome } as StoredEvent['outcome'] });
    listener({ door: 'import', outcome: { ok: true, status: 'duplicate', instance: identity, bytes: 10 } });
    listener({
      door: 'stow',
      outcome: { ok: false, error: new GatewayError('INVALID_DICOM', 'truncated'), instance: {}, bytes: 3 },
    });
    await audit.flush();
    const text = await readFile(audit.pathFor(), 'utf8');
    assert.doesNotMatch(text, /Secretname|differs|truncated/, 'error messages never reach the audit log');
    const events = await readEvents(audit.pathFor());
    assert.deepEqual(
      events.map(({ time: _t, ...e }) => e),
      [
        {
          action: 'store',
          outcome: 'success',
          door: 'http',
          operation: 'STOW-RS',
          actor: { user: 'alice', address: '192.0.2.1' },
          study: STUDY,
          series: SERIES,
          instance: SOP,
          result: 'stored',
          requestId: 'req-7',
          atna: { eventId: '110104', action: 'C' },
        },
        {
          action: 'store',
          outcome: 'failure',
          door: 'dimse',
          operation: 'C-STORE',
          actor: { aeTitle: 'CT01', address: '192.0.2.9' },
          study: STUDY,
          series: SERIES,
          instance: SOP,
          reason: 'DUPLICATE_CONFLICT',
          status: 0x0111,
          associationId: 42,
          atna: { eventId: '110104', action: 'C' },
        },
        {
          action: 'store',
          outcome: 'success',
          door: 'dimse',
          operation: 'C-STORE',
          actor: { aeTitle: 'MR02' },
          study: STUDY,
          series: SERIES,
          instance: SOP,
          result: 'stored',
          status: 0,
          atna: { eventId: '110104', action: 'C' },
        },
        {
          action: 'store',
          outcome: 'success',
          door: 'cli',
          operation: 'import',
          actor: { user: 'operator' },
          study: STUDY,
          series: SERIES,
          instance: SOP,
          result: 'duplicate',
          atna: { eventId: '110104', action: 'C' },
        },
        {
          action: 'store',
          outcome: 'failure',
          door: 'http',
          operation: 'STOW-RS',
          actor: {},
          reason: 'INVALID_DICOM',
          atna: { eventId: '110104', action: 'C' },
        },
      ],
    );
  });

  test('the ingest listener never throws at the pipeline', () => {
    const listener = audit.ingestListener();
    assert.doesNotThrow(() => listener({ door: 'stow', outcome: undefined } as unknown as StoredEvent));
    assert.equal(audit.writeErrors, 1);
  });

  test('delete events name the scope and the number of instances, and who asked', async () => {
    const listener = audit.deleteListener();
    listener({ studyInstanceUid: STUDY, seriesInstanceUid: SERIES }, { instances: 12 });
    const origin = { requestId: 'req-9', user: 'alice', address: '192.0.2.1' };
    listener(
      { studyInstanceUid: STUDY, seriesInstanceUid: SERIES, sopInstanceUid: SOP },
      { instances: 1 },
      origin,
    );
    assert.equal(audit.recordedFor(origin), true, 'the HTTP hook learns the request was audited');
    await audit.flush();
    const [cli, http] = await readEvents(audit.pathFor());
    assert.deepEqual(
      { ...cli, time: undefined },
      {
        time: undefined,
        action: 'delete',
        outcome: 'success',
        door: 'cli',
        operation: 'delete',
        actor: { user: 'operator' },
        study: STUDY,
        series: SERIES,
        instances: 12,
        atna: { eventId: '110105', action: 'D' },
      },
    );
    assert.deepEqual(
      { ...http, time: undefined },
      {
        time: undefined,
        action: 'delete',
        outcome: 'success',
        door: 'http',
        operation: 'DELETE',
        actor: { user: 'alice', address: '192.0.2.1' },
        study: STUDY,
        series: SERIES,
        instance: SOP,
        instances: 1,
        requestId: 'req-9',
        atna: { eventId: '110105', action: 'D' },
      },
    );
  });

  test('C-FIND: the attributes matched, never their values', async () => {
    const conditions: MatchCondition[] = [
      { kind: 'wildcard', field: 'patientName', pattern: 'Doe*', caseInsensitive: true },
      { kind: 'single', field: 'patientId', value: PATIENT_ID, caseInsensitive: false },
      { kind: 'range', field: 'patientBirthDate', from: '19700101', to: '19701231' },
      { kind: 'dateTimeRange', dateField: 'studyDate', timeField: 'studyTime', from: '20240101000000' },
      { kind: 'single', field: 'studyInstanceUid', value: STUDY, caseInsensitive: false },
    ];
    const actor = { callingAETitle: 'VIEWER', remoteAddress: '198.51.100.7', associationId: 5 };
    audit.dimseFind(actor, { level: 'STUDY', conditions, status: 0, matches: 1 });
    audit.dimseFind(actor, { status: 0xa900 });
    await audit.flush();
    const text = await readFile(audit.pathFor(), 'utf8');
    assert.doesNotMatch(text, /Doe|99887766|1970|2024/);
    const [found, failed] = await readEvents(audit.pathFor());
    assert.deepEqual(found!.query, {
      level: 'STUDY',
      keys: ['PatientBirthDate', 'PatientID', 'PatientName', 'StudyDate', 'StudyInstanceUID', 'StudyTime'],
    });
    assert.equal(found!.study, STUDY);
    assert.equal(found!.instances, 1);
    assert.deepEqual(found!.actor, { aeTitle: 'VIEWER', address: '198.51.100.7' });
    assert.equal(found!.associationId, 5);
    assert.equal(found!.outcome, 'success');
    assert.equal(found!.operation, 'C-FIND');
    assert.equal(failed!.outcome, 'failure');
    assert.equal(failed!.status, 0xa900);
    assert.equal(failed!.query, undefined);
  });

  test('C-MOVE and C-GET: one event per study, with instances sent and failed', async () => {
    const actor = { callingAETitle: 'VIEWER', remoteAddress: '198.51.100.7' };
    const other = '1.2.3.999';
    const instances = [
      { studyInstanceUid: STUDY, sopInstanceUid: '1.1' },
      { studyInstanceUid: STUDY, sopInstanceUid: '1.2' },
      { studyInstanceUid: other, sopInstanceUid: '2.1' },
    ];
    // The association (an AcceptorConnection is the actor) names its id.
    audit.dimseRetrieve(
      { ...actor, associationId: 9 },
      {
        operation: 'C-MOVE',
        destination: 'STORESCP',
        level: 'PATIENT',
        conditions: [{ kind: 'single', field: 'patientId', value: PATIENT_ID, caseInsensitive: false }],
        instances,
        failedSopInstanceUids: ['2.1'],
        status: 0xb000,
      },
    );
    audit.dimseRetrieve(actor, { operation: 'C-GET', instances: [], status: 0xa900 });
    audit.dimseRetrieve(actor, { operation: 'C-GET', instances: [], status: 0 });
    await audit.flush();
    assert.doesNotMatch(await readFile(audit.pathFor(), 'utf8'), /99887766/);
    const events = await readEvents(audit.pathFor());
    assert.deepEqual(
      events.map((e) => [e.operation, e.study, e.instances, e.failed, e.outcome, e.status, e.associationId]),
      [
        ['C-MOVE', STUDY, 2, 0, 'success', 0xb000, 9],
        ['C-MOVE', other, 1, 1, 'failure', 0xb000, 9],
        ['C-GET', undefined, 0, undefined, 'failure', 0xa900, undefined],
        ['C-GET', undefined, 0, undefined, 'success', 0, undefined],
      ],
    );
    assert.equal(events[0]!.destination, 'STORESCP');
    assert.deepEqual(events[0]!.query, { level: 'PATIENT', keys: ['PatientID'] });
    assert.deepEqual(events[0]!.atna, { eventId: '110104', action: 'R' });
  });
});

describe('daily file layout', () => {
  test('from the configured audit file: its directory, its name and extension around the day', async () => {
    assert.deepEqual(dailyFileLayout('/data/audit/audit.jsonl'), {
      dir: '/data/audit',
      prefix: 'audit',
      extension: '.jsonl',
    });
    assert.deepEqual(dailyFileLayout('/var/log/dicomweb/trail'), {
      dir: '/var/log/dicomweb',
      prefix: 'trail',
      extension: '',
    });
    const dir = await makeTempDir('audit-layout-');
    try {
      const audit = new AuditLog({
        ...dailyFileLayout(join(dir, 'logs', 'trail.log')),
        now: () => new Date('2030-01-02T03:04:05Z'),
      });
      await audit.open();
      audit.record({ action: 'search', outcome: 'success', door: 'http', actor: {} });
      await audit.close();
      assert.deepEqual(await readdir(join(dir, 'logs')), ['trail-2030-01-02.log']);
    } finally {
      await removeDir(dir);
    }
  });
});

describe('AuditLog that cannot write', () => {
  let dir: string;
  before(async () => {
    dir = await makeTempDir('audit-broken-');
  });
  after(() => removeDir(dir));

  test('fails to open, reports not writable, counts lost lines, never throws', async () => {
    const blocker = join(dir, 'not-a-directory');
    await writeFile(blocker, 'x');
    const audit = new AuditLog({ dir: join(blocker, 'audit') });
    await assert.rejects(audit.open(), { code: 'ENOTDIR' });
    await assert.rejects(audit.checkWritable(), { code: 'ENOTDIR' });
    assert.doesNotThrow(() =>
      audit.record({ action: 'search', outcome: 'success', door: 'http', actor: {} }),
    );
    await audit.flush();
    assert.ok(audit.writeErrors >= 1);
    await audit.close();
  });
});

describe('HTTP audit', () => {
  let dir: string;
  let audit: AuditLog;
  let app: FastifyInstance;
  const stored: StoredEvent = {
    door: 'stow',
    outcome: { ok: true, status: 'stored', instance: identity, bytes: 1 },
  };

  before(async () => {
    dir = await makeTempDir('audit-http-');
    audit = new AuditLog({ dir });
    await audit.open();
    const listener = audit.ingestListener();
    const deleted = audit.deleteListener();
    app = Fastify({ requestIdHeader: false, genReqId: requestIdFrom });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, _payload, done) => done(null));
    installRequestIdHeader(app);
    httpAuditHook(app, audit, { root: '/dicom-web' });
    // A stand-in for an auth plugin: a principal on every request, 401 without credentials.
    app.addHook('onRequest', async (request, reply) => {
      if (request.headers['x-deny'] === '401') return reply.code(401).send({});
      if (request.headers['x-deny'] === '403') return reply.code(403).send({});
      (request as { principal?: unknown }).principal = request.headers.authorization
        ? { method: 'basic', subject: 'alice' }
        : { method: 'anonymous', subject: 'anonymous' };
    });
    app.get('/health', async () => ({}));
    app.get('/wado', async () => 'x');
    await app.register(
      async (dicomweb) => {
        dicomweb.post('/studies', async (request, reply) => {
          // The ingest pipeline reports each instance with the origin the route passed, after reading
          // the body.
          for await (const _chunk of request.raw) {
            // drain
          }
          await new Promise((resolve) => setTimeout(resolve, 1));
          if (request.headers['content-type'] === 'text/plain') return reply.code(415).send({});
          listener({ ...stored, origin: requestOrigin(request) });
          listener({ ...stored, origin: requestOrigin(request) });
          return reply.code(200).send({});
        });
        for (const path of [
          '/studies',
          '/series',
          '/studies/:study/series',
          '/studies/:study/series/:series/instances',
          '/studies/:study',
          '/studies/:study/metadata',
          '/studies/:study/series/:series/instances/:instance/frames/:frames',
          '/studies/:study/series/:series/instances/:instance/frames/:frames/rendered',
          '/studies/:study/series/:series/thumbnail',
          '/studies/:study/series/:series/instances/:instance/bulkdata/*',
        ]) {
          dicomweb.get(path, async () => []);
        }
        dicomweb.delete('/studies/:study', async (request, reply) => {
          const { study } = request.params as { study: string };
          if (study === '1.2.404') return reply.code(404).send({});
          deleted({ studyInstanceUid: study }, { instances: 3 }, requestOrigin(request));
          return reply.code(204).send();
        });
      },
      { prefix: '/dicom-web' },
    );
    await app.ready();
  });
  after(async () => {
    await app.close();
    await audit.close();
    await removeDir(dir);
  });

  test('audits DICOMweb requests by route, never with patient values', async () => {
    const requests: {
      url: string;
      method?: 'GET' | 'POST' | 'DELETE' | 'OPTIONS';
      headers?: Record<string, string>;
    }[] = [
      {
        url: `/dicom-web/studies?PatientName=${encodeURIComponent(PATIENT_NAME)}&PatientID=${PATIENT_ID}&00100030=19700101&limit=5&includefield=all`,
        headers: { authorization: 'Basic x', 'x-request-id': 'qido-1' },
      },
      { url: `/dicom-web/studies/${STUDY}/series?Modality=CT` },
      { url: `/dicom-web/series?StudyInstanceUID=${STUDY}&PatientID=${PATIENT_ID}` },
      { url: `/dicom-web/studies/${STUDY}/series/${SERIES}/instances?SOPInstanceUID=${SOP}` },
      { url: `/dicom-web/studies/${STUDY}` },
      { url: `/dicom-web/studies/${STUDY}/metadata` },
      { url: `/dicom-web/studies/${STUDY}/series/${SERIES}/instances/${SOP}/frames/1,2` },
      { url: `/dicom-web/studies/${STUDY}/series/${SERIES}/instances/${SOP}/frames/1/rendered` },
      { url: `/dicom-web/studies/${STUDY}/series/${SERIES}/thumbnail` },
      { url: `/dicom-web/studies/${STUDY}/series/${SERIES}/instances/${SOP}/bulkdata/7FE00010` },
      {
        url: `/wado?requestType=WADO&studyUID=${STUDY}&seriesUID=${SERIES}&objectUID=${SOP}&contentType=image/jpeg`,
      },
      { url: `/dicom-web/studies/${STUDY}`, method: 'DELETE' },
      { url: `/dicom-web/studies/1.2.404`, method: 'DELETE' },
      { url: `/dicom-web/studies/${STUDY}`, headers: { 'x-deny': '401' } },
      { url: `/dicom-web/studies/${STUDY}/metadata`, headers: { 'x-deny': '403' } },
      { url: `/health` },
      { url: `/dicom-web/unknown/${STUDY}` },
      { url: `/dicom-web/studies`, method: 'OPTIONS' },
    ];
    for (const { url, method, headers } of requests)
      await app.inject({ url, method: method ?? 'GET', headers });
    await audit.flush();
    const text = await readFile(audit.pathFor(), 'utf8');
    assert.doesNotMatch(text, /Doe|Secretname|99887766|19700101/);
    const events = (await readEvents(audit.pathFor())).map(({ time: _t, atna: _a, actor, ...e }) => ({
      ...e,
      actor,
    }));
    const address = '127.0.0.1';
    assert.deepEqual(events, [
      {
        action: 'search',
        outcome: 'success',
        door: 'http',
        operation: 'QIDO-RS',
        query: { level: 'STUDY', keys: ['PatientBirthDate', 'PatientID', 'PatientName'] },
        status: 200,
        requestId: events[0]!.requestId,
        actor: { user: 'alice', address },
      },
      {
        action: 'search',
        outcome: 'success',
        door: 'http',
        operation: 'QIDO-RS',
        study: STUDY,
        query: { level: 'SERIES', keys: ['Modality'] },
        status: 200,
        requestId: events[1]!.requestId,
        actor: { address },
      },
      {
        action: 'search',
        outcome: 'success',
        door: 'http',
        operation: 'QIDO-RS',
        study: STUDY,
        query: { level: 'SERIES', keys: ['PatientID', 'StudyInstanceUID'] },
        status: 200,
        requestId: events[2]!.requestId,
        actor: { address },
      },
      {
        action: 'search',
        outcome: 'success',
        door: 'http',
        operation: 'QIDO-RS',
        study: STUDY,
        series: SERIES,
        query: { level: 'IMAGE', keys: ['SOPInstanceUID'] },
        status: 200,
        requestId: events[3]!.requestId,
        actor: { address },
      },
      ...[
        ['instances', {}],
        ['metadata', {}],
        ['frames', { series: SERIES, instance: SOP }],
        ['rendered', { series: SERIES, instance: SOP }],
        ['thumbnail', { series: SERIES }],
        ['bulkdata', { series: SERIES, instance: SOP }],
      ].map(([resource, scope], i) => ({
        action: 'retrieve',
        outcome: 'success',
        door: 'http',
        operation: 'WADO-RS',
        resource,
        study: STUDY,
        ...(scope as object),
        status: 200,
        requestId: events[4 + i]!.requestId,
        actor: { address },
      })),
      {
        action: 'retrieve',
        outcome: 'success',
        door: 'http',
        operation: 'WADO-URI',
        resource: 'wado-uri',
        study: STUDY,
        series: SERIES,
        instance: SOP,
        status: 200,
        requestId: events[10]!.requestId,
        actor: { address },
      },
      {
        action: 'delete',
        outcome: 'success',
        door: 'http',
        operation: 'DELETE',
        study: STUDY,
        instances: 3,
        requestId: events[11]!.requestId,
        actor: { address },
      },
      {
        action: 'delete',
        outcome: 'failure',
        door: 'http',
        operation: 'DELETE',
        study: '1.2.404',
        status: 404,
        requestId: events[12]!.requestId,
        actor: { address },
      },
      {
        action: 'login-failure',
        outcome: 'failure',
        door: 'http',
        operation: 'WADO-RS',
        attempted: 'retrieve',
        study: STUDY,
        status: 401,
        requestId: events[13]!.requestId,
        actor: { address },
      },
      {
        action: 'login-failure',
        outcome: 'failure',
        door: 'http',
        operation: 'WADO-RS',
        attempted: 'retrieve',
        study: STUDY,
        status: 403,
        requestId: events[14]!.requestId,
        actor: { address },
      },
    ]);
    assert.equal(events[0]!.requestId, 'qido-1');
    assert.equal(new Set(events.map((e) => e.requestId)).size, events.length);
  });

  test('STOW: one event per stored instance, or one for a request that stored nothing', async () => {
    const before = (await readFile(audit.pathFor(), 'utf8')).split('\n').length - 1;
    const ok = await app.inject({
      method: 'POST',
      url: '/dicom-web/studies',
      headers: { 'content-type': 'application/dicom', authorization: 'Basic x' },
      body: Buffer.alloc(300_000),
    });
    assert.equal(ok.statusCode, 200);
    const refused = await app.inject({
      method: 'POST',
      url: '/dicom-web/studies',
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });
    assert.equal(refused.statusCode, 415);
    await audit.flush();
    const events = (await readEvents(audit.pathFor())).slice(before);
    assert.deepEqual(
      events.map((e) => [e.action, e.outcome, e.operation, e.instance, e.status, e.actor.user, e.requestId]),
      [
        ['store', 'success', 'STOW-RS', SOP, undefined, 'alice', ok.headers['x-request-id']],
        ['store', 'success', 'STOW-RS', SOP, undefined, 'alice', ok.headers['x-request-id']],
        ['store', 'failure', 'STOW-RS', undefined, 415, undefined, refused.headers['x-request-id']],
      ],
    );
  });
});

describe('request classification', () => {
  const describeRoute = (
    method: string,
    route: string | undefined,
    url = '/',
    params: object = {},
    root = '/dicom-web',
  ) => describeHttpRequest({ method, route, params, url }, root);

  test('by route template', () => {
    assert.equal(describeRoute('GET', '/health'), undefined);
    assert.equal(describeRoute('GET', '/ready'), undefined);
    assert.equal(describeRoute('GET', '/metrics'), undefined);
    assert.equal(describeRoute('GET', undefined), undefined);
    assert.equal(describeRoute('PUT', '/dicom-web/studies/:study', '/', { study: STUDY }), undefined);
    assert.equal(describeRoute('POST', '/dicom-web/studies/:study/series'), undefined);
    assert.equal(describeRoute('GET', '/dicom-web/workitems'), undefined);
    assert.equal(describeRoute('POST', '/dicom-web/studies/:study', '/', { study: STUDY })?.action, 'store');
    assert.equal(
      describeRoute('HEAD', '/dicom-web/studies/:study', '/', { study: STUDY })?.action,
      'retrieve',
    );
    assert.equal(describeRoute('GET', '/dicom-web/instances')?.query?.level, 'IMAGE');
    // An empty root (DICOMweb at the server root) still leaves /health and /wado alone.
    assert.equal(describeRoute('GET', '/health', '/', {}, ''), undefined);
    assert.equal(describeRoute('GET', '/studies', '/', {}, '')?.action, 'search');
    assert.equal(describeRoute('GET', '/wado', '/wado?studyUID=1.2', {}, '')?.operation, 'WADO-URI');
  });

  test('path parameters that are not UIDs are left out', () => {
    const d = describeRoute('GET', '/dicom-web/studies/:study/series/:series', '/', {
      study: 'Doe^John',
      series: '1.2.3',
    });
    assert.equal(d?.study, undefined);
    assert.equal(d?.series, '1.2.3');
    assert.equal(
      describeRoute('GET', '/wado', '/wado?studyUID=Doe%5EJohn&objectUID=1.2.3')?.study,
      undefined,
    );
  });

  test('QIDO keys: keywords, hex tags as keywords, controls left out, anything else "unknown"', () => {
    assert.deepEqual(
      qidoKeys([
        ['PatientName', 'Doe*'],
        ['00100020', '123'],
        ['00080061', 'CT'],
        ['limit', '10'],
        ['includefield', 'all'],
        ['fuzzymatching', 'true'],
        ['Doe^John', ''],
        ['00400275.00321060', 'x'],
        ['PatientName', 'again'],
      ]),
      [
        'ModalitiesInStudy',
        'PatientID',
        'PatientName',
        'RequestAttributesSequence.RequestedProcedureDescription',
        'unknown',
      ],
    );
    assert.deepEqual(
      describeRoute('GET', '/dicom-web/studies', '/dicom-web/studies?PatientName=%ZZ')?.query?.keys,
      [],
      'a malformed query is audited without keys',
    );
  });

  test('C-FIND condition keys', () => {
    assert.deepEqual(
      conditionKeys([
        { kind: 'list', field: 'modalitiesInStudy', values: ['CT', 'MR'] },
        { kind: 'fuzzyName', field: 'referringPhysicianName', tokens: ['smith'] },
      ]),
      ['ModalitiesInStudy', 'ReferringPhysicianName'],
    );
  });
});
