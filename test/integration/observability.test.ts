/**
 * Observability of a real gateway: /health, /ready and /metrics at the server root; counters after
 * STOW, C-STORE, QIDO, C-FIND and C-GET; the audit trail of those operations with the right study UIDs;
 * and no patient name or ID in the audit trail or the logs.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startGateway } from '../../src/main.js';
import { execFile, isCi, missingTools } from '../helpers/dcmtk.js';
import { buildInstance, newUid } from '../helpers/dicom-generator.js';
import { qido, stow } from '../helpers/dicomweb-client.js';
import { makeTempDir, removeDir } from '../helpers/fixtures.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { parseSamples, sampleValue } from '../unit/observability/prom-text.js';

const TOOLS = ['storescu', 'findscu', 'getscu'];
const CALLING_AE = 'AUDITSCU';
/** Patient data that must not show up in the audit trail or the logs. */
const PATIENT_NAME = 'Auditpatient^Secretname';
const PATIENT_ID = 'PID-55501234';
const BIRTH_DATE = '19610203';
const PATIENT_VALUES = /Auditpatient|Secretname|55501234|19610203/;

interface AuditLine {
  action: string;
  outcome: string;
  door: string;
  operation?: string;
  resource?: string;
  actor: { user?: string; aeTitle?: string; address?: string };
  study?: string;
  series?: string;
  instance?: string;
  query?: { level?: string; keys: string[] };
  instances?: number;
  status?: number;
  requestId?: string;
  associationId?: number;
}

