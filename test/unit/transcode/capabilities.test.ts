/**
 * Which transfer syntax conversions are allowed (src/transcode/capabilities.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canTranscode } from '../../../src/transcode/capabilities.js';
import { TransferSyntaxUid as TS } from '../../helpers/dicom-generator.js';
import {
  ENCAPSULATED_UNCOMPRESSED,
  HTJ2K,
  HTJ2K_LOSSLESS,
  HTJ2K_LOSSLESS_RPCL,
  J2K_PART2,
  JPEG_XL_LOSSLESS,
  MPEG2,
  MPEG4,
} from './transcode-fixtures.js';

describe('canTranscode', () => {
  it('allows the identity for any syntax, even ones no codec handles', () => {
    for (const uid of [TS.ExplicitVRLittleEndian, TS.JPEGBaseline, TS.JPEG2000, MPEG2, '1.2.3.4']) {
      assert.equal(canTranscode(uid, uid), true, uid);
    }
  });

  it('allows native <-> native for all uncompressed syntaxes', () => {
    const native = [
      TS.ImplicitVRLittleEndian,
      TS.ExplicitVRLittleEndian,
      TS.ExplicitVRBigEndian,
      TS.DeflatedExplicitVRLittleEndian,
      ENCAPSULATED_UNCOMPRESSED,
    ];
    for (const from of native)
      for (const to of native) assert.equal(canTranscode(from, to), true, `${from}->${to}`);
  });

  it('allows decompressing every decodable syntax, lossy ones included', () => {
    for (const from of [
      TS.RLELossless,
      TS.JPEGBaseline,
      TS.JPEGExtended,
      TS.JPEGLossless,
      TS.JPEGLosslessSV1,
      TS.JPEGLSLossless,
      TS.JPEGLSNearLossless,
      TS.JPEG2000Lossless,
      TS.JPEG2000,
      HTJ2K_LOSSLESS,
      HTJ2K_LOSSLESS_RPCL,
      HTJ2K,
      JPEG_XL_LOSSLESS,
    ]) {
      assert.equal(canTranscode(from, TS.ExplicitVRLittleEndian), true, from);
      assert.equal(canTranscode(from, TS.ImplicitVRLittleEndian), true, from);
    }
  });

  it('allows compressing to the lossless syntaxes the codecs encode', () => {
    for (const to of [
      TS.RLELossless,
      TS.JPEGLosslessSV1,
      TS.JPEGLSLossless,
      TS.JPEG2000Lossless,
      HTJ2K_LOSSLESS,
      HTJ2K_LOSSLESS_RPCL,
      JPEG_XL_LOSSLESS,
    ]) {
      assert.equal(canTranscode(TS.ExplicitVRLittleEndian, to), true, to);
      assert.equal(canTranscode(TS.JPEGLSLossless, to), true, `JPEG-LS -> ${to}`);
    }
    // Process 14 with other predictors is decoded but not produced.
    assert.equal(canTranscode(TS.ExplicitVRLittleEndian, TS.JPEGLossless), false);
  });

  it('refuses lossy targets from anything but themselves', () => {
    for (const [from, to] of [
      [TS.ExplicitVRLittleEndian, TS.JPEGBaseline],
      [TS.ExplicitVRLittleEndian, TS.JPEGExtended],
      [TS.ExplicitVRLittleEndian, TS.JPEGLSNearLossless],
      [TS.JPEG2000Lossless, TS.JPEG2000],
      [TS.JPEGLSLossless, TS.JPEGLSNearLossless],
      [TS.ExplicitVRLittleEndian, HTJ2K],
      [TS.JPEGBaseline, TS.JPEGLSNearLossless],
      [TS.JPEG2000, HTJ2K],
      [TS.JPEGBaseline, TS.JPEGExtended],
    ]) {
      assert.equal(canTranscode(from!, to!), false, `${from} -> ${to}`);
    }
  });

  it('refuses syntaxes no codec handles (video, JPEG 2000 Part 2, unknown)', () => {
    for (const [from, to] of [
      [MPEG2, TS.ExplicitVRLittleEndian],
      [MPEG4, TS.ExplicitVRLittleEndian],
      [TS.ExplicitVRLittleEndian, MPEG4],
      [J2K_PART2, TS.ExplicitVRLittleEndian],
      [TS.ExplicitVRLittleEndian, J2K_PART2],
      ['1.2.3.4', TS.ExplicitVRLittleEndian],
      [TS.ExplicitVRLittleEndian, '1.2.3.4'],
    ]) {
      assert.equal(canTranscode(from!, to!), false, `${from} -> ${to}`);
    }
  });
});
