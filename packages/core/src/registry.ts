import type { Availability, Backend } from './backend.js';
import { BackendUnavailableError, NoBackendError, UnsupportedProblemError, ValidationError } from './errors.js';
import type { Problem } from './problem.js';

export interface Registration {
  readonly backend: Backend;
  readonly priority: number;
}

export interface SelectOptions {
  /** Try these names first, in this order, before the rest by priority. */
  readonly prefer?: readonly string[];
  /** Use exactly this backend; throw if it is unavailable or rejects the problem (unless allowFallback). */
  readonly require?: string;
  /** With `require`, fall back to the best other backend instead of throwing. Default false. */
  readonly allowFallback?: boolean;
  /** Called once per skipped backend, for logging (onnxruntime-web style "fallback with the reason logged"). */
  readonly onSkip?: (name: string, reasons: readonly string[]) => void;
}

export interface Selection {
  readonly backend: Backend;
  readonly skipped: readonly { name: string; reasons: readonly string[] }[];
}

/** Backends by name, with priorities; probes once and remembers the answer. */
export class BackendRegistry {
  readonly #entries = new Map<string, Registration>();
  readonly #probes = new Map<string, Promise<Availability>>();

  register(backend: Backend, priority = 0): this {
    if (!backend || typeof backend.name !== 'string' || !backend.name)
      throw new ValidationError('backend.name', 'a non-empty string', backend?.name);
    if (this.#entries.has(backend.name)) throw new ValidationError('backend.name', 'a name not yet registered', backend.name);
    this.#entries.set(backend.name, { backend, priority });
    return this;
  }

  /** Registrations, highest priority first. */
  list(): Registration[] {
    return [...this.#entries.values()].sort((a, b) => b.priority - a.priority);
  }

  names(): string[] {
    return this.list().map((r) => r.backend.name);
  }

  get(name: string): Backend {
    const r = this.#entries.get(name);
    if (!r) throw new ValidationError('backend', `one of ${[...this.#entries.keys()].join(', ') || '(none registered)'}`, name);
    return r.backend;
  }

  /** probe() once per backend; a probe that throws counts as unavailable with its message. */
  probe(name: string): Promise<Availability> {
    let p = this.#probes.get(name);
    if (!p) {
      const b = this.get(name);
      p = b.probe().catch((e: unknown) => ({ available: false as const, reason: `probe failed: ${(e as Error)?.message ?? e}` }));
      this.#probes.set(name, p);
    }
    return p;
  }

  /** Why `name` cannot run `p` right now (unavailable, or the backend's own check); empty = it can. */
  async reasons(name: string, p: Problem): Promise<string[]> {
    const a = await this.probe(name);
    if (!a.available) return [`unavailable: ${a.reason}`];
    return this.get(name).check(p);
  }

  async select(p: Problem, opts: SelectOptions = {}): Promise<Selection> {
    const skipped: { name: string; reasons: string[] }[] = [];
    const skip = (name: string, reasons: string[]) => {
      skipped.push({ name, reasons });
      opts.onSkip?.(name, reasons);
    };
    if (opts.require !== undefined) {
      const b = this.get(opts.require);
      const rs = await this.reasons(b.name, p);
      if (rs.length === 0) return { backend: b, skipped };
      if (!opts.allowFallback) {
        const a = await this.probe(b.name);
        if (!a.available) throw new BackendUnavailableError(b.name, a.reason);
        throw new UnsupportedProblemError(b.name, rs);
      }
      skip(b.name, rs);
    }
    const preferred = (opts.prefer ?? []).map((n) => this.get(n).name);
    const order = [...preferred, ...this.names().filter((n) => !preferred.includes(n))].filter((n) => n !== opts.require);
    for (const name of order) {
      const rs = await this.reasons(name, p);
      if (rs.length === 0) return { backend: this.get(name), skipped };
      skip(name, rs);
    }
    throw new NoBackendError(skipped);
  }

  async disposeAll(): Promise<void> {
    for (const r of this.#entries.values()) await r.backend.dispose?.();
  }
}
