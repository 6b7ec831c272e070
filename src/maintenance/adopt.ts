/**
 * Bringing a file that is in files/ but not in the index into the index, for verify --repair and
 * reindex alike:
 *
 * - a file at its proper place (files/<study>/<series>/<sop>[.<hash>].dcm, as ingest names it and as a
 *   crash between placing and indexing leaves it) is indexed where it is, without being rewritten;
 * - any other file (misplaced, or a bare dataset) goes through the ingest pipeline like `import`, which
 *   puts a copy at its proper place; the original is then removed;
 * - a file with the same dataset as the indexed instance of its SOP Instance UID is a duplicate and is
 *   removed; one with other content is a conflict, resolved by the caller's policy;
 * - a file that cannot be read or stored is moved to quarantine, never deleted.
 */
import { GatewayError } from '../errors.js';
import type { IndexStore } from '../index/index-store.js';
import { extractRecord } from '../ingest/extract-record.js';
import { importFile } from '../ingest/import-files.js';
import type { IngestService } from '../ingest/store-instance.js';
import { validateInstance } from '../ingest/validate-instance.js';
import type { FsFileStore } from '../storage/fs-file-store.js';
import { modifiedTime, type Quarantine } from './fs-ops.js';
import { hasPart10Header, isCanonicalKey, readStoredFile, type ReadOptions } from './stored-file.js';

/**
 * What to do when a file holds another version of an indexed SOP instance:
 * - keep-indexed: the index row is what was last acknowledged; the file goes to quarantine (verify);
 * - newest: the file modified last wins, the other goes to quarantine (reindex, where the index is new
 *   and a pair like this is an overwrite that a crash interrupted).
 */
export type ConflictPolicy = 'keep-indexed' | 'newest';

export type AdoptOutcome =
  /** Indexed where it is. */
  | { action: 'indexed'; fileKey: string; sopInstanceUid: string }
  /** Stored through the ingest pipeline as `storedAs`; the original was removed. */
  | { action: 'imported'; fileKey: string; sopInstanceUid: string; storedAs: string }
  /** Same dataset as the indexed `indexedFileKey`; this file was removed. */
  | { action: 'duplicate'; fileKey: string; sopInstanceUid: string; indexedFileKey: string }
  /** Indexed in place of an older version of the instance, which went to quarantine. */
  | {
      action: 'superseded';
      fileKey: string;
      sopInstanceUid: string;
      olderFileKey: string;
      quarantinedAs: string;
    }
  | { action: 'quarantined'; fileKey: string; sopInstanceUid?: string; reason: string; quarantinedAs: string }
  /** The index already points at this file. */
  | { action: 'already-indexed'; fileKey: string; sopInstanceUid: string }
  /** The file could not be removed, moved or indexed (an I/O error); it is left where it is. */
  | { action: 'failed'; fileKey: string; sopInstanceUid?: string; reason: string };

export interface AdopterDeps {
  store: FsFileStore;
  index: IndexStore;
  /** For files that are not at their proper place; its duplicate policy must refuse overwrites. */
  ingest: IngestService;
  quarantine: Quarantine;
  read: ReadOptions;
  /** Recorded as the instance's door, e.g. "reindex". */
  door: string;
  policy: ConflictPolicy;
}

export class FileAdopter {
  constructor(private readonly deps: AdopterDeps) {}

  /**
   * Indexes a file at its proper place. Returns `misplaced` for a file that must go through the ingest
   * pipeline instead (call `importMisplaced` for it, once the files at their places are indexed).
   */
  async indexInPlace(fileKey: string): Promise<AdoptOutcome | { action: 'misplaced'; fileKey: string }> {
    try {
      return await this.indexInPlaceOrThrow(fileKey);
    } catch (error) {
      return { action: 'failed', fileKey, reason: describe(error) };
    }
  }

