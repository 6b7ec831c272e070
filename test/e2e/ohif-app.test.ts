/**
 * The static server of the OHIF end-to-end harness (ohif-app.ts), on a stand-in dist directory: content
 * types, SPA fallback, cross-origin isolation headers and the generated app-config.js. No browser and no
 * download needed.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeTempDir, removeDir } from '../helpers/fixtures.js';
import { appConfigJs, dataSourceConfiguration, startOhifServer, type OhifServer } from './ohif-app.js';

describe('OHIF static server of the e2e harness', () => {
  let dist: string;
  let server: OhifServer;

  before(async () => {
    dist = await makeTempDir('ohif-dist-');
    await writeFile(join(dist, 'index.html'), '<!doctype html><title>OHIF</title>');
    await writeFile(join(dist, 'app-config.js'), 'window.config = { original: true };');
    await writeFile(join(dist, 'app.bundle.js'), 'console.log(1);');
    await writeFile(join(dist, 'decoder.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d]));
    await mkdir(join(dist, 'assets'));
    await writeFile(join(dist, 'assets', 'manifest.json'), '{}');
    server = await startOhifServer({ dist });
  });

  after(async () => {
    await server.close();
    await removeDir(dist);
  });

  test('serves assets with their content types and the isolation headers', async () => {
    for (const [path, type] of [
      ['/app.bundle.js', 'text/javascript; charset=utf-8'],
      ['/decoder.wasm', 'application/wasm'],
      ['/assets/manifest.json', 'application/json; charset=utf-8'],
      ['/', 'text/html; charset=utf-8'],
    ] as const) {
      const response = await fetch(`${server.url}${path}`);
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get('content-type'), type, path);
      assert.equal(response.headers.get('cross-origin-opener-policy'), 'same-origin', path);
      assert.equal(response.headers.get('cross-origin-embedder-policy'), 'require-corp', path);
      await response.arrayBuffer();
    }
  });

  test('answers app routes with index.html, missing assets with 404, escapes with 403', async () => {
    const page = await fetch(`${server.url}/viewer?StudyInstanceUIDs=1.2.3`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>OHIF<\/title>/);
    const missing = await fetch(`${server.url}/missing.bundle.js`);
    assert.equal(missing.status, 404);
    await missing.text();
    assert.ok(server.notFound.includes('/missing.bundle.js'));
    // A raw request line: fetch would normalise the dots away before sending.
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(`${server.url}/..%2f..%2fetc%2fpasswd`, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on('error', reject);
      request.end();
    });
    assert.equal(status, 403);
  });

  test('serves the generated app-config.js instead of the one in dist', async () => {
    const before = await fetch(`${server.url}/app-config.js`);
    assert.equal(before.status, 503, 'not configured yet');
    await before.text();
    server.configure({
      gatewayUrl: 'http://127.0.0.1:9999/',
      imageRendering: 'wadouri',
      enableStudyLazyLoad: false,
    });
    const response = await fetch(`${server.url}/app-config.js`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const text = await response.text();
    assert.equal(text, server.appConfig());
    const config = JSON.parse(text.replace(/^[^]*?window\.config = /, '').replace(/;\s*$/, '')) as {
      defaultDataSourceName: string;
      dataSources: { sourceName: string; namespace: string; configuration: Record<string, unknown> }[];
    };
    assert.equal(config.dataSources.length, 1);
    const [source] = config.dataSources;
    assert.equal(source!.sourceName, config.defaultDataSourceName);
    assert.equal(source!.namespace, '@ohif/extension-default.dataSourcesModule.dicomweb');
    assert.deepEqual(
      {
        qidoRoot: source!.configuration.qidoRoot,
        wadoRoot: source!.configuration.wadoRoot,
        wadoUriRoot: source!.configuration.wadoUriRoot,
        imageRendering: source!.configuration.imageRendering,
        enableStudyLazyLoad: source!.configuration.enableStudyLazyLoad,
        dicomUploadEnabled: source!.configuration.dicomUploadEnabled,
        staticWado: source!.configuration.staticWado,
        supportsWildcard: source!.configuration.supportsWildcard,
      },
      {
        qidoRoot: 'http://127.0.0.1:9999/dicom-web',
        wadoRoot: 'http://127.0.0.1:9999/dicom-web',
        wadoUriRoot: 'http://127.0.0.1:9999/wado',
        imageRendering: 'wadouri',
        enableStudyLazyLoad: false,
        dicomUploadEnabled: true,
        staticWado: false,
        supportsWildcard: true,
      },
    );
    assert.equal(
      appConfigJs({ gatewayUrl: 'http://h:1' }).includes(
        JSON.stringify(dataSourceConfiguration({ gatewayUrl: 'http://h:1' }).qidoRoot),
      ),
      true,
    );
  });

  test('puts an oidc block in app-config.js only when given one', () => {
    const parse = (text: string) =>
      JSON.parse(text.replace(/^[^]*?window\.config = /, '').replace(/;\s*$/, '')) as Record<string, unknown>;
    assert.equal('oidc' in parse(appConfigJs({ gatewayUrl: 'http://h:1' })), false);
    const oidc = [
      {
        authority: 'http://idp.example:2',
        client_id: 'ohif-viewer',
        redirect_uri: '/callback',
        response_type: 'code' as const,
        scope: 'openid read',
        automaticSilentRenew: false,
      },
    ];
    const config = parse(appConfigJs({ gatewayUrl: 'http://h:1' }, { oidc }));
    assert.deepEqual(config.oidc, oidc);
    assert.equal((config.dataSources as unknown[]).length, 1, 'the data source is unchanged');
  });

  test('leaves out the isolation headers when asked to', async () => {
    const plain = await startOhifServer({ dist, crossOriginIsolation: false });
    try {
      const response = await fetch(`${plain.url}/`);
      await response.text();
      assert.equal(response.headers.get('cross-origin-embedder-policy'), null);
      assert.equal(response.headers.get('cross-origin-opener-policy'), null);
    } finally {
      await plain.close();
    }
  });
});
