/**
 * One process per data directory. The lock is SQLite's own exclusive lock on `<data>/gateway.lock`, held
 * by an open transaction for the life of the process: the operating system drops it when the process
 * dies, kill -9 included, so it can never go stale, and a second process (or a second core in this one)
 * is refused at once. Nothing else may open that file: closing any descriptor of it would release the
 * POSIX lock underneath.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';

export const LOCK_FILE = 'gateway.lock';

export class DataDirectoryBusyError extends Error {
  constructor(readonly dataDir: string) {
    super(
      `data directory ${dataDir} is in use by another dicomweb-gateway process (serve, import, verify or ` +
        'reindex): stop it first',
    );
    this.name = 'DataDirectoryBusyError';
  }
}

export interface DataLock {
  release(): void;
}

export function lockDataDirectory(dataDir: string): DataLock {
  const db = new Database(join(dataDir, LOCK_FILE), { timeout: 0 });
  try {
    db.pragma('journal_mode = DELETE');
    db.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code?.startsWith('SQLITE_BUSY'))
      throw new DataDirectoryBusyError(dataDir);
    throw error;
  }
  return {
    release: () => {
      if (!db.open) return;
      db.exec('ROLLBACK');
      db.close();
    },
  };
}
