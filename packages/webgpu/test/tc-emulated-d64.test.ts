// First (through the suite): lavapipe's 8-lane subgroups, before Dawn loads (split-test-gpu.ts).
import { tcEmulatedSuite } from './tc-emulated-suite.js';

// The tensor-core forward emulated (tc-emulated-suite.ts) at d64: f32 with spread rows, f16 with softcap, bf16 with
// headDimV 32, masks, and the backward after it.
tcEmulatedSuite([
  // GQA, causal, partial query and key tiles
  { batch: 2, seqlenQ: 70, seqlenK: 90, nheadsQ: 4, nheadsKV: 2, headDim: 64, dtype: 'f32', causal: true },
  // varlen, f32: sequences starting inside the scale blocks
  { batch: 3, seqlenQ: 40, seqlenK: 75, nheadsQ: 2, nheadsKV: 2, headDim: 64, dtype: 'f32', varlen: true },
  // several full key tiles (the interior tiles' unmasked softmax)
  { batch: 1, seqlenQ: 64, seqlenK: 200, nheadsQ: 1, nheadsKV: 1, headDim: 64, dtype: 'f32' },
], [
  // varlen: sequences start inside V's 32-row scale blocks (key tiles from before a sequence's start), window, softcap
  { batch: 3, seqlenQ: 33, seqlenK: 57, nheadsQ: 2, nheadsKV: 1, headDim: 64, dtype: 'f16', window: [17, 5], softcap: 20, varlen: true },
  // headDimV 32: subgroups share O's column blocks (the other P·V layout); bf16
  { batch: 2, seqlenQ: 40, seqlenK: 64, nheadsQ: 2, nheadsKV: 2, headDim: 64, headDimV: 32, dtype: 'bf16' },
  // fully masked rows (causal, seqlenQ > seqlenK)
  { batch: 1, seqlenQ: 20, seqlenK: 10, nheadsQ: 1, nheadsKV: 1, headDim: 64, dtype: 'f32', causal: true },
  // one query row, a left window
  { batch: 2, seqlenQ: 1, seqlenK: 90, nheadsQ: 3, nheadsKV: 3, headDim: 64, dtype: 'f32', window: [5, 0] },
  // the backward after the tensor-core forward (its SIMT kernels recompute the row statistics), GQA, causal
  { batch: 2, seqlenQ: 40, seqlenK: 70, nheadsQ: 4, nheadsKV: 2, headDim: 64, dtype: 'f32', causal: true, backward: true },
]);
