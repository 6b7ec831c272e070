/** STOW-RS over real HTTP: multipart/related, single part, form-data, failures and limits. */
import assert from 'node:assert/strict';
import { execFile as execFileCallback } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { buildInstance, newUid } from '../helpers/dicom-generator.js';
import { hasTool, isCi } from '../helpers/dcmtk.js';
import { items, multipartRelated, qido, stow, value, type DicomJson } from '../helpers/dicomweb-client.js';
import { makeTempDir, removeDir, writeInstance } from '../helpers/fixtures.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { listStoredFiles } from '../helpers/stored-files.js';

const execFile = promisify(execFileCallback);

describe('STOW-RS', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway();
  });
  after(() => gateway.stop());

  test('three parts, one broken: 202, two stored, one FailedSOPSequence item', async () => {
    const study = newUid();
    const good1 = buildInstance({ studyInstanceUID: study });
    const good2 = buildInstance({ studyInstanceUID: study });
    const broken = buildInstance({ studyInstanceUID: study }).bytes.subarray(0, 300);
    const { status, json } = await stow(gateway.dicomweb, [good1.bytes, broken, good2.bytes]);
    assert.equal(status, 202);
    const failed = items(json, '00081198');
    assert.equal(failed.length, 1);
    assert.equal(value(failed[0], '00081197'), 0xc000);
    const referenced = items(json, '00081199');
    assert.deepEqual(
      referenced.map((r) => value(r, '00081155')).sort(),
      [good1.sopInstanceUID, good2.sopInstanceUID].sort(),
    );
    assert.equal(value(json, '00081190'), `${gateway.dicomweb}/studies/${study}`);
    for (const r of referenced) {
      assert.match(
        String(value(r, '00081190')),
        new RegExp(`/studies/${study}/series/.+/instances/${value(r, '00081155')}$`),
      );
    }
    const found = await qido(`${gateway.dicomweb}/studies/${study}/instances`);
    assert.equal(found.length, 2);
  });

  test('an instance of another study than the path: failure 0xA900, 409, nothing stored', async () => {
    const instance = buildInstance({});
    const { status, json } = await stow(gateway.dicomweb, [instance.bytes], { study: newUid() });
    assert.equal(status, 409);
    assert.equal(value(items(json, '00081198')[0], '00081197'), 0xa900);
    assert.equal(value(items(json, '00081198')[0], '00081155'), instance.sopInstanceUID);
    assert.deepEqual(
      await qido(`${gateway.dicomweb}/instances?SOPInstanceUID=${instance.sopInstanceUID}`),
      [],
    );
  });

  test('the path study matching the instances stores them', async () => {
    const instance = buildInstance({});
    const { status } = await stow(gateway.dicomweb, [instance.bytes], { study: instance.studyInstanceUID });
    assert.equal(status, 200);
  });

  test('a single application/dicom body', async () => {
    const instance = buildInstance({});
    const response = await fetch(`${gateway.dicomweb}/studies`, {
      method: 'POST',
      headers: { 'content-type': 'application/dicom' },
      body: instance.bytes,
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/dicom+json; charset=utf-8');
    const json = (await response.json()) as Record<string, { Value: unknown[] }>;
    assert.equal(items(json as never, '00081199').length, 1);
  });

  test('curl --data-binary and curl -F (multipart/form-data) uploads', async (t) => {
    if (!hasTool('curl')) {
      if (isCi()) throw new Error('curl is missing');
      t.skip('curl is not installed');
      return;
    }
    const dir = await makeTempDir('stow-curl-');
    try {
      const a = await writeInstance(dir, {}, 'a.dcm');
      const b = await writeInstance(dir, {}, 'b.dcm');
      const c = await writeInstance(dir, {}, 'c.dcm');
      const form = await execFile('curl', [
        '-s',
        '-w',
        '\n%{http_code}',
        '-F',
        `file=@${a.path}`,
        '-F',
        `file=@${b.path}`,
        `${gateway.dicomweb}/studies`,
      ]);
      assert.match(form.stdout, /\n200$/);
      const single = await execFile('curl', [
        '-s',
        '-w',
        '\n%{http_code}',
        '-H',
        'Content-Type: application/dicom',
        '--data-binary',
        `@${join(dir, 'c.dcm')}`,
        `${gateway.dicomweb}/studies`,
      ]);
      assert.match(single.stdout, /\n200$/);
      for (const instance of [a, b, c]) {
        assert.equal(
          (await qido(`${gateway.dicomweb}/instances?SOPInstanceUID=${instance.sopInstanceUID}`)).length,
          1,
        );
      }
    } finally {
      await removeDir(dir);
    }
  });

  test('unquoted boundary, unquoted type and extra parameters are accepted', async () => {
    const instance = buildInstance({});
    const { body } = multipartRelated([instance.bytes], { boundary: 'plainBoundary42' });
    const response = await fetch(`${gateway.dicomweb}/studies`, {
      method: 'POST',
      headers: {
        'content-type':
          'multipart/related; type=application/dicom; boundary=plainBoundary42; start="<x>"; charset=utf-8',
      },
      body,
    });
    assert.equal(response.status, 200);
  });

  test('wrong content types get 415', async () => {
    for (const contentType of [
      'text/plain',
      'application/json',
      'multipart/related; type="application/dicom+json"; boundary=x',
    ]) {
      const response = await fetch(`${gateway.dicomweb}/studies`, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: 'hello',
      });
      assert.equal(response.status, 415, contentType);
      const json = (await response.json()) as { error: string; message: string };
      assert.equal(json.error, 'UNSUPPORTED_MEDIA_TYPE');
    }
  });

  test('a body without any boundary is a 400', async () => {
    const response = await fetch(`${gateway.dicomweb}/studies`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=nothere' },
      body: Buffer.alloc(1000, 1),
    });
    assert.equal(response.status, 400);
  });

  test('a missing final boundary fails the cut part but keeps the parts before it', async () => {
    const first = buildInstance({});
    const second = buildInstance({});
    const { body, contentType } = multipartRelated([first.bytes, second.bytes]);
    const cut = body.subarray(0, body.length - second.bytes.length / 2);
    const response = await fetch(`${gateway.dicomweb}/studies`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: cut,
    });
    assert.equal(response.status, 202);
    assert.equal(
      (await qido(`${gateway.dicomweb}/instances?SOPInstanceUID=${first.sopInstanceUID}`)).length,
      1,
    );
    assert.equal(
      (await qido(`${gateway.dicomweb}/instances?SOPInstanceUID=${second.sopInstanceUID}`)).length,
      0,
    );
  });

  test('the same instance twice is fine; other content under the same SOP Instance UID is refused', async () => {
    const instance = buildInstance({ patientName: 'Same^Instance' });
    assert.equal((await stow(gateway.dicomweb, [instance.bytes])).status, 200);
    assert.equal((await stow(gateway.dicomweb, [instance.bytes])).status, 200);
    const changed = buildInstance({
      patientName: 'Other^Content',
      studyInstanceUID: instance.studyInstanceUID,
      seriesInstanceUID: instance.seriesInstanceUID,
      sopInstanceUID: instance.sopInstanceUID,
    });
    const { status, json } = await stow(gateway.dicomweb, [changed.bytes]);
    assert.equal(status, 409);
    assert.equal(value(items(json, '00081198')[0], '00081197'), 0x0111);
    const [study] = await qido(`${gateway.dicomweb}/studies?StudyInstanceUID=${instance.studyInstanceUID}`);
    assert.deepEqual(value(study, '00100010'), { Alphabetic: 'Same^Instance' });
  });

  test('many parts stored while the next are read: every outcome, in the order sent', async () => {
    const study = newUid();
    const series = newUid();
    const spec = (i: number, image = { rows: 8, columns: 8 }) => ({
      studyInstanceUID: study,
      seriesInstanceUID: series,
      instanceNumber: i + 1,
      patientName: 'Pipeline^Kept',
      image,
    });
    const small = Array.from({ length: 24 }, (_, i) => buildInstance(spec(i)));
    const first = buildInstance(spec(100, { rows: 512, columns: 512 }));
    // Other content under first's UID, sent after it: refused as a conflict, as when sent one by one.
    const conflicting = buildInstance({
      studyInstanceUID: study,
      seriesInstanceUID: series,
      sopInstanceUID: first.sopInstanceUID,
      patientName: 'Other^Content',
      image: { rows: 8, columns: 8 },
    });
    // Over the pipeline's megabyte: stored alone while the parts after it wait.
    const large = buildInstance(spec(101, { rows: 1024, columns: 1024 }));
    const broken = buildInstance({ studyInstanceUID: study }).bytes.subarray(0, 300);
    const parts = [
      ...small.slice(0, 5).map((b) => b.bytes),
      first.bytes,
      conflicting.bytes,
      large.bytes,
      small[0]!.bytes, // the same instance again: a duplicate, fine
      broken,
      ...small.slice(5).map((b) => b.bytes),
    ];
    const { status, json } = await stow(gateway.dicomweb, parts);
    assert.equal(status, 202);
    const referenced = items(json, '00081199').map((r) => value(r, '00081155'));
    assert.deepEqual(referenced, [
      ...small.slice(0, 5).map((b) => b.sopInstanceUID),
      first.sopInstanceUID,
      large.sopInstanceUID,
      small[0]!.sopInstanceUID,
      ...small.slice(5).map((b) => b.sopInstanceUID),
    ]);
    const failed = items(json, '00081198');
    assert.deepEqual(
      failed.map((f) => value(f, '00081197')),
      [0x0111, 0xc000],
      'the conflict, then the broken part',
    );
    assert.equal(value(failed[0], '00081155'), first.sopInstanceUID);
    const found = await qido(`${gateway.dicomweb}/studies/${study}/instances`);
    assert.equal(found.length, 26);
    const metadata = await fetch(
      `${gateway.dicomweb}/studies/${study}/series/${series}/instances/${first.sopInstanceUID}/metadata`,
    );
    const [kept] = (await metadata.json()) as DicomJson[];
    assert.deepEqual(value(kept, '00100010'), { Alphabetic: 'Pipeline^Kept' }, 'the part sent first won');
  });

  test('hostile UIDs never become paths: refused in the dataset, 400 in the URL', async () => {
    const before = await listStoredFiles(gateway.dataDir);
    for (const uid of ['../../../../tmp/evil', '1.2.3/../../x', '1.2..3', `1.${'2'.repeat(70)}`]) {
      const hostile = buildInstance({ sopInstanceUID: uid });
      const { status, json } = await stow(gateway.dicomweb, [hostile.bytes]);
      assert.equal(status, 409, uid);
      assert.equal(value(items(json, '00081198')[0], '00081197'), 0xc000, uid);
    }
    assert.deepEqual(await listStoredFiles(gateway.dataDir), before);
    const response = await fetch(`${gateway.dicomweb}/studies/..%2F..%2Fetc`, {
      method: 'POST',
      headers: { 'content-type': 'application/dicom' },
      body: buildInstance({}).bytes,
    });
    assert.equal(response.status, 400);
  });

  test('a SOP class the gateway does not store is refused with 0x0122', async () => {
    const instance = buildInstance({ sopClassUID: '1.2.3.4.5.6.7.8.9' });
    const { status, json } = await stow(gateway.dicomweb, [instance.bytes]);
    assert.equal(status, 409);
    assert.equal(value(items(json, '00081198')[0], '00081197'), 0x0122);
  });
});

