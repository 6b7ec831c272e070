/**
 * C-FIND, C-MOVE and C-GET through the DIMSE door with dcmtk's findscu, movescu, getscu and storescp as
 * the peers, registered peers and DICOM TLS, and a second gateway as a C-MOVE destination.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildInstance, newUid } from '../helpers/dicom-generator.js';
import { execFile, isCi, missingTools } from '../helpers/dcmtk.js';
import { qido, stow } from '../helpers/dicomweb-client.js';
import { makeTempDir, removeDir } from '../helpers/fixtures.js';
import { makeTestCertificates } from '../helpers/tls.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { datasetBytes } from '../helpers/stored-files.js';

const TOOLS = ['findscu', 'movescu', 'getscu', 'storescp', 'echoscu', 'storescu', 'dcmdump', 'openssl'];
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Runs a dcmtk tool; never throws on a non-zero exit (the test looks at the output). */
async function run(tool: string, args: string[]): Promise<{ code: number; out: string }> {
  return execFile(tool, args, {
    env: { ...process.env, TCP_NODELAY: '1' },
    maxBuffer: 32 * 1024 * 1024,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, out: stdout + stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      out: error.stdout + error.stderr,
    }),
  );
}

/** Values of one tag in every C-FIND response file findscu extracted, via dcmdump. */
async function responses(dir: string, tag: string): Promise<string[]> {
  const values: string[] = [];
  for (const name of (await readdir(dir)).filter((n) => n.startsWith('rsp')).sort()) {
    const { out } = await run('dcmdump', ['+P', tag, '+U8', join(dir, name)]);
    const match = /\[(.*)\]/.exec(out);
    values.push(match ? match[1]! : '');
  }
  return values;
}

