/**
 * The invoke decision. One function, run by the sending runtime before a frame leaves
 * and by the receiving runtime before anything runs, on the same inputs: the policy in
 * the tree, the invoke's enclaves and pipeline metadata, and usage that was measured at
 * the edge and recorded in the tree. It reads no clock and measures nothing.
 */
import type { Tree } from '@cep/cells';
import type { PipelineMeta, Severity } from '@cep/heartbeat';
import { approvalProblem } from './pipelines.ts';
import { readPipelineSpec, readPolicy, type Budgets } from './policy.ts';

/** What is known about one invoke when it is checked. */
export interface InvokeCheck {
  /** Enclave of the runtime that sent the invoke. */
  readonly fromEnclave: string;
  /** Enclave of the runtime asked to run it. */
  readonly toEnclave: string;
  /** Pipeline metadata the invoke carries (already parsed with `parsePipelineMeta`). */
  readonly pipeline?: PipelineMeta;
  /** Usage so far, as recorded (see `recordUsage`): beats since submission, and edge measurements. */
  readonly usage?: Usage;
  /** Who is deciding, for the note and `origin`. */
  readonly side: 'send' | 'receive';
}

/** Measured usage of one invoke (all fields optional; missing = 0). */
export interface Usage {
  readonly beats?: number;
  readonly cpuNs?: number;
  readonly ioBytes?: number;
  readonly wallMs?: number;
}

/** CEI topics a decision can carry. */
export type SecurityTopic = 'sec.pipeline.reject' | 'sec.edge.deny' | 'sec.limit.hit';

/** The verdict, ready to be turned into a CEI fact and a `tp_inv_reject`. */
export interface Decision {
  readonly allowed: boolean;
  /** Set when denied. */
  readonly topic?: SecurityTopic;
  readonly severity: Severity;
  readonly note: string;
  /** `sec/send` or `sec/receive`. */
  readonly origin: string;
  readonly pipeline?: PipelineMeta;
  /**
   * Set when allowed: the budgets that applied (defaults, edge, pipeline ceilings, tightest
   * field by field). A caller that charges usage measured later (`cpuNs`, `wallMs` of the run)
   * checks it against these by deciding again on the recorded usage.
   */
  readonly budgets?: Budgets;
}

const LIMIT_FIELDS = [
  ['beats', 'beats'],
  ['cpuNs', 'cpu_ns'],
  ['ioBytes', 'io_bytes'],
  ['wallMs', 'wall_ms'],
] as const;

/** The tighter of two budgets, field by field. */
export function tightest(a: Budgets, b: Budgets): Budgets {
  const out: Record<string, number> = {};
  for (const key of ['beats', 'cpuNs', 'ioBytes', 'hops', 'wallMs'] as const) {
    const x = a[key];
    const y = b[key];
    if (x !== undefined || y !== undefined) out[key] = Math.min(x ?? Infinity, y ?? Infinity);
  }
  return out;
}

/**
 * A denial of `check`. A module function, not a closure made in every check: the check runs twice
 * per invoke (sender and receiver), and making that closure (and, run from source, naming it) was
 * most of the check's cost in an allowed call.
 */
function deny(check: InvokeCheck, topic: SecurityTopic, note: string): Decision {
  return {
    allowed: false,
    topic,
    severity: 'error',
    note: `${check.fromEnclave} -> ${check.toEnclave}: ${note}`,
    origin: `sec/${check.side}`,
    ...(check.pipeline !== undefined ? { pipeline: check.pipeline } : {}),
  };
}

/** The note of an allowed decision per pair of enclaves: the same text for every call of a pair (two strings per invoke otherwise). */
const allowedNotes = new Map<string, Map<string, string>>();
function allowedNote(from: string, to: string): string {
  let byTo = allowedNotes.get(from);
  if (byTo === undefined) {
    if (allowedNotes.size >= 1024) allowedNotes.clear(); // enclave names are policy words: few, but keep it bounded
    allowedNotes.set(from, (byTo = new Map()));
  }
  let note = byTo.get(to);
  if (note === undefined) {
    if (byTo.size >= 1024) byTo.clear();
    byTo.set(to, (note = `${from} -> ${to}: allowed`));
  }
  return note;
}

/** Decides whether an invoke may run (see the package README for the table of cases). */
export function checkInvoke(tree: Tree, check: InvokeCheck): Decision {
  const origin = check.side === 'send' ? 'sec/send' : check.side === 'receive' ? 'sec/receive' : `sec/${check.side}`;
  const pipeline = check.pipeline;
  const policy = readPolicy(tree);
  const crossing = check.fromEnclave !== check.toEnclave;
  let budgets: Budgets = {};
  if (crossing) {
    if (pipeline === undefined) return deny(check, 'sec.pipeline.reject', 'cross-enclave invoke carries no pipeline metadata');
    const edge = policy.edges.get(check.fromEnclave)?.get(check.toEnclave);
    if (edge === undefined || !policy.enclaves.has(check.fromEnclave) || !policy.enclaves.has(check.toEnclave)) {
      return deny(check, 'sec.edge.deny', 'no declared edge between these enclaves (undeclared pairs are denied)');
    }
    budgets = tightest(policy.defaults, edge);
  } else {
    budgets = policy.defaults;
  }
  if (pipeline !== undefined) {
    const problem = approvalProblem(tree, pipeline.pipelineId);
    if (problem !== undefined) return deny(check, 'sec.pipeline.reject', problem);
    const spec = readPipelineSpec(tree, pipeline.pipelineId)!;
    const stage = spec.stages.find((s) => s.id === pipeline.stageId);
    if (stage === undefined) return deny(check, 'sec.pipeline.reject', `pipeline ${pipeline.pipelineId} has no stage ${pipeline.stageId}`);
    if (stage.enclave !== check.toEnclave) {
      return deny(check, 'sec.pipeline.reject', `stage ${stage.id} of pipeline ${pipeline.pipelineId} runs in ${stage.enclave}, not ${check.toEnclave}`);
    }
    budgets = tightest(budgets, spec.ceilings ?? {});
    if (budgets.hops !== undefined && pipeline.hopIndex > budgets.hops) {
      return deny(check, 'sec.limit.hit', `hop ${pipeline.hopIndex} is over the hop budget ${budgets.hops}`);
    }
  }
  for (const [key, label] of LIMIT_FIELDS) {
    const limit = budgets[key];
    const used = check.usage?.[key] ?? 0;
    if (limit !== undefined && used > limit) return deny(check, 'sec.limit.hit', `${label} ${used} is over the budget ${limit}`);
  }
  return {
    allowed: true,
    severity: 'debug',
    note: allowedNote(check.fromEnclave, check.toEnclave),
    origin,
    budgets,
    ...(pipeline !== undefined ? { pipeline } : {}),
  };
}
