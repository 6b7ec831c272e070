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
import { IngestService } from './ingest/store-instance.js';
import type { Logger } from './log.js';
import { SearchService } from './query/search-service.js';
import { RenderedService } from './retrieve/rendered-service.js';
import { RetrieveService } from './retrieve/retrieve-service.js';
import type { FileStore } from './storage/file-store.js';
import { FsFileStore } from './storage/fs-file-store.js';

export interface GatewayCore {
  config: GatewayConfig;
  log: Logger;
  store: FileStore;
  index: IndexStore;
  ingest: IngestService;
  search: SearchService;
  retrieve: RetrieveService;
  rendered: RenderedService;
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
  const store = new FsFileStore(config.data);
  await store.init();
  const removed = await store.cleanTemporary();
  if (removed > 0) log.warn({ removed }, 'removed partial uploads left by an earlier crash');
  const index = new SqliteIndex(join(config.data, INDEX_FILE));
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
  const search = new SearchService(index, {
    maxLimit: config.limits.qidoMaxLimit,
    caseInsensitivePersonNames: config.qido.caseInsensitivePersonNames,
  });
  const retrieve = new RetrieveService(index, store);
  const rendered = new RenderedService(index, store, config.limits.renderCacheBytes);
  return {
    config,
    log,
    store,
    index,
    ingest,
    search,
    retrieve,
    rendered,
    close: async () => {
      await store.close();
      await index.close();
    },
  };
}
