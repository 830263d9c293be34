/**
 * One peer: validate its service records and prune the branches that became empty.
 * Runs inside the organ's validator (heartbeat organ pass, start of compute), so the outcome
 * is deterministic. Idempotent: a second run over an unchanged peer writes nothing.
 */
import type { Cell } from '@cep/cells';
import { describe, hasContent, liveChild, nameProblem } from './fields.ts';
import { SERVICE_SCHEMA } from './schema.ts';
import { ceiPeer, checkRecords, publishVerdict, reportProblem, type CheckEnv } from './verdict.ts';

/** Validates and prunes `/net/peers/<peer>` (`peer` must be live). */
export function checkPeer(env: CheckEnv, peer: Cell): void {
  const { tree } = env;
  const mirrorPeer = ceiPeer(peer);
  const label = `peer '${peer.name.tag.text}'`;
  if (peer.kind !== 'dictionary') {
    reportProblem(env, `${label}: a peer must be a dictionary, found ${describe(peer)}`, mirrorPeer);
    return;
  }
  const peerProblems: string[] = [];
  const why = nameProblem(peer.name);
  if (why !== undefined) peerProblems.push(`peer name is not a CEP word: ${why}`);
  const services = liveChild(peer, 'services');
  if (services !== undefined && services.kind !== 'dictionary') {
    peerProblems.push(`'services' must be a dictionary, found ${describe(services)}`);
  } else if (services !== undefined && why === undefined) {
    // A refused peer's services are not judged one by one: the peer as a whole is refused.
    peerProblems.push(...checkRecords(env, services, SERVICE_SCHEMA, label, mirrorPeer));
    if (!hasContent(services)) tree.remove(services.path());
  }
  const ceh = liveChild(peer, 'ceh');
  if (ceh !== undefined && ceh.kind === 'dictionary' && !hasContent(ceh)) tree.remove(ceh.path());
  if (!hasContent(peer)) {
    tree.remove(peer.path());
    return;
  }
  publishVerdict(env, peer, peerProblems, label, mirrorPeer);
}