  private async indexInPlaceOrThrow(
    fileKey: string,
  ): Promise<AdoptOutcome | { action: 'misplaced'; fileKey: string }> {
    const { store, index, quarantine, policy } = this.deps;
    let file;
    try {
      file = await readStoredFile(store, fileKey, this.deps.read);
    } catch (error) {
      // Not Part 10 at all: possibly a bare dataset, which the import path can read.
      if (!(await hasPart10Header(store, fileKey))) return { action: 'misplaced', fileKey };
      return this.toQuarantine(fileKey, undefined, describe(error));
    }
    let id;
    try {
      // Admission policy (SOP classes, size) is not applied again to a file that is already stored.
      id = validateInstance(file.parsed, {}, () => true);
    } catch (error) {
      return this.toQuarantine(fileKey, undefined, describe(error));
    }
    const sop = id.sopInstanceUid;
    if (!isCanonicalKey(fileKey, id)) return { action: 'misplaced', fileKey };

    const existing = index.getInstance(sop);
    if (existing?.storage.fileKey === fileKey) {
      return { action: 'already-indexed', fileKey, sopInstanceUid: sop };
    }
    if (existing && existing.storage.datasetSha256 === file.datasetSha256) {
      await store.remove(fileKey);
      return { action: 'duplicate', fileKey, sopInstanceUid: sop, indexedFileKey: existing.storage.fileKey };
    }
    let older: string | undefined;
    if (existing) {
      const other = existing.storage.fileKey;
      if (policy === 'keep-indexed') {
        return this.toQuarantine(
          fileKey,
          sop,
          `SOP instance ${sop} is indexed with other content (${other})`,
        );
      }
      const [mine, theirs] = [await modifiedTime(store, fileKey), await modifiedTime(store, other)];
      if (theirs !== undefined && (mine ?? 0) <= theirs) {
        return this.toQuarantine(fileKey, sop, `an older version of SOP instance ${sop} than ${other}`);
      }
      older = other;
    }

    let record;
    try {
      record = extractRecord(
        file.parsed,
        id,
        { fileKey, fileSize: file.fileSize, sha256: file.sha256, datasetSha256: file.datasetSha256 },
        { door: this.deps.door },
      );
    } catch (error) {
      return this.toQuarantine(fileKey, sop, describe(error));
    }
    // An older version leaves files/ before its row is replaced: replacing the row queues its file for
    // removal, and a crash in between must not let the next start-up delete it instead.
    const quarantinedAs =
      older === undefined
        ? undefined
        : await quarantine.put(older, `superseded by a newer version of SOP instance ${sop} (${fileKey})`);
    try {
      index.putInstance(record);
    } catch (error) {
      return this.toQuarantine(fileKey, sop, describe(error));
    }
    if (older === undefined || quarantinedAs === undefined) {
      return { action: 'indexed', fileKey, sopInstanceUid: sop };
    }
    index.completeFileRemovals([older]);
    return { action: 'superseded', fileKey, sopInstanceUid: sop, olderFileKey: older, quarantinedAs };
  }

  /** Stores a misplaced file (or bare dataset) through the ingest pipeline and removes the original. */
  async importMisplaced(fileKey: string): Promise<AdoptOutcome> {
    const { store, index, ingest } = this.deps;
    try {
      const outcome = await importFile(ingest, store.pathOf(fileKey));
      if (!outcome.ok) {
        return await this.toQuarantine(fileKey, outcome.instance.sopInstanceUid, describe(outcome.error));
      }
      const sop = outcome.instance.sopInstanceUid;
      const indexedFileKey = index.getInstance(sop)?.storage.fileKey;
      if (indexedFileKey === undefined || indexedFileKey === fileKey) {
        // Cannot happen with a pipeline that places files itself; never remove what the index points at.
        return { action: 'already-indexed', fileKey, sopInstanceUid: sop };
      }
      await store.remove(fileKey);
      return outcome.status === 'duplicate'
        ? { action: 'duplicate', fileKey, sopInstanceUid: sop, indexedFileKey }
        : { action: 'imported', fileKey, sopInstanceUid: sop, storedAs: indexedFileKey };
    } catch (error) {
      return { action: 'failed', fileKey, reason: describe(error) };
    }
  }

  private async toQuarantine(
    fileKey: string,
    sopInstanceUid: string | undefined,
    reason: string,
  ): Promise<AdoptOutcome> {
    const quarantinedAs = await this.deps.quarantine.put(fileKey, reason);
    return { action: 'quarantined', fileKey, sopInstanceUid, reason, quarantinedAs };
  }
}

/** A failure as one line: the gateway's error message and code for pipeline errors. */
export function describe(error: unknown): string {
  if (error instanceof GatewayError) return `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}
