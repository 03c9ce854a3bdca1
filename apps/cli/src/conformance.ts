/**
 * `flashattn conformance`: every case's inputs are drawn once, the float64 oracle answers computed once, and each
 * backend is judged on copies of the same inputs by flash-attn's criterion (core's checkBackend).
 */
import {
  caseLabel,
  checkBackend,
  computeOracle,
  freshSeed,
  generateCase,
  makeProblem,
  runtimeVersion,
  ValidationError,
  type Availability,
  type Backend,
  type CaseSpec,
  type CheckResult,
  type GeneratedCase,
  type OracleAnswers,
} from '@flashattn/core';
import { Flags, UsageError, type FlagSpecs } from './args.js';
import { BACKEND_NAMES, loadOracle, loadRegistry } from './backends.js';
import { fullCases, parseCasesJson, quickCases, seeded } from './cases.js';
import { env, err, out, readText, writeBytes } from './host.js';
import { defaultOracleWorkers, OraclePool } from './oracle-pool.js';
import { Progress, table } from './table.js';

export const CONFORMANCE_FLAGS: FlagSpecs = {
  full: { kind: 'bool', help: "the whole grid (flash-attn's head dims x seqlen pairs x dtypes x causal, features cycled)" },
  backends: { kind: 'string', value: 'a,b', help: `backends to check (default: every registered one: ${BACKEND_NAMES.join(', ')})` },
  cases: { kind: 'string', value: 'FILE', help: 'run the JSON array of cases in FILE instead of the built-in matrix' },
  seed: { kind: 'string', value: 'N', help: 'base seed: case i draws its inputs from N + 7919 i (default: fresh seeds, printed)' },
  json: { kind: 'bool', help: 'print the report as JSON on stdout' },
  report: { kind: 'string', value: 'FILE', help: 'also write the JSON report to FILE' },
  'oracle-workers': { kind: 'string', value: 'N', help: 'worker threads computing the float64 oracles of upcoming cases while backends run (default: CPUs - 1, at most 15; 0 = on the main thread)' },
  'no-progress': { kind: 'bool', help: 'no progress on stderr (a bar on a terminal, one line per case elsewhere)' },
  help: { kind: 'bool', help: 'show this help' },
};

export interface ResultRow {
  case: CaseSpec;
  backend: string;
  status: CheckResult['status'];
  reason?: string;
  ratio?: number;
  ms?: number;
  errors?: CheckResult['errors'];
}

export interface ConformanceReport {
  results: ResultRow[];
  backends: { name: string; available: boolean; device?: string; reason?: string }[];
  summary: Record<string, { pass: number; fail: number; error: number; unsupported: number }>;
  runtime: string;
  cases: number;
  /** Cases finished; less than `cases` only in a partial report (complete: false) left by an interrupted run. */
  casesDone: number;
  complete: boolean;
  set: 'quick' | 'full' | 'file';
  seconds: number;
}

/** Backend names from --backends, each checked against the registered ones. */
export function pickBackends(f: Flags): string[] {
  const names = f.list('backends') ?? [...BACKEND_NAMES];
  for (const n of names)
    if (!BACKEND_NAMES.includes(n)) throw new UsageError(`--backends: unknown backend ${JSON.stringify(n)} (known: ${BACKEND_NAMES.join(', ')})`);
  return [...new Set(names)];
}

function loadCases(f: Flags): { cases: CaseSpec[]; set: ConformanceReport['set'] } {
  const file = f.str('cases');
  if (file !== undefined && f.bool('full')) throw new UsageError('--full: cannot be combined with --cases FILE');
  if (file === undefined) return f.bool('full') ? { cases: fullCases(), set: 'full' } : { cases: quickCases(), set: 'quick' };
  let text: string;
  try {
    text = readText(file);
  } catch (e) {
    throw new UsageError(`--cases: cannot read ${file}: ${(e as Error).message}`);
  }
  const cases = parseCasesJson(text, file);
  // Validate every case's problem before running any, so a bad field fails fast and names the case.
  cases.forEach((c, i) => {
    try {
      makeProblem({ ...c, cuSeqlensQ: undefined, cuSeqlensK: undefined, returnLse: true });
    } catch (e) {
      if (e instanceof ValidationError) throw new ValidationError(`${file}: cases[${i}].${e.field}`, e.expected, e.got);
      throw e;
    }
  });
  return { cases, set: 'file' };
}

