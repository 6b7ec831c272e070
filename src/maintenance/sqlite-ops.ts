/**
 * What the offline maintenance commands need from the SQLite index beyond the IndexStore interface:
 * an exclusive lock that proves no gateway has the index open (and keeps one from starting), SQLite's
 * own integrity check, the denormalized counters checked and recomputed, lookups by file key, and an
 * old index file read without migrating it. All of it works on SqliteIndex's `db` (or a connection of
 * its own).
 */
import Database from 'better-sqlite3';
import type { SqliteIndex } from '../index/sqlite-index.js';

/** Another process (a running gateway, another maintenance command) has the index open. */
export class IndexBusyError extends Error {
  readonly code = 'INDEX_BUSY';
  constructor(path: string) {
    super(
      `the index ${path} is in use by another process: stop the gateway (or the other maintenance command) first`,
    );
    this.name = 'IndexBusyError';
  }
}

const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/**
 * Takes an exclusive lock on the index, held until `unlockIndex` or close. In WAL mode every open
 * connection holds a shared lock on the database file for as long as it is open, idle or not, so this
 * fails (IndexBusyError) while a gateway is running; and while it is held, a gateway that starts fails
 * with "database is locked" instead of writing beside us.
 */
export function lockIndex(index: SqliteIndex, timeoutMs = 1000): void {
  lockConnection(index.db, index.path, timeoutMs);
  // The index's checkpoint worker has its own connection, which the lock now shuts out: checkpoint from
  // this one instead, so the write-ahead log does not grow without bound during a long run.
  index.db.pragma('wal_autocheckpoint = 1000');
}

/** Releases the lock of `lockIndex`, before closing (the checkpoint worker can then finish at once). */
export function unlockIndex(index: SqliteIndex): void {
  if (!index.db.open) return;
  index.db.pragma('locking_mode = NORMAL');
  // The lock is released at the next access of the file.
  index.db.prepare('SELECT count(*) FROM sqlite_master').get();
  index.db.pragma('wal_autocheckpoint = 0');
}

function lockConnection(db: Database.Database, path: string, timeoutMs: number): void {
  db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(timeoutMs))}`);
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE; COMMIT');
  } catch (error) {
    db.pragma('locking_mode = NORMAL');
    if ((error as { code?: string }).code === 'SQLITE_BUSY') throw new IndexBusyError(path);
    throw error;
  } finally {
    db.pragma(`busy_timeout = ${DEFAULT_BUSY_TIMEOUT_MS}`);
  }
}

/** What could be read from an index file that is about to be moved aside (reindex). */
export interface OldIndexSummary {
  /** Instances it held; undefined if it could not be read. */
  instances: number | undefined;
  /** Files of deleted instances it still listed for removal. */
  pendingRemovals: string[];
  /** Why it could not be read, if it could not. */
  error?: string;
}

/**
 * Opens an existing index file without migrating or otherwise changing it, checks that no other
 * process has it open (IndexBusyError), reads what reindex needs, folds the write-ahead log into the
 * file and closes it. An unreadable (corrupt) file is reported, not thrown: that is when reindex is run.
 */
export function inspectOldIndex(path: string, timeoutMs = 1000): OldIndexSummary {
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true });
  } catch (error) {
    return { instances: undefined, pendingRemovals: [], error: (error as Error).message };
  }
  try {
    try {
      lockConnection(db, path, timeoutMs);
    } catch (error) {
      if (error instanceof IndexBusyError) throw error;
      return { instances: undefined, pendingRemovals: [], error: (error as Error).message };
    }
    const summary: OldIndexSummary = { instances: undefined, pendingRemovals: [] };
    try {
      summary.instances = (db.prepare('SELECT count(*) AS n FROM instances').get() as { n: number }).n;
      summary.pendingRemovals = readPendingRemovals(db);
      db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (error) {
      summary.error = (error as Error).message;
    }
    return summary;
  } finally {
    db.close();
  }
}

/** SQLite's integrity check of the index file: an empty list when it is sound. */
export function checkIndexIntegrity(index: SqliteIndex): string[] {
  const rows = index.db.pragma('integrity_check') as { integrity_check: string }[];
  const messages = rows.map((row) => row.integrity_check);
  return messages.length === 1 && messages[0] === 'ok' ? [] : messages;
}

/** The SOP Instance UID of the instance stored in a file, if the file is indexed. */
export function indexedSopOfFile(index: SqliteIndex): (fileKey: string) => string | undefined {
  const statement = index.db.prepare('SELECT sop_uid FROM instances WHERE file_key = ?').pluck();
  return (fileKey) => statement.get(fileKey) as string | undefined;
}

/** Files the old index still had queued for removal (deleted or replaced instances), as pendingFileRemovals. */
function readPendingRemovals(db: Database.Database): string[] {
  const table = db
    .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'pending_file_removals'`)
    .get();
  if (!table) return [];
  return db
    .prepare(
      `SELECT p.file_key FROM pending_file_removals p
       WHERE NOT EXISTS (SELECT 1 FROM instances i WHERE i.file_key = p.file_key) ORDER BY p.file_key`,
    )
    .pluck()
    .all() as string[];
}

