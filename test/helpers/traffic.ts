/**
 * Mixed traffic against a running gateway: STOW clients (one instance per request), C-STORE associations
 * (dcmjs-dimse, batches per association) and readers (QIDO, metadata, instance, frame, rendered), all
 * until told to stop. Records exactly which instances each door acknowledged, and every reader error.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildInstance, newUid, type BuiltInstance } from './dicom-generator.js';
import { stow } from './dicomweb-client.js';
import { storeFiles } from './dimse-client.js';

export interface Acknowledged {
  study: string;
  series: string;
  sop: string;
  /**
   * SHA-256 of what must come back: the dataset bytes as sent for STOW; for C-STORE the pixel data
   * (dcmjs-dimse re-encodes the rest of the dataset on its way out).
   */
  sha256: string;
  door: 'stow' | 'dimse';
}

export interface TrafficOptions {
  dicomweb: string;
  dimsePort: number;
  /** Folder for the files C-STORE sends. */
  workDir: string;
  stowClients: number;
  cstoreAssociations: number;
  readers: number;
  /** Instances per C-STORE association before it is released and another opened. */
  cstoreBatch?: number;
  /** Traffic stops when this returns true (checked between requests). */
  stop: () => boolean;
  /** Called after every acknowledgement (e.g. to kill the server at some point). */
  onAcknowledged?: (count: number) => void;
  /** Errors of the write clients are expected (the server is killed); reads are not run then. */
  expectWriteFailures?: boolean;
}

export interface TrafficResult {
  acknowledged: Acknowledged[];
  /** Requests or stores that failed, with what happened. */
  errors: string[];
  reads: number;
  writesRefused: number;
}

const PATIENT = 'LOAD^TEST';

function instanceFor(study: string, series: string, n: number): BuiltInstance {
  return buildInstance({
    studyInstanceUID: study,
    seriesInstanceUID: series,
    instanceNumber: n,
    patientName: PATIENT,
    patientID: 'LOAD1',
    image: { rows: 64, columns: 64, pattern: 'noise', seed: n },
  });
}

export function datasetSha256(part10: Buffer): string {
  const groupLength = part10.readUInt32LE(132 + 8);
  return createHash('sha256')
    .update(part10.subarray(132 + 12 + groupLength))
    .digest('hex');
}

/** The generated instances end with their pixel data: 64 x 64 x 16 bits. */
const PIXEL_BYTES = 64 * 64 * 2;

function pixelSha256(part10: Buffer): string {
  return createHash('sha256')
    .update(part10.subarray(part10.length - PIXEL_BYTES))
    .digest('hex');
}

