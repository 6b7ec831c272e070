/**
 * C-STORE and C-ECHO through the real DIMSE door, with dcmtk's storescu/echoscu as the peers, and the
 * result checked through the other door (QIDO).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { execFile, requireTools, type TransferSyntaxTarget } from '../helpers/dcmtk.js';
import { qido, value } from '../helpers/dicomweb-client.js';
import {
  makeTempDir,
  makeTransferSyntaxSet,
  removeDir,
  writeInstance,
  type TransferSyntaxFile,
} from '../helpers/fixtures.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { findStoredFile, datasetBytes } from '../helpers/stored-files.js';

/** storescu's option that proposes each transfer syntax (dcmtk 3.6.7). JPEG Process 14 (.57) has none. */
const PROPOSE: Partial<Record<TransferSyntaxTarget, string>> = {
  'implicit-le': '-xi',
  'explicit-le': '-xe',
  'explicit-be': '-xb',
  deflated: '-xd',
  'jpeg-baseline': '-xy',
  'jpeg-extended': '-xx',
  'jpeg-lossless-sv1': '-xs',
  'jpeg-ls-lossless': '-xt',
  'jpeg-ls-near-lossless': '-xu',
  rle: '-xr',
  'jpeg2000-lossless': '-xv',
  jpeg2000: '-xw',
};

describe('C-STORE SCP', () => {
  let gateway: TestGateway;
  let dir: string;
  before(async () => {
    gateway = await startTestGateway();
    dir = await makeTempDir('dimse-store-');
  });
  after(async () => {
    await gateway.stop();
    await removeDir(dir);
  });

  test('echoscu gets a successful C-ECHO', async (t) => {
    if (!requireTools(t, 'echoscu')) return;
    const { stderr } = await execFile('echoscu', [
      '-aec',
      gateway.aeTitle,
      '127.0.0.1',
      String(gateway.dimsePort),
    ]);
    assert.equal(stderr, '');
  });

  test('storescu stores every transfer syntax as received, and QIDO finds each instance', async (t) => {
    if (!requireTools(t, 'storescu', 'dcmconv', 'dcmcjpeg', 'dcmcjpls', 'dcmcrle', 'gdcmconv')) return;
    const targets = Object.keys(PROPOSE) as TransferSyntaxTarget[];
    const set = await makeTransferSyntaxSet(dir, undefined, targets);
    assert.ok(set.files.length >= 6, `at least six transfer syntaxes (got ${set.files.length})`);
    for (const file of set.files) {
      await t.test(file.target, async () => {
        await storescu(gateway, file, [PROPOSE[file.target]!]);
        const found = await qido(`${gateway.dicomweb}/instances?SOPInstanceUID=${file.sopInstanceUID}`);
        assert.equal(found.length, 1);
        assert.equal(value(found[0], '0020000D'), file.studyInstanceUID);
        assert.equal(
          value(found[0], '00083002'),
          file.transferSyntaxUID,
          'stored in the syntax it was sent in',
        );
        // The dataset bytes are exactly what was sent; only the File Meta Information is the gateway's.
        // (storescu re-deflates a deflated dataset when it sends it, so compare those inflated.)
        const stored = datasetBytes(
          await readFile(await findStoredFile(gateway.dataDir, file.sopInstanceUID)),
        );
        const sent = datasetBytes(await readFile(file.path));
        const same =
          file.target === 'deflated'
            ? inflateRawSync(stored).equals(inflateRawSync(sent))
            : stored.equals(sent);
        assert.ok(same, 'dataset bytes unchanged');
      });
    }
  });

  test('the File Meta Information names the negotiated syntax and the calling AE', async (t) => {
    if (!requireTools(t, 'storescu', 'dcmdump')) return;
    const file = await writeInstance(dir, { image: { rows: 8, columns: 8 } });
    await execFile('storescu', [
      '-aet',
      'MODALITY1',
      '-aec',
      gateway.aeTitle,
      '-xi',
      '127.0.0.1',
      String(gateway.dimsePort),
      file.path,
    ]);
    const path = await findStoredFile(gateway.dataDir, file.sopInstanceUID);
    const { stdout } = await execFile('dcmdump', ['-M', '+P', '0002,0010', '+P', '0002,0016', path]);
    assert.match(stdout, /\(0002,0010\) UI =LittleEndianImplicit/);
    assert.match(stdout, /\(0002,0016\) AE \[MODALITY1\]/);
  });
});

describe('AE title checks', () => {
  let gateway: TestGateway;
  let dir: string;
  before(async () => {
    gateway = await startTestGateway({ dimse: { allowedCallingAETitles: ['PACS_SERVER', 'MICRODICOM'] } });
    dir = await makeTempDir('dimse-ae-');
  });
  after(async () => {
    await gateway.stop();
    await removeDir(dir);
  });

  test('an unknown calling AE is rejected at association and nothing is stored', async (t) => {
    if (!requireTools(t, 'storescu')) return;
    const file = await writeInstance(dir, {});
    const result = await execFile('storescu', [
      '-aet',
      'INTRUDER',
      '-aec',
      gateway.aeTitle,
      '127.0.0.1',
      String(gateway.dimsePort),
      file.path,
    ]).then(
      () => ({ ok: true, stderr: '' }),
      (error: { stderr: string }) => ({ ok: false, stderr: error.stderr }),
    );
    assert.equal(result.ok, false);
    assert.match(result.stderr, /Association Rejected[\s\S]*Calling AE Title Not Recognized/i);
    assert.deepEqual(await qido(`${gateway.dicomweb}/instances`), []);
  });

  test('an allowed calling AE stores', async (t) => {
    if (!requireTools(t, 'storescu')) return;
    const file = await writeInstance(dir, {});
    await execFile('storescu', [
      '-aet',
      'MICRODICOM',
      '-aec',
      gateway.aeTitle,
      '127.0.0.1',
      String(gateway.dimsePort),
      file.path,
    ]);
    const found = await qido(`${gateway.dicomweb}/instances?SOPInstanceUID=${file.sopInstanceUID}`);
    assert.equal(found.length, 1);
  });

  test('a wrong called AE title is rejected', async (t) => {
    if (!requireTools(t, 'echoscu')) return;
    const result = await execFile('echoscu', [
      '-aet',
      'PACS_SERVER',
      '-aec',
      'SOMEONEELSE',
      '127.0.0.1',
      String(gateway.dimsePort),
    ]).then(
      () => ({ ok: true, stderr: '' }),
      (error: { stderr: string }) => ({ ok: false, stderr: error.stderr }),
    );
    assert.equal(result.ok, false);
    assert.match(result.stderr, /Called AE Title Not Recognized/i);
  });
});

async function storescu(gateway: TestGateway, file: TransferSyntaxFile, options: string[]): Promise<void> {
  await execFile('storescu', [
    '-aec',
    gateway.aeTitle,
    ...options,
    '127.0.0.1',
    String(gateway.dimsePort),
    join(file.path),
  ]);
}
