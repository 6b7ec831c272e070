/**
 * Start-up recovery of files placed but perhaps never indexed. A placed file keeps its marker until its
 * index row is durable, so a marker found at start-up means a crash came between placing and indexing,
 * or a power loss took back an index commit that had already been acknowledged. A file the crash caught
 * before its fsync finished was never acknowledged, and the store removes it (its marker names the
 * content's digest). Any other is complete, so it is indexed where it is, as verify --repair would:
 * nothing acknowledged is lost. A file that cannot be indexed goes to quarantine, never deleted.
 */
import type { IndexStore } from '../index/index-store.js';
import type { IngestService } from '../ingest/store-instance.js';
import type { Logger } from '../log.js';
import type { FsFileStore } from '../storage/fs-file-store.js';
import { FileAdopter, type AdoptOutcome } from './adopt.js';
import { Quarantine, runId } from './fs-ops.js';

export async function recoverPlacedFiles(
  store: FsFileStore,
  index: IndexStore,
  ingest: IngestService,
  log: Logger,
): Promise<void> {
  const adopter = new FileAdopter({
    store,
    index,
    ingest,
    quarantine: new Quarantine(store, `recovery-${runId()}`),
    read: { maxInstanceBytes: ingest.maxInstanceBytes, readerLimits: ingest.readerLimits },
    door: 'recovery',
    // The file placed last is the newer version: an overwrite whose commit the crash took back.
    policy: 'newest',
  });
  const adopted: AdoptOutcome[] = [];
  const discarded = (key: string) =>
    log.warn({ fileKey: key }, 'removed a file a crash left half-written; it was never acknowledged');
  await store.recoverPlacements(async (key) => {
    // Its row is there: only the marker was left.
    if (index.isFileIndexed(key)) return true;
    const outcome = await adopter.indexInPlace(key);
    if (outcome.action === 'misplaced') {
      // Ingest only places files at their proper place; anything else is left for verify --repair.
      log.warn({ fileKey: key }, 'a placed file is not at its proper place; left for verify --repair');
      return true;
    }
    adopted.push(outcome);
    if (outcome.action === 'failed') {
      log.error(
        { fileKey: key, reason: outcome.reason },
        'could not index a placed file; retried at the next start',
      );
      return false;
    }
    // The marker goes once the new row is durable, as in ingest.
    await index.durable(true);
    return true;
  }, discarded);
  if (adopted.length === 0) return;
  const counts: Partial<Record<AdoptOutcome['action'], number>> = {};
  for (const { action } of adopted) counts[action] = (counts[action] ?? 0) + 1;
  log.warn(
    { ...counts, quarantinedFiles: adopted.flatMap((o) => (o.action === 'quarantined' ? [o.fileKey] : [])) },
    'indexed files an earlier crash left placed but not durably indexed',
  );
}