describe('STOW-RS limits', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway({ limits: { maxBodyBytes: 200_000, maxInstanceBytes: 100_000 } });
  });
  after(() => gateway.stop());

  test('a body over the limit gets 413 and nothing is stored', async () => {
    const big = buildInstance({ image: { rows: 256, columns: 512 } });
    const { body, contentType } = multipartRelated([big.bytes, big.bytes]);
    assert.ok(body.length > 200_000);
    const response = await fetch(`${gateway.dicomweb}/studies`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body,
    });
    assert.equal(response.status, 413);
    assert.equal(((await response.json()) as { error: string }).error, 'PAYLOAD_TOO_LARGE');
    assert.deepEqual(await qido(`${gateway.dicomweb}/instances`), []);
  });

  test('an instance over the instance limit fails that part only', async () => {
    const big = buildInstance({ image: { rows: 256, columns: 256 } });
    const small = buildInstance({});
    assert.ok(big.bytes.length > 100_000 && big.bytes.length < 200_000);
    const { status, json } = await stow(gateway.dicomweb, [big.bytes, small.bytes]);
    assert.equal(status, 202);
    assert.equal(value(items(json, '00081198')[0], '00081197'), 0xa700);
    assert.equal(items(json, '00081199').length, 1);
  });

  test('a streamed body without Content-Length over the limit is cut off with 413', async () => {
    const chunk = Buffer.alloc(64 * 1024, 7);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > 1_000_000) controller.close();
        else {
          sent += chunk.length;
          controller.enqueue(chunk);
        }
      },
    });
    const response = await fetch(`${gateway.dicomweb}/studies`, {
      method: 'POST',
      headers: { 'content-type': 'application/dicom' },
      body,
      duplex: 'half',
    } as RequestInit);
    assert.equal(response.status, 413);
  });
});
