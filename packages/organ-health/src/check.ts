/**
 * One peer's telemetry: validate its records and drop records left empty. Runs in the
 * organ's validator (heartbeat organ pass, start of compute). Idempotent: a second run over
 * unchanged telemetry writes nothing.
 */
import { CEP, idEquals, name, text, type Cell, type Tree } from '@cep/cells';
import type { Cei, Severity } from '@cep/heartbeat';
import { checkTelemetry, describe, ERROR_NOTE, hasContent, isErrorNote, nameProblem } from './schema.ts';

/** The CEI topic of every record problem (SPEC §6). */
export const TP_SCHEMA = 'tp_schema';

/** What a check needs from the runtime. */
export interface CheckEnv {
  readonly tree: Tree;
  readonly cei: Cei;
  readonly severity: Severity;
  /** CEI origin, `org:<kind>:vl`. */
  readonly origin: string;
}

/** Validates `/net/telemetry/<peer>` (`peer` must be live). */
export function checkTelemetryPeer(env: CheckEnv, peer: Cell): void {
  const { tree } = env;
  const peerText = peer.name.tag.text;
  // Only CEP-domain peers can be mirrored to /net/peers/<peer>/ceh (CEI names the peer by text).
  const mirrorPeer = idEquals(peer.name.domain, CEP) ? peerText : undefined;
  const label = `telemetry peer '${peerText}'`;
  if (peer.kind !== 'dictionary') {
    report(env, `${label}: must be a dictionary, found ${describe(peer)}`, mirrorPeer);
    return;
  }
  const peerProblems: string[] = [];
  const why = nameProblem(peer.name);
  if (why !== undefined) peerProblems.push(`peer name is not a CEP word: ${why}`);
  else {
    for (const record of [...peer.children()]) {
      if (record.isDeleted || isErrorNote(record)) continue;
      if (record.kind === 'dictionary' && !hasContent(record)) {
        tree.remove(record.path());
        continue;
      }
      const problems = checkTelemetry(tree, record);
      if (record.kind !== 'dictionary') peerProblems.push(`mount '${record.name.tag.text}': ${problems.join('; ')}`);
      else publish(env, record, problems, `telemetry peer '${peerText}' mount '${record.name.tag.text}'`, mirrorPeer);
    }
  }
  if (!hasContent(peer)) {
    tree.remove(peer.path());
    return;
  }
  publish(env, peer, peerProblems, label, mirrorPeer);
}

/**
 * Publishes a record's verdict: problems → `error_note` plus one CEI fact (only when the
 * note changes, so the transport manager's per-beat rewrites of a bad record stay silent);
 * none → the note is soft-deleted.
 */
function publish(env: CheckEnv, record: Cell, problems: readonly string[], context: string, peer: string | undefined): void {
  const notePath = [...record.path(), name(ERROR_NOTE)];
  const current = env.tree.getValue(notePath);
  if (problems.length === 0) {
    if (current !== undefined) env.tree.delete(notePath);
    return;
  }
  const note = problems.join('; ');
  if (current?.type === 'text' && current.value === note) return;
  env.tree.set(notePath, text(note));
  report(env, `${context}: ${note}`, peer);
}

function report(env: CheckEnv, note: string, peer: string | undefined): void {
  env.cei.emit({ topic: TP_SCHEMA, severity: env.severity, note, origin: env.origin, ...(peer === undefined ? {} : { peer }) });
}
