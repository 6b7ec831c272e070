/** WADO-RS over real HTTP: instances, metadata, frames and bulk data, with content negotiation. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { buildInstance, generateFrame, newUid, type ImageSpec } from '../helpers/dicom-generator.js';
import {
  convertTransferSyntax,
  execFile,
  isCi,
  missingTools,
  type TransferSyntaxTarget,
} from '../helpers/dcmtk.js';
import { stow, type DicomJson } from '../helpers/dicomweb-client.js';
import { makeTempDir, removeDir, writeInstance } from '../helpers/fixtures.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { fetchParts } from '../helpers/multipart.js';
import { datasetBytes } from '../helpers/stored-files.js';

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const EXPLICIT_LE = '1.2.840.10008.1.2.1';

interface Seeded {
  study: string;
  series: string;
  sop: string;
  bytes: Buffer;
  transferSyntax: string;
  image?: ImageSpec;
}

describe('WADO-RS', () => {
  let gateway: TestGateway;
  let dir: string;
  const study = newUid();
  const seeded: Record<string, Seeded> = {};
  const multiframe: ImageSpec = { rows: 8, columns: 8, frames: 4, bitsAllocated: 16 };

  before(async () => {
    gateway = await startTestGateway({ http: { publicBaseUrl: '' } });
    dir = await makeTempDir('wado-');
    const add = async (name: string, bytes: Buffer, transferSyntax: string, image?: ImageSpec) => {
      const response = await stow(gateway.dicomweb, [bytes]);
      assert.equal(response.status, 200, `seeding ${name}`);
      const sop = String((response.json['00081199']!.Value![0] as DicomJson)['00081155']!.Value![0]);
      const series = String((response.json['00081199']!.Value![0] as DicomJson)['00081190']!.Value![0])
        .split('/series/')[1]!
        .split('/')[0]!;
      seeded[name] = { study, series, sop, bytes, transferSyntax, image };
    };
    const native = buildInstance({
      studyInstanceUID: study,
      image: multiframe,
      extra: [{ tag: 0x00091010, vr: 'LO', value: 'PRIVCREATOR' }],
    });
    await add('native', native.bytes, EXPLICIT_LE, multiframe);
    const withBulk = buildInstance({
      studyInstanceUID: study,
      image: { rows: 4, columns: 4 },
      extra: [{ tag: 0x00420011, vr: 'OB', value: Buffer.alloc(5000, 0xab) }],
    });
    await add('bulk', withBulk.bytes, EXPLICIT_LE);

    const tools = missingTools('dcmconv', 'dcmcrle', 'dcmcjpeg');
    if (tools.length && isCi()) throw new Error(`missing ${tools.join(', ')}`);
    if (tools.length === 0) {
      for (const target of ['rle', 'explicit-be', 'deflated', 'jpeg-baseline'] as TransferSyntaxTarget[]) {
        const image: ImageSpec = {
          rows: 8,
          columns: 8,
          frames: 3,
          bitsAllocated: target === 'jpeg-baseline' ? 8 : 16,
        };
        const source = await writeInstance(dir, { studyInstanceUID: study, image }, `${target}-src.dcm`);
        const out = join(dir, `${target}.dcm`);
        const { transferSyntaxUID } = await convertTransferSyntax(source.path, out, target);
        await add(target, await readFile(out), transferSyntaxUID, image);
      }
    }
  });
  after(async () => {
    await gateway.stop();
    await removeDir(dir);
  });

  const url = (s: Seeded, suffix = '') =>
    `${gateway.dicomweb}/studies/${s.study}/series/${s.series}/instances/${s.sop}${suffix}`;

  describe('instances', () => {
    test('a study as multipart/related application/dicom with transfer-syntax=*: every instance as stored', async () => {
      const { status, contentType, parts } = await fetchParts(
        `${gateway.dicomweb}/studies/${study}`,
        'multipart/related; type="application/dicom"; transfer-syntax=*',
      );
      assert.equal(status, 200);
      assert.match(contentType, /^multipart\/related; type="application\/dicom"; boundary=/);
      assert.equal(parts.length, Object.keys(seeded).length);
      for (const s of Object.values(seeded)) {
        const part = parts.find((p) => p.headers['content-location']?.endsWith(s.sop));
        assert.ok(part, `part for ${s.sop}`);
        assert.equal(part.headers['content-type'], `application/dicom; transfer-syntax=${s.transferSyntax}`);
        assert.equal(sha(datasetBytes(part.body)), sha(datasetBytes(s.bytes)), 'dataset bytes as received');
      }
    });

    test('without a transfer-syntax parameter the default is Explicit VR Little Endian (transcoded)', async (t) => {
      const rle = seeded.rle;
      if (!rle) return t.skip('dcmtk missing');
      const { status, parts } = await fetchParts(url(rle), 'multipart/related; type="application/dicom"');
      assert.equal(status, 200);
      assert.equal(parts[0]!.headers['content-type'], `application/dicom; transfer-syntax=${EXPLICIT_LE}`);
      const path = join(dir, 'transcoded.dcm');
      await writeFile(path, parts[0]!.body);
      const { stdout } = await execFile('dcmdump', ['-M', '+P', '0002,0010', path]);
      assert.match(stdout, /LittleEndianExplicit/);
    });

    test('series and single instance; a single instance also as a single application/dicom part', async () => {
      const s = seeded.native!;
      const series = await fetchParts(
        `${gateway.dicomweb}/studies/${study}/series/${s.series}`,
        'multipart/related; type=application/dicom; transfer-syntax=*',
      );
      assert.equal(series.parts.length, 1);
      const response = await fetch(url(s), { headers: { accept: 'application/dicom; transfer-syntax=*' } });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), `application/dicom; transfer-syntax=${EXPLICIT_LE}`);
      assert.equal(sha(datasetBytes(Buffer.from(await response.arrayBuffer()))), sha(datasetBytes(s.bytes)));
    });

    test('lenient Accept parsing: q-values, several ranges, */*, the accept query parameter wins', async () => {
      const s = seeded.native!;
      const lenient = await fetchParts(
        url(s),
        'application/json;q=0.5, multipart/related;type=application/dicom;transfer-syntax=*;q=0.9',
      );
      assert.equal(lenient.parts.length, 1);
      const any = await fetch(url(s), { headers: { accept: '*/*' } });
      assert.equal(any.status, 200);
      assert.match(any.headers.get('content-type')!, /^multipart\/related; type="application\/dicom"/);
      const query = await fetch(
        `${url(s)}?accept=${encodeURIComponent('application/dicom; transfer-syntax=*')}`,
        {
          headers: { accept: 'multipart/related; type="application/dicom"' },
        },
      );
      assert.equal(query.headers.get('content-type'), `application/dicom; transfer-syntax=${EXPLICIT_LE}`);
    });

    test('a transfer syntax that cannot be produced is 406; unknown UIDs are 404; hostile ones 400', async () => {
      const s = seeded.native!;
      const mpeg = await fetch(url(s), {
        headers: {
          accept: 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.100',
        },
      });
      assert.equal(mpeg.status, 406);
      assert.equal((await fetch(`${gateway.dicomweb}/studies/1.2.3.4.5`)).status, 404);
      assert.equal((await fetch(`${gateway.dicomweb}/studies/..%2F..%2Fetc`)).status, 400);
      assert.equal((await fetch(`${gateway.dicomweb}/studies/${study}/series/1.2;DROP`)).status, 400);
    });
  });

  describe('metadata', () => {
    test('series metadata is the stored DICOM JSON with absolute BulkDataURIs, gzip and br when accepted', async () => {
      const s = seeded.bulk!;
      const plain = await fetch(`${gateway.dicomweb}/studies/${study}/series/${s.series}/metadata`, {
        headers: { accept: 'application/dicom+json' },
      });
      assert.equal(plain.status, 200);
      const json = (await plain.json()) as DicomJson[];
      assert.equal(json.length, 1);
      assert.equal(json[0]!['00080018']!.Value![0], s.sop);
      assert.equal(json[0]!['00420011']!.BulkDataURI, `${url(s)}/bulkdata/00420011`);
      for (const encoding of ['gzip', 'br'] as const) {
        const response = await fetch(`${gateway.dicomweb}/studies/${study}/series/${s.series}/metadata`, {
          headers: { accept: 'application/dicom+json', 'accept-encoding': encoding },
        });
        assert.equal(response.headers.get('content-encoding'), encoding);
        assert.deepEqual(await response.json(), json, 'fetch decodes it transparently');
      }
      const body = await new Promise<Buffer>((resolve) => {
        httpGet(
          `${gateway.dicomweb}/studies/${study}/series/${s.series}/metadata`,
          { headers: { 'accept-encoding': 'gzip' } },
          (res) => {
            assert.equal(res.headers['content-encoding'], 'gzip');
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve(Buffer.concat(chunks)));
          },
        );
      });
      assert.deepEqual(JSON.parse(gunzipSync(body).toString()), json);
    });

    test('ETag and 304; the ETag changes when the series changes', async () => {
      const s = seeded.native!;
      const metadataUrl = `${gateway.dicomweb}/studies/${study}/metadata`;
      const first = await fetch(metadataUrl);
      const etag = first.headers.get('etag')!;
      assert.ok(etag);
      assert.equal((await fetch(metadataUrl, { headers: { 'if-none-match': etag } })).status, 304);
      await stow(gateway.dicomweb, [
        buildInstance({ studyInstanceUID: study, seriesInstanceUID: s.series }).bytes,
      ]);
      const changed = await fetch(metadataUrl, { headers: { 'if-none-match': etag } });
      assert.equal(changed.status, 200);
      assert.notEqual(changed.headers.get('etag'), etag);
    });

    test('OHIF-style combined Accept lists get JSON; XML multipart when only XML is asked for', async () => {
      const s = seeded.native!;
      const combined = await fetch(url(s, '/metadata'), {
        headers: {
          accept: 'multipart/related; type="application/dicom+xml", application/dicom+json, application/json',
        },
      });
      assert.match(combined.headers.get('content-type')!, /^application\/dicom\+json/);
      const { status, parts } = await fetchParts(
        url(s, '/metadata'),
        'multipart/related; type="application/dicom+xml"',
      );
      assert.equal(status, 200);
      assert.equal(parts.length, 1);
      const xml = parts[0]!.body.toString();
      assert.match(xml, /<NativeDicomModel/);
      assert.match(
        xml,
        new RegExp(
          `<DicomAttribute[^>]*tag="00080018"[^>]*>\\s*<Value number="1">${s.sop.replace(/\./g, '\\.')}</Value>`,
        ),
      );
      assert.equal((await fetch(url(s, '/metadata'), { headers: { accept: 'text/html' } })).status, 406);
    });

    test('BulkDataURIs follow the configured public base URL (reverse proxy)', async () => {
      const proxied = await startTestGateway({ http: { publicBaseUrl: 'https://pacs.example.org/prefix' } });
      try {
        const instance = buildInstance({
          extra: [{ tag: 0x00420011, vr: 'OB', value: Buffer.alloc(3000, 1) }],
        });
        await stow(proxied.dicomweb, [instance.bytes]);
        const response = await fetch(
          `${proxied.dicomweb}/studies/${instance.studyInstanceUID}/series/${instance.seriesInstanceUID}/instances/${instance.sopInstanceUID}/metadata`,
        );
        const [json] = (await response.json()) as DicomJson[];
        assert.equal(
          json!['00420011']!.BulkDataURI,
          `https://pacs.example.org/prefix/dicom-web/studies/${instance.studyInstanceUID}/series/${instance.seriesInstanceUID}/instances/${instance.sopInstanceUID}/bulkdata/00420011`,
        );
      } finally {
        await proxied.stop();
      }
    });
  });

  describe('frames', () => {
    test('native frames as stored, chosen frames only, in order', async () => {
      const s = seeded.native!;
      const { status, parts } = await fetchParts(
        url(s, '/frames/3,1'),
        'multipart/related; type="application/octet-stream"; transfer-syntax=*',
      );
      assert.equal(status, 200);
      assert.equal(parts.length, 2);
      assert.equal(
        parts[0]!.headers['content-type'],
        `application/octet-stream; transfer-syntax=${EXPLICIT_LE}`,
      );
      assert.ok(parts[0]!.body.equals(generateFrame(multiframe, 2)));
      assert.ok(parts[1]!.body.equals(generateFrame(multiframe, 0)));
    });

    test('a single frame as a single part when asked for', async () => {
      const s = seeded.native!;
      const response = await fetch(url(s, '/frames/2'), { headers: { accept: 'application/octet-stream' } });
      assert.equal(response.status, 200);
      assert.ok(Buffer.from(await response.arrayBuffer()).equals(generateFrame(multiframe, 1)));
    });

    test('big endian frames are swapped to little endian; compressed frames are decoded by default', async (t) => {
      for (const name of ['explicit-be', 'deflated', 'rle']) {
        const s = seeded[name];
        if (!s) return t.skip('dcmtk missing');
        const { parts } = await fetchParts(
          url(s, '/frames/1,3'),
          'multipart/related; type="application/octet-stream"',
        );
        assert.equal(parts.length, 2, name);
        assert.equal(
          parts[0]!.headers['content-type'],
          `application/octet-stream; transfer-syntax=${EXPLICIT_LE}`,
          name,
        );
        assert.ok(parts[0]!.body.equals(generateFrame(s.image!, 0)), `${name} frame 1`);
        assert.ok(parts[1]!.body.equals(generateFrame(s.image!, 2)), `${name} frame 3`);
        // One frame alone goes out as one buffer, read (and swapped or decoded) into its framing.
        const one = await fetchParts(
          url(s, '/frames/2'),
          'multipart/related; type="application/octet-stream"',
        );
        assert.equal(one.parts.length, 1, name);
        assert.ok(one.parts[0]!.body.equals(generateFrame(s.image!, 1)), `${name} frame 2 alone`);
      }
    });

    test('compressed frames as stored with transfer-syntax=*, and as image/jpeg', async (t) => {
      const jpeg = seeded['jpeg-baseline'];
      if (!jpeg) return t.skip('dcmtk missing');
      const stored = await fetchParts(
        url(jpeg, '/frames/2'),
        'multipart/related; type="application/octet-stream"; transfer-syntax=*',
      );
      assert.equal(
        stored.parts[0]!.headers['content-type'],
        `application/octet-stream; transfer-syntax=${jpeg.transferSyntax}`,
      );
      assert.equal(stored.parts[0]!.body.readUInt16BE(0), 0xffd8, 'a JPEG stream');
      const asJpeg = await fetch(url(jpeg, '/frames/2'), { headers: { accept: 'image/jpeg' } });
      assert.equal(asJpeg.headers.get('content-type'), `image/jpeg; transfer-syntax=${jpeg.transferSyntax}`);
      assert.ok(Buffer.from(await asJpeg.arrayBuffer()).equals(stored.parts[0]!.body));
      const multi = await fetchParts(url(jpeg, '/frames/1,2,3'), 'multipart/related; type="image/jpeg"');
      assert.equal(multi.parts.length, 3);
    });

    test('bad frame lists are 400, missing frames 404, frames of an SR 404, unsupported types 406', async () => {
      const s = seeded.native!;
      assert.equal((await fetch(url(s, '/frames/0'))).status, 404);
      assert.equal((await fetch(url(s, '/frames/5'))).status, 404);
      assert.equal((await fetch(url(s, '/frames/1,x'))).status, 400);
      assert.equal((await fetch(url(s, '/frames/1'), { headers: { accept: 'image/jp2' } })).status, 406);
      const sr = buildInstance({ image: false });
      await stow(gateway.dicomweb, [sr.bytes]);
      const srUrl = `${gateway.dicomweb}/studies/${sr.studyInstanceUID}/series/${sr.seriesInstanceUID}/instances/${sr.sopInstanceUID}/frames/1`;
      assert.equal((await fetch(srUrl)).status, 404);
    });
  });

  describe('bulk data', () => {
    test('bulk data by its BulkDataURI, single part, multipart, and byte ranges', async () => {
      const s = seeded.bulk!;
      const single = await fetch(url(s, '/bulkdata/00420011'), {
        headers: { accept: 'application/octet-stream' },
      });
      assert.equal(single.status, 200);
      assert.ok(Buffer.from(await single.arrayBuffer()).equals(Buffer.alloc(5000, 0xab)));
      const multi = await fetchParts(
        url(s, '/bulkdata/00420011'),
        'multipart/related; type="application/octet-stream"',
      );
      assert.equal(multi.parts[0]!.body.length, 5000);
      const range = await fetch(url(s, '/bulkdata/00420011'), {
        headers: { accept: 'application/octet-stream', range: 'bytes=10-19' },
      });
      assert.equal(range.status, 206);
      assert.equal(range.headers.get('content-range'), 'bytes 10-19/5000');
      assert.equal((await range.arrayBuffer()).byteLength, 10);
      const suffix = await fetch(url(s, '/bulkdata/00420011'), { headers: { range: 'bytes=-100' } });
      assert.equal(suffix.status, 206);
      assert.equal((await suffix.arrayBuffer()).byteLength, 100);
      const unsatisfiable = await fetch(url(s, '/bulkdata/00420011'), { headers: { range: 'bytes=9000-' } });
      assert.equal(unsatisfiable.status, 416);
      assert.equal((await fetch(url(s, '/bulkdata/00420012'))).status, 404);
      assert.equal((await fetch(url(s, '/bulkdata/..%2F..'))).status, 400);
    });

    test('native pixel data bulk data is the whole pixel data value', async () => {
      const s = seeded.native!;
      const response = await fetch(url(s, '/bulkdata/7FE00010'), {
        headers: { accept: 'application/octet-stream' },
      });
      const expected = Buffer.concat([0, 1, 2, 3].map((i) => generateFrame(multiframe, i)));
      assert.ok(Buffer.from(await response.arrayBuffer()).equals(expected));
    });
  });
});
