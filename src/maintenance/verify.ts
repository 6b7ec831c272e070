/**
 * `verify`: checks that the index and the files agree, with the gateway stopped.
 *
 * - every index row has its file, of the recorded size and SHA-256 (each file is read whole);
 * - every file under files/ is indexed;
 * - SQLite's integrity check passes, and the index's counts (instances per series and study, series per
 *   study, ModalitiesInStudy) agree with its rows;
 * - noted, not counted as problems: partial uploads in tmp/ and files of deleted instances still on disk
 *   (both left by a crash, both removed by the next start-up).
 *
 * With `repair`: rows whose file is missing are removed from the index; damaged files go to quarantine
 * and their rows are removed (a file that cannot be read at all, e.g. for its permissions, is left to
 * the operator); unindexed files are indexed (see adopt.ts: in place, through the ingest pipeline,
 * removed as duplicates, or quarantined); counts are recomputed; tmp/ and files of deleted instances are
 * cleaned up. Nothing is deleted that is not a byte-identical duplicate or a leftover of a crash.
 */
import type { IndexStore } from '../index/index-store.js';
import { removeQueuedFiles } from '../ingest/remove-files.js';
import { hashStoredObject } from '../storage/file-store.js';
import { FileAdopter, describe, type AdoptOutcome } from './adopt.js';
import { countTemporary } from './fs-ops.js';
import type { MaintenanceSession, ProgressEvent } from './session.js';
import {
  checkCounters,
  checkIndexIntegrity,
  indexedSopOfFile,
  repairCounters,
  type CounterProblem,
} from './sqlite-ops.js';

export interface VerifyOptions {
  repair: boolean;
  onProgress?: (event: ProgressEvent) => void;
  /** Files read at once while checking hashes (default 4). */
  concurrency?: number;
}

export interface RowProblem {
  sopInstanceUid: string;
  fileKey: string;
}

export interface RepairReport {
  /** Index rows removed because their file was missing or damaged. */
  removedRows: (RowProblem & { reason: 'missing' | 'size mismatch' | 'hash mismatch' })[];
  /** What became of each unindexed file. */
  unindexedFiles: AdoptOutcome[];
  /** Every file moved to quarantine, with the reason (damaged and unindexed files alike). */
  quarantined: { fileKey: string; to: string; reason: string }[];
  /** Partial uploads removed from tmp/. */
  removedTemporary: number;
  /** Files of deleted instances removed. */
  removedPendingFiles: string[];
  /** Repairs that could not be made (I/O errors); the problem is left as it was. */
  failed: { fileKey: string; sopInstanceUid?: string; reason: string }[];
}

export interface VerifyReport {
  dataDir: string;
  checked: { instances: number; bytes: number; files: number };
  missingFiles: RowProblem[];
  sizeMismatch: (RowProblem & { expectedSize: number; actualSize: number })[];
  hashMismatch: (RowProblem & { expectedSha256: string; actualSha256: string })[];
  /** Files that exist but cannot be read (permissions, an I/O error): left alone, even by repair. */
  unreadableFiles: (RowProblem & { error: string })[];
  unindexedFiles: { fileKey: string; size: number }[];
  /** SQLite integrity check messages (empty when sound). Not repairable by verify: run reindex. */
  indexIntegrity: string[];
  counterProblems: CounterProblem[];
  notes: { temporaryFiles: number; pendingRemovals: string[] };
  /** Problems found (all of the lists above but the notes). */
  problems: number;
  repaired?: RepairReport;
  /** Problems left after the repairs (0: the store is consistent); only with repair. */
  remaining?: number;
}

export async function verifyStore(
  session: MaintenanceSession,
  options: VerifyOptions,
): Promise<VerifyReport> {
  const { store, index } = session;
  const progress = options.onProgress ?? (() => undefined);
  const report: VerifyReport = {
    dataDir: session.dataDir,
    checked: { instances: 0, bytes: 0, files: 0 },
    missingFiles: [],
    sizeMismatch: [],
    hashMismatch: [],
    unreadableFiles: [],
    unindexedFiles: [],
    indexIntegrity: checkIndexIntegrity(index),
    counterProblems: checkCounters(index),
    notes: { temporaryFiles: await countTemporary(store), pendingRemovals: [] },
    problems: 0,
  };

  // Every index row has its file, whole.
  const total = index.counts().instances;
  let failed = 0;
  await forEachConcurrently(index.listFiles(), options.concurrency ?? 4, async (row) => {
    const problem = { sopInstanceUid: row.sopInstanceUid, fileKey: row.fileKey };
    try {
      const size = await store.size(row.fileKey);
      if (size === undefined) {
        report.missingFiles.push(problem);
      } else if (size !== row.fileSize) {
        report.sizeMismatch.push({ ...problem, expectedSize: row.fileSize, actualSize: size });
      } else {
        const { size: read, sha256 } = await hashStoredObject(store, row.fileKey);
        if (sha256 !== row.sha256 || read !== row.fileSize) {
          report.hashMismatch.push({ ...problem, expectedSha256: row.sha256, actualSha256: sha256 });
        }
      }
    } catch (error) {
      report.unreadableFiles.push({ ...problem, error: describe(error) });
    }
    report.checked.instances++;
    report.checked.bytes += row.fileSize;
    if (report.checked.instances > total) return;
    failed =
      report.missingFiles.length +
      report.sizeMismatch.length +
      report.hashMismatch.length +
      report.unreadableFiles.length;
    progress({ phase: 'index', done: report.checked.instances, total, failed });
  });
  for (const list of [
    report.missingFiles,
    report.sizeMismatch,
    report.hashMismatch,
    report.unreadableFiles,
  ]) {
    list.sort((a, b) => compare(a.fileKey, b.fileKey));
  }

  // Every file is indexed.
  const sopOfFile = indexedSopOfFile(index);
  const pending = new Set(index.pendingFileRemovals());
  let fileCount = 0;
  for await (const _key of store.list('files/')) fileCount++;
  for await (const key of store.list('files/')) {
    report.checked.files++;
    if (sopOfFile(key) === undefined) {
      if (pending.has(key)) report.notes.pendingRemovals.push(key);
      else report.unindexedFiles.push({ fileKey: key, size: (await store.size(key)) ?? 0 });
    }
    if (report.checked.files <= fileCount) {
      progress({
        phase: 'files',
        done: report.checked.files,
        total: fileCount,
        failed: report.unindexedFiles.length,
      });
    }
  }

  report.problems = countProblems(report);
  if (options.repair && (report.problems > 0 || report.notes.temporaryFiles > 0 || pending.size > 0)) {
    report.repaired = await repair(session, report, progress);
    report.remaining =
      checkCounters(index).length +
      report.indexIntegrity.length +
      report.unreadableFiles.length +
      report.repaired.failed.length;
  } else if (options.repair) {
    report.remaining = report.problems;
  }
  return report;
}

