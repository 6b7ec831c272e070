/**
 * Fast synthetic instances for the benchmark. The project's generator (test/helpers/dicom-generator.ts)
 * builds one template per kind of instance, with placeholder values of fixed width; every instance is
 * then a copy of the template with its UIDs, names, dates and pixels written over the placeholders. A
 * million tiny instances cost a few seconds of CPU this way, not minutes.
 *
 * Every value is a pure function of (run seed, index), so the gateway and Orthanc receive the same
 * corpus, and QIDO selectivity is realistic: common surnames follow a Zipf-like spread with a long tail,
 * study dates span ten years, modalities follow a typical department's mix.
 */
import { randomInt } from 'node:crypto';
import {
  buildInstance,
  generateFrame,
  SopClassUid,
  type ExtraElement,
  type ImageSpec,
} from '../test/helpers/dicom-generator.js';

// ---------------------------------------------------------------------------------------------------------
// Deterministic numbers

/** A 32-bit hash of integers (stable across runs and servers). */
export function hash32(...values: number[]): number {
  let h = 0x811c9dc5;
  for (const v of values) {
    h = Math.imul(h ^ (v | 0), 0x01000193);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
  }
  return h >>> 0;
}

/** A number in [0, 1) from integers. */
export function unit(...values: number[]): number {
  return hash32(...values) / 2 ** 32;
}

function pickWeighted<T>(items: readonly (readonly [T, number])[], u: number): T {
  const total = items.reduce((sum, [, w]) => sum + w, 0);
  let x = u * total;
  for (const [item, weight] of items) {
    x -= weight;
    if (x < 0) return item;
  }
  return items[items.length - 1]![0];
}

// ---------------------------------------------------------------------------------------------------------
// UIDs: 2.25.1<run 12 digits><kind 1 digit><counter 24 digits> - fixed length, no leading zeros.

export const UID_LENGTH = 5 + 38;

export class UidSource {
  readonly run: string;
  constructor(run?: string) {
    this.run = run ?? String(randomInt(1e11, 1e12 - 1)).padStart(12, '1');
  }

  private studies = 0;

  /** A new study number, unique in the run (whatever factory asks). */
  nextStudy(): number {
    return this.studies++;
  }

  uid(kind: number, counter: number): string {
    return `2.25.1${this.run}${kind}${String(counter).padStart(24, '0')}`;
  }
}

export const UidKind = { Study: 1, Series: 2, Instance: 3, FrameOfReference: 4 } as const;

// ---------------------------------------------------------------------------------------------------------
// Patients and studies

/** Common surnames with rough relative frequencies (per mille of a US-like population). */
const SURNAMES: readonly (readonly [string, number])[] = [
  ['SMITH', 9.0],
  ['JOHNSON', 7.0],
  ['WILLIAMS', 5.8],
  ['BROWN', 5.2],
  ['JONES', 5.0],
  ['GARCIA', 4.5],
  ['MILLER', 4.4],
  ['DAVIS', 4.0],
  ['RODRIGUEZ', 3.8],
  ['MARTINEZ', 3.6],
  ['HERNANDEZ', 3.5],
  ['LOPEZ', 3.0],
  ['GONZALEZ', 2.9],
  ['WILSON', 2.6],
  ['ANDERSON', 2.6],
  ['THOMAS', 2.5],
  ['TAYLOR', 2.5],
  ['MOORE', 2.3],
  ['JACKSON', 2.3],
  ['MARTIN', 2.3],
  ['LEE', 2.2],
  ['PEREZ', 2.0],
  ['THOMPSON', 2.0],
  ['WHITE', 2.0],
  ['HARRIS', 1.8],
  ['SANCHEZ', 1.8],
  ['CLARK', 1.7],
  ['RAMIREZ', 1.7],
  ['LEWIS', 1.6],
  ['ROBINSON', 1.6],
  ['WALKER', 1.5],
  ['YOUNG', 1.5],
  ['ALLEN', 1.5],
  ['KING', 1.4],
  ['WRIGHT', 1.4],
  ['SCOTT', 1.4],
  ['TORRES', 1.3],
  ['NGUYEN', 1.3],
  ['HILL', 1.3],
  ['FLORES', 1.3],
  ['ADAMS', 1.2],
  ['SMITHSON', 0.2],
  ['ARNOLD', 0.6],
  ['ALVAREZ', 0.6],
  ['MUELLER', 0.4],
  ['SCHMIDT', 0.5],
  ['KOWALSKI', 0.3],
  ['OKAFOR', 0.2],
  ['TANAKA', 0.3],
  ['ABERNATHY', 0.1],
];
const SURNAME_SHARE = 0.3; // the rest comes from the synthetic long tail

