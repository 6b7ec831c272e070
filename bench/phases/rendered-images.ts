/**
 * Rendering one image at a time, as a RIS link, a thumbnail strip or a viewer's first image asks for it:
 * a 512x512 16-bit CT slice and a 2000x2500 CR image. Each distinct image is requested once (cold:
 * nothing of it rendered before on either server), then the same requests again (cached: the gateway's
 * render cache; Orthanc keeps no rendered images, only its storage cache), one request at a time.
 */
import { buildInstance, SopClassUid } from '../../test/helpers/dicom-generator.js';
import type { Context } from '../context.js';
import { get } from '../http.js';
import { MB, summarize, type PhaseResult } from '../stats.js';
import type { CtSeries } from '../synthetic.js';
import { peakRss, resetPeakRss, type Target } from '../targets.js';
import { storedStudy } from './wado.js';

/** UidSource kinds of the CR corpus (the other phases use 1 to 7). */
const CR_STUDY_KIND = 8;
const CR_INSTANCE_KIND = 9;
const CACHED_PASSES = 3;

/** Distinct CR images of `rows` x `columns`, 12 bits stored in 16, MONOCHROME1 like most CR plates. */
function crSeries(context: Context, count: number, rows: number, columns: number): CtSeries {
  const study = context.uids.uid(CR_STUDY_KIND, 1);
  const series = context.uids.uid(CR_STUDY_KIND, 2);
  const instances = Array.from({ length: count }, (_, i) => {
    const sop = context.uids.uid(CR_INSTANCE_KIND, i);
    return {
      sop,
      bytes: () =>
        buildInstance({
          sopClassUID: SopClassUid.ComputedRadiography,
          studyInstanceUID: study,
          seriesInstanceUID: series,
          sopInstanceUID: sop,
          patientName: 'BENCH^CR PATIENT',
          patientID: 'CR00000001',
          studyDescription: 'XR CHEST PA',
          instanceNumber: i + 1,
          image: {
            rows,
            columns,
            photometric: 'MONOCHROME1',
            bitsStored: 12,
            windowCenter: 2048,
            windowWidth: 4096,
            seed: i,
          },
        }).bytes,
    };
  });
  return { study, series, instances, instanceBytes: rows * columns * 2 };
}

export async function renderedImagesPhase(target: Target, context: Context): Promise<PhaseResult[]> {
  const { renderedImages: n, ctSize, crRows, crColumns } = context.sizes;
  const [ct] = await storedStudy(context, target, 'rendered-images', [n]);
  const cr = await context.once('cr', async () => crSeries(context, n, crRows, crColumns));
  await context.once(`stored:${target.name}:cr`, () => context.stowSeries(target, [cr], 2, 1));
  return [
    ...(await measure(target, ct!, `rendered JPEG of a ${ctSize}x${ctSize} 16-bit CT slice`)),
    ...(await measure(target, cr, `rendered JPEG of a ${crColumns}x${crRows} 12-bit CR image`)),
  ];
}

async function measure(target: Target, series: CtSeries, label: string): Promise<PhaseResult[]> {
  const urls = series.instances.map(
    ({ sop }) =>
      `${target.dicomweb}/studies/${series.study}/series/${series.series}/instances/${sop}/rendered`,
  );
  const fetchAll = async (list: string[]) => {
    const latencies: number[] = [];
    let bytes = 0;
    const started = performance.now();
    for (const url of list) {
      const t0 = performance.now();
      const answer = await get(url, { accept: 'image/jpeg' }, { keepBody: true });
      latencies.push(performance.now() - t0);
      if (answer.body![0] !== 0xff || answer.body![1] !== 0xd8) throw new Error(`${target.name}: not a JPEG`);
      bytes += answer.bytes;
    }
    return { latencies, bytes, seconds: (performance.now() - started) / 1000 };
  };
  const row = (kind: string, run: Awaited<ReturnType<typeof fetchAll>>): PhaseResult =>
    summarize(
      {
        phase: 'rendered-images',
        label: `${label}, ${kind}`,
        target: target.name,
        unit: 'images',
        primary: 'p50',
      },
      run.latencies,
      run.seconds,
      {
        peakRssMb: peakRss(target.pid) / MB,
        goal: { metric: 'p50', ratio: 1, text: 'p50 no slower than Orthanc' },
        details: { averageJpegBytes: Math.round(run.bytes / run.latencies.length) },
        note: 'GET .../instances/{i}/rendered, Accept: image/jpeg, one request at a time',
      },
    );
  resetPeakRss(target.pid);
  const cold = await fetchAll(urls);
  const coldRow = row(`cold (${urls.length} distinct images, each requested once)`, cold);
  resetPeakRss(target.pid);
  const cached = await fetchAll(Array.from({ length: CACHED_PASSES }, () => urls).flat());
  return [coldRow, row(`cached (the same images, ${CACHED_PASSES} more times)`, cached)];
}
