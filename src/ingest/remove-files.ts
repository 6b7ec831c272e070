/**
 * The file half of a delete or replacement. The index transaction that dropped the rows also queued
 * their files (IndexStore.pendingFileRemovals); they are unlinked here and only then dequeued, so a crash
 * in between leaves the queue for the next start-up to finish rather than files that look unindexed.
 * Nothing is unlinked before that transaction is durable: a power loss could otherwise bring back rows
 * whose files are gone.
 */
import type { Logger } from 'pino';
import type { IndexStore } from '../index/index-store.js';
import type { FileStore } from '../storage/file-store.js';

export async function removeQueuedFiles(
  store: FileStore,
  index: IndexStore,
  fileKeys: readonly string[],
  log: Logger,
): Promise<number> {
  if (fileKeys.length === 0) return 0;
  await index.durable(true);
  const removed: string[] = [];
  for (const fileKey of fileKeys) {
    try {
      await store.remove(fileKey);
      removed.push(fileKey);
    } catch (error) {
      log.warn({ err: error, fileKey }, 'could not remove the file of a deleted or replaced instance');
    }
  }
  index.completeFileRemovals(removed);
  return removed.length;
}
