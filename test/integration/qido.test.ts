/**
 * QIDO-RS over real HTTP against a real gateway, data seeded through STOW: every level and nesting,
 * matching per PS3.4 C.2.2.2 and PS3.18 8.3.4, the required return attributes, paging and warnings,
 * errors, and SQL metacharacters in every kind of parameter.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { buildInstance, newUid, SopClassUid, type InstanceSpec } from '../helpers/dicom-generator.js';
import { stow, value, type DicomJson } from '../helpers/dicomweb-client.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

// ---------------------------------------------------------------------------------------------------------
// HTTP helpers

interface Answer {
  status: number;
  contentType: string | null;
  warning: string | null;
  body: unknown;
}

async function get(url: string): Promise<Answer> {
  const response = await fetch(url, { headers: { accept: 'application/dicom+json' } });
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    warning: response.headers.get('warning'),
    body: text ? JSON.parse(text) : undefined,
  };
}

/** A successful search: 200, application/dicom+json, an array. */
async function search(url: string): Promise<DicomJson[]> {
  const answer = await get(url);
  assert.equal(answer.status, 200, `${url}: ${JSON.stringify(answer.body)}`);
  assert.match(answer.contentType ?? '', /^application\/dicom\+json/);
  assert.ok(Array.isArray(answer.body), url);
  return answer.body as DicomJson[];
}

