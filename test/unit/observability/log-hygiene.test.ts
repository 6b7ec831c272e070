import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { createLogger } from '../../../src/log.js';
import { redactPatientData, redactUrl, requestIdFrom } from '../../../src/observability/log-hygiene.js';

function capture(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      text += String(chunk);
      callback();
    },
  });
  return { stream, text: () => text };
}

describe('log hygiene', () => {
  test('redactUrl keeps paths, parameter names and harmless values; replaces the rest', () => {
    assert.equal(redactUrl('/dicom-web/studies/1.2.3/series'), '/dicom-web/studies/1.2.3/series');
    assert.equal(
      redactUrl('/dicom-web/studies?PatientName=Doe%5EJohn*&PatientID=12345&limit=10&includefield=all'),
      '/dicom-web/studies?PatientName=[redacted]&PatientID=[redacted]&limit=10&includefield=all',
    );
    assert.equal(
      redactUrl('/dicom-web/series?00100020=12345&0020000d=1.2.3&StudyDate=20240101&AccessionNumber=A1'),
      '/dicom-web/series?00100020=[redacted]&0020000d=1.2.3&StudyDate=[redacted]&AccessionNumber=[redacted]',
    );
    assert.equal(
      redactUrl('/wado?requestType=WADO&studyUID=1.2&seriesUID=1.3&objectUID=1.4&contentType=image%2Fjpeg'),
      '/wado?requestType=WADO&studyUID=1.2&seriesUID=1.3&objectUID=1.4&contentType=image%2Fjpeg',
    );
    assert.equal(redactUrl('/x?%ZZ=Doe&flag'), '/x?[redacted]=[redacted]&flag');
    assert.equal(redactUrl('/x?Patient%4eame=Doe'), '/x?Patient%4eame=[redacted]');
  });

  test("a fastify app logging through the gateway's logger writes no patient data", async () => {
    const { stream, text } = capture();
    const logger = createLogger('info', stream);
    const app = Fastify({ loggerInstance: logger.child({ door: 'http' }) as FastifyBaseLogger });
    app.get('/dicom-web/studies', async (request) => {
      request.log.info({ record: { patient: { patientName: 'Doe^Jane', patientId: 'P-1' } } }, 'nested');
      request.log.info({ dataset: { '00100010': { vr: 'PN', Value: ['Doe^Jane'] } } }, 'dicom json');
      request.log.info({ query: request.query }, 'query');
      return [];
    });
    const response = await app.inject({
      url: '/dicom-web/studies?PatientName=Doe%5EJane&PatientID=P-1&PatientBirthDate=19800101&limit=3',
      headers: { authorization: 'Bearer secret-token', cookie: 'session=abc' },
    });
    assert.equal(response.statusCode, 200);
    await app.close();
    const logged = text();
    assert.match(logged, /incoming request/);
    assert.match(logged, /"url":"\/dicom-web\/studies\?PatientName=\[redacted\]&PatientID=\[redacted\]/);
    assert.match(logged, /limit=3/);
    assert.doesNotMatch(logged, /Doe|Jane|P-1|19800101|secret-token|session=abc/);
  });

  test('redactPatientData replaces patient values down to two levels and credentials, copying on write', () => {
    const logged = {
      patientName: 'Doe^Jane',
      study: { uid: '1.2.3', PatientID: 'P-1' },
      instances: [{ sop: '1.2.3.4', patientBirthDate: '19800101' }],
      dataset: { '00100010': { vr: 'PN', Value: ['Doe^Jane'] }, '0020000D': { vr: 'UI', Value: ['1.2'] } },
      headers: { authorization: 'Bearer secret', accept: 'application/dicom+json' },
      outer: { headers: { cookie: 'session=abc' } },
      deep: { one: { two: { patientName: 'beyond two levels' } } },
      door: 'http',
    };
    const before = JSON.stringify(logged);
    const redacted = redactPatientData(logged);
    assert.deepEqual(redacted, {
      patientName: '[redacted]',
      study: { uid: '1.2.3', PatientID: '[redacted]' },
      instances: [{ sop: '1.2.3.4', patientBirthDate: '[redacted]' }],
      dataset: { '00100010': '[redacted]', '0020000D': { vr: 'UI', Value: ['1.2'] } },
      headers: { authorization: '[redacted]', accept: 'application/dicom+json' },
      outer: { headers: { cookie: '[redacted]' } },
      deep: { one: { two: { patientName: 'beyond two levels' } } },
      door: 'http',
    });
    assert.equal(JSON.stringify(logged), before, "the caller's object is not changed");
    assert.equal(redacted.deep, logged.deep, 'what needs no change is not copied');
    const clean = { reqId: 'r-1', door: 'http' };
    assert.equal(redactPatientData(clean), clean);
  });

  test("children's bindings are redacted too, at any depth of children", () => {
    const { stream, text } = capture();
    createLogger('info', stream)
      .child({ door: 'http', patientName: 'Doe^Jane' })
      .child({ study: { PatientID: 'P-1', uid: '1.2.3' } })
      .info('bound');
    const line = JSON.parse(text()) as Record<string, unknown>;
    assert.equal(line.patientName, '[redacted]');
    assert.deepEqual(line.study, { PatientID: '[redacted]', uid: '1.2.3' });
    assert.equal(line.door, 'http');
  });

  test('an error carrying patient data is logged as an error without it', () => {
    const { stream, text } = capture();
    const error = Object.assign(new TypeError('bad dataset'), { code: 'E_BAD', patientId: 'P-1' });
    createLogger('info', stream).error({ err: error }, 'refused');
    const line = JSON.parse(text()) as { err: Record<string, unknown> };
    assert.equal(line.err.type, 'TypeError');
    assert.equal(line.err.message, 'bad dataset');
    assert.equal(line.err.code, 'E_BAD');
    assert.equal(line.err.patientId, '[redacted]');
    assert.match(String(line.err.stack), /TypeError: bad dataset/);
    assert.equal(error.patientId, 'P-1');
  });

  test('X-Request-ID is taken when it is a sane token, else a UUID is made', () => {
    const id = (value?: string | string[]) => requestIdFrom({ headers: { 'x-request-id': value } });
    assert.equal(id('abc-123'), 'abc-123');
    assert.equal(id('7b3c9e1a-0c1d-4a55-9d1b-2f3f1b0a9c77'), '7b3c9e1a-0c1d-4a55-9d1b-2f3f1b0a9c77');
    for (const bad of [undefined, '', 'x'.repeat(129), 'has space', 'Doe^John', ['a', 'b'], 'line\nbreak']) {
      assert.match(id(bad), /^[0-9a-f-]{36}$/, JSON.stringify(bad));
    }
  });
});
