/** Synthetic benchmark data from the project's own generator, written to disk once per run. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildInstance, newUid, type ImageSpec } from '../test/helpers/dicom-generator.js';

export interface CorpusFile {
  path: string;
  bytes: number;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
}

/** `count` single-frame instances spread over studies of `perStudy` instances, in `dir`. */
export async function writeInstances(
  dir: string,
  count: number,
  options: { perStudy?: number; image?: ImageSpec; modality?: string } = {},
): Promise<CorpusFile[]> {
  await mkdir(dir, { recursive: true });
  const perStudy = options.perStudy ?? 100;
  const files: CorpusFile[] = [];
  let study = newUid();
  let series = newUid();
  for (let i = 0; i < count; i++) {
    if (i % perStudy === 0) {
      study = newUid();
      series = newUid();
    }
    const built = buildInstance({
      studyInstanceUID: study,
      seriesInstanceUID: series,
      instanceNumber: (i % perStudy) + 1,
      patientName: `Bench^Patient${Math.floor(i / perStudy)}`,
      patientID: `BENCH${Math.floor(i / perStudy)}`,
      modality: options.modality ?? 'CT',
      image: options.image ?? { rows: 64, columns: 64 },
    });
    const path = join(dir, `${built.sopInstanceUID}.dcm`);
    await writeFile(path, built.bytes);
    files.push({
      path,
      bytes: built.bytes.length,
      studyInstanceUID: study,
      seriesInstanceUID: series,
      sopInstanceUID: built.sopInstanceUID,
    });
  }
  return files;
}

/** Splits files into `n` sub-lists of (almost) equal size. */
export function split<T>(items: T[], n: number): T[][] {
  const out: T[][] = Array.from({ length: n }, () => []);
  items.forEach((item, i) => out[i % n]!.push(item));
  return out;
}
