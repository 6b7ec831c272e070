/** openapi.yaml describes every HTTP route the gateway serves, and nothing it does not serve. */
import SwaggerParser from '@apidevtools/swagger-parser';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT, startTestGateway } from '../helpers/gateway.js';

const METHODS = ['get', 'post', 'put', 'delete', 'patch', 'options'] as const;

test('openapi.yaml is valid OpenAPI and lists exactly the routes the app registers', async () => {
  const api = (await SwaggerParser.validate(join(PROJECT_ROOT, 'openapi.yaml'))) as {
    paths: Record<string, Partial<Record<(typeof METHODS)[number], unknown>>>;
  };
  const documented = new Set<string>();
  for (const [path, item] of Object.entries(api.paths)) {
    for (const method of METHODS) if (item[method]) documented.add(`${method.toUpperCase()} ${path}`);
  }

  const gateway = await startTestGateway();
  try {
    const served = new Set(
      gateway.running.http.routeTable
        // HEAD is added by fastify for every GET; OPTIONS is the CORS preflight handler.
        .filter((r) => r.method !== 'HEAD' && !(r.method === 'OPTIONS' && r.url.endsWith('*')))
        .map(
          (r) =>
            `${r.method} ${
              r.url
                .replace(/:(\w+)/g, '{$1}')
                .replace(/\*$/, '{path}')
                .replace(/\/$/, '') || '/'
            }`,
        ),
    );
    assert.deepEqual(
      [...served].filter((r) => !documented.has(r)).sort(),
      [],
      'served but not in openapi.yaml',
    );
    assert.deepEqual(
      [...documented].filter((r) => !served.has(r)).sort(),
      [],
      'in openapi.yaml but not served',
    );
  } finally {
    await gateway.stop();
  }
});