function countProblems(report: VerifyReport): number {
  return (
    report.missingFiles.length +
    report.sizeMismatch.length +
    report.hashMismatch.length +
    report.unreadableFiles.length +
    report.unindexedFiles.length +
    report.indexIntegrity.length +
    report.counterProblems.length
  );
}

async function repair(
  session: MaintenanceSession,
  report: VerifyReport,
  progress: (event: ProgressEvent) => void,
): Promise<RepairReport> {
  const { store, index, quarantine } = session;
  const repaired: RepairReport = {
    removedRows: [],
    unindexedFiles: [],
    quarantined: [],
    removedTemporary: 0,
    removedPendingFiles: [],
    failed: [],
  };
  // Before the ingest pipeline opens temp files of its own.
  repaired.removedTemporary = await store.cleanTemporary();

  // Damaged files leave files/ before their rows go, so a crash in between cannot bring one back in.
  const damaged = [
    ...report.sizeMismatch.map((p) => ({ ...p, reason: 'size mismatch' as const })),
    ...report.hashMismatch.map((p) => ({ ...p, reason: 'hash mismatch' as const })),
  ];
  for (const problem of damaged) {
    try {
      await quarantine.put(
        problem.fileKey,
        `${problem.reason} with the index (SOP instance ${problem.sopInstanceUid})`,
      );
      if (removeRow(index, problem)) repaired.removedRows.push(problem);
    } catch (error) {
      repaired.failed.push({ ...problem, reason: describe(error) });
    }
  }
  for (const problem of report.missingFiles) {
    try {
      if (removeRow(index, problem)) repaired.removedRows.push({ ...problem, reason: 'missing' });
    } catch (error) {
      repaired.failed.push({ ...problem, reason: describe(error) });
    }
  }

  // Unindexed files: those at their proper place first, then misplaced ones through the pipeline.
  const adopter = new FileAdopter({
    store,
    index,
    ingest: session.ingest,
    quarantine,
    read: {
      maxInstanceBytes: session.options.ingest.maxInstanceBytes,
      readerLimits: session.options.readerLimits,
    },
    door: 'verify',
    policy: 'keep-indexed',
  });
  const total = report.unindexedFiles.length;
  let done = 0;
  const misplaced: string[] = [];
  const note = (outcome: AdoptOutcome) => {
    repaired.unindexedFiles.push(outcome);
    if (outcome.action === 'failed') repaired.failed.push(outcome);
    progress({ phase: 'repair', done: ++done, total, failed: repaired.failed.length });
  };
  for (const { fileKey } of report.unindexedFiles) {
    const outcome = await adopter.indexInPlace(fileKey);
    if (outcome.action === 'misplaced') misplaced.push(fileKey);
    else note(outcome);
  }
  for (const fileKey of misplaced) note(await adopter.importMisplaced(fileKey));

  // As the gateway's start-up does: remove them, then take them off the index's queue.
  const pendingFiles = report.notes.pendingRemovals;
  await removeQueuedFiles(store, index, pendingFiles, session.options.log);
  const stillQueued = new Set(index.pendingFileRemovals());
  for (const fileKey of pendingFiles) {
    if (stillQueued.has(fileKey)) repaired.failed.push({ fileKey, reason: 'could not be removed' });
    else repaired.removedPendingFiles.push(fileKey);
  }

  repairCounters(index);
  repaired.quarantined = [...quarantine.entries];
  return repaired;
}

/** Removes the row of an instance if it still points at this file, which is no longer in files/. */
function removeRow(index: IndexStore, problem: RowProblem): boolean {
  const ref = index.getInstance(problem.sopInstanceUid);
  if (ref?.storage.fileKey !== problem.fileKey) return false;
  const fileKeys = index.deleteInstances({
    studyInstanceUid: ref.studyInstanceUid,
    seriesInstanceUid: ref.seriesInstanceUid,
    sopInstanceUid: ref.sopInstanceUid,
  });
  // The file is missing or in quarantine already: nothing is left for a removal to do.
  index.completeFileRemovals(fileKeys);
  return true;
}

/** Runs `work` on every item with at most `concurrency` at once; items are pulled lazily. */
async function forEachConcurrently<T>(
  items: Iterable<T>,
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  const iterator = items[Symbol.iterator]();
  let finished = false;
  const next = (): IteratorResult<T> => {
    if (finished) return { done: true, value: undefined };
    const result = iterator.next();
    if (result.done) finished = true;
    return result;
  };
  const worker = async () => {
    for (let item = next(); !item.done; item = next()) await work(item.value);
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  } finally {
    if (!finished) {
      finished = true;
      iterator.return?.();
    }
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
