/**
 * `reindex`: rebuilds the index from the files, with the gateway stopped. The old index is moved aside
 * (index.sqlite.bak-<run>), never deleted; a new one is built by reading every file under files/ where
 * it is (nothing is rewritten): parsed and hashed the way ingest does, its record extracted and indexed.
 *
 * Files that cannot be read or indexed go to quarantine. Two files of one SOP instance with different
 * content (an overwrite a crash interrupted) keep the one modified last; the other goes to quarantine.
 * Byte-identical duplicates of a dataset are removed. Files of instances the old index had deleted (its
 * pending removals) are removed rather than brought back.
 */
import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { INDEX_FILE } from '../core.js';
import { FileAdopter, describe, type AdoptOutcome } from './adopt.js';
import { runId as makeRunId } from './fs-ops.js';
import {
  openSession,
  requireDataDir,
  takeDataLock,
  type MaintenanceOptions,
  type ProgressEvent,
} from './session.js';
import { inspectOldIndex } from './sqlite-ops.js';

export interface ReindexOptions {
  onProgress?: (event: ProgressEvent) => void;
}

export interface ReindexReport {
  dataDir: string;
  /** Where the old index went (a file name in the data directory), if there was one. */
  backup?: string;
  /** What the old index held; `error` when it could not be read. */
  oldIndex?: { instances?: number; error?: string };
  /** Files found under files/. */
  files: number;
  /** How many files came to each outcome. */
  counts: Record<AdoptOutcome['action'], number>;
  /** Every outcome other than a plain "indexed". */
  details: AdoptOutcome[];
  quarantined: { fileKey: string; to: string; reason: string }[];
  /** Files of deleted instances removed (the old index listed them for removal). */
  removedPendingFiles: string[];
  removedTemporary: number;
  /** Instances in the new index. */
  instances: number;
  /** Files quarantined or that could not be handled: reindex exits non-zero when this is not 0. */
  failed: number;
}

export async function reindexStore(
  maintenance: MaintenanceOptions,
  options: ReindexOptions = {},
): Promise<ReindexReport> {
  requireDataDir(maintenance.dataDir);
  // Taken before the old index is looked at and moved aside; the session owns it from openSession on.
  const dataLock = takeDataLock(maintenance.dataDir);
  try {
    return await reindexLocked({ ...maintenance, dataLock }, options);
  } catch (error) {
    dataLock.release();
    throw error;
  }
}

async function reindexLocked(
  maintenance: MaintenanceOptions,
  options: ReindexOptions,
): Promise<ReindexReport> {
  const { dataDir } = maintenance;
  const progress = options.onProgress ?? (() => undefined);
  const id = maintenance.runId ?? makeRunId();
  const report: ReindexReport = {
    dataDir,
    files: 0,
    counts: {
      indexed: 0,
      imported: 0,
      duplicate: 0,
      superseded: 0,
      quarantined: 0,
      'already-indexed': 0,
      failed: 0,
    },
    details: [],
    quarantined: [],
    removedPendingFiles: [],
    removedTemporary: 0,
    instances: 0,
    failed: 0,
  };

  // The old index: checked to be unused (a running gateway), read for what must not come back, moved aside.
  const indexPath = join(dataDir, INDEX_FILE);
  let pending: string[] = [];
  if (existsSync(indexPath)) {
    const old = inspectOldIndex(indexPath, maintenance.lockTimeoutMs);
    report.oldIndex = { instances: old.instances, error: old.error };
    pending = old.pendingRemovals;
    report.backup = `${INDEX_FILE}.bak-${id}`;
    // Its write-ahead log, if one is left, belongs with it: SQLite finds it by the database's name.
    for (const suffix of ['', '-wal', '-shm']) {
      if (existsSync(`${indexPath}${suffix}`)) {
        await rename(`${indexPath}${suffix}`, join(dataDir, `${report.backup}${suffix}`));
      }
    }
  }

  const session = await openSession({ ...maintenance, runId: id }, { create: true });
  try {
    const { store, index, quarantine } = session;
    report.removedTemporary = await store.cleanTemporary();
    for (const fileKey of pending) {
      if (!(await store.exists(fileKey))) continue;
      await store.remove(fileKey);
      report.removedPendingFiles.push(fileKey);
    }

    const adopter = new FileAdopter({
      store,
      index,
      ingest: session.ingest,
      quarantine,
      read: { maxInstanceBytes: maintenance.ingest.maxInstanceBytes, readerLimits: maintenance.readerLimits },
      door: 'reindex',
      policy: 'newest',
    });
    let total = 0;
    for await (const _key of store.list('files/')) total++;
    let done = 0;
    const note = (outcome: AdoptOutcome) => {
      report.counts[outcome.action]++;
      if (outcome.action !== 'indexed') report.details.push(outcome);
      if (outcome.action === 'quarantined' || outcome.action === 'failed') report.failed++;
      // A superseded file that went to quarantine is a failure too: the store was not consistent.
      if (outcome.action === 'superseded') report.failed++;
      if (done < total) progress({ phase: 'reindex', done: ++done, total, failed: report.failed });
    };
    const misplaced: string[] = [];
    for await (const fileKey of store.list('files/')) {
      report.files++;
      const outcome = await adopter.indexInPlace(fileKey);
      if (outcome.action === 'misplaced') misplaced.push(fileKey);
      else note(outcome);
    }
    // Misplaced files last: the ingest pipeline then compares them with a complete index.
    for (const fileKey of misplaced) note(await adopter.importMisplaced(fileKey));

    report.quarantined = [...quarantine.entries];
    report.instances = index.counts().instances;
  } catch (error) {
    const backup = report.backup ? `; the old index is ${report.backup}` : '';
    throw new Error(`reindex stopped: ${describe(error)}${backup}`, { cause: error });
  } finally {
    await session.close();
  }
  return report;
}
