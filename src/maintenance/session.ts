/**
 * A maintenance session on a stopped gateway's data directory: the file store, the index under an
 * exclusive lock (refused while a gateway has it open), an ingest pipeline for misplaced files, and
 * this run's quarantine folder.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { INDEX_FILE } from '../core.js';
import type { ReaderLimits } from '../dicom/dataset-reader.js';
import { SqliteIndex } from '../index/sqlite-index.js';
import { IngestService } from '../ingest/store-instance.js';
import type { Logger } from '../log.js';
import { DataDirectoryBusyError, lockDataDirectory, type DataLock } from '../storage/data-lock.js';
import { FsFileStore } from '../storage/fs-file-store.js';
import { Quarantine, runId } from './fs-ops.js';
import { inspectOldIndex, lockIndex, unlockIndex } from './sqlite-ops.js';

/** The command cannot run at all (no data directory, index in use); distinct from problems it finds. */
export class MaintenanceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MaintenanceError';
  }
}

export interface MaintenanceOptions {
  dataDir: string;
  log: Logger;
  /** Admission policy for files that go through the ingest pipeline (misplaced files). */
  ingest: { maxInstanceBytes: number; acceptSopClass: (sopClassUid: string) => boolean };
  readerLimits?: Partial<ReaderLimits>;
  /** How long to wait for another process to let go of the index before giving up. */
  lockTimeoutMs?: number;
  /** Names this run's quarantine folder and index backup; default: the start time. */
  runId?: string;
  /** The data directory lock, when the caller took it already; the session then owns it. */
  dataLock?: DataLock;
}

export interface MaintenanceSession {
  dataDir: string;
  runId: string;
  store: FsFileStore;
  index: SqliteIndex;
  ingest: IngestService;
  quarantine: Quarantine;
  options: MaintenanceOptions;
  close(): Promise<void>;
}

export function requireDataDir(dataDir: string): void {
  if (!existsSync(dataDir) || !statSync(dataDir).isDirectory()) {
    throw new MaintenanceError(`no data directory at ${dataDir}`);
  }
}

/**
 * Opens the data directory's index (it must exist unless `create`), having first checked with a
 * connection of its own that no other process has it open, so a running gateway's index is neither
 * migrated nor checkpointed by us.
 */
export async function openSession(
  options: MaintenanceOptions,
  { create = false }: { create?: boolean } = {},
): Promise<MaintenanceSession> {
  const { dataDir } = options;
  requireDataDir(dataDir);
  const dataLock = options.dataLock ?? takeDataLock(dataDir);
  try {
    return await openLockedSession(options, create, dataLock);
  } catch (error) {
    dataLock.release();
    throw error;
  }
}

/** The lock every gateway process (serve, import) holds on its data directory. */
export function takeDataLock(dataDir: string): DataLock {
  try {
    return lockDataDirectory(dataDir);
  } catch (error) {
    if (error instanceof DataDirectoryBusyError) throw new MaintenanceError(error.message);
    throw error;
  }
}

async function openLockedSession(
  options: MaintenanceOptions,
  create: boolean,
  dataLock: DataLock,
): Promise<MaintenanceSession> {
  const { dataDir } = options;
  const indexPath = join(dataDir, INDEX_FILE);
  if (existsSync(indexPath)) {
    const probe = inspectOldIndex(indexPath, options.lockTimeoutMs);
    if (probe.error !== undefined && !create) {
      throw new MaintenanceError(`the index ${indexPath} cannot be read (${probe.error}): run reindex`);
    }
  } else if (!create) {
    throw new MaintenanceError(`no index at ${indexPath} (reindex builds one from the files)`);
  }
  const id = options.runId ?? runId();
  const store = new FsFileStore(dataDir);
  await store.init();
  let index: SqliteIndex | undefined;
  try {
    index = new SqliteIndex(indexPath);
    lockIndex(index, options.lockTimeoutMs);
  } catch (error) {
    await index?.close();
    await store.close();
    throw error;
  }
  const ingest = new IngestService(
    store,
    index,
    {
      overwrite: false,
      maxInstanceBytes: options.ingest.maxInstanceBytes,
      acceptSopClass: options.ingest.acceptSopClass,
      readerLimits: options.readerLimits,
    },
    options.log,
  );
  const opened = index;
  return {
    dataDir,
    runId: id,
    store,
    index: opened,
    ingest,
    quarantine: new Quarantine(store, id),
    options,
    close: async () => {
      unlockIndex(opened);
      await opened.close();
      // The index closed durable: the markers of files imported in this run go now.
      await ingest.confirmed();
      await store.close();
      dataLock.release();
    },
  };
}

/** One item done in a phase of a long run, for progress bars. */
export interface ProgressEvent {
  phase: 'index' | 'files' | 'repair' | 'reindex';
  done: number;
  total: number;
  failed: number;
}
