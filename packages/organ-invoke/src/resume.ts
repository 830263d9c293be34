/**
 * What a caller finds of its own calls after a restart. Every call's record is in the tree
 * (`<request>/invokes/<id>/{state, deadline, op, peer, …}`), so a tree restored from a store
 * holds the calls that were in flight when the process died: their record still says `plan`
 * (not sent) or `sent`. Nothing else is needed to give each of them exactly one outcome — the
 * id (replies are matched on it), the deadline beat and the OPS dossier are all in the record.
 * Finished records are found too, oldest first, so the retention of finished records
 * (`retainCompleted`) goes on counting them instead of keeping them forever.
 */
import type { Name, Tree, Value } from '@cep/cells';
import { name } from '@cep/cells';

/** A call record found in a restored tree. */
export interface FoundCall {
  readonly id: string;
  readonly request: string;
  readonly record: readonly Name[];
  /** `plan`: it never left this peer; `sent`: it did, and may have run on `peer`. */
  readonly state: 'plan' | 'sent';
  readonly deadline: number;
  /** The OPS dossier id (undefined when the record has none). */
  readonly op: string | undefined;
  /** The callee peer ('' when the record predates the field). */
  readonly peer: string;
}

/** A finished call record, for the retention of finished records. */
export interface FinishedCall {
  readonly request: string;
  readonly record: readonly Name[];
  readonly op: string | undefined;
  readonly doneBeat: number;
}

const OPEN_STATES = new Set(['plan', 'sent']);

function textOf(value: Value | undefined): string | undefined {
  return value?.type === 'text' ? value.value : undefined;
}

function beatOf(value: Value | undefined): number | undefined {
  return value?.type === 'u64' ? Number(value.value) : undefined;
}

/** Scans `<requestsRoot>/<request>/invokes/<id>` records: the calls in flight, and those finished (oldest first). */
export function findCalls(tree: Tree, requestsRoot: readonly Name[]): { inFlight: FoundCall[]; finished: FinishedCall[] } {
  const inFlight: FoundCall[] = [];
  const finished: FinishedCall[] = [];
  for (const request of tree.get(requestsRoot)?.children() ?? []) {
    if (request.isDeleted) continue;
    const invokes = tree.get([...requestsRoot, request.name, name('invokes')]);
    for (const call of invokes?.children() ?? []) {
      if (call.isDeleted || call.kind !== 'dictionary') continue;
      const record = [...requestsRoot, request.name, name('invokes'), call.name];
      const state = textOf(tree.getValue([...record, name('state')]));
      const op = textOf(tree.getValue([...record, name('op')]));
      if (state === undefined) continue;
      if (OPEN_STATES.has(state)) {
        const deadline = beatOf(tree.getValue([...record, name('deadline')]));
        if (deadline === undefined) continue;
        inFlight.push({
          id: call.name.tag.text,
          request: request.name.tag.text,
          record,
          state: state as 'plan' | 'sent',
          deadline,
          op,
          peer: textOf(tree.getValue([...record, name('peer')])) ?? '',
        });
      } else {
        finished.push({ request: request.name.tag.text, record, op, doneBeat: beatOf(tree.getValue([...record, name('done_beat')])) ?? 0 });
      }
    }
  }
  finished.sort((a, b) => a.doneBeat - b.doneBeat);
  return { inFlight, finished };
}
