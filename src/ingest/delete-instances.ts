/**
 * Deletion of a study, a series or one instance: index rows go in one transaction (counts and
 * ModalitiesInStudy follow), then the files. Listeners (caches, metrics, audit) hear what went.
 */
import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';
import type { IndexStore } from '../index/index-store.js';
import type { FileStore } from '../storage/file-store.js';
import type { RequestOrigin } from './origin.js';
import { removeQueuedFiles } from './remove-files.js';

export interface DeleteScope {
  studyInstanceUid: string;
  seriesInstanceUid?: string;
  sopInstanceUid?: string;
}

export interface DeleteResult {
  instances: number;
  /** SOP Instance UIDs of the deleted instances. */
  sopInstanceUids: string[];
}

/** `origin`: who asked (the HTTP request), as the caller of delete passed it; absent for the CLI. */
export type DeleteListener = (scope: DeleteScope, result: DeleteResult, origin?: RequestOrigin) => void;

export class DeleteService {
  private readonly listeners: DeleteListener[] = [];

  constructor(
    private readonly store: FileStore,
    private readonly index: IndexStore,
    private readonly log: Logger,
  ) {}

  onDeleted(listener: DeleteListener): void {
    this.listeners.push(listener);
  }

  /** `origin` is handed to the listeners (the audit trail names the caller by it), never read here. */
  async delete(scope: DeleteScope, origin?: RequestOrigin): Promise<DeleteResult> {
    const sopInstanceUids = this.index.listInstances(scope).map((ref) => ref.sopInstanceUid);
    const fileKeys = this.index.deleteInstances(scope);
    if (fileKeys.length === 0) throw new GatewayError('NOT_FOUND', `${describe(scope)} is not stored`);
    await removeQueuedFiles(this.store, this.index, fileKeys, this.log);
    const result = { instances: fileKeys.length, sopInstanceUids };
    this.log.info({ ...scope, instances: result.instances }, 'deleted');
    for (const listener of this.listeners) listener(scope, result, origin);
    return result;
  }

  /** Finishes file removals a crash interrupted; run at start-up, before either door opens. */
  async finishInterruptedRemovals(): Promise<number> {
    return removeQueuedFiles(this.store, this.index, this.index.pendingFileRemovals(), this.log);
  }
}

function describe(scope: DeleteScope): string {
  if (scope.sopInstanceUid) return `instance ${scope.sopInstanceUid}`;
  if (scope.seriesInstanceUid) return `series ${scope.seriesInstanceUid}`;
  return `study ${scope.studyInstanceUid}`;
}
