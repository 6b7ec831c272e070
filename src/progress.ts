/** A one-line progress bar for long CLI runs; plain periodic lines when the output is not a terminal. */
export class ProgressBar {
  private count = 0;
  private lastLine = 0;
  private readonly started = Date.now();

  constructor(
    private readonly total: number,
    private readonly out: NodeJS.WriteStream,
  ) {}

  tick(failed = 0): void {
    this.count++;
    const now = Date.now();
    const last = this.count === this.total;
    if (
      this.out.isTTY
        ? now - this.lastLine < 200 && !last
        : this.count % Math.max(1, Math.ceil(this.total / 20)) && !last
    ) {
      return;
    }
    this.lastLine = now;
    const fraction = this.total ? this.count / this.total : 1;
    const rate = this.count / Math.max(0.001, (now - this.started) / 1000);
    const text = `${this.count}/${this.total} (${(fraction * 100).toFixed(0)}%) ${rate.toFixed(1)}/s${failed ? `, ${failed} failed` : ''}`;
    if (this.out.isTTY) {
      const width = 30;
      const filled = Math.round(fraction * width);
      this.out.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`);
    } else {
      this.out.write(`${text}\n`);
    }
  }

  done(): void {
    if (this.out.isTTY) this.out.write('\n');
  }
}
