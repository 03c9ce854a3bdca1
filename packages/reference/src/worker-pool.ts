import { makeKernels, type BackwardJob, type ForwardJob } from './kernels.js';
import { spawnWorker, type PortableWorker } from './worker-runtime.js';

export type Job = { op: 'fwd'; args: ForwardJob } | { op: 'bwd'; args: BackwardJob };

/** What a worker runs: the kernels (their own source text) and a message loop. */
const WORKER_BODY = `
const __kernels = (${makeKernels.toString()})();
function __onmessage(m) {
  try {
    if (m.op === 'fwd') __kernels.forwardRows(m.args);
    else __kernels.backwardGroup(m.args);
    __post({ id: m.id });
  } catch (e) {
    __post({ id: m.id, error: String((e && e.stack) || e) });
  }
}
`;

/** Where a runtime cannot unref an idle worker (Deno), terminate the pool after this long idle so the process can exit. */
const IDLE_TERMINATE_MS = 1000;

interface Slot {
  worker: PortableWorker;
  /** Job id in flight, or -1. */
  busy: number;
}

interface Run {
  jobs: readonly Job[];
  next: number;
  done: number;
  resolve: () => void;
  reject: (e: Error) => void;
  failed: boolean;
}

/**
 * A fixed set of workers fed jobs one at a time (dynamic scheduling: a worker gets the next job when it reports
 * the last one done). Jobs read inputs from and write outputs to SharedArrayBuffers, so messages carry only views.
 * Started lazily, unref'd while idle (Node, Bun) or terminated after IDLE_TERMINATE_MS (Deno), so a CLI exits on
 * its own; dispose() terminates at once.
 */
export class WorkerPool {
  readonly size: number;
  #slots: Slot[] = [];
  #starting: Promise<void> | undefined;
  #run: Run | undefined;
  #queue: Promise<void> = Promise.resolve();
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** Workers started over the pool's life (for tests and stats). */
  started = 0;

  constructor(size: number) {
    this.size = size;
  }

  get warm(): boolean {
    return this.#slots.length === this.size;
  }

  /** Run jobs to completion; runs are serialized. */
  run(jobs: readonly Job[]): Promise<void> {
    const r = this.#queue.then(() => this.#runNow(jobs));
    this.#queue = r.catch(() => undefined);
    return r;
  }

  async #runNow(jobs: readonly Job[]): Promise<void> {
    if (jobs.length === 0) return;
    if (this.#idleTimer !== undefined) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
    }
    await this.#start();
    if (this.#slots.length === 0) throw new Error('reference workers stopped right after start-up');
    for (const s of this.#slots) s.worker.ref();
    try {
      await new Promise<void>((resolve, reject) => {
        this.#run = { jobs, next: 0, done: 0, resolve, reject, failed: false };
        for (const s of this.#slots) this.#feed(s);
      });
    } catch (e) {
      this.terminate(); // a failed worker may be in any state: start afresh next time
      throw e;
    } finally {
      this.#run = undefined;
      this.#idle();
    }
  }

  #feed(s: Slot): void {
    const run = this.#run;
    if (!run || run.failed) return;
    if (run.next >= run.jobs.length) {
      s.busy = -1;
      return;
    }
    const id = run.next++;
    s.busy = id;
    const job = run.jobs[id]!;
    s.worker.post({ id, op: job.op, args: job.args });
  }

  #onMessage(s: Slot, msg: unknown): void {
    if (!this.#slots.includes(s)) return;
    const run = this.#run;
    if (!run || run.failed) return;
    const m = msg as { id: number; error?: string };
    if (m.error !== undefined) {
      run.failed = true;
      run.reject(new Error(`reference worker failed: ${m.error}`));
      return;
    }
    run.done++;
    if (run.done === run.jobs.length) run.resolve();
    else this.#feed(s);
  }

  #onError(s: Slot, e: Error): void {
    if (!this.#slots.includes(s)) return; // a worker already let go of
    const run = this.#run;
    if (run && !run.failed) {
      run.failed = true;
      run.reject(new Error(`reference worker crashed: ${e.message}`));
    } else {
      this.terminate();
    }
  }

  #start(): Promise<void> {
    if (this.#slots.length === this.size) return Promise.resolve();
    this.#starting ??= (async () => {
      try {
        while (this.#slots.length < this.size) {
          const slot: Slot = { worker: undefined as unknown as PortableWorker, busy: -1 };
          // Registered before any message can arrive, so a worker that dies at start-up is seen.
          this.#slots.push(slot);
          slot.worker = await spawnWorker(WORKER_BODY, {
            onMessage: (m) => this.#onMessage(slot, m),
            onError: (e) => this.#onError(slot, e),
          });
          this.started++;
          if (!this.#slots.includes(slot)) {
            slot.worker.terminate(); // the pool was terminated while this one started
            throw new Error('reference worker pool terminated during start-up');
          }
        }
      } catch (e) {
        this.terminate();
        throw e;
      } finally {
        this.#starting = undefined;
      }
    })();
    return this.#starting;
  }

  #idle(): void {
    let canUnref = true;
    for (const s of this.#slots) canUnref = s.worker.unref() && canUnref;
    if (!canUnref && this.#slots.length) {
      this.#idleTimer = setTimeout(() => {
        this.#idleTimer = undefined;
        if (!this.#run) this.terminate();
      }, IDLE_TERMINATE_MS);
    }
  }

  /** Terminate every worker now; a later run starts fresh ones. */
  terminate(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const slots = this.#slots;
    this.#slots = [];
    for (const s of slots) s.worker?.terminate();
  }
}
