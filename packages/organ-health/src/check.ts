/**
 * One peer's telemetry: validate its records and drop records left empty. Runs in the
 * organ's validator (heartbeat organ pass, start of compute). Idempotent: a second run over
 * unchanged telemetry writes nothing.
 */
import type { Cell } from '@cep/cells';
import { ceiPeer, checkRecords, describe, hasContent, nameProblem, publishVerdict, reportProblem, type CheckEnv } from '@cep/organ-discovery/records';
import { TELEMETRY_SCHEMA } from './schema.ts';

/** Validates `/net/telemetry/<peer>` (`peer` must be live). */
export function checkTelemetryPeer(env: CheckEnv, peer: Cell): void {
  const mirrorPeer = ceiPeer(peer);
  const label = `telemetry peer '${peer.name.tag.text}'`;
  if (peer.kind !== 'dictionary') {
    reportProblem(env, `${label}: must be a dictionary, found ${describe(peer)}`, mirrorPeer);
    return;
  }
  const why = nameProblem(peer.name);
  // A refused peer's records are not judged one by one: the peer as a whole is refused.
  const peerProblems = why !== undefined ? [`peer name is not a CEP word: ${why}`] : checkRecords(env, peer, TELEMETRY_SCHEMA, label, mirrorPeer);
  if (!hasContent(peer)) {
    env.tree.remove(peer.path());
    return;
  }
  publishVerdict(env, peer, peerProblems, label, mirrorPeer);
}
