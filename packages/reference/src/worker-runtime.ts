/**
 * The one seam for runtime-specific worker code. Node: worker_threads with `eval: true` (CommonJS script);
 * Bun and Deno: a Web Worker ({type: 'module'}) from a Blob URL. Either way the worker runs a self-contained source
 * string, so nothing has to be located on disk: it works unbundled and bundled into the CLI alike.
 *
 * The body receives messages in a function `__onmessage(msg)` it declares, and replies with `__post(msg)`.
 */
import { runtimeName } from '@flashattn/core';

export interface PortableWorker {
  post(msg: unknown): void;
  /** Keep the process alive while this worker has work (no-op where the runtime cannot unref). */
  ref(): void;
  /** Let the process exit while this worker idles. Returns false where the runtime cannot (Deno). */
  unref(): boolean;
  terminate(): void;
}

export interface WorkerCallbacks {
  onMessage(msg: unknown): void;
  onError(err: Error): void;
}

// Some bundlers (esbuild keepNames) wrap functions in __name(); the shipped source must not depend on them.
const PRELUDE = 'var __name = (f) => f;\n';

export async function spawnWorker(body: string, cb: WorkerCallbacks): Promise<PortableWorker> {
  if (runtimeName() === 'node') {
    const { Worker } = await import('node:worker_threads');
    const src =
      PRELUDE +
      "const { parentPort } = require('node:worker_threads');\n" +
      'const __post = (m) => parentPort.postMessage(m);\n' +
      'parentPort.on("message", (m) => __onmessage(m));\n' +
      body;
    const w = new Worker(src, { eval: true });
    let terminating = false;
    w.on('message', (m) => cb.onMessage(m));
    w.on('error', (e) => cb.onError(e instanceof Error ? e : new Error(String(e))));
    w.on('exit', (code) => {
      if (!terminating) cb.onError(new Error(`worker exited with code ${code}`));
    });
    return {
      post: (m) => w.postMessage(m),
      ref: () => w.ref(),
      unref: () => {
        w.unref();
        return true;
      },
      terminate: () => {
        terminating = true;
        void w.terminate();
      },
    };
  }
  const src =
    PRELUDE +
    'const __post = (m) => self.postMessage(m);\n' +
    'self.onmessage = (e) => __onmessage(e.data);\n' +
    body;
  const url = URL.createObjectURL(new Blob([src], { type: 'application/javascript' }));
  const w = new Worker(url, { type: 'module' }) as Worker & { ref?: () => void; unref?: () => void };
  w.onmessage = (e: MessageEvent) => cb.onMessage(e.data);
  w.onerror = (e: ErrorEvent) => {
    e.preventDefault?.();
    cb.onError(new Error(e.message || 'worker error'));
  };
  return {
    post: (m) => w.postMessage(m),
    ref: () => w.ref?.(),
    unref: () => {
      if (typeof w.unref !== 'function') return false;
      w.unref();
      return true;
    },
    terminate: () => {
      w.terminate();
      URL.revokeObjectURL(url);
    },
  };
}

/** Logical CPUs available to this process. */
export async function cpuCount(): Promise<number> {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  if (nav?.hardwareConcurrency) return nav.hardwareConcurrency;
  try {
    const os = await import('node:os');
    return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  } catch {
    return 1;
  }
}
