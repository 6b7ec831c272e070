import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyRequest } from 'fastify';
import { publicBase, queryPairs } from '../../../src/http/request-url.js';
import { GatewayError } from '../../../src/errors.js';

/** A request target as Node's HTTP parser presents it: every raw byte as one Latin-1 character. */
const asNodeSees = (target: string): string => Buffer.from(target, 'utf8').toString('latin1');

test('no query, empty query', () => {
  assert.deepEqual(queryPairs('/dicom-web/studies'), []);
  assert.deepEqual(queryPairs('/dicom-web/studies?'), []);
  assert.deepEqual(queryPairs('/dicom-web/studies?&&'), []);
  assert.deepEqual(queryPairs(''), []);
});

test('percent-encoding is decoded as UTF-8: %5E, %2C, %C3%84 and more', () => {
  assert.deepEqual(queryPairs('/studies?PatientName=Doe%5EJohn'), [['PatientName', 'Doe^John']]);
  assert.deepEqual(queryPairs('/studies?ModalitiesInStudy=CT%2CMR'), [['ModalitiesInStudy', 'CT,MR']]);
  assert.deepEqual(queryPairs('/studies?PatientName=%C3%84rger'), [['PatientName', 'Ärger']]);
  assert.deepEqual(queryPairs('/studies?PatientName=%E5%B1%B1%E7%94%B0*'), [['PatientName', '山田*']]);
  assert.deepEqual(queryPairs('/studies?PatientName=Doe%5ejohn'), [['PatientName', 'Doe^john']]);
  // Encoded separators stay inside their key or value.
  assert.deepEqual(queryPairs('/x?a%3Db=c%26d%3De'), [['a=b', 'c&d=e']]);
  assert.deepEqual(queryPairs('/x?a=b=c'), [['a', 'b=c']]);
  assert.deepEqual(queryPairs('/x?%30020000D=1.2.3'), [['0020000D', '1.2.3']]);
  assert.deepEqual(queryPairs('/x?q=%23notafragment'), [['q', '#notafragment']]);
});

test('raw UTF-8 bytes, as Node presents them (Latin-1 characters), are read as UTF-8', () => {
  assert.equal(asNodeSees('Ä'), 'Ã\u0084');
  assert.deepEqual(queryPairs(asNodeSees('/studies?PatientName=Ä')), [['PatientName', 'Ä']]);
  assert.deepEqual(queryPairs(asNodeSees('/studies?PatientName=山田^太郎')), [['PatientName', '山田^太郎']]);
  assert.deepEqual(queryPairs(asNodeSees('/studies?PatientName=Ä*&StudyDescription=Schädel')), [
    ['PatientName', 'Ä*'],
    ['StudyDescription', 'Schädel'],
  ]);
  // Raw bytes and percent-encoding mixed in one query.
  assert.deepEqual(queryPairs(asNodeSees('/studies?PatientName=Ä%5EÖ&x=%C3%9C')), [
    ['PatientName', 'Ä^Ö'],
    ['x', 'Ü'],
  ]);
  // Raw bytes in the key too, and in the path (which is not looked at).
  assert.deepEqual(queryPairs(asNodeSees('/stüdies?Kéy=v')), [['Kéy', 'v']]);
});

test('a raw Latin-1 byte that is not UTF-8 becomes U+FFFD rather than failing', () => {
  assert.deepEqual(queryPairs('/studies?PatientName=\u00c4rger'), [['PatientName', '\ufffdrger']]);
});

test('"+" is literal, not a space', () => {
  assert.deepEqual(queryPairs('/studies?StudyTime=+0100&TimezoneOffsetFromUTC=+0100'), [
    ['StudyTime', '+0100'],
    ['TimezoneOffsetFromUTC', '+0100'],
  ]);
  assert.deepEqual(queryPairs('/studies?PatientName=Doe+John'), [['PatientName', 'Doe+John']]);
  assert.deepEqual(queryPairs('/studies?a=%2B%20b'), [['a', '+ b']]);
});

test('repeated keys are all kept, in order', () => {
  assert.deepEqual(
    queryPairs('/studies?includefield=00081030&includefield=0008103E&limit=5&includefield=all'),
    [
      ['includefield', '00081030'],
      ['includefield', '0008103E'],
      ['limit', '5'],
      ['includefield', 'all'],
    ],
  );
});

test('empty values and keys without "="', () => {
  assert.deepEqual(queryPairs('/studies?PatientName=&fuzzymatching&=orphan&&limit=1'), [
    ['PatientName', ''],
    ['fuzzymatching', ''],
    ['', 'orphan'],
    ['limit', '1'],
  ]);
});

test('a #fragment ends the query', () => {
  assert.deepEqual(queryPairs('/studies?a=1&b=2#frag&c=3'), [
    ['a', '1'],
    ['b', '2'],
  ]);
  assert.deepEqual(queryPairs('/studies?#a=1'), []);
  assert.deepEqual(queryPairs(asNodeSees('/studies?a=Ä#Ö')), [['a', 'Ä']]);
});

test('malformed percent-encoding is a BAD_REQUEST GatewayError', () => {
  for (const target of [
    '/studies?PatientName=%ZZ',
    '/studies?PatientName=100%',
    '/studies?PatientName=%4',
    '/studies?%ZZ=1',
    '/studies?a=1&b=%C3', // truncated UTF-8 sequence
    '/studies?a=%FF', // not UTF-8 at all
    '/studies?a=%ED%A0%80', // an encoded surrogate
  ]) {
    assert.throws(
      () => queryPairs(target),
      (error: unknown) => {
        assert.ok(error instanceof GatewayError, target);
        assert.equal(error.code, 'BAD_REQUEST');
        assert.equal(error.httpStatus, 400);
        assert.match(error.message, /malformed percent-encoding/);
        return true;
      },
      target,
    );
  }
});

const fakeRequest = (protocol: string, host: string): FastifyRequest =>
  ({ protocol, host }) as unknown as FastifyRequest;

test('publicBase from the request when no public base URL is configured', () => {
  assert.equal(
    publicBase(fakeRequest('http', 'localhost:8080'), '', '/dicom-web'),
    'http://localhost:8080/dicom-web',
  );
  assert.equal(
    publicBase(fakeRequest('https', 'pacs.example.org'), '', '/dicom-web'),
    'https://pacs.example.org/dicom-web',
  );
  assert.equal(publicBase(fakeRequest('http', '[::1]:8080'), '', ''), 'http://[::1]:8080');
});

test('publicBase uses the configured public base URL and ignores the request', () => {
  const request = fakeRequest('http', 'internal:8080');
  assert.equal(
    publicBase(request, 'https://pacs.example.org/proxy', '/dicom-web'),
    'https://pacs.example.org/proxy/dicom-web',
  );
  assert.equal(publicBase(request, 'https://pacs.example.org', ''), 'https://pacs.example.org');
});