/** A 400 whose message names what was wrong. */
async function rejected(url: string, ...fragments: string[]): Promise<void> {
  const answer = await get(url);
  assert.equal(answer.status, 400, `${url} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  const message = String((answer.body as { message?: unknown } | undefined)?.message);
  for (const fragment of fragments)
    assert.ok(message.includes(fragment), `${url}: "${message}" lacks "${fragment}"`);
}

/** The values of one attribute over the results, sorted: the exact set a query matched. */
const valuesOf = (results: DicomJson[], tag: string): unknown[] => results.map((r) => value(r, tag)).sort();
const studiesOf = (results: DicomJson[]): unknown[] => valuesOf(results, '0020000D');
const sorted = (...uids: string[]): string[] => [...uids].sort();

/** Query string from pairs, every key and value percent-encoded as UTF-8. */
const qs = (...pairs: [string, string][]): string =>
  pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');

/** A GET whose request target carries raw (not percent-encoded) UTF-8 bytes, as curl sends them. */
function getRaw(base: string, pathAndQuery: string): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  // Node writes the request line as Latin-1: one character per byte gives the raw UTF-8 bytes.
  const path = Buffer.from(url.pathname + pathAndQuery, 'utf8').toString('latin1');
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: 'GET', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function seed(gateway: TestGateway, specs: InstanceSpec[]): Promise<void> {
  const { status, json } = await stow(
    gateway.dicomweb,
    specs.map((spec) => buildInstance(spec).bytes),
  );
  assert.equal(status, 200, JSON.stringify(json));
}

// ---------------------------------------------------------------------------------------------------------
// Required return attributes (PS3.18 Tables 10.6.3-3/4/5 as the issue lists them)

// prettier-ignore
const STUDY_KEYS = [
  '00080005', '00080020', '00080030', '00080050', '00080056', '00080061', '00080090', '00080201',
  '00081030', '00081190', '00100010', '00100020', '00100030', '00100040', '0020000D', '00200010',
  '00201206', '00201208',
];
// prettier-ignore
const SERIES_KEYS = [
  '00080060', '0008103E', '0020000E', '00200011', '00201209', '00080021', '00080031', '00400244',
  '00400245', '00081190',
];
// prettier-ignore
const INSTANCE_KEYS = [
  '00080016', '00080018', '00080056', '00081190', '00200013', '00280010', '00280011', '00280100',
  '00280008',
];
/**
 * Returned beyond the issue's lists: Request Attributes Sequence for series and Available Transfer
 * Syntax UID for instances (the gateway's catalog defaults; PS3.18 lets a response carry more).
 */
const SERIES_EXTRA = ['00400275'];
const INSTANCE_EXTRA = ['00083002'];

const keySet = (...lists: string[][]): string[] => [...new Set(lists.flat())].sort();
/** Every result carries exactly these keys, in ascending tag order. */
function assertKeys(results: DicomJson[], expected: string[]): void {
  assert.ok(results.length > 0);
  for (const result of results) assert.deepEqual(Object.keys(result), expected);
}

// ---------------------------------------------------------------------------------------------------------
// The shared data set

const S = {
  doe: newUid(),
  dae: newUid(),
  mueller: newUid(),
  yamada: newUid(),
  obrien: newUid(),
  bracket: newUid(),
  srOnly: newUid(),
  latin1: newUid(),
};
const SE = {
  doe1: newUid(),
  doe2: newUid(),
  dae1: newUid(),
  daeSr: newUid(),
  srOnly: newUid(),
};
const SOP = { doe1a: newUid(), doe1b: newUid(), doe2a: newUid() };

/** The text fields of the studies above, for computing what a pattern must match. */
interface StudyText {
  uid: string;
  PatientID: string;
  PatientName: string;
  AccessionNumber: string;
  StudyDescription: string;
  ReferringPhysicianName: string;
}
// prettier-ignore
const TEXT: StudyText[] = [
  { uid: S.doe, PatientID: 'P-DOE', PatientName: 'Doe^John', AccessionNumber: 'AC100', StudyDescription: 'CT Thorax', ReferringPhysicianName: 'House^Gregory' },
  { uid: S.dae, PatientID: 'P-DAE', PatientName: 'Dae^Jane', AccessionNumber: 'AC200', StudyDescription: 'CT Abdomen', ReferringPhysicianName: '' },
  { uid: S.mueller, PatientID: 'P-MUE', PatientName: 'Müller^Jürgen', AccessionNumber: 'AB1', StudyDescription: 'Schädel', ReferringPhysicianName: 'Ärzt^Ölaf' },
  { uid: S.yamada, PatientID: 'P-YAM', PatientName: 'Yamada^Tarou=山田^太郎=やまだ^たろう', AccessionNumber: 'A%1', StudyDescription: 'Head', ReferringPhysicianName: '' },
  { uid: S.obrien, PatientID: "P-O'B", PatientName: "O'Brien^Sean", AccessionNumber: 'A_1', StudyDescription: 'Head; DROP TABLE studies; --', ReferringPhysicianName: '' },
  { uid: S.bracket, PatientID: 'P-[BRK]', PatientName: 'Bracket^Ben', AccessionNumber: '[AB]1', StudyDescription: 'say "hi" 50% off', ReferringPhysicianName: '' },
  { uid: S.srOnly, PatientID: 'P-SR', PatientName: 'Report^Only', AccessionNumber: 'SR1', StudyDescription: 'Report', ReferringPhysicianName: '' },
  { uid: S.latin1, PatientID: 'P-LAT', PatientName: 'Groß^Ärmin', AccessionNumber: 'LAT1', StudyDescription: 'Knie', ReferringPhysicianName: '' },
];

/** Studies for date and time matching, all of patient DT: [label, date, time]. */
const DT = [
  ['dt1', '20231231', '230000'],
  ['dt2', '20240101', '215959'],
  ['dt3', '20240101', '220000'],
  ['dt4', '20240101', '233000'],
  ['dt5', '20240102', '010000'],
  ['dt6', '20240102', '020030'],
  ['dt7', '20240102', '020100'],
  ['dt8', '20240102', '100000'],
  ['dt9', '20240103', '000000'],
].map(([label, date, time]) => ({ label: label!, date: date!, time: time!, uid: newUid() }));

function fixtureSpecs(): InstanceSpec[] {
  const base = (t: StudyText): InstanceSpec => ({
    studyInstanceUID: t.uid,
    patientID: t.PatientID,
    patientName: t.PatientName,
    accessionNumber: t.AccessionNumber,
    studyDescription: t.StudyDescription,
    referringPhysicianName: t.ReferringPhysicianName,
    specificCharacterSet: 'ISO_IR 192',
    studyDate: '20230601',
    studyTime: '083000',
  });
  // prettier-ignore
  const [doe, dae, mueller, yamada, obrien, bracket, srOnly, latin1] = TEXT as [
    StudyText, StudyText, StudyText, StudyText, StudyText, StudyText, StudyText, StudyText,
  ];
  return [
    // The first instance of the first series: what non-catalog includefields are read from.
    {
      ...base(doe),
      seriesInstanceUID: SE.doe1,
      sopInstanceUID: SOP.doe1a,
      seriesNumber: 1,
      instanceNumber: 1,
      extra: [
        { tag: 0x00180050, vr: 'DS', value: '2.5' },
        { tag: 0x00081010, vr: 'SH', value: 'CT01' },
      ],
    },
    {
      ...base(doe),
      seriesInstanceUID: SE.doe1,
      sopInstanceUID: SOP.doe1b,
      seriesNumber: 1,
      instanceNumber: 2,
      extra: [{ tag: 0x00180050, vr: 'DS', value: '5' }],
    },
    {
      ...base(doe),
      seriesInstanceUID: SE.doe2,
      sopInstanceUID: SOP.doe2a,
      seriesNumber: 2,
      instanceNumber: 1,
      image: { rows: 8, columns: 8, frames: 2 },
    },
    { ...base(dae), studyDate: '20230602', seriesInstanceUID: SE.dae1, seriesNumber: 1 },
    { ...base(dae), studyDate: '20230602', seriesInstanceUID: SE.daeSr, seriesNumber: 2, image: false },
    { ...base(mueller), sopClassUID: SopClassUid.MRImage },
    base(yamada),
    base(obrien),
    { ...base(bracket), extra: [{ tag: 0x00080201, vr: 'SH', value: '+0100' }] },
    { ...base(srOnly), seriesInstanceUID: SE.srOnly, image: false },
    { ...base(latin1), specificCharacterSet: 'ISO_IR 100' },
    ...DT.map((d, i): InstanceSpec => ({
      studyInstanceUID: d.uid,
      patientID: 'DT',
      patientName: 'Time^Tina',
      accessionNumber: `DT${i + 1}`,
      studyDate: d.date,
      studyTime: d.time,
    })),
  ];
}

const dt = (...labels: string[]): string[] =>
  sorted(...labels.map((l) => DT.find((d) => d.label === l)!.uid));

// ---------------------------------------------------------------------------------------------------------

describe('QIDO-RS', () => {
  let gateway: TestGateway;
  let base: string;
  before(async () => {
    gateway = await startTestGateway();
    base = gateway.dicomweb;
    await seed(gateway, fixtureSpecs());
  });
  after(() => gateway.stop());

  describe('levels and nesting', () => {
    test('/studies', async () => {
      assert.deepEqual(studiesOf(await search(`${base}/studies?StudyInstanceUID=${S.doe}`)), [S.doe]);
    });

    test('/series and /studies/{s}/series, in series number order', async () => {
      const all = await search(`${base}/series?StudyInstanceUID=${S.doe}`);
      assert.deepEqual(
        all.map((r) => value(r, '0020000E')),
        [SE.doe1, SE.doe2],
      );
      const nested = await search(`${base}/studies/${S.doe}/series`);
      assert.deepEqual(
        nested.map((r) => value(r, '0020000E')),
        [SE.doe1, SE.doe2],
      );
      const numbered = await search(`${base}/studies/${S.doe}/series?SeriesNumber=2`);
      assert.deepEqual(valuesOf(numbered, '0020000E'), [SE.doe2]);
    });

    test('/instances, /studies/{s}/instances and /studies/{s}/series/{se}/instances', async () => {
      const everyDoe = [SOP.doe1a, SOP.doe1b, SOP.doe2a];
      const all = await search(`${base}/instances?StudyInstanceUID=${S.doe}`);
      assert.deepEqual(
        all.map((r) => value(r, '00080018')),
        everyDoe,
      );
      const inStudy = await search(`${base}/studies/${S.doe}/instances`);
      assert.deepEqual(
        inStudy.map((r) => value(r, '00080018')),
        everyDoe,
      );
      const inSeries = await search(`${base}/studies/${S.doe}/series/${SE.doe1}/instances`);
      assert.deepEqual(
        inSeries.map((r) => value(r, '00080018')),
        [SOP.doe1a, SOP.doe1b],
      );
      const second = await search(`${base}/studies/${S.doe}/series/${SE.doe1}/instances?InstanceNumber=2`);
      assert.deepEqual(valuesOf(second, '00080018'), [SOP.doe1b]);
    });

    test('patient and study keys match at lower levels', async () => {
      const series = await search(`${base}/series?PatientID=P-DOE`);
      assert.deepEqual(valuesOf(series, '0020000E'), sorted(SE.doe1, SE.doe2));
      const instances = await search(`${base}/instances?AccessionNumber=AC100&Modality=CT`);
      assert.deepEqual(valuesOf(instances, '00080018'), sorted(SOP.doe1a, SOP.doe1b, SOP.doe2a));
    });

    test('a path scope that matches nothing is 200 []; a malformed path UID is 400', async () => {
      assert.deepEqual(await search(`${base}/studies/${S.dae}/series/${SE.doe1}/instances`), []);
      assert.deepEqual(await search(`${base}/studies/${newUid()}/series`), []);
      await rejected(`${base}/studies/not-a-uid/series`, 'study UID', 'not-a-uid');
      await rejected(`${base}/studies/${S.doe}/series/1.2.x/instances`, 'series UID');
    });
  });

  describe('matching', () => {
    test('single value matching', async () => {
      assert.deepEqual(studiesOf(await search(`${base}/studies?PatientID=P-DOE`)), [S.doe]);
      assert.deepEqual(studiesOf(await search(`${base}/studies?AccessionNumber=AC200`)), [S.dae]);
      assert.deepEqual(studiesOf(await search(`${base}/studies?PatientName=doe%5Ejohn`)), [S.doe]);
      // Single value matching is whole-value: a family name alone is not the name.
      assert.deepEqual(await search(`${base}/studies?PatientName=Doe`), []);
      assert.deepEqual(await search(`${base}/studies?PatientID=P-DO`), []);
      const sr = await search(`${base}/instances?SOPClassUID=${SopClassUid.BasicTextSR}&PatientID=P-DAE`);
      assert.deepEqual(valuesOf(sr, '0020000E'), [SE.daeSr]);
      assert.deepEqual(valuesOf(await search(`${base}/series?Modality=MR`), '0020000D'), [S.mueller]);
    });

    test('universal matching: an empty value returns the attribute and matches everything', async () => {
      const all = studiesOf(await search(`${base}/studies`));
      assert.ok(all.length >= TEXT.length + DT.length);
      for (const { uid } of [...TEXT, ...DT]) assert.ok(all.includes(uid), uid);
      const universal = await search(`${base}/studies?PatientName=&AccessionNumber=*&StudyDate=`);
      assert.deepEqual(studiesOf(universal), all);
      const series = await search(`${base}/studies/${S.doe}/series?BodyPartExamined=`);
      assert.deepEqual(valuesOf(series, '0020000E'), sorted(SE.doe1, SE.doe2));
      // The universal key is returned even where the level's defaults lack it.
      for (const result of series) assert.deepEqual(result['00180015'], { vr: 'CS' });
    });

    test('wildcards * and ? on person names, case-insensitively', async () => {
      assert.deepEqual(studiesOf(await search(`${base}/studies?PatientName=*doe*`)), [S.doe]);
      assert.deepEqual(studiesOf(await search(`${base}/studies?PatientName=D?E^*`)), sorted(S.doe, S.dae));
      assert.deepEqual(
        studiesOf(await search(`${base}/studies?PatientName=d%3Fe%5E*`)),
        sorted(S.doe, S.dae),
      );
      assert.deepEqual(
        studiesOf(await search(`${base}/studies?PatientName=*^J*`)),
        sorted(S.doe, S.dae, S.mueller),
      );
      assert.deepEqual(studiesOf(await search(`${base}/studies?ReferringPhysicianName=hou*`)), [S.doe]);
      // ? is exactly one character.
      assert.deepEqual(await search(`${base}/studies?PatientName=D??E^*`), []);
    });

    test('wildcards on other text: * and ? only, everything else literal', async () => {
      const accession = async (pattern: string) =>
        studiesOf(await search(`${base}/studies?${qs(['AccessionNumber', pattern])}`));
      assert.deepEqual(await accession('AC*'), sorted(S.doe, S.dae));
      assert.deepEqual(await accession('A?1'), sorted(S.mueller, S.yamada, S.obrien));
      assert.deepEqual(await accession('A%'), []); // % is no wildcard: AB1 is not matched
      assert.deepEqual(await accession('A%1'), [S.yamada]);
      assert.deepEqual(await accession('A_1'), [S.obrien]); // _ is no wildcard either
      assert.deepEqual(await accession('*%*'), [S.yamada]);
      assert.deepEqual(await accession('*_*'), [S.obrien]);
      assert.deepEqual(await accession('[AB]*'), [S.bracket]); // [ is literal, not a character class
      assert.deepEqual(await accession('[AB]1'), [S.bracket]);
      assert.deepEqual(await accession('*]*'), [S.bracket]);
      assert.deepEqual(await accession('[A-Z]*'), []);
      assert.deepEqual(await accession('ac*'), []); // case-sensitive outside person names
      const description = await search(`${base}/studies?${qs(['StudyDescription', 'Head*'])}`);
      assert.deepEqual(studiesOf(description), sorted(S.yamada, S.obrien));
    });

    test('"+" is a plus sign, not a space (time zone offsets)', async () => {
      assert.deepEqual(studiesOf(await search(`${base}/studies?TimezoneOffsetFromUTC=+0100`)), [S.bracket]);
      assert.deepEqual(studiesOf(await search(`${base}/studies?TimezoneOffsetFromUTC=%2B0100`)), [S.bracket]);
      const [bracket] = await search(`${base}/studies?StudyInstanceUID=${S.bracket}`);
      assert.deepEqual(bracket?.['00080201'], { vr: 'SH', Value: ['+0100'] });
    });

    test('numbers: single values and lists', async () => {
      const series = async (query: string) =>
        (await search(`${base}/studies/${S.doe}/series?${query}`)).map((r) => value(r, '0020000E'));
      assert.deepEqual(await series('SeriesNumber=2'), [SE.doe2]);
      assert.deepEqual(await series('SeriesNumber=02'), [SE.doe2]);
      assert.deepEqual(await series('SeriesNumber=1\\2'), [SE.doe1, SE.doe2]);
      assert.deepEqual(await series('00200011=3,1'), [SE.doe1]);
      assert.deepEqual(await series('SeriesNumber=3'), []);
      const frames = await search(`${base}/instances?PatientID=P-DOE&NumberOfFrames=2`);
      assert.deepEqual(valuesOf(frames, '00080018'), [SOP.doe2a]);
    });

    test('UID list matching: backslash- or comma-separated, encoded or not', async () => {
      const both = sorted(S.doe, S.dae);
      assert.deepEqual(studiesOf(await search(`${base}/studies?StudyInstanceUID=${S.doe},${S.dae}`)), both);
      assert.deepEqual(studiesOf(await search(`${base}/studies?StudyInstanceUID=${S.doe}%2C${S.dae}`)), both);
      assert.deepEqual(studiesOf(await search(`${base}/studies?StudyInstanceUID=${S.doe}\\${S.dae}`)), both);
      assert.deepEqual(studiesOf(await search(`${base}/studies?StudyInstanceUID=${S.doe}%5C${S.dae}`)), both);
      const series = await search(`${base}/series?SeriesInstanceUID=${SE.doe2},${SE.daeSr},${newUid()}`);
      assert.deepEqual(valuesOf(series, '0020000E'), sorted(SE.doe2, SE.daeSr));
      const instances = await search(
        `${base}/studies/${S.doe}/series/${SE.doe1}/instances?SOPInstanceUID=${SOP.doe1b}\\${SOP.doe2a}`,
      );
      assert.deepEqual(valuesOf(instances, '00080018'), [SOP.doe1b]);
    });

    test('attributes by hex tag, as OHIF sends them', async () => {
      assert.deepEqual(studiesOf(await search(`${base}/studies?00100020=P-DOE`)), [S.doe]);
      assert.deepEqual(studiesOf(await search(`${base}/studies?0020000d=${S.dae}`)), [S.dae]);
      assert.deepEqual(studiesOf(await search(`${base}/studies?00100010=doe*&00080050=AC*`)), [S.doe]);
      // Even the key may arrive percent-encoded.
      assert.deepEqual(studiesOf(await search(`${base}/studies?%30%30100020=P-DOE`)), [S.doe]);
    });

    test('values are percent-decoded as UTF-8', async () => {
      assert.deepEqual(studiesOf(await search(`${base}/studies?PatientName=Doe%5EJohn`)), [S.doe]);
      assert.deepEqual(studiesOf(await search(`${base}/studies?PatientName=M%C3%BCller%5EJ%C3%BCrgen`)), [
        S.mueller,
      ]);
      assert.deepEqual(studiesOf(await search(`${base}/studies?ReferringPhysicianName=%C3%84rzt*`)), [
        S.mueller,
      ]);
      assert.deepEqual(studiesOf(await search(`${base}/studies?StudyDescription=Sch%C3%A4del`)), [S.mueller]);
      // Stored as ISO_IR 100 (Latin-1), asked for in UTF-8.
      assert.deepEqual(studiesOf(await search(`${base}/studies?PatientName=Gro%C3%9F*`)), [S.latin1]);
      assert.deepEqual(studiesOf(await search(`${base}/studies?PatientName=*%C3%A4rmin`)), [S.latin1]);
      // fetch encodes non-ASCII itself: the same as percent-encoding by hand.
      assert.deepEqual(studiesOf(await search(`${base}/studies?PatientName=müller*`)), [S.mueller]);
      await rejected(`${base}/studies?PatientName=%E0%A4%A`, 'percent-encoding');
    });

    test('raw UTF-8 bytes in the request target: never a 500 or a wrong match', async () => {
      const { status, body } = await getRaw(base, '/studies?PatientName=Müller*');
      assert.ok(status === 200 || status === 400, `${status} ${body}`);
      if (status === 200) assert.deepEqual(studiesOf(JSON.parse(body) as DicomJson[]), [S.mueller]);
    });

    test('raw UTF-8 bytes in the request target get a clear 400, never a wrong answer', async () => {
      // Node's HTTP parser (llhttp 9, nodejs/llhttp#259) refuses bytes over 0x7F in the request target
      // before the gateway sees the request, even with insecureHTTPParser. Browsers percent-encode them;
      // the README shows curl's -G --data-urlencode. Raw ASCII reserved characters (^ , *) do work.
      for (const path of ['/studies?PatientName=Müller*', '/studies?PatientName=山田*']) {
        const { status } = await getRaw(base, path);
        assert.equal(status, 400, path);
      }
      const { status, body } = await getRaw(base, '/studies?PatientName=M*ller^J*');
      assert.equal(status, 200, body);
      assert.deepEqual(studiesOf(JSON.parse(body) as DicomJson[]), [S.mueller]);
    });

    test('person names match every component group: alphabetic, ideographic, phonetic', async () => {
      for (const pattern of ['山田*', 'yamada*', 'YAMADA^TAROU', 'やまだ^たろう', '*太郎', 'やま?^*']) {
        const results = await search(`${base}/studies?${qs(['PatientName', pattern])}`);
        assert.deepEqual(studiesOf(results), [S.yamada], pattern);
      }
      const [yamada] = await search(`${base}/studies?StudyInstanceUID=${S.yamada}`);
      assert.deepEqual(yamada?.['00100010'], {
        vr: 'PN',
        Value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }],
      });
    });

    test('fuzzymatching=true: any component prefix, ignoring case and accents', async () => {
      const fuzzy = async (name: string) =>
        studiesOf(await search(`${base}/studies?fuzzymatching=true&${qs(['PatientName', name])}`));
      assert.deepEqual(await fuzzy('jurg'), [S.mueller]);
      assert.deepEqual(await fuzzy('JÜRG'), [S.mueller]);
      assert.deepEqual(await fuzzy('mull'), [S.mueller]);
      assert.deepEqual(await fuzzy('jurgen muller'), [S.mueller]);
      assert.deepEqual(await fuzzy('j?rg'), [S.mueller]); // wildcards keep working under fuzzy matching
      assert.deepEqual(await fuzzy('armin'), [S.latin1]);
      assert.deepEqual(await fuzzy('tar'), [S.yamada]);
      assert.deepEqual(await fuzzy('j'), sorted(S.doe, S.dae, S.mueller));
      assert.deepEqual(await fuzzy('urgen'), []); // a prefix, not any substring
      const referring = await search(`${base}/studies?fuzzymatching=true&ReferringPhysicianName=olaf`);
      assert.deepEqual(studiesOf(referring), [S.mueller]);
      // Without fuzzy matching, the same values are literal.
      assert.deepEqual(await search(`${base}/studies?PatientName=jurg`), []);
      assert.deepEqual(await search(`${base}/studies?fuzzymatching=false&PatientName=jurg`), []);
    });

    test('ModalitiesInStudy: single values, lists, wildcards; from every series, SR included', async () => {
      const four = `StudyInstanceUID=${S.doe},${S.dae},${S.mueller},${S.srOnly}`;
      const modalities = async (query: string) => studiesOf(await search(`${base}/studies?${four}&${query}`));
      assert.deepEqual(await modalities('ModalitiesInStudy=CT'), sorted(S.doe, S.dae));
      assert.deepEqual(await modalities('ModalitiesInStudy=CT%5CMR'), sorted(S.doe, S.dae, S.mueller));
      assert.deepEqual(await modalities('ModalitiesInStudy=CT\\MR'), sorted(S.doe, S.dae, S.mueller));
      assert.deepEqual(await modalities('00080061=MR,SR'), sorted(S.dae, S.mueller, S.srOnly));
      assert.deepEqual(await modalities('ModalitiesInStudy=SR'), sorted(S.dae, S.srOnly));
      assert.deepEqual(await modalities('ModalitiesInStudy=M?'), [S.mueller]);
      assert.deepEqual(await modalities('ModalitiesInStudy=*R'), sorted(S.dae, S.mueller, S.srOnly));
      assert.deepEqual(await modalities('ModalitiesInStudy=US'), []);

      const returned = await search(`${base}/studies?${four}`);
      const byStudy = new Map(returned.map((r) => [value(r, '0020000D'), r['00080061']]));
      assert.deepEqual(byStudy.get(S.doe), { vr: 'CS', Value: ['CT'] });
      assert.deepEqual(byStudy.get(S.dae), { vr: 'CS', Value: ['CT', 'SR'] });
      assert.deepEqual(byStudy.get(S.mueller), { vr: 'CS', Value: ['MR'] });
      assert.deepEqual(byStudy.get(S.srOnly), { vr: 'CS', Value: ['SR'] });

      // At the series level: every series of the matching studies.
      const series = await search(`${base}/series?${four}&ModalitiesInStudy=SR`);
      assert.deepEqual(valuesOf(series, '0020000E'), sorted(SE.dae1, SE.daeSr, SE.srOnly));
    });
  });

  describe('date and time matching', () => {
    const studies = async (query: string) => studiesOf(await search(`${base}/studies?PatientID=DT&${query}`));

    test('DA: single dates, closed and open ranges, YYYY.MM.DD', async () => {
      assert.deepEqual(await studies('StudyDate=20240101'), dt('dt2', 'dt3', 'dt4'));
      assert.deepEqual(await studies('StudyDate=2024.01.01'), dt('dt2', 'dt3', 'dt4'));
      assert.deepEqual(
        await studies('StudyDate=20240101-20240102'),
        dt('dt2', 'dt3', 'dt4', 'dt5', 'dt6', 'dt7', 'dt8'),
      );
      assert.deepEqual(await studies('StudyDate=-20240101'), dt('dt1', 'dt2', 'dt3', 'dt4'));
      assert.deepEqual(await studies('StudyDate=20240102-'), dt('dt5', 'dt6', 'dt7', 'dt8', 'dt9'));
      assert.deepEqual(await studies('StudyDate=20240104-'), []);
      const series = await search(`${base}/series?PatientID=DT&SeriesDate=20240103`);
      assert.deepEqual(valuesOf(series, '0020000D'), dt('dt9'));
    });

    test('TM: partial times span their whole hour or minute; ranges within a day', async () => {
      assert.deepEqual(await studies('StudyTime=23'), dt('dt1', 'dt4'));
      assert.deepEqual(await studies('StudyTime=0200'), dt('dt6'));
      assert.deepEqual(await studies('StudyTime=02:00:30'), dt('dt6'));
      assert.deepEqual(await studies('StudyTime=22-23'), dt('dt1', 'dt3', 'dt4'));
      assert.deepEqual(await studies('StudyTime=-0100'), dt('dt5', 'dt9'));
      assert.deepEqual(await studies('StudyTime=2300-'), dt('dt1', 'dt4'));
      assert.deepEqual(await studies('StudyTime=215959-220000'), dt('dt2', 'dt3'));
    });

    test('StudyDate and StudyTime ranges of the same form are one combined date-time range', async () => {
      // 2024-01-01 22:00 to 2024-01-02 02:00 (PS3.4 C.2.2.2.5), not 22:00-02:00 on each day.
      assert.deepEqual(
        await studies('StudyDate=20240101-20240102&StudyTime=2200-0200'),
        dt('dt3', 'dt4', 'dt5', 'dt6'),
      );
      assert.deepEqual(await studies('StudyDate=-20240101&StudyTime=-2200'), dt('dt1', 'dt2', 'dt3'));
      assert.deepEqual(await studies('StudyDate=20240102-&StudyTime=0200-'), dt('dt6', 'dt7', 'dt8', 'dt9'));
      assert.deepEqual(
        await studies('00080020=20240101-20240102&00080030=2200-0200'),
        dt('dt3', 'dt4', 'dt5', 'dt6'),
      );
    });

    test('StudyDate and StudyTime of different forms match each on its own', async () => {
      assert.deepEqual(await studies('StudyDate=20240101-20240102&StudyTime=-0200'), dt('dt5', 'dt6'));
      assert.deepEqual(await studies('StudyDate=20240101-20240102&StudyTime=1000'), dt('dt8'));
      assert.deepEqual(await studies('StudyDate=20240101&StudyTime=2200-2330'), dt('dt3', 'dt4'));
      assert.deepEqual(await studies('StudyDate=20240102&StudyTime=02'), dt('dt6', 'dt7'));
    });

    test('malformed dates and times, and ranges backwards, are 400s', async () => {
      await rejected(`${base}/studies?StudyDate=2024-13`, 'StudyDate', '2024-13');
      await rejected(`${base}/studies?StudyDate=20241301`, 'StudyDate');
      await rejected(`${base}/studies?StudyDate=20240102-20240101`, 'StudyDate', 'start lies after its end');
      await rejected(`${base}/studies?StudyTime=2500`, 'StudyTime');
      await rejected(`${base}/studies?StudyTime=2200-0200`, 'StudyTime', 'start lies after its end');
      await rejected(`${base}/studies?PatientBirthDate=yesterday`, 'PatientBirthDate');
      await rejected(`${base}/series?SeriesTime=-`, 'SeriesTime');
    });
  });

  describe('returned attributes', () => {
    test('study: exactly the required attributes, with their values and JSON types', async () => {
      const results = await search(`${base}/studies?StudyInstanceUID=${S.doe}`);
      assertKeys(results, keySet(STUDY_KEYS));
      assert.deepEqual(results[0], {
        '00080005': { vr: 'CS', Value: ['ISO_IR 192'] },
        '00080020': { vr: 'DA', Value: ['20230601'] },
        '00080030': { vr: 'TM', Value: ['083000'] },
        '00080050': { vr: 'SH', Value: ['AC100'] },
        '00080056': { vr: 'CS', Value: ['ONLINE'] },
        '00080061': { vr: 'CS', Value: ['CT'] },
        '00080090': { vr: 'PN', Value: [{ Alphabetic: 'House^Gregory' }] },
        '00080201': { vr: 'SH' },
        '00081030': { vr: 'LO', Value: ['CT Thorax'] },
        '00081190': { vr: 'UR', Value: [`${base}/studies/${S.doe}`] },
        '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Doe^John' }] },
        '00100020': { vr: 'LO', Value: ['P-DOE'] },
        '00100030': { vr: 'DA', Value: ['19700101'] },
        '00100040': { vr: 'CS', Value: ['O'] },
        '0020000D': { vr: 'UI', Value: [S.doe] },
        '00200010': { vr: 'SH', Value: ['1'] },
        '00201206': { vr: 'IS', Value: [2] },
        '00201208': { vr: 'IS', Value: [3] },
      });
      // A study whose names are stored in Latin-1 still answers in UTF-8.
      const [latin1] = await search(`${base}/studies?StudyInstanceUID=${S.latin1}`);
      assert.deepEqual(latin1?.['00080005'], { vr: 'CS', Value: ['ISO_IR 192'] });
      assert.deepEqual(latin1?.['00100010'], { vr: 'PN', Value: [{ Alphabetic: 'Groß^Ärmin' }] });
    });

    test('series: the required attributes, plus the study attributes when searching all series', async () => {
      const nested = await search(`${base}/studies/${S.doe}/series`);
      assertKeys(nested, keySet(SERIES_KEYS, SERIES_EXTRA, ['0020000D', '00080005', '00080056']));
      assert.deepEqual(nested[0], {
        '00080005': { vr: 'CS', Value: ['ISO_IR 192'] },
        '00080021': { vr: 'DA', Value: ['20230601'] },
        '00080031': { vr: 'TM', Value: ['083000'] },
        '00080056': { vr: 'CS', Value: ['ONLINE'] },
        '00080060': { vr: 'CS', Value: ['CT'] },
        '0008103E': { vr: 'LO', Value: ['Generated test series'] },
        '00081190': { vr: 'UR', Value: [`${base}/studies/${S.doe}/series/${SE.doe1}`] },
        '0020000D': { vr: 'UI', Value: [S.doe] },
        '0020000E': { vr: 'UI', Value: [SE.doe1] },
        '00200011': { vr: 'IS', Value: [1] },
        '00201209': { vr: 'IS', Value: [2] },
        '00400244': { vr: 'DA' },
        '00400245': { vr: 'TM' },
        '00400275': { vr: 'SQ' },
      });
      const all = await search(`${base}/series?StudyInstanceUID=${S.doe}`);
      assertKeys(all, keySet(SERIES_KEYS, SERIES_EXTRA, STUDY_KEYS));
      // The RetrieveURL of a series row is the series', not the study's.
      assert.equal(value(all[1], '00081190'), `${base}/studies/${S.doe}/series/${SE.doe2}`);
      assert.deepEqual(all[1]?.['00201209'], { vr: 'IS', Value: [1] });
      assert.deepEqual(all[1]?.['00201208'], { vr: 'IS', Value: [3] });
    });

    test('instance: the required attributes, plus series (and study) attributes by scope', async () => {
      const inSeries = await search(`${base}/studies/${S.doe}/series/${SE.doe2}/instances`);
      assertKeys(inSeries, keySet(INSTANCE_KEYS, INSTANCE_EXTRA, ['0020000D', '0020000E', '00080005']));
      assert.deepEqual(inSeries[0], {
        '00080005': { vr: 'CS', Value: ['ISO_IR 192'] },
        '00080016': { vr: 'UI', Value: [SopClassUid.CTImage] },
        '00080018': { vr: 'UI', Value: [SOP.doe2a] },
        '00080056': { vr: 'CS', Value: ['ONLINE'] },
        '00081190': {
          vr: 'UR',
          Value: [`${base}/studies/${S.doe}/series/${SE.doe2}/instances/${SOP.doe2a}`],
        },
        '00083002': { vr: 'UI', Value: ['1.2.840.10008.1.2.1'] },
        '0020000D': { vr: 'UI', Value: [S.doe] },
        '0020000E': { vr: 'UI', Value: [SE.doe2] },
        '00200013': { vr: 'IS', Value: [1] },
        '00280008': { vr: 'IS', Value: [2] },
        '00280010': { vr: 'US', Value: [8] },
        '00280011': { vr: 'US', Value: [8] },
        '00280100': { vr: 'US', Value: [16] },
      });
      const inStudy = await search(`${base}/studies/${S.doe}/instances`);
      assertKeys(
        inStudy,
        keySet(INSTANCE_KEYS, INSTANCE_EXTRA, SERIES_KEYS, SERIES_EXTRA, ['0020000D', '00080005']),
      );
      const all = await search(`${base}/instances?StudyInstanceUID=${S.doe}`);
      assertKeys(all, keySet(INSTANCE_KEYS, INSTANCE_EXTRA, SERIES_KEYS, SERIES_EXTRA, STUDY_KEYS));
      // Single-frame images without Number of Frames: present, empty.
      assert.deepEqual(all[0]?.['00280008'], { vr: 'IS' });
      assert.deepEqual(all[0]?.['00280010'], { vr: 'US', Value: [16] });
      // An SR has no pixel attributes to report.
      const [sr] = await search(`${base}/studies/${S.srOnly}/instances`);
      assert.deepEqual(sr?.['00280010'], { vr: 'US' });
      assert.deepEqual(sr?.['00080016'], { vr: 'UI', Value: [SopClassUid.BasicTextSR] });
    });

    test('matching keys are returned too', async () => {
      const [study] = await search(
        `${base}/studies?StudyInstanceUID=${S.doe}&PatientSex=O&IssuerOfPatientID=`,
      );
      assert.deepEqual(Object.keys(study!), keySet(STUDY_KEYS, ['00100021']));
      const [instance] = await search(
        `${base}/studies/${S.doe}/series/${SE.doe1}/instances?PhotometricInterpretation=MONOCHROME2`,
      );
      assert.deepEqual(instance?.['00280004'], { vr: 'CS', Value: ['MONOCHROME2'] });
    });

    test('includefield: lists, repeats, hex and keywords; others from the first instance stored', async () => {
      const [study] = await search(
        `${base}/studies?StudyInstanceUID=${S.doe}&includefield=00180050,StationName&includefield=00100021`,
      );
      assert.deepEqual(Object.keys(study!), keySet(STUDY_KEYS, ['00180050', '00081010', '00100021']));
      assert.deepEqual(study?.['00180050'], { vr: 'DS', Value: [2.5] });
      assert.deepEqual(study?.['00081010'], { vr: 'SH', Value: ['CT01'] });
      assert.deepEqual(study?.['00100021'], { vr: 'LO' });

      const series = await search(`${base}/studies/${S.doe}/series?includefield=SliceThickness`);
      assert.deepEqual(series[0]?.['00180050'], { vr: 'DS', Value: [2.5] });
      assert.equal(series[1]?.['00180050'], undefined); // the second series' instance has none

      const instances = await search(
        `${base}/studies/${S.doe}/series/${SE.doe1}/instances?includefield=00180050`,
      );
      assert.deepEqual(
        instances.map((i) => i['00180050']),
        [
          { vr: 'DS', Value: [2.5] },
          { vr: 'DS', Value: [5] },
        ],
      );
      // Lower-level attributes are not returned at a higher level (PS3.18 10.6.3.3).
      const [noModality] = await search(
        `${base}/studies?StudyInstanceUID=${S.doe}&includefield=Modality,Rows`,
      );
      assert.deepEqual(Object.keys(noModality!), keySet(STUDY_KEYS));
    });

    test('includefield=all returns every patient and study attribute the index holds', async () => {
      const [study] = await search(`${base}/studies?StudyInstanceUID=${S.doe}&includefield=all`);
      assert.deepEqual(
        Object.keys(study!),
        keySet(STUDY_KEYS, ['00100021']), // IssuerOfPatientID is the one study-level extra
      );
      const [series] = await search(`${base}/studies/${S.doe}/series?includefield=all`);
      for (const tag of ['00180015', '00400275', '0008103E']) assert.ok(tag in series!, tag);
      assert.equal('00280010' in series!, false);
    });

    test('counts are right after instances are added to an existing series and study', async () => {
      const study = newUid();
      const first = newUid();
      const spec = { studyInstanceUID: study, patientID: 'P-CNT', patientName: 'Count^Carl' };
      await seed(gateway, [
        { ...spec, seriesInstanceUID: first, seriesNumber: 1, instanceNumber: 1 },
        { ...spec, seriesInstanceUID: first, seriesNumber: 1, instanceNumber: 2 },
      ]);
      const counts = async () => {
        const [s] = await search(`${base}/studies?StudyInstanceUID=${study}`);
        const series = await search(`${base}/studies/${study}/series`);
        return {
          series: value(s, '00201206'),
          instances: value(s, '00201208'),
          modalities: s?.['00080061']?.Value,
          perSeries: series.map((r) => value(r, '00201209')),
        };
      };
      assert.deepEqual(await counts(), { series: 1, instances: 2, modalities: ['CT'], perSeries: [2] });

      const second = newUid();
      await seed(gateway, [
        { ...spec, seriesInstanceUID: first, seriesNumber: 1, instanceNumber: 3 },
        { ...spec, seriesInstanceUID: second, seriesNumber: 2, instanceNumber: 1, image: false },
        { ...spec, seriesInstanceUID: second, seriesNumber: 2, instanceNumber: 2, image: false },
      ]);
      assert.deepEqual(await counts(), {
        series: 2,
        instances: 5,
        modalities: ['CT', 'SR'],
        perSeries: [3, 2],
      });
      const [all] = await search(`${base}/instances?StudyInstanceUID=${study}&limit=1`);
      assert.deepEqual(all?.['00201208'], { vr: 'IS', Value: [5] });
      assert.deepEqual(all?.['00201209'], { vr: 'IS', Value: [3] });
    });

    test('RetrieveURLs are absolute, under the URL the client used', async () => {
      const check = (results: DicomJson[], expected: (r: DicomJson) => string) => {
        assert.ok(results.length > 0);
        for (const r of results) assert.equal(value(r, '00081190'), expected(r));
      };
      check(await search(`${base}/studies?PatientID=P-DOE`), () => `${base}/studies/${S.doe}`);
      check(
        await search(`${base}/series?PatientID=P-DOE`),
        (r) => `${base}/studies/${S.doe}/series/${String(value(r, '0020000E'))}`,
      );
      check(
        await search(`${base}/instances?PatientID=P-DOE`),
        (r) =>
          `${base}/studies/${S.doe}/series/${String(value(r, '0020000E'))}/instances/${String(value(r, '00080018'))}`,
      );
      assert.match(base, /^http:\/\/127\.0\.0\.1:\d+\/dicom-web$/);
    });

    test('study attributes the first instance lacked are filled in by a later one, never overwritten', async () => {
      const study = newUid();
      const common = { studyInstanceUID: study, patientID: 'P-FILL', patientName: 'Fill^Later' };
      await seed(gateway, [
        { ...common, rawText: { StudyDescription: Buffer.alloc(0), AccessionNumber: Buffer.alloc(0) } },
      ]);
      const [before] = await search(`${base}/studies?StudyInstanceUID=${study}`);
      assert.equal(value(before!, '00081030'), undefined);
      assert.equal(value(before!, '00080050'), undefined);
      await seed(gateway, [{ ...common, studyDescription: 'Filled later', accessionNumber: 'ACC-FILL' }]);
      await seed(gateway, [{ ...common, studyDescription: 'Not this one', accessionNumber: 'ACC-OTHER' }]);
      const [after] = await search(`${base}/studies?StudyInstanceUID=${study}`);
      assert.equal(value(after!, '00081030'), 'Filled later');
      assert.equal(value(after!, '00080050'), 'ACC-FILL');
      assert.equal(value(after!, '00201208'), 3);
      assert.deepEqual(await search(`${base}/studies?AccessionNumber=ACC-FILL`).then(studiesOf), [study]);
    });
  });

  describe('paging', () => {
    test('limit and offset page through a stable order without overlap or gaps', async () => {
      const all = studiesOf(await search(`${base}/studies?PatientID=DT`));
      assert.equal(all.length, DT.length);
      const ordered = (await search(`${base}/studies?PatientID=DT`)).map((r) => value(r, '0020000D'));
      const pages: unknown[] = [];
      for (let offset = 0; offset < DT.length + 2; offset += 2) {
        const page = await get(`${base}/studies?PatientID=DT&limit=2&offset=${offset}`);
        assert.equal(page.status, 200);
        assert.equal(page.warning, null); // the client's own limit cut it
        pages.push(...(page.body as DicomJson[]).map((r) => value(r, '0020000D')));
      }
      assert.deepEqual(pages, ordered);
      // Newest first.
      assert.deepEqual(
        ordered,
        [...DT].reverse().map((d) => d.uid),
      );
    });

    test('no match is 200 with []', async () => {
      const answer = await get(`${base}/studies?PatientID=nobody`);
      assert.equal(answer.status, 200);
      assert.match(answer.contentType ?? '', /^application\/dicom\+json/);
      assert.deepEqual(answer.body, []);
      assert.equal(answer.warning, null);
      assert.deepEqual(await search(`${base}/studies?PatientID=DT&offset=1000`), []);
    });
  });

  describe('errors', () => {
    test('an attribute that cannot be matched is a 400 naming it, never an empty result', async () => {
      await rejected(`${base}/studies?PatientAge=030Y`, 'PatientAge', '00101010');
      await rejected(`${base}/studies?00101010=030Y`, 'PatientAge', '00101010');
      await rejected(`${base}/studies?FooBar=1`, 'FooBar');
      await rejected(`${base}/series?00400275.00401001=x`, '00400275.00401001');
      await rejected(`${base}/studies?NumberOfStudyRelatedInstances=3`, 'NumberOfStudyRelatedInstances');
      await rejected(`${base}/studies?Modality=CT`, 'Modality', 'cannot match studies');
      await rejected(`${base}/series?SOPInstanceUID=${SOP.doe1a}`, 'SOPInstanceUID', 'cannot match series');
      await rejected(`${base}/studies/${S.doe}/series?Rows=16`, 'Rows');
      await rejected(`${base}/studies?includefield=NoSuchThing`, 'NoSuchThing', 'includefield');
    });

    test('malformed values are 400s', async () => {
      await rejected(`${base}/studies?StudyInstanceUID=${S.doe},abc`, 'StudyInstanceUID', 'abc');
      await rejected(`${base}/studies?StudyInstanceUID=,`, 'StudyInstanceUID');
      await rejected(`${base}/series?SeriesNumber=one`, 'SeriesNumber', 'one');
      await rejected(`${base}/studies?limit=-1`, 'limit');
      await rejected(`${base}/studies?limit=abc`, 'limit');
      await rejected(`${base}/studies?offset=1e3`, 'offset');
      await rejected(`${base}/studies?fuzzymatching=maybe`, 'fuzzymatching');
    });
  });

  describe('SQL metacharacters', () => {
    const META = [
      "'",
      '"',
      ';',
      '--',
      '%',
      '_',
      '[',
      ']',
      '\\',
      "' OR '1'='1",
      "%' OR 1=1; --",
      '"; DROP TABLE studies; --',
    ];
    const FIELDS = [
      'PatientID',
      'PatientName',
      'AccessionNumber',
      'StudyDescription',
      'ReferringPhysicianName',
    ] as const;

    test('in text values: literal, with or without wildcards, matching only what contains them', async () => {
      for (const field of FIELDS) {
        for (const meta of META) {
          const fold = (text: string) => (field.endsWith('Name') ? text.toLowerCase() : text);
          // As a single value: only an equal value matches (none does).
          const exact = await search(`${base}/studies?${qs([field, meta])}`);
          assert.deepEqual(studiesOf(exact), [], `${field}=${meta}`);
          // Inside wildcards: exactly the studies whose value contains it.
          const contains = await search(`${base}/studies?${qs([field, `*${meta}*`])}`);
          const expected = sorted(
            ...TEXT.filter((t) =>
              // Names: "\" separates values, which the stored name does not hold.
              fold(t[field])
                .split('=')
                .some((group) => group.includes(fold(meta))),
            ).map((t) => t.uid),
          );
          assert.deepEqual(studiesOf(contains), expected, `${field}=*${meta}*`);
        }
      }
    });

    test('in fuzzy names, UIDs, dates, times, numbers, codes, controls, keys and paths: 200 or 400, never 500', async () => {
      const namesContaining = (text: string) =>
        TEXT.filter((t) => t.PatientName.toLowerCase().includes(text.toLowerCase())).map((t) => t.uid);
      // Each URL with the studies it may rightly match: a name holding the text, a UID the list names.
      const urls: [string, string[]][] = [];
      for (const meta of META) {
        const m = encodeURIComponent(meta);
        urls.push(
          [`${base}/studies?fuzzymatching=true&PatientName=${m}`, []],
          [`${base}/studies?fuzzymatching=true&PatientName=*${m}*`, namesContaining(meta)],
          [`${base}/studies?StudyInstanceUID=${m}`, []],
          [`${base}/studies?StudyInstanceUID=${S.doe},${m}`, [S.doe]],
          [`${base}/studies?StudyDate=${m}`, []],
          [`${base}/studies?StudyDate=20240101-${m}`, []],
          [`${base}/studies?StudyTime=${m}`, []],
          [`${base}/series?SeriesNumber=${m}`, []],
          [`${base}/studies?ModalitiesInStudy=${m}`, []],
          [`${base}/studies?ModalitiesInStudy=*${m}*`, []],
          [`${base}/studies?PatientSex=${m}`, []],
          [`${base}/studies?includefield=${m}`, []],
          [`${base}/studies?limit=${m}`, []],
          [`${base}/studies?offset=${m}`, []],
          [`${base}/studies?fuzzymatching=${m}`, []],
          [`${base}/studies?Patient${m}Name=x`, []],
          [`${base}/studies/${m}/series`, []],
          [`${base}/studies/${S.doe}/series/${m}/instances`, []],
        );
      }
      for (const [url, allowed] of urls) {
        const answer = await get(url);
        assert.ok(answer.status === 200 || answer.status === 400, `${url} answered ${answer.status}`);
        if (answer.status === 200) {
          const found = studiesOf(answer.body as DicomJson[]).filter(
            (uid) => !allowed.includes(uid as string),
          );
          assert.deepEqual(found, [], url);
        }
      }
      // The index is intact.
      assert.deepEqual(studiesOf(await search(`${base}/studies?PatientID=P-DOE`)), [S.doe]);
      assert.equal(studiesOf(await search(`${base}/studies?PatientID=DT`)).length, DT.length);
    });
  });
});

describe('QIDO-RS with a small server maximum (limits.qidoMaxLimit: 5)', () => {
  let gateway: TestGateway;
  let base: string;
  const study = newUid();
  const series = newUid();
  before(async () => {
    gateway = await startTestGateway({ limits: { qidoMaxLimit: 5 } });
    base = gateway.dicomweb;
    const specs: InstanceSpec[] = [];
    for (let i = 1; i <= 7; i++) {
      specs.push({
        studyInstanceUID: study,
        seriesInstanceUID: series,
        instanceNumber: i,
        patientID: 'PAGE',
      });
    }
    await seed(gateway, specs);
    // Six more studies: seven in all.
    await seed(
      gateway,
      Array.from({ length: 6 }, (_, i): InstanceSpec => ({
        patientID: 'PAGE',
        studyDate: `2023010${i + 1}`,
      })),
    );
  });
  after(() => gateway.stop());

  const numbers = (results: unknown): unknown[] => (results as DicomJson[]).map((r) => value(r, '00200013'));

  test('no limit and more rows than the maximum: the maximum, and a Warning 299', async () => {
    const answer = await get(`${base}/studies`);
    assert.equal((answer.body as DicomJson[]).length, 5);
    assert.match(answer.warning ?? '', /^299 \S+ "[^"]*limited to 5[^"]*"$/);
    const instances = await get(`${base}/studies/${study}/instances`);
    assert.deepEqual(numbers(instances.body), [1, 2, 3, 4, 5]);
    assert.match(instances.warning ?? '', /^299 /);
  });

  test('a limit above the maximum is cut to it, with a warning', async () => {
    const answer = await get(`${base}/studies/${study}/instances?limit=10`);
    assert.deepEqual(numbers(answer.body), [1, 2, 3, 4, 5]);
    assert.match(answer.warning ?? '', /^299 /);
  });

  test('no warning when the client limit cut the result, or when nothing more matched', async () => {
    let answer = await get(`${base}/studies/${study}/instances?limit=3`);
    assert.deepEqual(numbers(answer.body), [1, 2, 3]);
    assert.equal(answer.warning, null);
    answer = await get(`${base}/studies/${study}/instances?limit=5`);
    assert.deepEqual(numbers(answer.body), [1, 2, 3, 4, 5]);
    assert.equal(answer.warning, null);
    answer = await get(`${base}/studies/${study}/instances?offset=5`);
    assert.deepEqual(numbers(answer.body), [6, 7]);
    assert.equal(answer.warning, null);
    answer = await get(`${base}/studies/${study}/instances?limit=50&offset=3`);
    assert.deepEqual(numbers(answer.body), [4, 5, 6, 7]);
    assert.equal(answer.warning, null);
    answer = await get(`${base}/studies?PatientID=PAGE&offset=6`);
    assert.equal((answer.body as DicomJson[]).length, 1);
    assert.equal(answer.warning, null);
  });

  test('pages of the server maximum cover everything once', async () => {
    const first = await get(`${base}/studies?PatientID=PAGE`);
    const second = await get(`${base}/studies?PatientID=PAGE&offset=5`);
    const uids = [...(first.body as DicomJson[]), ...(second.body as DicomJson[])].map((r) =>
      value(r, '0020000D'),
    );
    assert.equal(uids.length, 7);
    assert.equal(new Set(uids).size, 7);
    assert.ok(uids.includes(study));
    assert.match(first.warning ?? '', /^299 /);
    assert.equal(second.warning, null);
  });
});

describe('QIDO-RS with case-sensitive person names (qido.caseInsensitivePersonNames: false)', () => {
  let gateway: TestGateway;
  let base: string;
  const doe = newUid();
  before(async () => {
    gateway = await startTestGateway({ qido: { caseInsensitivePersonNames: false } });
    base = gateway.dicomweb;
    await seed(gateway, [
      { studyInstanceUID: doe, patientName: 'Doe^John', referringPhysicianName: 'House^Gregory' },
      { patientName: 'DOE^JANE' },
    ]);
  });
  after(() => gateway.stop());

  const names = async (query: string) => valuesOf(await search(`${base}/studies?${query}`), '00100010');

  test('case matters in single values and wildcards', async () => {
    assert.deepEqual(await names('PatientName=Doe^John'), [{ Alphabetic: 'Doe^John' }]);
    assert.deepEqual(await names('PatientName=doe^john'), []);
    assert.deepEqual(await names('PatientName=Doe*'), [{ Alphabetic: 'Doe^John' }]);
    assert.deepEqual(await names('PatientName=DOE*'), [{ Alphabetic: 'DOE^JANE' }]);
    assert.deepEqual(await names('PatientName=*o*'), [{ Alphabetic: 'Doe^John' }]);
    assert.deepEqual(await names('ReferringPhysicianName=house*'), []);
    assert.deepEqual(studiesOf(await search(`${base}/studies?ReferringPhysicianName=House*`)), [doe]);
  });

  test('fuzzy matching still ignores case', async () => {
    assert.equal((await names('fuzzymatching=true&PatientName=doe')).length, 2);
  });
});
