/**
 * What an invoke request adds to the shared mount-request fields: it is always mode `invoke`,
 * always reliable and ordered (never `upd_latest`), and may carry default pipeline metadata
 * `pipeline/{pipeline_id, stage_id, dag_run_id, hop_index}` for the invokes submitted on it.
 */
import type { Cell, Value } from '@cep/cells';
import type { PipelineMeta } from '@cep/heartbeat';
import { parsePipelineMeta } from '@cep/security';
import type { MountRequest, MountSpec, RequestProblem } from '@cep/transport';

/** Caps every invoke mount requires. */
export const INVOKE_REQUIRED_CAPS: readonly string[] = Object.freeze(['ordered', 'reliable']);

/** Adds the caps invoke needs to whatever the request asks for. */
export function shapeInvokeSpec(spec: MountSpec): MountSpec {
  const required = [...new Set([...(spec.caps?.required ?? []), ...INVOKE_REQUIRED_CAPS])].sort();
  return { ...spec, caps: { ...spec.caps, required } };
}

/** Invoke-specific checks of a request (after the shared fields were read). */
export function checkInvokeRequest(request: Cell, read: MountRequest): RequestProblem | undefined {
  if (read.spec.caps?.updLatest === true) {
    return { field: 'caps/upd_latest', note: 'caps/upd_latest: an invoke mount must be reliable and ordered; upd_latest mounts drop frames' };
  }
  const pipeline = readRequestPipeline(request);
  return pipeline !== undefined && 'field' in pipeline ? pipeline : undefined;
}

const live = (cell: Cell | undefined): Cell | undefined => (cell === undefined || cell.isDeleted ? undefined : cell);

/** The request's default pipeline metadata, none, or a problem naming the field. */
export function readRequestPipeline(request: Cell): PipelineMeta | RequestProblem | undefined {
  const branch = live(request.child('pipeline'));
  if (branch === undefined) return undefined;
  if (branch.kind !== 'dictionary') return { field: 'pipeline', note: `pipeline: expected a dictionary, found a ${branch.kind}` };
  const typed = (field: string, type: Value['type']): Value | RequestProblem | undefined => {
    const cell = live(branch.child(field));
    if (cell === undefined) return undefined;
    if (cell.kind !== 'value' || cell.value?.type !== type) {
      return { field: `pipeline/${field}`, note: `pipeline/${field}: expected ${type}, found ${cell.kind === 'value' ? cell.value?.type : cell.kind}` };
    }
    return cell.value;
  };
  const id = typed('pipeline_id', 'text');
  const stage = typed('stage_id', 'text');
  const dag = typed('dag_run_id', 'u64');
  const hop = typed('hop_index', 'u64');
  for (const v of [id, stage, dag, hop]) if (v !== undefined && 'field' in v) return v;
  const hopValue = (hop as Value | undefined)?.value as bigint | undefined;
  try {
    return parsePipelineMeta({
      pipelineId: (id as Value | undefined)?.value,
      stageId: (stage as Value | undefined)?.value,
      dagRunId: (dag as Value | undefined)?.value ?? 0n,
      hopIndex: hopValue === undefined ? 0 : hopValue <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(hopValue) : -1,
    });
  } catch (error) {
    const field = (error as { details?: { field?: string } }).details?.field ?? 'pipeline';
    return { field: `pipeline/${field}`, note: `pipeline/${field}: ${(error as Error).message}` };
  }
}
