import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  STORAGE_SOP_CLASSES,
  isNonImageSopClass,
  isStorageSopClass,
  storageSopClassName,
} from '../../../src/dicom/storage-sop-classes.js';

/** The storage SOP classes the gateway's brief names explicitly. */
const BRIEF_NAMED: Record<string, string> = {
  '1.2.840.10008.5.1.4.1.1.2': 'CT Image Storage',
  '1.2.840.10008.5.1.4.1.1.4': 'MR Image Storage',
  '1.2.840.10008.5.1.4.1.1.1': 'Computed Radiography Image Storage',
  '1.2.840.10008.5.1.4.1.1.1.1': 'Digital X-Ray Image Storage - For Presentation',
  '1.2.840.10008.5.1.4.1.1.1.1.1': 'Digital X-Ray Image Storage - For Processing',
  '1.2.840.10008.5.1.4.1.1.6.1': 'Ultrasound Image Storage',
  '1.2.840.10008.5.1.4.1.1.6': 'Ultrasound Image Storage (Retired)',
  '1.2.840.10008.5.1.4.1.1.3.1': 'Ultrasound Multi-frame Image Storage',
  '1.2.840.10008.5.1.4.1.1.3': 'Ultrasound Multi-frame Image Storage (Retired)',
  '1.2.840.10008.5.1.4.1.1.7': 'Secondary Capture Image Storage',
  '1.2.840.10008.5.1.4.1.1.20': 'Nuclear Medicine Image Storage',
  '1.2.840.10008.5.1.4.1.1.5': 'Nuclear Medicine Image Storage (Retired)',
  '1.2.840.10008.5.1.4.1.1.128': 'Positron Emission Tomography Image Storage',
  '1.2.840.10008.5.1.4.1.1.481.1': 'RT Image Storage',
  '1.2.840.10008.5.1.4.1.1.12.1': 'X-Ray Angiographic Image Storage',
  '1.2.840.10008.5.1.4.1.1.12.3': 'X-Ray Angiographic Bi-Plane Image Storage',
  '1.2.840.10008.5.1.4.1.1.12.2': 'X-Ray Radiofluoroscopic Image Storage',
  '1.2.840.10008.5.1.4.1.1.1.2': 'Digital Mammography X-Ray Image Storage - For Presentation',
  '1.2.840.10008.5.1.4.1.1.1.2.1': 'Digital Mammography X-Ray Image Storage - For Processing',
  '1.2.840.10008.5.1.4.1.1.1.3': 'Digital Intra-Oral X-Ray Image Storage - For Presentation',
  '1.2.840.10008.5.1.4.1.1.1.3.1': 'Digital Intra-Oral X-Ray Image Storage - For Processing',
  '1.2.840.10008.5.1.4.1.1.77.1.1': 'VL Endoscopic Image Storage',
  '1.2.840.10008.5.1.4.1.1.77.1.2': 'VL Microscopic Image Storage',
  '1.2.840.10008.5.1.4.1.1.77.1.3': 'VL Slide-Coordinates Microscopic Image Storage',
  '1.2.840.10008.5.1.4.1.1.77.1.4': 'VL Photographic Image Storage',
  '1.2.840.10008.5.1.4.1.1.11.1': 'Grayscale Softcopy Presentation State Storage',
  '1.2.840.10008.5.1.4.1.1.88.59': 'Key Object Selection Document Storage',
};

const RETIRED_NAMED = new Set([
  '1.2.840.10008.5.1.4.1.1.6',
  '1.2.840.10008.5.1.4.1.1.3',
  '1.2.840.10008.5.1.4.1.1.5',
  '1.2.840.10008.5.1.4.1.1.12.3',
]);

const VERIFICATION = '1.2.840.10008.1.1';
const STORAGE_COMMITMENT_PUSH = '1.2.840.10008.1.20.1';
const STORAGE_COMMITMENT_PULL = '1.2.840.10008.1.20.2';
const MEDIA_STORAGE_DIRECTORY = '1.2.840.10008.1.3.10';
const STUDY_ROOT_FIND = '1.2.840.10008.5.1.4.1.2.2.1';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const BASIC_TEXT_SR = '1.2.840.10008.5.1.4.1.1.88.11';
const KEY_OBJECT_SELECTION = '1.2.840.10008.5.1.4.1.1.88.59';
const ENCAPSULATED_PDF = '1.2.840.10008.5.1.4.1.1.104.1';
const RT_PLAN = '1.2.840.10008.5.1.4.1.1.481.5';

function compareUids(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] !== pb[i]) return pa[i]! - pb[i]!;
  }
  return pa.length - pb.length;
}

