/**
 * The gateway's core services, independent of HTTP and DIMSE: storage, index, ingest, search.
 * Both adapters and the CLI are built on top of one of these.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { GatewayConfig } from './config.js';
import { isStorageSopClass } from './dicom/storage-sop-classes.js';
import type { IndexStore } from './index/index-store.js';
import { SqliteIndex } from './index/sqlite-index.js';
import { DeleteService } from './ingest/delete-instances.js';
import { IngestService } from './ingest/store-instance.js';
import type { Logger } from './log.js';
import { AuditLog, dailyFileLayout } from './observability/audit-log.js';
import { SearchService } from './query/search-service.js';
import { RenderedService } from './retrieve/rendered-service.js';
import { RetrieveService } from './retrieve/retrieve-service.js';
import type { FileStore } from './storage/file-store.js';
import { recoverPlacedFiles } from './maintenance/recover-placements.js';
import { lockDataDirectory } from './storage/data-lock.js';
import { FsFileStore } from './storage/fs-file-store.js';

export interface GatewayCore {
  config: GatewayConfig;
  log: Logger;
  store: FileStore;
  index: IndexStore;
  ingest: IngestService;
  deletion: DeleteService;
  search: SearchService;
  retrieve: RetrieveService;
  rendered: RenderedService;
  /** The audit trail (daily JSON-lines files); absent when audit.enabled is false. */
  audit?: AuditLog;
  close(): Promise<void>;
}

export const INDEX_FILE = 'index.sqlite';

export function sopClassAcceptor(config: GatewayConfig): (uid: string) => boolean {
  const extra = new Set(config.dimse.extraStorageSopClasses);
  const listed =
    config.dimse.storageSopClasses === 'all' ? undefined : new Set(config.dimse.storageSopClasses);
  return (uid) => extra.has(uid) || (listed ? listed.has(uid) : isStorageSopClass(uid));
}

export async function openCore(config: GatewayConfig, log: Logger): Promise<GatewayCore> {
  mkdirSync(config.data, { recursive: true });
  const lock = lockDataDirectory(config.data);
  let index: SqliteIndex | undefined;
  let audit: AuditLog | undefined;
  try {
    // Opened first: a gateway that cannot keep its audit trail does not start.
    if (config.audit.enabled) {
      audit = new AuditLog({ ...dailyFileLayout(config.audit.file), log });
      await audit.open();
    }
    index = new SqliteIndex(join(config.data, INDEX_FILE));
    return await assembleCore(config, log, index, audit, () => lock.release());
  } catch (error) {
    await index?.close().catch(() => undefined);
    await audit?.close().catch(() => undefined);
    lock.release();
    throw error;
  }
}

async function assembleCore(
  config: GatewayConfig,
  log: Logger,
  index: SqliteIndex,
  audit: AuditLog | undefined,
  releaseLock: () => void,
): Promise<GatewayCore> {
  const store = new FsFileStore(config.data);
  await store.init();
  const ingest = new IngestService(
    store,
    index,
    {
      overwrite: config.overwrite,
      maxInstanceBytes: config.limits.maxInstanceBytes,
      acceptSopClass: sopClassAcceptor(config),
    },
    log,
  );
  await recoverPlacedFiles(store, index, ingest, log);
  const removed = await store.cleanTemporary();
  if (removed > 0) log.warn({ removed }, 'removed partial uploads left by an earlier crash');
  const search = new SearchService(index, {
    maxLimit: config.limits.qidoMaxLimit,
    caseInsensitivePersonNames: config.qido.caseInsensitivePersonNames,
  });
  const retrieve = new RetrieveService(index, store);
  const rendered = new RenderedService(index, store, config.limits.renderCacheBytes);
  const deletion = new DeleteService(store, index, log);
  const finished = await deletion.finishInterruptedRemovals();
  if (finished > 0)
    log.warn({ files: finished }, 'removed files of deletions interrupted by an earlier crash');
  deletion.onDeleted((_scope, result) => {
    rendered.forget(result.sopInstanceUids);
    retrieve.metadata.forgetAll();
  });
  if (audit) {
    ingest.onStored(audit.ingestListener());
    deletion.onDeleted(audit.deleteListener());
  }
  return {
    config,
    log,
    store,
    index,
    ingest,
    deletion,
    search,
    retrieve,
    rendered,
    audit,
    close: async () => {
      await store.close();
      await index.close();
      // Closing made every index row durable: the placement markers can go now rather than at the next start.
      await ingest.confirmed();
      await audit?.close();
      releaseLock();
    },
  };
}