const SYLLABLES =
  'BA BE DI DO FA GA HA KA KE LA LI LO MA ME MI NA NE NI NO PA RA RE RI RO SA SE SO TA TE TI TO VA VE WA ZA'.split(
    ' ',
  );
const ENDINGS = ['', 'N', 'R', 'S', 'K', 'LL', 'TT', 'RD', 'NE', 'SKI', 'SEN', 'OVA', 'EZ', 'ER'];
const GIVEN_NAMES = (
  'JAMES MARY ROBERT PATRICIA JOHN JENNIFER MICHAEL LINDA DAVID ELIZABETH WILLIAM BARBARA RICHARD SUSAN ' +
  'JOSEPH JESSICA THOMAS SARAH CHARLES KAREN CHRISTOPHER LISA DANIEL NANCY MATTHEW BETTY ANTHONY MARGARET ' +
  'MARK SANDRA DONALD ASHLEY STEVEN KIMBERLY PAUL EMILY ANDREW DONNA JOSHUA MICHELLE KENNETH CAROL KEVIN ' +
  'AMANDA BRIAN DOROTHY GEORGE MELISSA TIMOTHY DEBORAH AIKO HANS PRIYA OMAR FATIMA CHEN'
).split(' ');

/** Modalities of a typical hospital's studies, in per cent. */
const MODALITIES: readonly (readonly [string, number])[] = [
  ['CR', 22],
  ['CT', 20],
  ['MR', 14],
  ['US', 12],
  ['DX', 10],
  ['MG', 8],
  ['XA', 4],
  ['PT', 3],
  ['NM', 3],
  ['RF', 2],
  ['OT', 2],
];

const DESCRIPTIONS: Record<string, string[]> = {
  CR: ['CHEST PA LAT', 'KNEE 2 VIEWS', 'HAND LEFT'],
  CT: ['CT HEAD WO CONTRAST', 'CT CHEST ABD PELVIS', 'CT ANGIO CHEST'],
  MR: ['MR BRAIN W WO', 'MR KNEE RIGHT', 'MR LUMBAR SPINE'],
  US: ['US ABDOMEN COMPLETE', 'US THYROID', 'US OB 2ND TRIM'],
  DX: ['DX CHEST 1 VIEW', 'DX ANKLE 3 VIEWS'],
  MG: ['MG SCREENING BILAT', 'MG DIAG LEFT'],
  XA: ['XA CORONARY ANGIO'],
  PT: ['PET CT WHOLE BODY'],
  NM: ['NM BONE SCAN'],
  RF: ['RF BARIUM SWALLOW'],
  OT: ['OUTSIDE IMAGES'],
};

const DAY = 86_400_000;
const FIRST_DAY = Date.UTC(2015, 0, 1);
const DAYS = Math.round((Date.UTC(2025, 0, 1) - FIRST_DAY) / DAY); // 2015-2024

function dicomDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replaceAll('-', '');
}

function surname(patient: number): string {
  if (unit(patient, 1) < SURNAME_SHARE) return pickWeighted(SURNAMES, unit(patient, 2));
  const syllables = 1 + (hash32(patient, 3) % 3);
  let name = '';
  for (let i = 0; i < syllables; i++) name += SYLLABLES[hash32(patient, 4, i) % SYLLABLES.length];
  return name + ENDINGS[hash32(patient, 5) % ENDINGS.length];
}

export interface StudyAttributes {
  patientName: string;
  patientID: string;
  patientBirthDate: string;
  patientSex: string;
  studyDate: string;
  studyTime: string;
  accessionNumber: string;
  modality: string;
  studyDescription: string;
}

/**
 * Attributes of the `index`-th synthetic study. Patients have about 1.4 studies each; a patient's name,
 * birth date and sex depend on the patient number only, so they never disagree between studies.
 */
