/**
 * One peer: validate its service records and prune the branches that became empty.
 * Runs inside the organ's validator (heartbeat organ pass, start of compute), so the outcome
 * is deterministic. Idempotent: a second run over an unchanged peer writes nothing.
 */
import { CEP, idEquals, name, text, type Cell, type Tree } from '@cep/cells';
import type { Cei, Severity } from '@cep/heartbeat';
import { checkService, describe, ERROR_NOTE, hasContent, isErrorNote, liveChild, nameProblem } from './schema.ts';

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

/** Validates and prunes `/net/peers/<peer>` (`peer` must be live). */
export function checkPeer(env: CheckEnv, peer: Cell): void {
  const { tree } = env;
  const peerText = peer.name.tag.text;
  // Only CEP-domain peers can be mirrored to /net/peers/<peer>/ceh (CEI names the peer by text).
  const mirrorPeer = idEquals(peer.name.domain, CEP) ? peerText : undefined;
  const label = `peer '${peerText}'`;
  if (peer.kind !== 'dictionary') {
    report(env, `${label}: a peer must be a dictionary, found ${describe(peer)}`, mirrorPeer);
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
    for (const service of [...services.children()]) {
      if (service.isDeleted || isErrorNote(service)) continue;
      if (service.kind === 'dictionary' && !hasContent(service)) {
        tree.remove(service.path());
        continue;
      }
      const context = `${label} service '${service.name.tag.text}'`;
      if (service.kind !== 'dictionary') peerProblems.push(`service '${service.name.tag.text}': ${checkService(tree, service).join('; ')}`);
      else publish(env, service, checkService(tree, service), context, mirrorPeer);
    }
    if (!hasContent(services)) tree.remove(services.path());
  }
  const ceh = liveChild(peer, 'ceh');
  if (ceh !== undefined && ceh.kind === 'dictionary' && !hasContent(ceh)) tree.remove(ceh.path());
  if (!hasContent(peer)) {
    tree.remove(peer.path());
    return;
  }
  publish(env, peer, peerProblems, label, mirrorPeer);
}

/**
 * Publishes a record's verdict: problems → `error_note` plus one CEI fact (only when the
 * note changes, so revalidating an unchanged bad record is silent); none → the note is
 * soft-deleted (its history keeps what was wrong).
 */
export function publish(env: CheckEnv, record: Cell, problems: readonly string[], context: string, peer: string | undefined): void {
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
