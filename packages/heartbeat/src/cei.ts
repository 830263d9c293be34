/**
 * CEI, the Common Error Interface: facts recorded in the tree.
 *
 * Layout (mailbox `/data/mailbox/diag`):
 *   meta/kind = "diagnostic", meta/runtime/next_msg_id (u64)
 *   msgs/msg-<n>/envelope/issued_beat (u64)
 *   msgs/msg-<n>/err/{sev, topic, note, issued_beat, origin/{name, pipeline/{…}}, [op]}
 * With `peer`, the latest fact per topic is also written to
 *   /net/peers/<peer>/ceh/<topic>/{severity, note, beat}
 */
import { text, u64, type Name, type Tree } from '@cep/cells';
import { hbError } from './errors.ts';
import { readInt, segs } from './paths.ts';
import type { Cei, EmittedFact, Fact, PipelineMeta, Severity } from './types.ts';

/** The seven severities, mildest first. */
export const SEVERITIES: readonly Severity[] = Object.freeze(['debug', 'info', 'warn', 'error', 'crit', 'usage', 'fatal']);

/** The default diagnostic mailbox. */
export const DIAG_MAILBOX: readonly Name[] = Object.freeze(segs('data', 'mailbox', 'diag'));

/** `/net/peers/<peer>/ceh/<topic>`: where the latest fact of a topic for a peer is mirrored. */
export function cehPath(peer: string, topic: string): Name[] {
  return segs('net', 'peers', peer, 'ceh', topic);
}

/** Rewrites `/net/peers/<peer>/ceh/<topic>/{severity, note, beat}` (only the latest fact is kept). */
export function writeCeh(tree: Tree, peer: string, topic: string, fact: { severity: Severity; note: string; beat: number }): void {
  const path = cehPath(peer, topic);
  tree.batch(() => {
    tree.ensureDictionary(path);
    tree.clear(path);
    tree.set(segs(path, 'severity'), text(fact.severity));
    tree.set(segs(path, 'note'), text(fact.note));
    tree.set(segs(path, 'beat'), u64(fact.beat));
  });
}

/** Writes pipeline metadata as `pipeline/{pipeline_id, stage_id, dag_run_id, hop_index}` under `at`. */
export function writePipeline(tree: Tree, at: readonly Name[], p: PipelineMeta): void {
  const base = segs(at, 'pipeline');
  tree.set(segs(base, 'pipeline_id'), text(p.pipelineId));
  tree.set(segs(base, 'stage_id'), text(p.stageId));
  tree.set(segs(base, 'dag_run_id'), u64(p.dagRunId));
  tree.set(segs(base, 'hop_index'), u64(p.hopIndex));
}

export interface CeiDeps {
  readonly tree: Tree;
  readonly beat: () => number;
  readonly retain: number;
  readonly closeOp: (id: string, summary: string) => void;
  readonly signal: (signal: Name[], target: Name[]) => void;
}

export function createCei(deps: CeiDeps): Cei {
  const { tree } = deps;
  const listeners = new Set<(fact: EmittedFact) => void>();
  const counter = segs(DIAG_MAILBOX, 'meta', 'runtime', 'next_msg_id');

  const emit = (fact: Fact): string => {
    if (!SEVERITIES.includes(fact.severity)) {
      throw hbError('SEVERITY_INVALID', `CEI severity ${String(fact.severity)} is not one of ${SEVERITIES.join(', ')}`, { severity: fact.severity });
    }
    if (typeof fact.topic !== 'string' || fact.topic === '') throw hbError('FACT_INVALID', 'a CEI fact needs a non-empty topic');
    const beat = deps.beat();
    let id = '';
    tree.batch(() => {
      const n = Number(readInt(tree, counter) ?? 1n);
      id = `msg-${n}`;
      tree.set(segs(DIAG_MAILBOX, 'meta', 'kind'), text('diagnostic'));
      tree.set(counter, u64(n + 1));
      const msg = segs(DIAG_MAILBOX, 'msgs', id);
      tree.set(segs(msg, 'envelope', 'issued_beat'), u64(beat));
      const err = segs(msg, 'err');
      tree.set(segs(err, 'sev'), text(fact.severity));
      tree.set(segs(err, 'topic'), text(fact.topic));
      tree.set(segs(err, 'note'), text(fact.note));
      tree.set(segs(err, 'issued_beat'), u64(beat));
      tree.set(segs(err, 'origin', 'name'), text(fact.origin));
      if (fact.pipeline !== undefined) writePipeline(tree, segs(err, 'origin'), fact.pipeline);
      if (fact.op !== undefined) tree.set(segs(err, 'op'), text(fact.op));
      if (fact.peer !== undefined) tree.set(segs(err, 'peer'), text(fact.peer));
      const old = n - deps.retain;
      if (old >= 1) tree.remove(segs(DIAG_MAILBOX, 'msgs', `msg-${old}`));
      if (fact.peer !== undefined) writeCeh(tree, fact.peer, fact.topic, { severity: fact.severity, note: fact.note, beat });
      if (fact.op !== undefined && (fact.severity === 'usage' || fact.severity === 'crit' || fact.severity === 'fatal')) {
        deps.closeOp(fact.op, `CEI ${fact.severity} message=${id}`);
      }
    });
    if (fact.signal === true) deps.signal(segs('sig_cei', fact.severity), segs(DIAG_MAILBOX, 'msgs', id));
    const emitted: EmittedFact = { ...fact, id, beat };
    for (const listener of [...listeners]) listener(emitted);
    return id;
  };

  return {
    emit,
    onFact(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
