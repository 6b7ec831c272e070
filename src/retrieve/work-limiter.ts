/**
 * Runs at most `limit` tasks at once; the rest wait in order. Rendering is CPU and memory heavy: without
 * a bound, a viewer asking for a whole series of thumbnails at once would stall every other request.
 */
export class WorkLimiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