async function run(tool: string, args: string[]): Promise<{ code: number; out: string }> {
  return execFile(tool, args, { maxBuffer: 16 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => ({ code: 0, out: stdout + stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      out: error.stdout + error.stderr,
    }),
  );
}

/**
 * Retries `check` until it stops throwing (the audit line of a response is written after it is sent).
 * Its assertions carry messages: without one, a failing assert.ok has Node parse the test's source to
 * quote the expression, which under tsx's transform ran for minutes, so a retry never came.
 */
async function eventually<T>(check: () => Promise<T>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Every audit line in the gateway's audit directory (all daily files, in order). */
async function auditText(dataDir: string): Promise<string> {
  const dir = join(dataDir, 'audit');
  const names = (await readdir(dir)).filter((n) => /^audit-\d{4}-\d{2}-\d{2}\.jsonl$/.test(n)).sort();
  let text = '';
  for (const name of names) text += await readFile(join(dir, name), 'utf8');
  return text;
}

const parseAudit = (text: string): AuditLine[] =>
  text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditLine);

describe('observability', { timeout: 120_000 }, () => {
  let gateway: TestGateway;
  let dir: string;
  let skip: string | undefined;
  const studyStow = newUid();
  const studyDimse = newUid();
  let sopStow = '';
  let sopDimse = '';

  before(async () => {
    const missing = missingTools(...TOOLS);
    if (missing.length) {
      if (isCi()) throw new Error(`missing tools: ${missing.join(', ')}`);
      skip = `missing tools: ${missing.join(', ')}`;
    }
    dir = await makeTempDir('observability-');
    gateway = await startTestGateway({
      dimse: {
        peers: [
          { aeTitle: CALLING_AE, host: '127.0.0.1', port: 104, allow: ['store', 'find', 'get'], tls: false },
        ],
      },
    });
  });
  after(async () => {
    await gateway?.stop();
    await removeDir(dir);
  });

  test('/health, /ready and /metrics answer at the server root', async () => {
    const health = await fetch(`${gateway.httpUrl}/health`);
    assert.equal(health.status, 200);

    const ready = await fetch(`${gateway.httpUrl}/ready`);
    assert.equal(ready.status, 200);
    const body = (await ready.json()) as { status: string; checks: Record<string, { ok: boolean }> };
    assert.equal(body.status, 'ready');
    for (const check of ['doors', 'index', 'storage', 'audit'])
      assert.equal(body.checks[check]?.ok, true, check);

    const metrics = await fetch(`${gateway.httpUrl}/metrics`);
    assert.equal(metrics.status, 200);
    assert.equal(metrics.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const text = await metrics.text();
    assert.ok(parseSamples(text).length > 0);
    assert.equal(sampleValue(text, 'dicomweb_index_instances'), 0);
    assert.equal(sampleValue(text, 'dicomweb_dimse_open_associations'), 0);
  });

  test('STOW, C-STORE, QIDO, WADO, C-FIND and C-GET: counters and the audit trail', async (t) => {
    if (skip) return t.skip(skip);
    const patient = { patientName: PATIENT_NAME, patientID: PATIENT_ID, patientBirthDate: BIRTH_DATE };

    // STOW-RS
    const viaStow = buildInstance({ ...patient, studyInstanceUID: studyStow });
    sopStow = viaStow.sopInstanceUID;
    const stowed = await stow(gateway.dicomweb, [viaStow.bytes]);
    assert.equal(stowed.status, 200);

    // C-STORE
    const viaDimse = buildInstance({ ...patient, studyInstanceUID: studyDimse });
    sopDimse = viaDimse.sopInstanceUID;
    const file = join(dir, 'dimse.dcm');
    await writeFile(file, viaDimse.bytes);
    const stored = await run('storescu', [
      '-aet',
      CALLING_AE,
      '-aec',
      gateway.aeTitle,
      '127.0.0.1',
      String(gateway.dimsePort),
      file,
    ]);
    assert.equal(stored.code, 0, stored.out);

    // QIDO-RS with patient values in the query
    const found = await qido(
      `${gateway.dicomweb}/studies?PatientName=${encodeURIComponent('Auditpatient*')}&PatientID=${PATIENT_ID}&PatientBirthDate=${BIRTH_DATE}`,
    );
    assert.equal(found.length, 2);

    // WADO-RS metadata
    const metadata = await fetch(`${gateway.dicomweb}/studies/${studyStow}/metadata`, {
      headers: { accept: 'application/dicom+json' },
    });
    assert.equal(metadata.status, 200);
    await metadata.arrayBuffer();

    // C-FIND with a patient name, C-GET of the C-STORE study
    const findDir = join(dir, 'find');
    await mkdir(findDir);
    // prettier-ignore
    const findResult = await run('findscu', [
      '-aet', CALLING_AE, '-aec', gateway.aeTitle, '-S', '-X', '-od', findDir,
      '-k', 'QueryRetrieveLevel=STUDY', '-k', 'PatientName=Auditpatient*', '-k', 'StudyInstanceUID',
      '127.0.0.1', String(gateway.dimsePort),
    ]);
    assert.equal(findResult.code, 0, findResult.out);
    const getDir = join(dir, 'get');
    await mkdir(getDir);
    // prettier-ignore
    const getResult = await run('getscu', [
      '-aet', CALLING_AE, '-aec', gateway.aeTitle, '-S', '-od', getDir,
      '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${studyDimse}`,
      '127.0.0.1', String(gateway.dimsePort),
    ]);
    assert.equal(getResult.code, 0, getResult.out);
    assert.equal((await readdir(getDir)).length, 1);

    // Metrics
    const text = await eventually(async () => {
      const scraped = await (await fetch(`${gateway.httpUrl}/metrics`)).text();
      assert.equal(sampleValue(scraped, 'dicomweb_dimse_open_associations'), 0);
      return scraped;
    });
    const storedCount = (door: string) =>
      sampleValue(text, 'dicomweb_instances_stored_total', { door, status: 'stored' });
    assert.equal(storedCount('stow'), 1);
    assert.equal(storedCount('dimse'), 1);
    assert.equal(storedCount('import'), 0);
    assert.equal(sampleValue(text, 'dicomweb_index_instances'), 2);
    assert.equal(sampleValue(text, 'dicomweb_index_studies'), 2);
    assert.ok(sampleValue(text, 'dicomweb_storage_bytes')! >= viaStow.bytes.length + viaDimse.bytes.length);
    assert.ok(sampleValue(text, 'dicomweb_index_size_bytes')! > 0);
    const httpCount = (method: string, route: string) =>
      sampleValue(text, 'dicomweb_http_request_duration_seconds_count', {
        method,
        route,
        status_class: '2xx',
      });
    assert.equal(httpCount('POST', '/dicom-web/studies'), 1);
    assert.equal(httpCount('GET', '/dicom-web/studies'), 1);
    assert.equal(httpCount('GET', '/dicom-web/studies/:study/metadata'), 1);
    for (const command of ['C-STORE', 'C-FIND', 'C-GET']) {
      assert.equal(
        sampleValue(text, 'dicomweb_dimse_operation_duration_seconds_count', { command }),
        1,
        command,
      );
    }
    for (const uid of [studyStow, studyDimse, sopStow, sopDimse])
      assert.ok(!text.includes(uid), 'no UID in a label');
    assert.doesNotMatch(text, PATIENT_VALUES);

    // Audit trail
    const lines = await eventually(async () => {
      const events = parseAudit(await auditText(gateway.dataDir));
      assert.ok(
        events.some((e) => e.operation === 'C-GET'),
        'no C-GET event yet',
      );
      assert.ok(
        events.some((e) => e.resource === 'metadata'),
        'no metadata event yet',
      );
      return events;
    });
    assert.doesNotMatch(await auditText(gateway.dataDir), PATIENT_VALUES);
    const one = (predicate: (e: AuditLine) => boolean, what: string) => {
      const matches = lines.filter(predicate);
      assert.equal(matches.length, 1, `${what}: ${JSON.stringify(lines, null, 1)}`);
      return matches[0]!;
    };

    const stowEvent = one((e) => e.action === 'store' && e.door === 'http', 'STOW store');
    assert.equal(stowEvent.study, studyStow);
    assert.equal(stowEvent.instance, sopStow);
    assert.equal(stowEvent.outcome, 'success');
    assert.equal(stowEvent.operation, 'STOW-RS');
    assert.equal(stowEvent.actor.address, '127.0.0.1');
    assert.ok(stowEvent.requestId);
    assert.equal(stowEvent.requestId, stowed.headers.get('x-request-id'), 'the request the caller was told');

    const storeEvent = one((e) => e.action === 'store' && e.door === 'dimse', 'C-STORE store');
    assert.equal(storeEvent.study, studyDimse);
    assert.equal(storeEvent.instance, sopDimse);
    assert.equal(storeEvent.operation, 'C-STORE');
    assert.deepEqual(storeEvent.actor, { aeTitle: CALLING_AE, address: '127.0.0.1' });
    assert.equal(typeof storeEvent.associationId, 'number');

    const qidoEvent = one((e) => e.action === 'search' && e.door === 'http', 'QIDO search');
    assert.deepEqual(qidoEvent.query, {
      level: 'STUDY',
      keys: ['PatientBirthDate', 'PatientID', 'PatientName'],
    });
    assert.equal(qidoEvent.outcome, 'success');

    const wadoEvent = one((e) => e.action === 'retrieve' && e.door === 'http', 'WADO retrieve');
    assert.equal(wadoEvent.study, studyStow);
    assert.equal(wadoEvent.resource, 'metadata');

    const findEvent = one((e) => e.action === 'search' && e.door === 'dimse', 'C-FIND search');
    assert.equal(findEvent.operation, 'C-FIND');
    assert.deepEqual(findEvent.query, { level: 'STUDY', keys: ['PatientName'] });
    assert.equal(findEvent.actor.aeTitle, CALLING_AE);

    const getEvent = one((e) => e.action === 'retrieve' && e.door === 'dimse', 'C-GET retrieve');
    assert.equal(getEvent.operation, 'C-GET');
    assert.equal(getEvent.study, studyDimse);
    assert.equal(getEvent.instances, 1);
    assert.equal(getEvent.outcome, 'success');
    assert.equal(getEvent.actor.aeTitle, CALLING_AE);
  });

  test('DELETE: one event naming the caller and the instances; a failed DELETE one for the request', async () => {
    const study = newUid();
    const instance = buildInstance({
      patientName: PATIENT_NAME,
      patientID: PATIENT_ID,
      studyInstanceUID: study,
    });
    assert.equal((await stow(gateway.dicomweb, [instance.bytes])).status, 200);
    const deleted = await fetch(`${gateway.dicomweb}/studies/${study}`, { method: 'DELETE' });
    assert.equal(deleted.status, 204);
    const missing = newUid();
    const notFound = await fetch(`${gateway.dicomweb}/studies/${missing}`, { method: 'DELETE' });
    assert.equal(notFound.status, 404);
    await notFound.arrayBuffer();
    const lines = await eventually(async () => {
      const events = parseAudit(await auditText(gateway.dataDir));
      assert.ok(
        events.some((e) => e.action === 'delete' && e.study === missing),
        'no event for the failed DELETE yet',
      );
      return events;
    });
    const forStudy = lines.filter((e) => e.study === study);
    assert.deepEqual(
      forStudy.map((e) => [e.action, e.outcome, e.door, e.instances, e.status]),
      [
        ['store', 'success', 'http', undefined, undefined],
        ['delete', 'success', 'http', 1, undefined],
      ],
      'one event per instance stored, one per deletion, none for the requests themselves',
    );
    const deleteEvent = forStudy[1]!;
    assert.equal(deleteEvent.operation, 'DELETE');
    assert.deepEqual(deleteEvent.actor, { address: '127.0.0.1' });
    assert.equal(deleteEvent.requestId, deleted.headers.get('x-request-id'));
    const failed = lines.filter((e) => e.study === missing);
    assert.deepEqual(
      failed.map((e) => [e.action, e.outcome, e.door, e.status, e.requestId]),
      [['delete', 'failure', 'http', 404, notFound.headers.get('x-request-id')]],
    );
  });
});

describe('logs', { timeout: 60_000 }, () => {
  test('carry request and association ids, and no patient names or IDs', async (t) => {
    const dataDir = await makeTempDir('observability-logs-');
    const configFile = join(await makeTempDir('observability-config-'), 'config.json');
    await writeFile(
      configFile,
      JSON.stringify({
        data: dataDir,
        http: { host: '127.0.0.1', port: 0 },
        dimse: {
          host: '127.0.0.1',
          port: 0,
          peers: [
            { aeTitle: CALLING_AE, host: '127.0.0.1', port: 104, allow: ['store', 'find'], tls: false },
          ],
        },
      }),
    );
    let logged = '';
    let refusedRequestId: string | undefined;
    let storedByDimse = false;
    const sink = new Writable({
      write(chunk, _encoding, callback) {
        logged += String(chunk);
        callback();
      },
    });
    const config = loadConfig({ configFile, env: {} });
    const running = await startGateway(config, createLogger('info', sink));
    const dicomweb = `http://127.0.0.1:${running.httpPort}${config.http.root}`;
    try {
      const study = newUid();
      const instance = buildInstance({
        patientName: PATIENT_NAME,
        patientID: PATIENT_ID,
        patientBirthDate: BIRTH_DATE,
        studyInstanceUID: study,
      });
      assert.equal((await stow(dicomweb, [instance.bytes])).status, 200);
      // Refused for another study in the path: the ingest pipeline logs it, naming the request.
      const refused = await stow(dicomweb, [instance.bytes], { study: newUid() });
      assert.equal(refused.status, 409);
      refusedRequestId = refused.headers.get('x-request-id') ?? undefined;
      if (missingTools('storescu').length === 0) {
        // The same SOP instance with other content, by C-STORE: refused, logged naming the association.
        const conflicting = buildInstance({
          patientName: PATIENT_NAME,
          patientID: PATIENT_ID,
          patientBirthDate: BIRTH_DATE,
          studyInstanceUID: study,
          seriesInstanceUID: instance.seriesInstanceUID,
          sopInstanceUID: instance.sopInstanceUID,
          studyDescription: 'other content',
        });
        const file = join(dirname(configFile), 'conflicting.dcm');
        await writeFile(file, conflicting.bytes);
        // prettier-ignore
        await run('storescu', [
          '-aet', CALLING_AE, '-aec', config.dimse.aeTitle, '127.0.0.1', String(running.dimsePort), file,
        ]);
        storedByDimse = true;
      } else if (isCi()) {
        throw new Error('missing tool: storescu');
      } else {
        t.diagnostic('storescu missing: the C-STORE part is left out');
      }
      await qido(
        `${dicomweb}/studies?PatientName=Auditpatient*&PatientID=${PATIENT_ID}&PatientBirthDate=${BIRTH_DATE}`,
      );
      const bad = await fetch(`${dicomweb}/studies?PatientBirthDate=Secretname-${PATIENT_ID}`);
      assert.equal(bad.status, 400);
      if (missingTools('findscu').length === 0) {
        const findDir = await makeTempDir('observability-find-');
        // prettier-ignore
        await run('findscu', [
          '-aet', CALLING_AE, '-aec', config.dimse.aeTitle, '-S', '-X', '-od', findDir,
          '-k', 'QueryRetrieveLevel=STUDY', '-k', `PatientName=${PATIENT_NAME}`, '-k', `PatientID=${PATIENT_ID}`,
          '127.0.0.1', String(running.dimsePort),
        ]);
        await removeDir(findDir);
      } else if (isCi()) {
        throw new Error('missing tool: findscu');
      } else {
        t.diagnostic('findscu missing: the C-FIND part is left out');
      }
    } finally {
      await running.close();
      await removeDir(dataDir);
      await removeDir(dirname(configFile));
    }
    const lines = logged
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(
      lines.some((l) => l.msg === 'incoming request'),
      'requests are logged',
    );
    assert.doesNotMatch(logged, PATIENT_VALUES);
    const refusals = lines.filter((l) => l.msg === 'instance refused');
    const refusal = refusals.find((l) => l.door === 'stow');
    assert.ok(refusal, 'the refused instance is logged');
    assert.equal(refusal.reqId, refusedRequestId, 'with the request id');
    if (storedByDimse) {
      const dimseRefusal = refusals.find((l) => l.door === 'dimse');
      assert.ok(dimseRefusal, 'the refused C-STORE is logged');
      assert.equal(dimseRefusal.code, 'DUPLICATE_CONFLICT');
      assert.equal(typeof dimseRefusal.associationId, 'number', 'with the association id');
      assert.equal(dimseRefusal.callingAE, CALLING_AE, 'and the calling AE');
      assert.equal(dimseRefusal.reqId, undefined);
    }
    for (const line of lines.filter((l) => l.msg === 'association accepted')) {
      assert.equal(line.callingAE, CALLING_AE);
      assert.equal(typeof line.associationId, 'number');
    }
  });
});