describe('DIMSE query/retrieve', { timeout: 240_000 }, () => {
  let gateway: TestGateway;
  let dir: string;
  let skip: string | undefined;
  let viewerPort: number;
  const studyA = newUid();
  const studyB = newUid();
  const series: string[] = [];
  const instances = new Map<string, Buffer>();

  before(async () => {
    const missing = missingTools(...TOOLS);
    if (missing.length) {
      if (isCi()) throw new Error(`missing tools: ${missing.join(', ')}`);
      skip = `missing tools: ${missing.join(', ')}`;
      return;
    }
    dir = await makeTempDir('qr-');
    viewerPort = await freePort();
    gateway = await startTestGateway({
      dimse: {
        peers: [
          {
            aeTitle: 'VIEWER1',
            host: '127.0.0.1',
            port: viewerPort,
            allow: ['store', 'find', 'move', 'get'],
            tls: false,
          },
          { aeTitle: 'MICRODICOM', host: '127.0.0.1', port: 104, allow: ['find', 'move', 'get'], tls: false },
          { aeTitle: 'STOREONLY', host: '127.0.0.1', port: 104, allow: ['store'], tls: false },
        ],
      },
    });
    const specs = [
      {
        studyInstanceUID: studyA,
        patientName: 'Doe^John',
        patientID: 'P1',
        studyDate: '20240110',
        modality: 'CT',
        seriesNumber: 1,
      },
      {
        studyInstanceUID: studyA,
        patientName: 'Doe^John',
        patientID: 'P1',
        studyDate: '20240110',
        modality: 'CT',
        seriesNumber: 1,
      },
      {
        studyInstanceUID: studyA,
        patientName: 'Doe^John',
        patientID: 'P1',
        studyDate: '20240110',
        modality: 'SR',
        seriesNumber: 2,
        image: false as const,
      },
      {
        studyInstanceUID: studyB,
        patientName: 'Roe^Jane',
        patientID: 'P2',
        studyDate: '20240301',
        modality: 'MR',
        seriesNumber: 1,
      },
    ];
    let lastSeries = '';
    let lastKey = '';
    for (const spec of specs) {
      const key = `${spec.studyInstanceUID}/${spec.seriesNumber}`;
      if (key !== lastKey) lastSeries = newUid();
      lastKey = key;
      const built = buildInstance({
        ...spec,
        seriesInstanceUID: lastSeries,
        image: spec.image === false ? false : { rows: 16, columns: 16 },
      });
      if (!series.includes(lastSeries)) series.push(lastSeries);
      instances.set(built.sopInstanceUID, built.bytes);
      assert.equal((await stow(gateway.dicomweb, [built.bytes])).status, 200);
    }
  });
  after(async () => {
    await gateway?.stop();
    if (dir) await removeDir(dir);
  });

  const port = () => String(gateway.dimsePort);

  async function find(
    aet: string,
    model: '-P' | '-S',
    keys: string[],
  ): Promise<{ code: number; out: string; dir: string }> {
    const out = join(dir, `find-${newUid()}`);
    await mkdir(out);
    const result = await run('findscu', [
      '-aet',
      aet,
      '-aec',
      'DICOMWEB',
      model,
      '-X',
      '-od',
      out,
      ...keys.flatMap((k) => ['-k', k]),
      '127.0.0.1',
      port(),
    ]);
    return { ...result, dir: out };
  }

  test('C-FIND at the study level: wildcard name, date range, the keys asked for', async (t) => {
    if (skip) return t.skip(skip);
    const r = await find('VIEWER1', '-S', [
      'QueryRetrieveLevel=STUDY',
      'PatientName=doe*',
      'StudyDate=20240101-20240131',
      'StudyInstanceUID',
      'ModalitiesInStudy',
      'NumberOfStudyRelatedInstances',
    ]);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(await responses(r.dir, '0020,000d'), [studyA]);
    assert.deepEqual(await responses(r.dir, '0008,0061'), ['CT\\SR']);
    assert.deepEqual(await responses(r.dir, '0020,1208'), ['3']);
    assert.deepEqual(await responses(r.dir, '0008,0005'), ['ISO_IR 192']);
    assert.deepEqual(await responses(r.dir, '0008,0052'), ['STUDY']);
  });

  test('C-FIND at the patient level (Patient Root) and the series level with a UID list', async (t) => {
    if (skip) return t.skip(skip);
    const patients = await find('VIEWER1', '-P', [
      'QueryRetrieveLevel=PATIENT',
      'PatientID',
      'PatientName=R*',
      'NumberOfPatientRelatedStudies',
    ]);
    assert.equal(patients.code, 0, patients.out);
    assert.deepEqual(await responses(patients.dir, '0010,0020'), ['P2']);
    assert.deepEqual(await responses(patients.dir, '0020,1200'), ['1']);
    const list = await find('VIEWER1', '-S', [
      'QueryRetrieveLevel=SERIES',
      `SeriesInstanceUID=${series[0]}\\${series[2]}`,
      'Modality',
    ]);
    assert.deepEqual((await responses(list.dir, '0020,000e')).sort(), [series[0], series[2]].sort());
  });

  test('C-FIND at the image level returns each instance', async (t) => {
    if (skip) return t.skip(skip);
    const r = await find('VIEWER1', '-S', [
      'QueryRetrieveLevel=IMAGE',
      `StudyInstanceUID=${studyA}`,
      `SeriesInstanceUID=${series[0]}`,
      'SOPInstanceUID',
      'InstanceNumber',
    ]);
    assert.equal((await responses(r.dir, '0008,0018')).length, 2);
  });

  test('C-CANCEL stops a C-FIND', async (t) => {
    if (skip) return t.skip(skip);
    // Four instances match; findscu cancels after the first response.
    const r = await find('VIEWER1', '-S', ['QueryRetrieveLevel=IMAGE', 'SOPInstanceUID']);
    assert.equal((await responses(r.dir, '0008,0018')).length, 4);
    const cancel = await run('findscu', [
      '-v',
      '-aet',
      'VIEWER1',
      '-aec',
      'DICOMWEB',
      '-S',
      '--cancel',
      '1',
      '-k',
      'QueryRetrieveLevel=IMAGE',
      '-k',
      'SOPInstanceUID',
      '127.0.0.1',
      port(),
    ]);
    assert.match(cancel.out, /Cancel/i);
  });

  test('an unregistered calling AE cannot query; a peer without find permission is refused per request', async (t) => {
    if (skip) return t.skip(skip);
    const unknown = await find('NOBODY', '-S', ['QueryRetrieveLevel=STUDY', 'StudyInstanceUID']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.out, /Calling AE Title Not Recognized/i);
    const storeOnly = await find('STOREONLY', '-S', ['QueryRetrieveLevel=STUDY', 'StudyInstanceUID']);
    assert.notEqual(storeOnly.code, 0, 'no find context is accepted for a store-only peer');
  });

  /**
   * movescu (verbose) moves a study to a storescp started as VIEWER1; returns movescu's result and the
   * received files, each checked byte-exact (dataset) against what was stored.
   */
  async function moveStudyToStorescp(
    study: string,
    name: string,
    stored: Map<string, Buffer>,
  ): Promise<{ move: { code: number; out: string }; files: string[] }> {
    const received = join(dir, name);
    await mkdir(received);
    const scp: ChildProcess = spawn(
      'storescp',
      ['-aet', 'VIEWER1', '+xa', '-od', received, String(viewerPort)],
      { env: { ...process.env, TCP_NODELAY: '1' } },
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    try {
      const move = await run('movescu', [
        '-d',
        '-aet',
        'MICRODICOM',
        '-aec',
        'DICOMWEB',
        '-aem',
        'VIEWER1',
        '-S',
        '-k',
        'QueryRetrieveLevel=STUDY',
        '-k',
        `StudyInstanceUID=${study}`,
        '127.0.0.1',
        port(),
      ]);
      assert.equal(move.code, 0, move.out);
      const files = await readdir(received);
      for (const file of files) {
        const sop = [...stored.keys()].find((uid) => file.includes(uid));
        assert.ok(sop, file);
        const bytes = datasetBytes(await readFile(join(received, file)));
        assert.equal(sha(bytes), sha(datasetBytes(stored.get(sop)!)), `${sop} intact`);
      }
      return { move, files };
    } finally {
      scp.kill();
    }
  }

  test('C-MOVE to a registered storescp: every instance arrives intact, counts right', async (t) => {
    if (skip) return t.skip(skip);
    const { move, files } = await moveStudyToStorescp(studyA, 'storescp', instances);
    // Pending responses count down; the final one reports 3 completed and nothing failed.
    assert.match(move.out, /Remaining Suboperations\s*: 2[\s\S]*Remaining Suboperations\s*: 1/);
    assert.match(
      move.out,
      /Completed Suboperations\s*: 3\s*\n.*Failed Suboperations\s*: 0[\s\S]*0x0000: Success/,
    );
    assert.equal(files.length, 3, `three instances arrive (got ${files.join(', ')})`);
  });

  test('C-MOVE of instances in sizes up and down: each arrives byte-exact', async (t) => {
    if (skip) return t.skip(skip);
    // The gateway reads each instance into a buffer it reuses for a later one: a smaller instance after a
    // larger one, or the next read while one is still going out, must not mix their bytes.
    const study = newUid();
    const seriesUid = newUid();
    const sizes = [96, 16, 128, 0, 32, 112, 8];
    const sent = new Map<string, Buffer>();
    for (const [i, size] of sizes.entries()) {
      const built = buildInstance({
        studyInstanceUID: study,
        seriesInstanceUID: seriesUid,
        patientID: 'P3',
        instanceNumber: i + 1,
        image: size === 0 ? false : { rows: size, columns: size, pattern: 'noise' },
      });
      sent.set(built.sopInstanceUID, built.bytes);
      assert.equal((await stow(gateway.dicomweb, [built.bytes])).status, 200);
    }
    const { files } = await moveStudyToStorescp(study, 'storescp-sizes', sent);
    assert.equal(files.length, sizes.length, `every instance arrives (got ${files.join(', ')})`);
  });

  test('C-MOVE to an unknown destination answers 0xA801', async (t) => {
    if (skip) return t.skip(skip);
    const move = await run('movescu', [
      '-aet',
      'MICRODICOM',
      '-aec',
      'DICOMWEB',
      '-aem',
      'NOWHERE',
      '-S',
      '-k',
      'QueryRetrieveLevel=STUDY',
      '-k',
      `StudyInstanceUID=${studyA}`,
      '127.0.0.1',
      port(),
    ]);
    assert.match(move.out, /Refused: MoveDestinationUnknown/);
  });

  test('C-GET of a study brings every instance back over the same association', async (t) => {
    if (skip) return t.skip(skip);
    const out = join(dir, 'getscu');
    await mkdir(out);
    const get = await run('getscu', [
      '-aet',
      'MICRODICOM',
      '-aec',
      'DICOMWEB',
      '-S',
      '-od',
      out,
      '-k',
      'QueryRetrieveLevel=STUDY',
      '-k',
      `StudyInstanceUID=${studyB}`,
      '127.0.0.1',
      port(),
    ]);
    assert.equal(get.code, 0, get.out);
    const files = await readdir(out);
    assert.equal(files.length, 1);
    const sop = [...instances.keys()].find((uid) => files[0]!.includes(uid))!;
    assert.equal(
      sha(datasetBytes(await readFile(join(out, files[0]!)))),
      sha(datasetBytes(instances.get(sop)!)),
    );
  });

  test('a second gateway as the C-MOVE destination', async (t) => {
    if (skip) return t.skip(skip);
    const destination = await startTestGateway({ dimse: { aeTitle: 'GATEWAYB' } });
    const source = await startTestGateway({
      dimse: {
        peers: [
          {
            aeTitle: 'GATEWAYB',
            host: '127.0.0.1',
            port: destination.dimsePort,
            allow: ['store'],
            tls: false,
          },
          { aeTitle: 'MOVER', host: '127.0.0.1', port: 104, allow: ['move'], tls: false },
        ],
      },
    });
    try {
      const built = buildInstance({ image: { rows: 32, columns: 32, frames: 2 } });
      await stow(source.dicomweb, [built.bytes]);
      const move = await run('movescu', [
        '-aet',
        'MOVER',
        '-aec',
        'DICOMWEB',
        '-aem',
        'GATEWAYB',
        '-S',
        '-k',
        'QueryRetrieveLevel=STUDY',
        '-k',
        `StudyInstanceUID=${built.studyInstanceUID}`,
        '127.0.0.1',
        String(source.dimsePort),
      ]);
      assert.equal(move.code, 0, move.out);
      const found = await qido(`${destination.dicomweb}/instances?SOPInstanceUID=${built.sopInstanceUID}`);
      assert.equal(found.length, 1);
    } finally {
      await source.stop();
      await destination.stop();
    }
  });

  test('DICOM TLS: echoscu and storescu with certificates made here', async (t) => {
    if (skip) return t.skip(skip);
    const tls = join(dir, 'tls');
    await mkdir(tls);
    const certs = await makeTestCertificates(tls);
    const tlsPort = await freePort();
    const secure = await startTestGateway({
      dimse: {
        tls: {
          port: tlsPort,
          key: certs.serverKey,
          cert: certs.serverCert,
          ca: certs.caCert,
          requireClientCertificate: true,
        },
      },
    });
    try {
      const tlsArgs = ['+tls', certs.clientKey, certs.clientCert, '+cf', certs.caCert];
      const echo = await run('echoscu', [...tlsArgs, '-aec', 'DICOMWEB', '127.0.0.1', String(tlsPort)]);
      assert.equal(echo.code, 0, echo.out);
      const built = buildInstance({});
      const file = join(tls, 'instance.dcm');
      await writeFile(file, built.bytes);
      const storeResult = await run('storescu', [
        ...tlsArgs,
        '-aec',
        'DICOMWEB',
        '127.0.0.1',
        String(tlsPort),
        file,
      ]);
      assert.equal(storeResult.code, 0, storeResult.out);
      assert.equal(
        (await qido(`${secure.dicomweb}/instances?SOPInstanceUID=${built.sopInstanceUID}`)).length,
        1,
      );
      // Without a client certificate the handshake fails and nothing is stored.
      const anonymous = await run('echoscu', [
        '+tla',
        '+cf',
        join(tls, 'ca.pem'),
        '-aec',
        'DICOMWEB',
        '127.0.0.1',
        String(tlsPort),
      ]);
      assert.notEqual(anonymous.code, 0);
    } finally {
      await secure.stop();
    }
  });
});
