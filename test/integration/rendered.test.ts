/** Rendered images, thumbnails and WADO-URI over real HTTP. Pixel correctness is in test/unit/render. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { buildInstance, newUid } from '../helpers/dicom-generator.js';
import { convertTransferSyntax, isCi, missingTools } from '../helpers/dcmtk.js';
import { stow } from '../helpers/dicomweb-client.js';
import { makeTempDir, removeDir, writeInstance } from '../helpers/fixtures.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { fetchParts } from '../helpers/multipart.js';
import { datasetBytes } from '../helpers/stored-files.js';

interface Item {
  study: string;
  series: string;
  sop: string;
  bytes: Buffer;
}

async function image(
  response: Response,
): Promise<{ type: string; width: number; height: number; pages: number; bytes: Buffer }> {
  const bytes = Buffer.from(await response.arrayBuffer());
  const meta = await sharp(bytes, { pages: -1 }).metadata();
  return {
    type: response.headers.get('content-type') ?? '',
    width: meta.width!,
    height: meta.pageHeight ?? meta.height!,
    pages: meta.pages ?? 1,
    bytes,
  };
}

describe('rendered resources, thumbnails and WADO-URI', () => {
  let gateway: TestGateway;
  let dir: string;
  const study = newUid();
  const items: Record<string, Item> = {};

  before(async () => {
    gateway = await startTestGateway();
    dir = await makeTempDir('rendered-');
    const add = async (name: string, bytes: Buffer) => {
      const response = await stow(gateway.dicomweb, [bytes]);
      assert.equal(response.status, 200, name);
      const url = String(
        (response.json['00081199']!.Value![0] as Record<string, { Value: string[] }>)['00081190']!.Value[0],
      );
      items[name] = {
        study,
        series: url.split('/series/')[1]!.split('/')[0]!,
        sop: url.split('/instances/')[1]!,
        bytes,
      };
    };
    const ctSeries = newUid();
    for (let i = 1; i <= 3; i++) {
      const ct = buildInstance({
        studyInstanceUID: study,
        seriesInstanceUID: ctSeries,
        instanceNumber: i,
        image: { rows: 64, columns: 96, pattern: 'gradient', windowCenter: 2000, windowWidth: 4000, seed: i },
      });
      await add(`ct${i}`, ct.bytes);
    }
    await add(
      'multiframe',
      buildInstance({
        studyInstanceUID: study,
        image: { rows: 32, columns: 32, frames: 4, pattern: 'noise' },
      }).bytes,
    );
    await add('sr', buildInstance({ studyInstanceUID: study, image: false }).bytes);
    const pdf = Buffer.concat([
      Buffer.from('%PDF-1.4\n% test document\n'),
      Buffer.alloc(2000, 0x20),
      Buffer.from('\n%%EOF\n'),
    ]);
    await add(
      'pdf',
      buildInstance({
        studyInstanceUID: study,
        sopClassUID: '1.2.840.10008.5.1.4.1.1.104.1',
        modality: 'DOC',
        image: false,
        extra: [
          { tag: 0x00420011, vr: 'OB', value: pdf },
          { tag: 0x00420012, vr: 'LO', value: 'application/pdf' },
        ],
      }).bytes,
    );
    const missing = missingTools('dcmcjpeg');
    if (missing.length && isCi()) throw new Error('dcmcjpeg missing');
    if (!missing.length) {
      for (const name of ['jpeg', 'corrupt']) {
        const source = await writeInstance(
          dir,
          { studyInstanceUID: study, image: { rows: 64, columns: 64, bitsAllocated: 8 } },
          `${name}-src.dcm`,
        );
        const out = join(dir, `${name}.dcm`);
        await convertTransferSyntax(source.path, out, 'jpeg-baseline');
        const bytes = await readFile(out);
        if (name === 'corrupt') {
          // Overwrite the middle of the JPEG codestream: the file stays well-formed DICOM, the image does not.
          const soi = bytes.indexOf(Buffer.from([0xff, 0xd8, 0xff]));
          for (let at = soi + 200; at < bytes.length - 40; at += 3) bytes[at] = 0xff;
        }
        await add(name, bytes);
      }
    }
  });
  after(async () => {
    await gateway.stop();
    await removeDir(dir);
  });

  const instanceUrl = (item: Item) =>
    `${gateway.dicomweb}/studies/${item.study}/series/${item.series}/instances/${item.sop}`;

  test('an instance renders as JPEG by default, PNG when asked, in its own size', async () => {
    const jpeg = await image(await fetch(`${instanceUrl(items.ct1!)}/rendered`));
    assert.equal(jpeg.type, 'image/jpeg');
    assert.deepEqual([jpeg.width, jpeg.height], [96, 64]);
    const png = await image(
      await fetch(`${instanceUrl(items.ct1!)}/rendered`, { headers: { accept: 'image/png' } }),
    );
    assert.equal(png.type, 'image/png');
  });

  test('viewport scales keeping the aspect ratio and crops a region; quality changes the size', async () => {
    const scaled = await image(await fetch(`${instanceUrl(items.ct1!)}/rendered?viewport=48,48`));
    assert.deepEqual([scaled.width, scaled.height], [48, 32]);
    const cropped = await image(
      await fetch(`${instanceUrl(items.ct1!)}/rendered?viewport=20,20,10,10,20,20`),
    );
    assert.deepEqual([cropped.width, cropped.height], [20, 20]);
    const low = await image(await fetch(`${instanceUrl(items.multiframe!)}/frames/1/rendered?quality=10`));
    const high = await image(await fetch(`${instanceUrl(items.multiframe!)}/frames/1/rendered?quality=100`));
    assert.ok(low.bytes.length < high.bytes.length, `${low.bytes.length} < ${high.bytes.length}`);
  });

  test('window overrides the dataset VOI; bad parameters are 400s naming the parameter', async () => {
    const own = (await image(await fetch(`${instanceUrl(items.ct1!)}/rendered?accept=image/png`))).bytes;
    const windowed = (
      await image(await fetch(`${instanceUrl(items.ct1!)}/rendered?window=100,50,sigmoid&accept=image/png`))
    ).bytes;
    assert.ok(!own.equals(windowed));
    for (const [query, name] of [
      ['window=abc', 'window'],
      ['window=10,0', 'window'],
      ['window=10,20,cubic', 'window'],
      ['viewport=0,10', 'viewport'],
      ['viewport=10', 'viewport'],
      ['quality=101', 'quality'],
      ['iccprofile=srgb', 'iccprofile'],
      ['annotation=everything', 'annotation'],
    ]) {
      const response = await fetch(`${instanceUrl(items.ct1!)}/rendered?${query}`);
      assert.equal(response.status, 400, query);
      assert.match(((await response.json()) as { message: string }).message, new RegExp(name!), query);
    }
    assert.equal(
      (await fetch(`${instanceUrl(items.ct1!)}/rendered?annotation=patient,technique&iccprofile=no`)).status,
      200,
    );
  });

  test('ETag and 304 on a repeated request', async () => {
    const first = await fetch(`${instanceUrl(items.ct2!)}/rendered?viewport=32,32`);
    const etag = first.headers.get('etag')!;
    assert.ok(etag);
    const again = await fetch(`${instanceUrl(items.ct2!)}/rendered?viewport=32,32`, {
      headers: { 'if-none-match': etag },
    });
    assert.equal(again.status, 304);
    const other = await fetch(`${instanceUrl(items.ct2!)}/rendered?viewport=16,16`, {
      headers: { 'if-none-match': etag },
    });
    assert.equal(other.status, 200, 'other parameters, another representation');
  });

  test('multi-frame: frames one by one, all as multipart, or an animated GIF', async () => {
    const one = await image(await fetch(`${instanceUrl(items.multiframe!)}/frames/3/rendered`));
    assert.deepEqual([one.width, one.height], [32, 32]);
    const parts = await fetchParts(
      `${instanceUrl(items.multiframe!)}/frames/1,2,4/rendered`,
      'multipart/related; type="image/jpeg"',
    );
    assert.equal(parts.parts.length, 3);
    assert.ok(!parts.parts[0]!.body.equals(parts.parts[1]!.body), 'frames differ');
    const gif = await image(
      await fetch(`${instanceUrl(items.multiframe!)}/rendered`, { headers: { accept: 'image/gif' } }),
    );
    assert.equal(gif.type, 'image/gif');
    assert.equal(gif.pages, 4);
    const all = await fetchParts(
      `${instanceUrl(items.multiframe!)}/rendered`,
      'multipart/related; type=image/png',
    );
    assert.equal(all.parts.length, 4);
  });

  test('series and study rendered: one image per image instance', async () => {
    const series = await fetchParts(
      `${gateway.dicomweb}/studies/${study}/series/${items.ct1!.series}/rendered`,
      'multipart/related; type="image/jpeg"',
    );
    assert.equal(series.parts.length, 3);
    const studyParts = await fetchParts(`${gateway.dicomweb}/studies/${study}/rendered`, '*/*');
    // Every image instance but SR and PDF; the corrupt one is left out rather than failing the rest.
    assert.equal(studyParts.parts.length, Object.keys(items).length - 2 - (items.corrupt ? 1 : 0));
  });

  test('thumbnails: small, from the middle instance; nothing to show is 204', async () => {
    const series = await image(
      await fetch(`${gateway.dicomweb}/studies/${study}/series/${items.ct1!.series}/thumbnail`),
    );
    assert.ok(series.width <= 128 && series.height <= 128);
    const middle = await fetch(`${instanceUrl(items.ct2!)}/thumbnail`);
    assert.ok(
      (await image(middle)).bytes.equals(series.bytes),
      'the series thumbnail shows its middle instance',
    );
    assert.equal((await fetch(`${gateway.dicomweb}/studies/${study}/thumbnail?viewport=64,64`)).status, 200);
    assert.equal((await fetch(`${instanceUrl(items.multiframe!)}/frames/2/thumbnail`)).status, 200);
    // OHIF sends ?accept=image/jpeg with a multipart Accept header: the query parameter wins.
    const ohif = await fetch(`${instanceUrl(items.ct1!)}/thumbnail?accept=image/jpeg`, {
      headers: { accept: 'multipart/related; type="application/octet-stream"' },
    });
    assert.equal(ohif.headers.get('content-type'), 'image/jpeg');
    assert.equal((await fetch(`${instanceUrl(items.sr!)}/thumbnail`)).status, 204);
    assert.equal(
      (await fetch(`${gateway.dicomweb}/studies/${study}/series/${items.sr!.series}/thumbnail`)).status,
      204,
    );
  });

  test('non-image objects: a PDF renders as the document, an SR is a clear 404', async () => {
    const pdf = await fetch(`${instanceUrl(items.pdf!)}/rendered`, {
      headers: { accept: 'application/pdf' },
    });
    assert.equal(pdf.status, 200);
    assert.equal(pdf.headers.get('content-type'), 'application/pdf');
    assert.match(Buffer.from(await pdf.arrayBuffer()).toString('latin1', 0, 8), /^%PDF-1\.4/);
    const sr = await fetch(`${instanceUrl(items.sr!)}/rendered`);
    assert.equal(sr.status, 404);
    assert.match(((await sr.json()) as { message: string }).message, /has no image to render/);
  });

  test('a corrupted pixel data element is a clean error, and the server keeps serving', async (t) => {
    if (!items.corrupt) return t.skip('dcmtk missing');
    const response = await fetch(`${instanceUrl(items.corrupt)}/rendered`);
    assert.equal(response.status, 500);
    const body = (await response.json()) as { error: string; message: string };
    assert.equal(body.error, 'PROCESSING_FAILURE');
    assert.match(body.message, /cannot render frame 1/);
    assert.equal((await fetch(`${instanceUrl(items.jpeg!)}/rendered`)).status, 200);
    assert.equal((await fetch(`${instanceUrl(items.ct3!)}/rendered`)).status, 200);
  });

  describe('WADO-URI', () => {
    const wado = (item: Item, extra = '') =>
      `${gateway.httpUrl}/wado?requestType=WADO&studyUID=${item.study}&seriesUID=${item.series}&objectUID=${item.sop}${extra}`;

    test('application/dicom as stored with transferSyntax=*, despite a multipart Accept header (OHIF wadouri)', async () => {
      const response = await fetch(wado(items.ct1!, '&contentType=application/dicom&transferSyntax=*'), {
        headers: { accept: 'multipart/related; type=application/octet-stream; transfer-syntax=*' },
      });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type')!, /^application\/dicom/);
      assert.ok(
        datasetBytes(Buffer.from(await response.arrayBuffer())).equals(datasetBytes(items.ct1!.bytes)),
      );
    });

    test('images: JPEG by default, PNG, frameNumber, rows/columns, region, window, imageQuality', async () => {
      const jpeg = await image(await fetch(wado(items.ct1!)));
      assert.equal(jpeg.type, 'image/jpeg');
      const png = await image(await fetch(wado(items.ct1!, '&contentType=image/png')));
      assert.equal(png.type, 'image/png');
      const sized = await image(await fetch(wado(items.ct1!, '&rows=32')));
      assert.deepEqual([sized.width, sized.height], [48, 32]);
      const region = await image(await fetch(wado(items.ct1!, '&region=0.5,0.5,1.0,1.0&columns=24')));
      assert.deepEqual([region.width, region.height], [24, 16]);
      const frame = await image(await fetch(wado(items.multiframe!, '&frameNumber=4&contentType=image/png')));
      const frame1 = await image(
        await fetch(wado(items.multiframe!, '&frameNumber=1&contentType=image/png')),
      );
      assert.ok(!frame.bytes.equals(frame1.bytes));
      const windowed = await fetch(wado(items.ct1!, '&windowCenter=100&windowWidth=50&imageQuality=50'));
      assert.equal(windowed.status, 200);
    });

    test('bad requests are 400s; unknown instances 404', async () => {
      assert.equal((await fetch(`${gateway.httpUrl}/wado?studyUID=1&seriesUID=2&objectUID=3`)).status, 400);
      assert.equal((await fetch(wado({ ...items.ct1!, sop: '../../etc' }))).status, 400);
      assert.equal((await fetch(wado({ ...items.ct1!, sop: '1.2.3.4' }))).status, 404);
      assert.equal((await fetch(wado(items.ct1!, '&windowCenter=100'))).status, 400);
      assert.equal((await fetch(wado(items.ct1!, '&region=0.5,0.5,0.2,1'))).status, 400);
      assert.equal((await fetch(wado(items.ct1!, '&contentType=text/html'))).status, 406);
    });
  });
});
