// Summarizes `flashattn conformance --report` files of a device run (runs under node, bun or deno):
//   summarize.mjs REPORTS_DIR CASES_DIR [BACKEND, default rocm]
// Per set (quick-<runtime>, grid): pass/fail/error/unsupported counts, the failures with their cases, and for the
// grid which chunk files finished (so a later run can skip them) and how many of the full grid's cases ran.
import { readdirSync, readFileSync } from 'node:fs';

const [dir, casesDir, backend = "rocm"] = globalThis.process.argv.slice(2);
const out = { sets: {}, gridChunksDone: [], gridCasesTotal: 0 };
for (const f of readdirSync(casesDir)) out.gridCasesTotal += JSON.parse(readFileSync(`${casesDir}/${f}`, 'utf8')).length;
for (const f of readdirSync(dir).sort()) {
  if (!f.endsWith('.json')) continue;
  const r = JSON.parse(readFileSync(`${dir}/${f}`, 'utf8'));
  const set = f.startsWith('grid-') ? `grid (${r.runtime})` : f.replace(/\.json$/, '');
  if (f.startsWith('grid-')) out.gridChunksDone.push(f.slice(5, -5));
  const s = (out.sets[set] ??= { runtime: r.runtime, cases: 0, pass: 0, fail: 0, error: 0, unsupported: 0, seconds: 0, worstRatio: 0, device: undefined, failures: [] });
  s.seconds += r.seconds ?? 0;
  const rb = (r.backends ?? []).find((b) => b.name === backend);
  s.device ??= rb?.device ?? rb?.reason;
  for (const row of r.results ?? []) {
    if (row.backend !== backend) continue;
    s.cases++;
    s[row.status] = (s[row.status] ?? 0) + 1;
    if (row.status === 'pass' && row.ratio > s.worstRatio) s.worstRatio = row.ratio;
    if (row.status !== 'pass') s.failures.push({ case: row.case, status: row.status, reason: row.reason });
  }
}
console.log(JSON.stringify(out, null, 1));
