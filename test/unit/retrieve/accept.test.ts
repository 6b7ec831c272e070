/** Accept negotiation as real clients send it (PS3.18 8.3.3, 8.7). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acceptedOffers, mediaTypeMatches } from '../../../src/retrieve/accept.js';

test('no Accept at all is a wildcard offer', () => {
  assert.deepEqual(acceptedOffers(undefined, []), [
    { mediaType: '*', multipart: undefined, transferSyntax: undefined },
  ]);
  assert.deepEqual(acceptedOffers('  ', []), [
    { mediaType: '*', multipart: undefined, transferSyntax: undefined },
  ]);
});

test('multipart ranges carry their part type; quoted and unquoted alike', () => {
  for (const header of [
    'multipart/related; type="application/dicom"; transfer-syntax=*',
    'multipart/related;type=application/dicom;transfer-syntax=*',
    'Multipart/Related; Type="Application/DICOM"; transfer-syntax="*"',
  ]) {
    assert.deepEqual(
      acceptedOffers(header, []),
      [{ mediaType: 'application/dicom', multipart: true, transferSyntax: '*' }],
      header,
    );
  }
});

test('duplicate transfer-syntax parameters become alternatives, in order (OHIF sends two)', () => {
  const offers = acceptedOffers(
    'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.4.90; transfer-syntax=*',
    [],
  );
  assert.deepEqual(
    offers.map((o) => o.transferSyntax),
    ['1.2.840.10008.1.2.4.90', '*'],
  );
});

test('several ranges are tried by quality, then in the order given; q=0 is refused', () => {
  const offers = acceptedOffers(
    'image/jpeg;q=0.5, application/octet-stream, image/png;q=0, image/jls;q=0.9',
    [],
  );
  assert.deepEqual(
    offers.map((o) => [o.mediaType, o.multipart]),
    [
      ['application/octet-stream', false],
      ['image/jls', false],
      ['image/jpeg', false],
    ],
  );
});

test('*/* and type wildcards', () => {
  assert.deepEqual(acceptedOffers('*/*', []), [
    { mediaType: '*', multipart: undefined, transferSyntax: undefined },
  ]);
  assert.deepEqual(acceptedOffers('multipart/related', []), [
    { mediaType: '*', multipart: true, transferSyntax: undefined },
  ]);
  assert.equal(mediaTypeMatches('image/*', 'image/jpeg'), true);
  assert.equal(mediaTypeMatches('image/*', 'application/dicom'), false);
  assert.equal(mediaTypeMatches('*', 'application/dicom'), true);
});

test('the accept query parameter wins over the header, and may be repeated', () => {
  const offers = acceptedOffers('multipart/related; type="application/dicom"', ['image/jpeg', 'image/png']);
  assert.deepEqual(
    offers.map((o) => o.mediaType),
    ['image/jpeg', 'image/png'],
  );
});