describe('STORAGE_SOP_CLASSES', () => {
  it('contains every storage SOP class the brief names, with its registry name and retired flag', () => {
    for (const [uid, name] of Object.entries(BRIEF_NAMED)) {
      assert.ok(isStorageSopClass(uid), `${uid} (${name}) missing`);
      assert.equal(storageSopClassName(uid), name);
      const info = STORAGE_SOP_CLASSES.find((c) => c.uid === uid);
      assert.equal(info?.retired, RETIRED_NAMED.has(uid), `retired flag of ${uid}`);
    }
  });

  it('has no duplicate UIDs and no duplicate names', () => {
    const uids = STORAGE_SOP_CLASSES.map((c) => c.uid);
    assert.equal(new Set(uids).size, uids.length);
    const names = STORAGE_SOP_CLASSES.map((c) => c.name);
    assert.equal(new Set(names).size, names.length);
  });

  it('holds only well-formed UIDs of at most 64 characters, and non-empty names', () => {
    for (const { uid, name } of STORAGE_SOP_CLASSES) {
      assert.match(uid, /^[0-9]+(\.[0-9]+)*$/);
      assert.ok(uid.length <= 64, `${uid} is longer than 64 characters`);
      assert.ok(uid.startsWith('1.2.840.10008.'), `${uid} is not a DICOM standard UID`);
      assert.ok(/ Storage/.test(name), `${uid}: "${name}" does not look like a storage class`);
    }
  });

  it('is sorted numerically by UID component', () => {
    for (let i = 1; i < STORAGE_SOP_CLASSES.length; i++) {
      const prev = STORAGE_SOP_CLASSES[i - 1]!.uid;
      const cur = STORAGE_SOP_CLASSES[i]!.uid;
      assert.ok(compareUids(prev, cur) < 0, `${prev} sorts before ${cur}`);
    }
  });

  it('leaves out Verification, Storage Commitment, DICOMDIR and Query/Retrieve', () => {
    for (const uid of [
      VERIFICATION,
      STORAGE_COMMITMENT_PUSH,
      STORAGE_COMMITMENT_PULL,
      MEDIA_STORAGE_DIRECTORY,
      STUDY_ROOT_FIND,
    ]) {
      assert.equal(isStorageSopClass(uid), false, uid);
      assert.equal(storageSopClassName(uid), undefined, uid);
    }
    assert.ok(!STORAGE_SOP_CLASSES.some((c) => /Storage Commitment|Verification/.test(c.name)));
  });

  it('lists well over 150 classes, current and retired', () => {
    assert.ok(STORAGE_SOP_CLASSES.length > 150, `only ${STORAGE_SOP_CLASSES.length}`);
    assert.ok(STORAGE_SOP_CLASSES.some((c) => c.retired));
    assert.ok(STORAGE_SOP_CLASSES.some((c) => !c.retired));
  });

  it('is frozen', () => {
    assert.ok(Object.isFrozen(STORAGE_SOP_CLASSES));
    assert.ok(Object.isFrozen(STORAGE_SOP_CLASSES[0]));
  });
});

describe('isStorageSopClass / storageSopClassName', () => {
  it('tolerates trailing NUL or space padding', () => {
    assert.ok(isStorageSopClass(`${CT}\0`));
    assert.equal(storageSopClassName(`${CT} `), 'CT Image Storage');
  });

  it('rejects unknown, empty and prefix UIDs', () => {
    for (const uid of ['', '1.2.840.10008.5.1.4.1.1', `${CT}.9`, '1.2.3.4']) {
      assert.equal(isStorageSopClass(uid), false, uid);
      assert.equal(storageSopClassName(uid), undefined, uid);
    }
  });
});

describe('isNonImageSopClass', () => {
  it('is true for SR, KO, encapsulated PDF and RT Plan', () => {
    for (const uid of [BASIC_TEXT_SR, KEY_OBJECT_SELECTION, ENCAPSULATED_PDF, RT_PLAN]) {
      assert.equal(isNonImageSopClass(uid), true, uid);
    }
  });

  it('is true for presentation states, waveforms, RT structure sets and doses', () => {
    for (const uid of [
      '1.2.840.10008.5.1.4.1.1.11.1',
      '1.2.840.10008.5.1.4.1.1.9.1.1',
      '1.2.840.10008.5.1.4.1.1.481.3',
      '1.2.840.10008.5.1.4.1.1.481.2',
    ]) {
      assert.equal(isNonImageSopClass(uid), true, uid);
    }
  });

  it('is false for image classes such as CT, US (retired), RT Image and Segmentation', () => {
    for (const uid of [
      CT,
      '1.2.840.10008.5.1.4.1.1.6',
      '1.2.840.10008.5.1.4.1.1.481.1',
      '1.2.840.10008.5.1.4.1.1.66.4',
    ]) {
      assert.equal(isNonImageSopClass(uid), false, uid);
    }
  });

  it('is false for UIDs outside the table', () => {
    assert.equal(isNonImageSopClass('1.2.3.4.5'), false);
    assert.equal(isNonImageSopClass(VERIFICATION), false);
  });

  it('never calls a class whose name says "Image Storage" non-image', () => {
    for (const { uid, name } of STORAGE_SOP_CLASSES) {
      if (/Image Storage/.test(name)) assert.equal(isNonImageSopClass(uid), false, `${uid} ${name}`);
    }
  });
});
