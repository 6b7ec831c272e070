/**
 * QIDO-RS study searches as OHIF's study list sends them (extensions/default DicomWebDataSource qido.js,
 * mapParams, through dicomweb-client): the filter, then `limit=101&offset=0&fuzzymatching=false&
 * includefield=00081030,00080060,00080090,00100030`, every value encodeURIComponent-ed (so the commas go
 * as %2C), and `*text*` around what the user typed when the data source supports wildcards.
 */
import { get } from '../http.js';
import { latencyStats, MB, summarize, type Latencies, type PhaseResult } from '../stats.js';
import { peakRss, resetPeakRss, type Target } from '../targets.js';

interface Filter {
  patientName?: string;
  modalitiesInStudy?: string;
  startDate?: string;
  endDate?: string;
}

/** The query string OHIF builds for a study list filter, in OHIF's parameter order. */
export function ohifStudyQuery(filter: Filter): string {
  const params: [string, string][] = [];
  if (filter.patientName) params.push(['PatientName', filter.patientName]);
  if (filter.modalitiesInStudy) params.push(['ModalitiesInStudy', filter.modalitiesInStudy]);
  params.push(
    ['limit', '101'],
    ['offset', '0'],
    ['fuzzymatching', 'false'],
    ['includefield', '00081030,00080060,00080090,00100030'],
  );
  if (filter.startDate && filter.endDate) params.push(['StudyDate', `${filter.startDate}-${filter.endDate}`]);
  return params.map(([key, value]) => `${key}=${encodeURIComponent(value)}`).join('&');
}

/** The study list searches measured; selectivity comes from the synthetic corpus' spread. */
export const QIDO_KINDS: { name: string; filter: Filter }[] = [
  { name: 'study list, no filter', filter: {} },
  { name: 'PatientName=*smith*', filter: { patientName: '*smith*' } },
  { name: 'PatientName=A*', filter: { patientName: 'A*' } },
  { name: 'StudyDate one month', filter: { startDate: '20230101', endDate: '20230131' } },
  { name: 'ModalitiesInStudy=CT', filter: { modalitiesInStudy: 'CT' } },
  {
    name: 'PatientName=*son* + MR + one year',
    filter: { patientName: '*son*', modalitiesInStudy: 'MR', startDate: '20220101', endDate: '20221231' },
  },
];

export interface QidoMix {
  latencies: number[];
  seconds: number;
  perKind: Record<string, Latencies & { results: number }>;
}

/**
 * Each kind once unmeasured (warm-up), then `repeats` rounds of every kind in turn, one client: the
 * latency a user waits for the study list.
 */
export async function measureQidoMix(target: Target, repeats: number): Promise<QidoMix> {
  const urls = QIDO_KINDS.map((k) => `${target.dicomweb}/studies?${ohifStudyQuery(k.filter)}`);
  const headers = { accept: 'application/dicom+json' };
  const results: number[] = [];
  for (const url of urls) {
    const answer = await get(url, headers, { keepBody: true }, [200, 204]);
    results.push(answer.bytes ? (JSON.parse(answer.body!.toString('utf8')) as unknown[]).length : 0);
  }
  const perKind: number[][] = QIDO_KINDS.map(() => []);
  const started = performance.now();
  for (let r = 0; r < repeats; r++) {
    for (const [i, url] of urls.entries()) {
      const t0 = performance.now();
      await get(url, headers, {}, [200, 204]);
      perKind[i]!.push(performance.now() - t0);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    latencies: perKind.flat(),
    seconds,
    perKind: Object.fromEntries(
      QIDO_KINDS.map((k, i) => [k.name, { ...latencyStats(perKind[i]!), results: results[i]! }]),
    ),
  };
}

export async function qidoAtSize(
  target: Target,
  studies: number,
  repeats: number,
  label: string,
): Promise<PhaseResult> {
  resetPeakRss(target.pid);
  const mix = await measureQidoMix(target, repeats);
  return summarize(
    { phase: 'qido', label, target: target.name, unit: 'queries', primary: 'p50' },
    mix.latencies,
    mix.seconds,
    {
      peakRssMb: peakRss(target.pid) / MB,
      goal: studies >= 100_000 ? { metric: 'p50', ratio: 0.5, text: 'p50 ≤0.5x Orthanc' } : undefined,
      details: { indexStudies: studies, perKind: mix.perKind },
      note: `${QIDO_KINDS.length} OHIF study-list searches x ${repeats}, 1 client`,
    },
  );
}
