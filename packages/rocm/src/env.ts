/** Environment variables on Node, Bun and Deno (Deno without --allow-env reads as empty). */
export function readEnv(): Record<string, string | undefined> {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> }; Deno?: { env?: { toObject(): Record<string, string> } } };
  try {
    if (g.Deno?.env) return g.Deno.env.toObject();
  } catch {
    return {};
  }
  return g.process?.env ?? {};
}
