// First (through the suite): lavapipe's 8-lane subgroups, before Dawn loads (split-test-gpu.ts).
import { tcEmulatedSuite } from './tc-emulated-suite.js';

// The tensor-core forward emulated (tc-emulated-suite.ts) at d128 (f32, spread rows) and d96 (f16, whole and in
// chunks): the two kernels take about as long to compile as tc-emulated-d64.test.ts's seven.
tcEmulatedSuite([
  // d128 (eight k-steps in S, four vec4s per lane in the Q split), GQA, causal: BM 32 here (64 on the H100)
  { batch: 2, seqlenQ: 50, seqlenK: 100, nheadsQ: 2, nheadsKV: 1, headDim: 128, headDimV: 64, dtype: 'f32', causal: true },
], [
  // d96 (three vec4s per lane in the split: not a power of two), f16 at BM 64, a window
  { batch: 2, seqlenQ: 70, seqlenK: 45, nheadsQ: 2, nheadsKV: 2, headDim: 96, headDimV: 32, dtype: 'f16', window: [20, 3] },
], [
  // f16 (K and V read as they are) split by whole sequences into bindings of 16 KiB: K and V at element shifts (the
  // case above's kernel: nothing new to compile)
  { batch: 4, seqlenQ: 24, seqlenK: 70, nheadsQ: 2, nheadsKV: 1, headDim: 96, headDimV: 32, dtype: 'f16', causal: true, varlen: true },
]);