function copyCase(g: GeneratedCase): GeneratedCase {
  return { ...g, q: g.q.slice(), k: g.k.slice(), v: g.v.slice(), dout: g.dout?.slice() };
}

function cell(r: ResultRow, unavailable: boolean): string {
  if (unavailable) return 'unavailable';
  const ratio = r.ratio !== undefined && Number.isFinite(r.ratio) ? ` ${r.ratio.toFixed(2)}` : '';
  switch (r.status) {
    case 'pass': return `pass${ratio}`;
    case 'fail': return `FAIL${ratio}`;
    case 'error': return 'ERROR';
    default: return 'unsupported';
  }
}

export function renderReport(rep: ConformanceReport): string {
  const names = rep.backends.map((b) => b.name);
  const unavailable = new Set(rep.backends.filter((b) => !b.available).map((b) => b.name));
  const byCase = new Map<number, Map<string, ResultRow>>();
  const caseOrder: CaseSpec[] = [];
  for (const r of rep.results) {
    let i = caseOrder.indexOf(r.case);
    if (i < 0) i = caseOrder.push(r.case) - 1;
    if (!byCase.has(i)) byCase.set(i, new Map());
    byCase.get(i)!.set(r.backend, r);
  }
  const rows = caseOrder.map((c, i) => [
    `${i + 1}`, `${caseLabel(c)}`, `${c.seed}`,
    ...names.map((n) => { const r = byCase.get(i)?.get(n); return r ? cell(r, unavailable.has(n)) : '-'; }),
  ]);
  let s = table(['#', 'case', 'seed', ...names], rows);
  s += '\n(pass/FAIL show max err/baseline over out, dq, dk, dv; the bound is 2x (3x for gradients) plus atol)\n';
  const unav = rep.backends.filter((b) => !b.available);
  if (unav.length) {
    s += '\nunavailable:\n';
    for (const b of unav) s += `  ${b.name}: ${b.reason}\n`;
  }
  const unsup = new Map<string, number>();
  for (const r of rep.results)
    if (r.status === 'unsupported' && !unavailable.has(r.backend)) {
      const k = `${r.backend}: ${r.reason}`;
      unsup.set(k, (unsup.get(k) ?? 0) + 1);
    }
  if (unsup.size) {
    s += '\nunsupported:\n';
    for (const [k, n] of unsup) s += `  ${k} (${n} case${n > 1 ? 's' : ''})\n`;
  }
  const bad = rep.results.filter((r) => r.status === 'fail' || r.status === 'error');
  if (bad.length) {
    s += '\nfailures:\n';
    for (const r of bad) s += `  ${r.backend} ${r.status.toUpperCase()} #${caseOrder.indexOf(r.case) + 1} [${caseLabel(r.case)} seed ${r.case.seed}]: ${r.reason}\n`;
  }
  s += '\n';
  for (const n of names) {
    const t = rep.summary[n]!;
    s += `  ${n}: ${unavailable.has(n) ? 'unavailable' : `${t.pass} pass, ${t.fail} fail, ${t.error} error, ${t.unsupported} unsupported`}\n`;
  }
  const tot = Object.values(rep.summary).reduce((a, t) => ({ pass: a.pass + t.pass, bad: a.bad + t.fail + t.error, un: a.un + t.unsupported }), { pass: 0, bad: 0, un: 0 });
  s += `\nconformance (${rep.set}, ${rep.cases} cases, ${rep.runtime}, ${rep.seconds.toFixed(1)} s): ${tot.pass} passed, ${tot.bad} failed, ${tot.un} skipped\n`;
  return s;
}

/** Exit status: 1 on any fail or error, 3 when nothing was verified at all (every result unsupported), else 0. */
export function exitStatus(rep: ConformanceReport): number {
  if (rep.results.some((r) => r.status === 'fail' || r.status === 'error')) return 1;
  if (!rep.results.some((r) => r.status === 'pass')) return 3;
  return 0;
}

