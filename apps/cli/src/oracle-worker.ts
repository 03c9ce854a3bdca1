/**
 * Entry of an oracle worker (bundled as dist/oracle-worker.js, next to main.js): for each case spec it is sent, it
 * draws the case's inputs from the spec's seed (generateCase is deterministic) and computes the float64 oracle
 * answers, exactly as the main thread would. Node runs it under worker_threads, Bun and Deno as a module Web Worker
 * (see oracle-pool.ts).
 */
import { computeOracle, generateCase, runtimeName, type CaseSpec, type OracleAnswers } from '@flashattn/core';
// @ts-ignore -- see backends.ts: resolved at bundle time
import { referenceOracle } from '@flashattn/reference';

export interface OracleRequest {
  id: number;
  spec: CaseSpec;
}
export type OracleReply = { id: number; answers: OracleAnswers } | { id: number; error: string };

function answer(m: OracleRequest): { reply: OracleReply; transfer: ArrayBuffer[] } {
  try {
    const answers = computeOracle(generateCase(m.spec), referenceOracle);
    const bufs = new Set<ArrayBuffer>();
    for (const a of [answers.out, answers.lse, answers.naiveOut, answers.grads?.dq, answers.grads?.dk, answers.grads?.dv,
      answers.naiveGrads?.dq, answers.naiveGrads?.dk, answers.naiveGrads?.dv])
      if (a && a.buffer instanceof ArrayBuffer) bufs.add(a.buffer);
    return { reply: { id: m.id, answers }, transfer: [...bufs] };
  } catch (e) {
    return { reply: { id: m.id, error: String((e as Error)?.message ?? e) }, transfer: [] };
  }
}

if (runtimeName() === 'node') {
  const { parentPort } = await import('node:worker_threads');
  parentPort?.on('message', (m: OracleRequest) => {
    const r = answer(m);
    parentPort.postMessage(r.reply, r.transfer);
  });
} else {
  const self_ = globalThis as unknown as {
    onmessage: ((e: MessageEvent) => void) | null;
    postMessage(m: unknown, transfer: Transferable[]): void;
  };
  self_.onmessage = (e: MessageEvent) => {
    const r = answer(e.data as OracleRequest);
    self_.postMessage(r.reply, r.transfer);
  };
}