export async function runTraffic(options: TrafficOptions): Promise<TrafficResult> {
  const result: TrafficResult = { acknowledged: [], errors: [], reads: 0, writesRefused: 0 };
  const acknowledge = (instance: BuiltInstance, door: 'stow' | 'dimse') => {
    result.acknowledged.push({
      study: instance.studyInstanceUID,
      series: instance.seriesInstanceUID,
      sop: instance.sopInstanceUID,
      sha256: door === 'stow' ? datasetSha256(instance.bytes) : pixelSha256(instance.bytes),
      door,
    });
    options.onAcknowledged?.(result.acknowledged.length);
  };
  const writeFailure = (message: string) => {
    if (options.expectWriteFailures) result.writesRefused++;
    else result.errors.push(message);
  };

  const stowClient = async (client: number) => {
    const study = newUid();
    const series = newUid();
    for (let n = 1; !options.stop(); n++) {
      const instance = instanceFor(study, series, n);
      try {
        const { status, json } = await stow(options.dicomweb, [instance.bytes]);
        if (status === 200) acknowledge(instance, 'stow');
        else writeFailure(`STOW client ${client}: ${status} ${JSON.stringify(json).slice(0, 300)}`);
      } catch (error) {
        writeFailure(`STOW client ${client}: ${(error as Error).message}`);
        if (options.expectWriteFailures) return;
      }
    }
  };

  const cstoreClient = async (client: number) => {
    const study = newUid();
    const series = newUid();
    const batch = options.cstoreBatch ?? 50;
    for (let round = 0, n = 1; !options.stop(); round++) {
      const instances: BuiltInstance[] = [];
      const paths: string[] = [];
      for (let i = 0; i < batch; i++, n++) {
        const instance = instanceFor(study, series, n);
        const path = join(options.workDir, `c${client}-${n}.dcm`);
        await writeFile(path, instance.bytes);
        instances.push(instance);
        paths.push(path);
      }
      const results = await storeFiles(options.dimsePort, paths, { callingAETitle: `LOAD${client}` });
      results.forEach((r, i) => {
        if (r.status === 0) acknowledge(instances[i]!, 'dimse');
        else writeFailure(`C-STORE client ${client} round ${round}: status ${r.status ?? 'none'}`);
      });
      if (options.expectWriteFailures && results.some((r) => r.status === undefined)) return;
    }
  };

  const reader = async (client: number) => {
    while (!options.stop()) {
      const pick = result.acknowledged[Math.floor(Math.random() * result.acknowledged.length)];
      if (!pick) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      const base = `${options.dicomweb}/studies/${pick.study}`;
      const instanceUrl = `${base}/series/${pick.series}/instances/${pick.sop}`;
      const requests: [string, string][] = [
        [
          `${options.dicomweb}/studies?PatientName=LOAD*&limit=20&includefield=00081030`,
          'application/dicom+json',
        ],
        [`${base}/series/${pick.series}/metadata`, 'application/dicom+json'],
        [instanceUrl, 'multipart/related; type="application/dicom"; transfer-syntax=*'],
        [`${instanceUrl}/frames/1`, 'multipart/related; type="application/octet-stream"; transfer-syntax=*'],
        [`${instanceUrl}/rendered`, 'image/jpeg'],
      ];
      const [url, accept] = requests[result.reads % requests.length]!;
      try {
        const response = await fetch(url, { headers: { accept } });
        await response.arrayBuffer();
        if (response.status !== 200) result.errors.push(`reader ${client}: ${response.status} for ${url}`);
      } catch (error) {
        result.errors.push(`reader ${client}: ${(error as Error).message} for ${url}`);
      }
      result.reads++;
    }
  };

  await Promise.all([
    ...Array.from({ length: options.stowClients }, (_, i) => stowClient(i)),
    ...Array.from({ length: options.cstoreAssociations }, (_, i) => cstoreClient(i)),
    ...Array.from({ length: options.expectWriteFailures ? 0 : options.readers }, (_, i) => reader(i)),
  ]);
  return result;
}

/**
 * Every acknowledged instance is indexed (QIDO, paged) and a sample of them retrieves with the dataset
 * bytes that were sent. Returns the problems found.
 */
export async function checkAcknowledged(
  dicomweb: string,
  acknowledged: Acknowledged[],
  sampleSize: number,
): Promise<string[]> {
  const problems: string[] = [];
  const byStudy = new Map<string, Acknowledged[]>();
  for (const ack of acknowledged) byStudy.set(ack.study, [...(byStudy.get(ack.study) ?? []), ack]);
  for (const [study, acks] of byStudy) {
    const indexed = new Set<string>();
    for (let offset = 0; ; offset += 1000) {
      const response = await fetch(`${dicomweb}/studies/${study}/instances?limit=1000&offset=${offset}`, {
        headers: { accept: 'application/dicom+json' },
      });
      const page =
        response.status === 200 ? ((await response.json()) as Record<string, { Value?: string[] }>[]) : [];
      for (const row of page) indexed.add(row['00080018']?.Value?.[0] ?? '');
      if (page.length < 1000) break;
    }
    for (const ack of acks)
      if (!indexed.has(ack.sop)) problems.push(`acknowledged ${ack.door} instance ${ack.sop} is not indexed`);
  }
  const sample = [...acknowledged].sort(() => Math.random() - 0.5).slice(0, sampleSize);
  for (const ack of sample) {
    const response = await fetch(
      `${dicomweb}/studies/${ack.study}/series/${ack.series}/instances/${ack.sop}`,
      {
        headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
      },
    );
    const body = Buffer.from(await response.arrayBuffer());
    const start = body.indexOf('\r\n\r\n') + 4;
    const end = body.lastIndexOf(Buffer.from('\r\n--'));
    const instance = body.subarray(start, end);
    const digest = ack.door === 'stow' ? datasetSha256(instance) : pixelSha256(instance);
    if (response.status !== 200 || digest !== ack.sha256) {
      problems.push(`instance ${ack.sop} (${ack.door}) does not retrieve as sent (${response.status})`);
    }
  }
  return problems;
}