export async function conformance(f: Flags): Promise<number> {
  const names = pickBackends(f);
  const seed = f.int('seed', 0, 2 ** 32 - 1);
  const oracleWorkers = f.int('oracle-workers', 0, 256);
  const { cases: raw, set } = loadCases(f);
  const cases = seeded(raw, seed, freshSeed);
  const t0 = performance.now();
  const oracle = await loadOracle();
  const { registry } = await loadRegistry(names);
  const backends: Backend[] = names.map((n) => registry.get(n));
  const avail = new Map<string, Availability>();
  for (const b of backends) avail.set(b.name, await registry.probe(b.name));

  // Oracles of upcoming cases are computed by workers (from each case's seed) while the backends run; a case a
  // worker could not do is computed here, on the main thread, as without workers.
  const nWorkers = oracleWorkers ?? (await defaultOracleWorkers());
  let pool: OraclePool | undefined;
  if (nWorkers > 0) {
    const started = await OraclePool.start(Math.min(nWorkers, cases.length));
    pool = started.pool;
    if (started.reason && env('FLASHATTN_DEBUG')) err(`flashattn: oracles on the main thread: ${started.reason}\n`);
  }
  const pending: Promise<OracleAnswers | undefined>[] = [];
  const lookahead = 2 * (pool?.alive ?? 0);

  const results: ResultRow[] = [];
  const reportFile = f.str('report');
  const makeReport = (complete: boolean): ConformanceReport => {
    const summary: ConformanceReport['summary'] = {};
    for (const n of names) summary[n] = { pass: 0, fail: 0, error: 0, unsupported: 0 };
    for (const r of results) summary[r.backend]![r.status]++;
    return {
      results,
      backends: names.map((n) => {
        const a = avail.get(n)!;
        return a.available ? { name: n, available: true, device: a.device } : { name: n, available: false, reason: a.reason };
      }),
      summary,
      runtime: runtimeVersion(),
      cases: cases.length,
      casesDone: new Set(results.map((r) => r.case)).size,
      complete,
      set,
      seconds: (performance.now() - t0) / 1000,
    };
  };
  const progress = new Progress(cases.length, !f.bool('no-progress'));
  try {
    for (const [i, c] of cases.entries()) {
      if (pool) for (let j = pending.length; j < Math.min(cases.length, i + 1 + lookahead); j++) pending.push(pool.answers(cases[j]!));
      progress.draw(caseLabel(c));
      const tc = performance.now();
      let g: GeneratedCase | undefined;
      let answers: ReturnType<typeof computeOracle> | undefined;
      let oracleError: string | undefined;
      const fromWorker = pending[i];
      delete pending[i];
      try {
        g = generateCase(c);
        answers = (await fromWorker) ?? computeOracle(g, oracle);
      } catch (e) {
        oracleError = `case or oracle failed: ${(e as Error).message}`;
      }
      const detail: string[] = [];
      for (const b of backends) {
        const a = avail.get(b.name)!;
        let r: CheckResult;
        if (!a.available) r = { backend: b.name, status: 'unsupported', reason: `unavailable: ${a.reason}` };
        else if (!g || !answers) r = { backend: b.name, status: 'error', reason: oracleError };
        else r = await checkBackend(copyCase(g), answers, b);
        const row: ResultRow = { case: c, backend: r.backend, status: r.status };
        if (r.reason !== undefined) row.reason = r.reason;
        if (r.ratio !== undefined) row.ratio = r.ratio;
        if (r.ms !== undefined) row.ms = Math.round(r.ms * 10) / 10;
        if (r.errors) row.errors = r.errors;
        results.push(row);
        if (a.available) detail.push(`${b.name} ${r.status}${r.ms !== undefined ? ` ${(r.ms / 1000).toFixed(1)}s` : ''}`);
      }
      // The report on disk grows case by case, so a run killed by a timeout still shows how far it got.
      if (reportFile !== undefined) writeBytes(reportFile, JSON.stringify(makeReport(false)) + '\n');
      progress.tick(`${caseLabel(c)} seed ${c.seed}`, `${detail.join(', ') || 'no backend available'} (${((performance.now() - tc) / 1000).toFixed(1)}s with the oracle)`);
    }
  } finally {
    progress.end();
    if (pool?.failure && env('FLASHATTN_DEBUG')) err(`flashattn: an oracle worker failed (its cases were redone on the main thread): ${pool.failure}\n`);
    pool?.close();
    await registry.disposeAll();
  }

  const rep = makeReport(true);
  const json = JSON.stringify(rep, null, 1);
  if (reportFile !== undefined) writeBytes(reportFile, json + '\n');
  out(f.bool('json') ? json + '\n' : renderReport(rep));
  return exitStatus(rep);
}
