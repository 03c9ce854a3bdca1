/**
 * Float64 oracles off the main thread: a few workers (dist/oracle-worker.js) compute the answers for upcoming cases
 * from their seeds while the main thread runs the backends on the current one. Answers are bit-identical to the
 * main thread's (same code, same inputs drawn from the same seed). A case whose worker fails in any way (start-up,
 * crash, an error thrown while computing) resolves to undefined, and the caller computes it on the main thread, so
 * a verdict, or an error's message, never depends on the workers.
 *
 * The runtime seam: Node spawns worker_threads from the file, Bun and Deno a module Web Worker from its URL.
 */
import { runtimeName, type CaseSpec, type OracleAnswers } from '@flashattn/core';
import { cpuCount } from '@flashattn/reference';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { OracleReply, OracleRequest } from './oracle-worker.js';

interface OracleWorker {
  post(m: OracleRequest): void;
  terminate(): void;
}

async function spawn(url: URL, onMessage: (m: OracleReply) => void, onError: (e: Error) => void): Promise<OracleWorker> {
  if (runtimeName() === 'node') {
    const { Worker } = await import('node:worker_threads');
    const w = new Worker(url);
    let terminating = false;
    w.on('message', onMessage);
    w.on('error', (e) => onError(e instanceof Error ? e : new Error(String(e))));
    w.on('exit', (code) => {
      if (!terminating) onError(new Error(`oracle worker exited with code ${code}`));
    });
    return { post: (m) => w.postMessage(m), terminate: () => { terminating = true; void w.terminate(); } };
  }
  const w = new Worker(url.href, { type: 'module' });
  w.onmessage = (e: MessageEvent) => onMessage(e.data as OracleReply);
  w.onerror = (e: ErrorEvent) => {
    e.preventDefault?.();
    onError(new Error(e.message || 'oracle worker error'));
  };
  return { post: (m) => w.postMessage(m), terminate: () => w.terminate() };
}

/** Default pool size: one worker per spare CPU, at least one, at most 15. */
export async function defaultOracleWorkers(): Promise<number> {
  return Math.max(1, Math.min(15, (await cpuCount()) - 1));
}

interface Slot {
  worker: OracleWorker | undefined;
  /** Job in flight, or undefined. */
  job: Job | undefined;
}

interface Job {
  id: number;
  spec: CaseSpec;
  resolve: (a: OracleAnswers | undefined) => void;
}

export class OraclePool {
  #slots: Slot[] = [];
  #queue: Job[] = [];
  #nextId = 0;
  /** Why the pool (or its last worker) stopped, for FLASHATTN_DEBUG. */
  failure: string | undefined;

  private constructor() {}

  /** Start n workers; undefined (and the reason) where workers cannot be created here. */
  static async start(n: number): Promise<{ pool?: OraclePool; reason?: string }> {
    const url = new URL('./oracle-worker.js', import.meta.url);
    if (url.protocol !== 'file:' || !existsSync(fileURLToPath(url))) return { reason: `no oracle worker script at ${url.href}` };
    const pool = new OraclePool();
    try {
      for (let i = 0; i < n; i++) {
        const slot: Slot = { worker: undefined, job: undefined };
        pool.#slots.push(slot);
        slot.worker = await spawn(url, (m) => pool.#onMessage(slot, m), (e) => pool.#onError(slot, e));
      }
    } catch (e) {
      pool.close();
      return { reason: `cannot start oracle workers: ${(e as Error)?.message ?? e}` };
    }
    return { pool };
  }

  get alive(): number {
    return this.#slots.length;
  }

  /** The oracle answers for spec (which must carry its seed), or undefined if a worker could not compute them. */
  answers(spec: CaseSpec): Promise<OracleAnswers | undefined> {
    return new Promise((resolve) => {
      if (!this.#slots.length) return resolve(undefined);
      this.#queue.push({ id: this.#nextId++, spec, resolve });
      for (const s of this.#slots) if (!s.job) this.#feed(s);
    });
  }

  #feed(s: Slot): void {
    const job = this.#queue.shift();
    s.job = job;
    if (job) s.worker!.post({ id: job.id, spec: job.spec });
  }

  #onMessage(s: Slot, m: OracleReply): void {
    const job = s.job;
    if (!job || m.id !== job.id) return;
    if ('error' in m) this.failure = m.error;
    job.resolve('answers' in m ? m.answers : undefined);
    this.#feed(s);
  }

  #onError(s: Slot, e: Error): void {
    const i = this.#slots.indexOf(s);
    if (i < 0) return;
    this.failure = e.message;
    this.#slots.splice(i, 1);
    s.worker?.terminate();
    s.job?.resolve(undefined);
    s.job = undefined;
    if (!this.#slots.length) for (const j of this.#queue.splice(0)) j.resolve(undefined);
  }

  /** Terminate every worker; pending cases resolve to undefined. */
  close(): void {
    const slots = this.#slots;
    this.#slots = [];
    for (const s of slots) {
      s.worker?.terminate();
      s.job?.resolve(undefined);
    }
    for (const j of this.#queue.splice(0)) j.resolve(undefined);
  }
}
