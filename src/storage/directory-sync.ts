/**
 * fsync of directories, so that a new directory entry (a placed file) survives a crash. Concurrent
 * requests for one directory share fsync calls (group commit): a request is answered by the first fsync
 * that starts after it was made. Directory handles stay open in a small cache, so a sync costs one call.
 */
import { open, type FileHandle } from 'node:fs/promises';

interface Waiter {
  ticket: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface DirectoryState {
  /** Ticket of the latest request. */
  issued: number;
  running: boolean;
  waiters: Waiter[];
}

const MAX_OPEN_HANDLES = 64;

export class DirectorySync {
  private readonly states = new Map<string, DirectoryState>();
  private readonly handles = new Map<string, Promise<FileHandle>>();

  sync(dir: string): Promise<void> {
    let state = this.states.get(dir);
    if (!state) {
      state = { issued: 0, running: false, waiters: [] };
      this.states.set(dir, state);
    }
    const ticket = ++state.issued;
    const done = new Promise<void>((resolve, reject) => state.waiters.push({ ticket, resolve, reject }));
    this.pump(dir, state);
    return done;
  }

  private pump(dir: string, state: DirectoryState): void {
    if (state.running || state.waiters.length === 0) return;
    state.running = true;
    // This fsync starts after every request issued so far, so it answers all of them.
    const covers = state.issued;
    this.fsync(dir)
      .then(
        () => this.settle(state, covers),
        (error: unknown) => this.settle(state, covers, error),
      )
      .finally(() => {
        state.running = false;
        if (state.waiters.length === 0) this.states.delete(dir);
        else this.pump(dir, state);
      });
  }

  private settle(state: DirectoryState, covers: number, error?: unknown): void {
    const remaining: Waiter[] = [];
    for (const waiter of state.waiters) {
      if (waiter.ticket > covers) remaining.push(waiter);
      else if (error) waiter.reject(error);
      else waiter.resolve();
    }
    state.waiters = remaining;
  }

  private async fsync(dir: string): Promise<void> {
    let handle = this.handles.get(dir);
    if (handle) {
      // Most recently used last, so the oldest is evicted first.
      this.handles.delete(dir);
    } else {
      handle = open(dir, 'r');
      handle.catch(() => this.handles.delete(dir));
    }
    this.handles.set(dir, handle);
    this.evict();
    await (await handle).sync();
  }

  private evict(): void {
    while (this.handles.size > MAX_OPEN_HANDLES) {
      const [oldest, handle] = this.handles.entries().next().value as [string, Promise<FileHandle>];
      this.handles.delete(oldest);
      void handle.then((h) => h.close()).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const handles = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(handles.map((h) => h.then((x) => x.close()).catch(() => undefined)));
  }
}
