/**
 * fsync of directories, so that a new directory entry (a placed file) survives a crash. Concurrent
 * requests for one directory share fsync calls (group commit): a request is answered by the first fsync
 * that starts after it was made. Directory handles stay open in a small cache, so a sync costs one call.
 *
 * New entries are made between a directory's fsyncs, never during one: on ext4 without a journal, a
 * link into a directory whose fsync is writing it waits for that write, and the event loop with it
 * (`perf trace` of the gateway under STOW saw such a link take 301 ms, the length of a slow fsync).
 * Entries asked for meanwhile are made together as it ends, and the next fsync covers them all.
 */
import { open, type FileHandle } from 'node:fs/promises';

interface Waiter {
  ticket: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface PendingEntry {
  make: () => void;
  resolve: (made: { durable: Promise<void> }) => void;
  reject: (error: unknown) => void;
}

interface DirectoryState {
  /** Ticket of the latest request. */
  issued: number;
  running: boolean;
  waiters: Waiter[];
  /** Entries waiting for the running fsync to end. */
  entries: PendingEntry[];
}

const MAX_OPEN_HANDLES = 64;

export class DirectorySync {
  private readonly states = new Map<string, DirectoryState>();
  private readonly handles = new Map<string, Promise<FileHandle>>();

  sync(dir: string): Promise<void> {
    const state = this.stateOf(dir);
    const done = this.request(state);
    this.pump(dir, state);
    return done;
  }

  /**
   * Makes an entry in `dir` with `make` (a link) once no fsync of `dir` is running, and asks for an fsync
   * that covers it. Resolves when the entry is made, to when it is durable; rejects with make's error.
   */
  addEntry(dir: string, make: () => void): Promise<{ durable: Promise<void> }> {
    const state = this.stateOf(dir);
    if (state.running) {
      return new Promise((resolve, reject) => state.entries.push({ make, resolve, reject }));
    }
    try {
      make();
    } catch (error) {
      if (state.waiters.length === 0) this.states.delete(dir);
      return Promise.reject(error);
    }
    return Promise.resolve({ durable: this.sync(dir) });
  }

  private stateOf(dir: string): DirectoryState {
    let state = this.states.get(dir);
    if (!state) {
      state = { issued: 0, running: false, waiters: [], entries: [] };
      this.states.set(dir, state);
    }
    return state;
  }

  private request(state: DirectoryState): Promise<void> {
    const ticket = ++state.issued;
    return new Promise<void>((resolve, reject) => state.waiters.push({ ticket, resolve, reject }));
  }

  /** Makes the entries that waited for the fsync that just ended, each with its request for the next. */
  private makeEntries(state: DirectoryState): void {
    const entries = state.entries;
    state.entries = [];
    for (const entry of entries) {
      try {
        entry.make();
      } catch (error) {
        entry.reject(error);
        continue;
      }
      entry.resolve({ durable: this.request(state) });
    }
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
        this.makeEntries(state);
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