/** A denormalized count or list in the index that does not agree with the instance rows. */
export interface CounterProblem {
  level: 'patient' | 'study' | 'series';
  uid: string;
  problem: string;
}

const RECOUNT_SERIES = `(SELECT count(*) FROM instances i WHERE i.series_pk = se.pk)`;
const RECOUNT_STUDY_SERIES = `(SELECT count(*) FROM series x WHERE x.study_pk = s.pk)`;
const RECOUNT_STUDY_INSTANCES = `(SELECT count(*) FROM instances i JOIN series x ON x.pk = i.series_pk
  WHERE x.study_pk = s.pk)`;
// As SqliteIndex keeps ModalitiesInStudy: the distinct non-empty modalities of the study's series, sorted.
const RECOMPUTE_MODALITIES = `COALESCE((SELECT group_concat(modality, '\\') FROM
  (SELECT DISTINCT modality FROM series x WHERE x.study_pk = s.pk AND modality IS NOT NULL AND modality <> ''
   ORDER BY modality)), '')`;

/**
 * Series and study counts (NumberOfSeriesRelatedInstances and the like), ModalitiesInStudy, and series,
 * studies and patients left without instances. SqliteIndex keeps them in step inside every transaction;
 * rows removed behind its back (by hand, or a damaged file) leave them wrong.
 */
export function checkCounters(index: SqliteIndex): CounterProblem[] {
  const db = index.db;
  const problems: CounterProblem[] = [];
  const series = db
    .prepare(
      `SELECT se.series_uid AS uid, se.num_instances AS recorded, ${RECOUNT_SERIES} AS actual FROM series se
       WHERE se.num_instances <> ${RECOUNT_SERIES} OR ${RECOUNT_SERIES} = 0`,
    )
    .all() as { uid: string; recorded: number; actual: number }[];
  for (const row of series) {
    problems.push({
      level: 'series',
      uid: row.uid,
      problem:
        row.actual === 0
          ? 'series without instances'
          : `records ${row.recorded} instances, has ${row.actual}`,
    });
  }
  const studies = db
    .prepare(
      `SELECT s.study_uid AS uid, s.num_instances AS instances, ${RECOUNT_STUDY_INSTANCES} AS actualInstances,
         s.num_series AS series, ${RECOUNT_STUDY_SERIES} AS actualSeries, s.modalities AS modalities,
         ${RECOMPUTE_MODALITIES} AS actualModalities
       FROM studies s`,
    )
    .all() as {
    uid: string;
    instances: number;
    actualInstances: number;
    series: number;
    actualSeries: number;
    modalities: string;
    actualModalities: string;
  }[];
  for (const row of studies) {
    const wrong: string[] = [];
    if (row.actualSeries === 0) wrong.push('study without series');
    if (row.instances !== row.actualInstances) {
      wrong.push(`records ${row.instances} instances, has ${row.actualInstances}`);
    }
    if (row.series !== row.actualSeries) wrong.push(`records ${row.series} series, has ${row.actualSeries}`);
    if (row.modalities !== row.actualModalities) {
      wrong.push(`records modalities "${row.modalities}", has "${row.actualModalities}"`);
    }
    if (wrong.length > 0) problems.push({ level: 'study', uid: row.uid, problem: wrong.join('; ') });
  }
  const patients = db
    .prepare(`SELECT pk FROM patients p WHERE NOT EXISTS (SELECT 1 FROM studies s WHERE s.patient_pk = p.pk)`)
    .pluck()
    .all() as number[];
  // Patient IDs stay out of reports as they stay out of logs: the row key is enough to find the row.
  for (const pk of patients)
    problems.push({ level: 'patient', uid: `#${pk}`, problem: 'patient without studies' });
  return problems;
}

/** Recomputes what checkCounters checks, and removes empty series, studies and patients; one transaction. */
export function repairCounters(index: SqliteIndex): void {
  const db = index.db;
  const now = new Date().toISOString();
  db.transaction(() => {
    db.exec(`DELETE FROM series WHERE NOT EXISTS (SELECT 1 FROM instances i WHERE i.series_pk = series.pk)`);
    db.exec(`DELETE FROM studies WHERE NOT EXISTS (SELECT 1 FROM series x WHERE x.study_pk = studies.pk)`);
    db.exec(
      `DELETE FROM patients WHERE NOT EXISTS (SELECT 1 FROM studies s WHERE s.patient_pk = patients.pk)`,
    );
    db.prepare(
      `UPDATE series AS se SET num_instances = ${RECOUNT_SERIES}, updated_at = ?
       WHERE se.num_instances <> ${RECOUNT_SERIES}`,
    ).run(now);
    db.prepare(
      `UPDATE studies AS s SET num_instances = ${RECOUNT_STUDY_INSTANCES}, num_series = ${RECOUNT_STUDY_SERIES},
         modalities = ${RECOMPUTE_MODALITIES}, updated_at = ?
       WHERE s.num_instances <> ${RECOUNT_STUDY_INSTANCES} OR s.num_series <> ${RECOUNT_STUDY_SERIES}
         OR s.modalities <> ${RECOMPUTE_MODALITIES}`,
    ).run(now);
  })();
}