export function studyAttributes(index: number): StudyAttributes {
  const patient = Math.floor(index / 1.4);
  const given = GIVEN_NAMES[hash32(patient, 6) % GIVEN_NAMES.length]!;
  const modality = pickWeighted(MODALITIES, unit(index, 7));
  const descriptions = DESCRIPTIONS[modality]!;
  const minutes = 7 * 60 + (hash32(index, 9) % (12 * 60));
  return {
    patientName: `${surname(patient)}^${given}`,
    patientID: `P${String(patient).padStart(9, '0')}`,
    patientBirthDate: dicomDate(Date.UTC(1930, 0, 1) + (hash32(patient, 10) % (80 * 365)) * DAY),
    patientSex: hash32(patient, 11) % 2 ? 'F' : 'M',
    studyDate: dicomDate(FIRST_DAY + (hash32(index, 8) % DAYS) * DAY),
    studyTime: `${String(Math.floor(minutes / 60)).padStart(2, '0')}${String(minutes % 60).padStart(2, '0')}00`,
    accessionNumber: `A${String(index).padStart(9, '0')}`,
    modality,
    studyDescription: descriptions[hash32(index, 12) % descriptions.length]!,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Templates

/** Placeholder values: fixed width, unique bytes, so their offsets in the template can be found. */
const P = {
  study: `2.25.1${'9'.repeat(37)}`,
  series: `2.25.1${'8'.repeat(37)}`,
  sop: `2.25.1${'7'.repeat(37)}`,
  frameOfReference: `2.25.1${'6'.repeat(37)}`,
  patientName: '{'.repeat(40),
  patientID: '}'.repeat(10),
  birthDate: '$'.repeat(8),
  sex: '&',
  studyDate: '!'.repeat(8),
  studyTime: '%'.repeat(6),
  accession: '~'.repeat(10),
  modality: '@@',
  description: '`'.repeat(28),
  instanceNumber: '^'.repeat(6),
  position: '|'.repeat(40),
  sliceLocation: '_'.repeat(12),
} as const;

type Field = keyof typeof P;

function findAll(haystack: Buffer, needle: string): number[] {
  const bytes = Buffer.from(needle, 'latin1');
  const out: number[] = [];
  for (let at = haystack.indexOf(bytes); at >= 0; at = haystack.indexOf(bytes, at + bytes.length)) {
    out.push(at);
  }
  return out;
}

/** A generated instance whose placeholder fields can be overwritten in copies. */
export class Template {
  private readonly offsets = new Map<Field, number[]>();
  readonly pixelOffset: number;
  readonly pixelLength: number;

  constructor(
    readonly bytes: Buffer,
    fields: Field[],
    pixelLength: number,
  ) {
    for (const field of fields) {
      const at = findAll(bytes, P[field]);
      if (at.length === 0) throw new Error(`template: placeholder of ${field} not found`);
      this.offsets.set(field, at);
    }
    this.pixelLength = pixelLength;
    this.pixelOffset = bytes.length - pixelLength;
  }

  /** A copy with `values` written over the placeholders (space-padded) and `pixels` over the pixel data. */
  fill(values: Partial<Record<Field, string>>, pixels?: Buffer): Buffer {
    const out = Buffer.allocUnsafe(this.bytes.length);
    this.bytes.copy(out);
    for (const [field, value] of Object.entries(values) as [Field, string][]) {
      const width = P[field].length;
      if (value.length > width) throw new Error(`template: ${field} value "${value}" wider than ${width}`);
      const text = value.padEnd(width, ' ');
      for (const at of this.offsets.get(field) ?? []) out.write(text, at, 'latin1');
    }
    if (pixels) {
      if (pixels.length !== this.pixelLength) throw new Error('template: pixel data of another size');
      pixels.copy(out, this.pixelOffset);
    }
    return out;
  }
}

const STUDY_FIELDS: Field[] = [
  'study',
  'series',
  'sop',
  'patientName',
  'patientID',
  'birthDate',
  'sex',
  'studyDate',
  'studyTime',
  'accession',
  'modality',
  'description',
  'instanceNumber',
];

/**
 * The filler of index phases: one tiny-pixel (4x4) instance per study, with the attributes of
 * `studyAttributes(index)`.
 */
export class TinyStudies {
  private readonly template: Template;

  constructor(private readonly uids: UidSource) {
    const image: ImageSpec = { rows: 4, columns: 4 };
    const built = buildInstance({
      sopClassUID: SopClassUid.SecondaryCapture,
      studyInstanceUID: P.study,
      seriesInstanceUID: P.series,
      sopInstanceUID: P.sop,
      patientName: P.patientName,
      patientID: P.patientID,
      patientBirthDate: P.birthDate,
      patientSex: P.sex,
      studyDate: P.studyDate,
      studyTime: P.studyTime,
      accessionNumber: P.accession,
      modality: P.modality,
      studyDescription: P.description,
      instanceNumber: P.instanceNumber as unknown as number,
      referringPhysicianName: 'REFERRER^ANNE',
      image,
    });
    this.template = new Template(built.bytes, STUDY_FIELDS, 32);
  }

  /** UIDs use counter `index` in their own kinds, so they never meet other instances of the run. */
  instance(index: number): { bytes: Buffer; study: string; sop: string } {
    const a = studyAttributes(index);
    const study = this.uids.uid(5, index);
    const sop = this.uids.uid(7, index);
    const bytes = this.template.fill({
      study,
      series: this.uids.uid(6, index),
      sop,
      patientName: a.patientName,
      patientID: a.patientID,
      birthDate: a.patientBirthDate,
      sex: a.patientSex,
      studyDate: a.studyDate,
      studyTime: a.studyTime,
      accession: a.accessionNumber,
      modality: a.modality,
      description: a.studyDescription,
      instanceNumber: '1',
    });
    return { bytes, study, sop };
  }
}

/** Extra attributes of a CT slice that a real scanner writes and viewers read. */
function ctExtras(): ExtraElement[] {
  return [
    { tag: 0x00080070, vr: 'LO', value: 'BENCH MEDICAL' },
    { tag: 0x00081090, vr: 'LO', value: 'SYNTHETIC CT 64' },
    { tag: 0x00180015, vr: 'CS', value: 'CHEST' },
    { tag: 0x00180050, vr: 'DS', value: '1.25' },
    { tag: 0x00180060, vr: 'DS', value: '120' },
    { tag: 0x00181151, vr: 'IS', value: '250' },
    { tag: 0x00181210, vr: 'SH', value: 'STANDARD' },
    { tag: 0x00185100, vr: 'CS', value: 'HFS' },
    { tag: 0x00200012, vr: 'IS', value: '1' },
    { tag: 0x00200032, vr: 'DS', value: P.position },
    { tag: 0x00200037, vr: 'DS', value: '1\\0\\0\\0\\1\\0' },
    { tag: 0x00200052, vr: 'UI', value: P.frameOfReference },
    { tag: 0x00201040, vr: 'LO', value: '' },
    { tag: 0x00201041, vr: 'DS', value: P.sliceLocation },
    { tag: 0x00280030, vr: 'DS', value: '0.703125\\0.703125' },
  ];
}

export interface CtSeries {
  study: string;
  series: string;
  instances: { sop: string; bytes: () => Buffer }[];
  /** Bytes of one instance (all the same size). */
  instanceBytes: number;
}

/**
 * CT series of `rows` x `columns` 16-bit slices (12 bits stored, rescale -1024, window 40/400) with the
 * generator's gradient pattern, 16 different pixel variants. Instances are built on demand, so a
 * 1 GB corpus never sits in memory at once.
 */
export class CtFactory {
  private readonly template: Template;
  private readonly variants: Buffer[];

  constructor(
    private readonly uids: UidSource,
    readonly rows = 512,
    readonly columns = 512,
  ) {
    const image: ImageSpec = {
      rows,
      columns,
      bitsStored: 12,
      rescaleIntercept: -1024,
      rescaleSlope: 1,
      windowCenter: 40,
      windowWidth: 400,
    };
    const built = buildInstance({
      sopClassUID: SopClassUid.CTImage,
      studyInstanceUID: P.study,
      seriesInstanceUID: P.series,
      sopInstanceUID: P.sop,
      patientName: P.patientName,
      patientID: P.patientID,
      patientBirthDate: '19561107',
      patientSex: 'F',
      studyDate: '20240312',
      studyTime: '093000',
      accessionNumber: P.accession,
      modality: 'CT',
      studyDescription: 'CT CHEST ABD PELVIS',
      seriesDescription: 'AXIAL 1.25 STANDARD',
      instanceNumber: P.instanceNumber as unknown as number,
      referringPhysicianName: 'REFERRER^ANNE',
      image,
      extra: ctExtras(),
    });
    const pixelLength = rows * columns * 2;
    this.template = new Template(
      built.bytes,
      ['study', 'series', 'sop', 'frameOfReference', 'patientName', 'patientID', 'accession'].concat([
        'instanceNumber',
        'position',
        'sliceLocation',
      ]) as Field[],
      pixelLength,
    );
    this.variants = Array.from({ length: 16 }, (_, seed) => generateFrame({ ...image, seed }, 0));
  }

  get instanceBytes(): number {
    return this.template.bytes.length;
  }

  /** A study of `seriesSizes.length` series; every instance is built when `bytes()` is called. */
  study(seriesSizes: number[], patient = 'BENCH^CT PATIENT'): CtSeries[] {
    const id = this.uids.nextStudy();
    const study = this.uids.uid(UidKind.Study, id);
    const frameOfReference = this.uids.uid(UidKind.FrameOfReference, id);
    let n = 0;
    return seriesSizes.map((size, s) => {
      const series = this.uids.uid(UidKind.Series, id * 100 + s);
      const instances = Array.from({ length: size }, (_, i) => {
        const counter = id * 1_000_000 + n++;
        const sop = this.uids.uid(UidKind.Instance, counter);
        const z = (-i * 1.25).toFixed(2);
        return {
          sop,
          bytes: () =>
            this.template.fill(
              {
                study,
                series,
                sop,
                frameOfReference,
                patientName: patient,
                patientID: `CT${String(id).padStart(8, '0')}`,
                accession: `C${String(id).padStart(9, '0')}`,
                instanceNumber: String(i + 1),
                position: `-180\\-180\\${z}`,
                sliceLocation: z,
              },
              this.variants[(i * 7 + s) % this.variants.length],
            ),
        };
      });
      return { study, series, instances, instanceBytes: this.template.bytes.length };
    });
  }
}
