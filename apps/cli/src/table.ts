/** Plain-text tables and the terminal progress bar. */
import { err, stderrIsTTY, terminalColumns } from './host.js';

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, i) => (c ?? '').padEnd(w[i]!)).join('  ').trimEnd();
  return [line(header), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n') + '\n';
}

/**
 * Progress on stderr: a one-line bar redrawn in place on a terminal; elsewhere (CI logs) one plain line per finished
 * item, so a slow run shows where its time goes.
 */
export class Progress {
  readonly #on: boolean;
  readonly #tty: boolean;
  #done = 0;
  constructor(readonly total: number, enabled = true) {
    this.#tty = stderrIsTTY();
    this.#on = enabled && total > 0;
  }
  tick(label: string, detail?: string): void {
    this.#done++;
    if (this.#on && !this.#tty) {
      if (detail !== undefined) err(`[${this.#done}/${this.total}] ${label}: ${detail}\n`);
      return;
    }
    this.draw(label);
  }
  draw(label: string): void {
    if (!this.#on || !this.#tty) return;
    const cols = terminalColumns();
    const width = 24;
    const fill = Math.round((this.#done / this.total) * width);
    const head = `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${this.#done}/${this.total} `;
    err(`\r\x1b[2K${(head + label).slice(0, cols - 1)}`);
  }
  end(): void {
    if (this.#on && this.#tty) err('\r\x1b[2K');
  }
}
