/**
 * The config's `security` section: the @cep/security policy (enclaves, edges with budgets,
 * default budgets, pipeline specs) in the file's snake_case, plus `approve`, the pipelines
 * the operator approves at start.
 *
 * zod checks only the shape (which fields, which types). The rules on values — CEP words,
 * tiers, whole numbers, stage ids — are @cep/security's own: the policy is declared into a
 * scratch tree with `declarePolicy` and each listed pipeline approved there, and the package's
 * typed errors become config errors naming `security.<field>`. So the file is refused for
 * exactly what the running peer would refuse, before anything starts.
 */
import { createTree } from '@cep/cells';
import { isCepError } from '@cep/errors';
import { approvePipeline, declarePolicy, type Budgets, type PolicyConfig } from '@cep/security';
import * as z from 'zod';

/** Config budget field → @cep/security's `Budgets` field. */
const BUDGET_KEYS = { beats: 'beats', cpu_ns: 'cpuNs', io_bytes: 'ioBytes', hops: 'hops', wall_ms: 'wallMs' } as const;

const budgets = z
  .strictObject({ beats: z.number(), cpu_ns: z.number(), io_bytes: z.number(), hops: z.number(), wall_ms: z.number() })
  .partial()
  .transform((b): Budgets => {
    const out: Record<string, number> = {};
    for (const [from, to] of Object.entries(BUDGET_KEYS)) {
      const value = b[from as keyof typeof BUDGET_KEYS];
      if (value !== undefined) out[to] = value;
    }
    return out;
  });

const stage = z.strictObject({ id: z.string(), enclave: z.string(), gateway: z.string().optional() });

/** The validated section: a `PolicyConfig` (pass it to `declarePolicy`) plus the pipelines to approve. */
export interface SecurityConfig extends PolicyConfig {
  /** Pipeline ids approved at start (`approvePipeline`), in order. */
  readonly approve: readonly string[];
}

/** True when the section declares anything (an absent or empty section declares no policy). */
export function declaresPolicy(security: SecurityConfig): boolean {
  return (['enclaves', 'edges', 'defaults', 'pipelines'] as const).some((k) => security[k] !== undefined);
}

/** `edges[0].budgets.cpuNs` (a @cep/security field) → `['edges', 0, 'budgets', 'cpu_ns']` (the config's path). */
function configPath(field: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const part of field.split('.')) {
    const m = /^(.*?)((?:\[\d+\])*)$/.exec(part)!;
    const key = Object.entries(BUDGET_KEYS).find(([, camel]) => camel === m[1])?.[0] ?? m[1]!;
    if (key !== '') out.push(key);
    for (const index of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(index[1]));
  }
  return out;
}

/** Budgets as the config writes them, for messages (`cpuNs` → `cpu_ns`). */
function configWords(message: string): string {
  return message.replace(/\b(cpuNs|ioBytes|wallMs)\b/g, (w) => Object.entries(BUDGET_KEYS).find(([, camel]) => camel === w)![0]);
}

/** The `security` section's schema (output: {@link SecurityConfig}). */
export const securitySection = z
  .strictObject({
    enclaves: z
      .record(
        z.string(),
        z
          .strictObject({ tier: z.number().optional() })
          .nullable()
          .transform((e) => e ?? {}),
      )
      .optional(),
    edges: z.array(z.strictObject({ from: z.string(), to: z.string(), budgets: budgets.optional() })).optional(),
    defaults: budgets.optional(),
    pipelines: z.array(z.strictObject({ id: z.string(), stages: z.array(stage), ceilings: budgets.optional() })).optional(),
    approve: z.array(z.string()).default([]),
  })
  .transform((section, ctx): SecurityConfig => {
    const { approve, ...rest } = section;
    const policy = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as PolicyConfig;
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    // Cross references @cep/security leaves to approval time: an edge or stage naming an
    // enclave nobody declared can never be used (every decision on it is a denial).
    if (policy.enclaves !== undefined || policy.edges !== undefined) {
      const declared = new Set(Object.keys(policy.enclaves ?? {}));
      policy.edges?.forEach((edge, i) => {
        for (const end of ['from', 'to'] as const) {
          if (!declared.has(edge[end])) issue(['edges', i, end], `enclave "${edge[end]}" is not declared under security.enclaves`);
        }
      });
      policy.pipelines?.forEach((spec, i) =>
        spec.stages.forEach((s, j) => {
          if (!declared.has(s.enclave)) issue(['pipelines', i, 'stages', j, 'enclave'], `enclave "${s.enclave}" is not declared under security.enclaves`);
        }),
      );
    }
    // The package's own rules, on a scratch tree: what the running peer would refuse is refused here.
    const scratch = createTree();
    try {
      declarePolicy(scratch, policy);
    } catch (error) {
      if (!isCepError(error, 'SEC_POLICY_INVALID')) throw error;
      const field = typeof error.details['field'] === 'string' ? error.details['field'] : '';
      // The package's message starts with its own name of the field; the config error names it already.
      const message = field !== '' && error.message.startsWith(`${field} `) ? error.message.slice(field.length + 1) : error.message;
      issue(configPath(field), configWords(message));
      return z.NEVER;
    }
    approve.forEach((id, i) => {
      if (approve.indexOf(id) !== i) return issue(['approve', i], `"${id}" is listed twice`);
      if (!policy.pipelines?.some((p) => p.id === id)) return issue(['approve', i], `no pipeline "${id}" under security.pipelines`);
      const approval = approvePipeline(scratch, id);
      if (approval.state !== 'approved') issue(['approve', i], `pipeline "${id}" cannot be approved: ${approval.note}`);
    });
    return { ...policy, approve };
  });
