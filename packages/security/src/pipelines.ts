/**
 * Pipeline approvals and preflight. An approval names the hash of the spec it approved
 * and the policy version it was made under; editing the spec or the policy voids it.
 */
import { digestHex, text, u64, type Cell, type Tree } from '@cep/cells';
import type { PipelineMeta } from '@cep/heartbeat';
import { securityError } from './errors.ts';
import { stampMatches, stampOf } from './memo.ts';
import { policyVersion, readPipelineSpec, readPolicy, SECURITY_ROOT } from './policy.ts';

const APPROVALS = [...SECURITY_ROOT, 'approvals'] as const;

/** The hash of a pipeline spec's cells (stages and ceilings), or `undefined` when there is no such spec. */
export function specHash(tree: Tree, pipelineId: string): string | undefined {
  const cell = tree.get([...SECURITY_ROOT, 'pipelines', pipelineId]);
  if (cell === undefined) return undefined;
  // Checked on every invoke of a pipeline stage: hash the spec again only when a cell of it changed.
  const memo = specMemo.get(cell);
  if (memo !== undefined && stampMatches([cell], memo.stamp)) return memo.hash;
  const stamp = stampOf([cell]);
  const hash = digestHex(cell).slice(0, 32);
  specMemo.set(cell, { stamp, hash });
  return hash;
}

/** The last hash of each spec cell, with the stamp it was computed under (see memo.ts). */
const specMemo = new WeakMap<Cell, { stamp: unknown[]; hash: string }>();

/** The outcome of approving a pipeline. */
export interface Approval {
  readonly state: 'approved' | 'rejected';
  readonly note: string;
  readonly specHash: string;
  readonly policyVersion: string;
  readonly beat: number;
}

/**
 * Checks a pipeline spec against the policy (every stage's enclave declared, every hop
 * between different enclaves a declared edge) and records the outcome under
 * `/sys/security/approvals/<id>` with the spec hash and policy version it holds for.
 */
export function approvePipeline(tree: Tree, pipelineId: string): Approval {
  const spec = readPipelineSpec(tree, pipelineId);
  if (spec === undefined)
    throw securityError('SEC_PIPELINE_UNKNOWN', `no pipeline spec ${JSON.stringify(pipelineId)} under /sys/security/pipelines`, { pipelineId });
  const policy = readPolicy(tree);
  let note = 'approved';
  let state: Approval['state'] = 'approved';
  for (let i = 0; i < spec.stages.length && state === 'approved'; i++) {
    const stage = spec.stages[i]!;
    if (!policy.enclaves.has(stage.enclave)) {
      state = 'rejected';
      note = `stage ${stage.id} runs in enclave ${stage.enclave}, which is not declared`;
    } else if (i > 0) {
      const from = spec.stages[i - 1]!.enclave;
      if (from !== stage.enclave && policy.edges.get(from)?.get(stage.enclave) === undefined) {
        state = 'rejected';
        note = `hop ${from} -> ${stage.enclave} (stage ${stage.id}) is not a declared edge`;
      }
    }
  }
  const approval: Approval = { state, note, specHash: specHash(tree, pipelineId)!, policyVersion: policy.version, beat: tree.beat };
  tree.batch(() => {
    const base = [...APPROVALS, pipelineId];
    tree.set([...base, 'state'], text(approval.state));
    tree.set([...base, 'note'], text(approval.note));
    tree.set([...base, 'spec_hash'], text(approval.specHash));
    tree.set([...base, 'pol_ver'], text(approval.policyVersion));
    tree.set([...base, 'beat'], u64(approval.beat));
  });
  return approval;
}

/** Why a pipeline is not approved now, or `undefined` when it is. */
export function approvalProblem(tree: Tree, pipelineId: string): string | undefined {
  const current = specHash(tree, pipelineId);
  if (current === undefined) return `pipeline ${pipelineId} has no spec`;
  const base = tree.get([...APPROVALS, pipelineId]);
  const read = (field: string) => {
    const value = base?.child(field);
    return value?.value?.type === 'text' && !value.isDeleted ? value.value.value : undefined;
  };
  if (base === undefined || read('state') === undefined) return `pipeline ${pipelineId} was never approved (run preflight)`;
  if (read('state') !== 'approved') return `pipeline ${pipelineId} was rejected: ${read('note') ?? ''}`;
  if (read('spec_hash') !== current) return `pipeline ${pipelineId} changed after its approval (spec hash differs); approve it again`;
  if (read('pol_ver') !== policyVersion(tree)) return `the security policy changed after pipeline ${pipelineId} was approved; approve it again`;
  return undefined;
}

/** What an outbound invoke carries before preflight. */
export interface PreflightRequest {
  readonly pipelineId: string;
  readonly stageId: string;
  readonly dagRunId: bigint;
  /** The hop this invoke is (0 for the first). */
  readonly hopIndex: number;
}

/**
 * The sender's `sig_sec/pipeline_preflight`: checks the request names a stage of an
 * approved pipeline and returns the metadata to stamp on the invoke (validated).
 */
export function preflight(tree: Tree, request: PreflightRequest): { ok: true; pipeline: PipelineMeta } | { ok: false; note: string } {
  const pipeline = parsePipelineMeta(request);
  const problem = approvalProblem(tree, pipeline.pipelineId);
  if (problem !== undefined) return { ok: false, note: problem };
  const spec = readPipelineSpec(tree, pipeline.pipelineId)!;
  if (!spec.stages.some((stage) => stage.id === pipeline.stageId)) {
    return { ok: false, note: `pipeline ${pipeline.pipelineId} has no stage ${pipeline.stageId}` };
  }
  return { ok: true, pipeline };
}

const MAX_ID_BYTES = 127;

/** Validates pipeline metadata from an untrusted source (a frame, a request cell); throws `SEC_PIPELINE_MALFORMED`. */
export function parsePipelineMeta(input: { pipelineId?: unknown; stageId?: unknown; dagRunId?: unknown; hopIndex?: unknown }): PipelineMeta {
  const idField = (value: unknown, field: string): string => {
    if (typeof value !== 'string' || value.length === 0 || new TextEncoder().encode(value).length > MAX_ID_BYTES) {
      throw securityError(
        'SEC_PIPELINE_MALFORMED',
        `pipeline ${field} must be a text of 1..${MAX_ID_BYTES} bytes, got ${JSON.stringify(typeof value === 'bigint' ? String(value) : value)}`,
        { field },
      );
    }
    return value;
  };
  const pipelineId = idField(input.pipelineId, 'pipeline_id');
  const stageId = idField(input.stageId, 'stage_id');
  const dag = input.dagRunId;
  if (typeof dag !== 'bigint' || dag < 0n || dag >= 1n << 64n) {
    throw securityError('SEC_PIPELINE_MALFORMED', `pipeline dag_run_id must be an unsigned 64-bit integer, got ${String(dag)}`, { field: 'dag_run_id' });
  }
  const hop = input.hopIndex;
  if (typeof hop !== 'number' || !Number.isSafeInteger(hop) || hop < 0) {
    throw securityError('SEC_PIPELINE_MALFORMED', `pipeline hop_index must be a whole number ≥ 0, got ${String(hop)}`, { field: 'hop_index' });
  }
  return { pipelineId, stageId, dagRunId: dag, hopIndex: hop };
}
