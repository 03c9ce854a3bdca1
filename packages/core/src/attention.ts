import type { AttentionInputs, BackwardInputs, BackwardResult, ForwardResult, RunOptions } from './backend.js';
import type { Problem, ProblemSpec } from './problem.js';
import type { BackendRegistry, SelectOptions } from './registry.js';
import { makeProblem, validateBackwardInputs, validateInputs } from './validate.js';

export interface AttentionOptions extends SelectOptions, RunOptions {}

/** A Problem (already made) is used as is; a ProblemSpec is validated into one. */
function toProblem(spec: ProblemSpec | Problem): Problem {
  return 'totalQ' in spec && 'varlen' in spec && Object.isFrozen(spec) ? (spec as Problem) : makeProblem(spec as ProblemSpec);
}

/** Validate, select a backend from the registry (see SelectOptions) and run the forward pass. */
export async function attention(
  registry: BackendRegistry,
  spec: ProblemSpec | Problem,
  inputs: AttentionInputs,
  opts: AttentionOptions = {},
): Promise<ForwardResult & { backend: string }> {
  const p = toProblem(spec);
  validateInputs(p, inputs);
  const { backend } = await registry.select(p, opts);
  return { ...(await backend.forward(p, inputs, opts)), backend: backend.name };
}

/** Backward pass (needs the forward's out and lse) on the selected backend. */
export async function attentionBackward(
  registry: BackendRegistry,
  spec: ProblemSpec | Problem,
  inputs: BackwardInputs,
  opts: AttentionOptions = {},
): Promise<BackwardResult & { backend: string }> {
  const p = toProblem(spec);
  validateBackwardInputs(p, inputs);
  const { backend } = await registry.select(p, opts);
  return { ...(await backend.backward(p, inputs, opts)), backend: backend.name };
}
