import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizePath, requiredScope, type Requirement } from '../../../src/auth/route-scopes.js';

const ROOT = '/dicom-web';

function check(publicThumbnails: boolean, root: string, table: [string, string, Requirement][]): void {
  for (const [method, path, want] of table) {
    assert.equal(requiredScope(method, path, { root, publicThumbnails }), want, `${method} ${path}`);
  }
}

const STUDY = '/dicom-web/studies/:study';
const SERIES = `${STUDY}/series/:series`;
const INSTANCE = `${SERIES}/instances/:instance`;

test('every route kind of the gateway, by its route pattern', () => {
  check(false, ROOT, [
    // QIDO-RS
    ['GET', '/dicom-web/studies', 'read'],
    ['GET', '/dicom-web/series', 'read'],
    ['GET', '/dicom-web/instances', 'read'],
    ['GET', `${STUDY}/series`, 'read'],
    ['GET', `${SERIES}/instances`, 'read'],
    // WADO-RS
    ['GET', STUDY, 'read'],
    ['GET', INSTANCE, 'read'],
    ['HEAD', INSTANCE, 'read'],
    ['GET', `${STUDY}/metadata`, 'read'],
    ['GET', `${INSTANCE}/metadata`, 'read'],
    ['GET', `${INSTANCE}/frames/:frames`, 'read'],
    ['GET', `${INSTANCE}/bulkdata/*`, 'read'],
    // Rendered and thumbnails
    ['GET', `${STUDY}/rendered`, 'read'],
    ['GET', `${INSTANCE}/frames/:frames/rendered`, 'read'],
    ['GET', `${STUDY}/thumbnail`, 'read'],
    ['GET', `${INSTANCE}/frames/:frames/thumbnail`, 'read'],
    // WADO-URI
    ['GET', '/wado', 'read'],
    // STOW-RS
    ['POST', '/dicom-web/studies', 'write'],
    ['POST', STUDY, 'write'],
    // Deletion and administration
    ['DELETE', STUDY, 'admin'],
    ['DELETE', INSTANCE, 'admin'],
    ['POST', '/admin/reindex', 'admin'],
    ['GET', '/admin/status', 'admin'],
    ['POST', '/dicom-web/admin/reindex', 'admin'],
    ['GET', '/metrics', 'admin'],
    // Operations and CORS
    ['GET', '/health', 'public'],
    ['HEAD', '/health', 'public'],
    ['GET', '/ready', 'public'],
    ['OPTIONS', '*', 'public'],
    ['OPTIONS', '/dicom-web/studies', 'public'],
  ]);
});

test('thumbnails are public only with publicThumbnails, and only thumbnails', () => {
  check(true, ROOT, [
    ['GET', `${STUDY}/thumbnail`, 'public'],
    ['GET', `${SERIES}/thumbnail`, 'public'],
    ['HEAD', `${INSTANCE}/thumbnail`, 'public'],
    ['GET', `${INSTANCE}/frames/:frames/thumbnail`, 'public'],
    ['GET', '/dicom-web/studies/1.2.3/thumbnail?viewport=64,64', 'public'],
    // Not thumbnails: other resources, other shapes, other methods, outside the root.
    ['GET', `${STUDY}/rendered`, 'read'],
    ['GET', `${INSTANCE}/bulkdata/*`, 'read'],
    ['GET', '/dicom-web/studies/1/series/2/instances/3/bulkdata/x/thumbnail', 'read'],
    ['GET', '/dicom-web/studies/1/foo/2/thumbnail', 'read'],
    ['GET', '/dicom-web/thumbnail', 'read'],
    ['GET', '/other/studies/1/thumbnail', 'read'],
    ['DELETE', `${STUDY}/thumbnail`, 'admin'],
    ['POST', `${STUDY}/thumbnail`, 'admin'],
  ]);
});

test('unknown paths need read for GET and admin for anything else; only STOW POSTs need write', () => {
  check(false, ROOT, [
    ['GET', '/nowhere', 'read'],
    ['GET', '/', 'read'],
    ['GET', '/dicom-web', 'read'],
    ['POST', '/nowhere', 'admin'],
    ['POST', '/health', 'admin'],
    ['PUT', '/dicom-web/studies', 'admin'],
    ['PATCH', STUDY, 'admin'],
    ['POST', `${SERIES}`, 'admin'],
    ['POST', '/studies', 'admin'],
    ['POST', '/dicom-webstudies', 'admin'],
    ['post', '/dicom-web/studies/', 'write'],
    ['get', '/health/', 'public'],
  ]);
});

test('another root, and the server root', () => {
  check(true, '/pacs/dicom-web', [
    ['POST', '/pacs/dicom-web/studies', 'write'],
    ['POST', '/dicom-web/studies', 'admin'],
    ['GET', '/pacs/dicom-web/studies/1/thumbnail', 'public'],
    ['GET', '/dicom-web/studies/1/thumbnail', 'read'],
  ]);
  check(true, '', [
    ['POST', '/studies', 'write'],
    ['POST', '/studies/1.2', 'write'],
    ['GET', '/studies/1/thumbnail', 'public'],
    ['GET', '/health', 'public'],
    ['GET', '/metrics', 'admin'],
    ['DELETE', '/studies/1', 'admin'],
  ]);
});

test('normalizePath drops the query, the fragment and trailing slashes', () => {
  assert.equal(normalizePath('/a/b/?x=1'), '/a/b');
  assert.equal(normalizePath('/a#frag'), '/a');
  assert.equal(normalizePath('/'), '/');
  assert.equal(normalizePath('///'), '/');
  assert.equal(normalizePath('?x'), '/');
});
