/**
 * Publishing what a record check found: an `error_note` on the record and one CEI `tp_schema`
 * fact, only when the note changes (so revalidating an unchanged bad record is silent, and a
 * manager rewriting a bad record every beat does not flood the mailbox). Shared with
 * `@cep/organ-health` through `@cep/organ-discovery/records`.
 */
import { CEP, idEquals, name, text, type Cell, type Tree } from '@cep/cells';
import type { Cei, Severity } from '@cep/heartbeat';
import { checkRecord, ERROR_NOTE, hasContent, isErrorNote, type RecordSchema } from './fields.ts';

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

/** The peer a fact about `peer` is mirrored to: only CEP-domain names can be (CEI names the peer by text). */
export function ceiPeer(peer: Cell): string | undefined {
  return idEquals(peer.name.domain, CEP) ? peer.name.tag.text : undefined;
}

/** Emits one `tp_schema` fact (mirrored to `/net/peers/<peer>/ceh/tp_schema` when `peer` is given). */
export function reportProblem(env: CheckEnv, note: string, peer: string | undefined): void {
  env.cei.emit({ topic: TP_SCHEMA, severity: env.severity, note, origin: env.origin, ...(peer === undefined ? {} : { peer }) });
}

/**
 * Publishes a record's verdict: problems → `error_note` plus one fact `<context>: <note>` (only
 * when the note changes); none → the note is soft-deleted (its history keeps what was wrong).
 */
export function publishVerdict(env: CheckEnv, record: Cell, problems: readonly string[], context: string, peer: string | undefined): void {
  const notePath = [...record.path(), name(ERROR_NOTE)];
  const current = env.tree.getValue(notePath);
  if (problems.length === 0) {
    if (current !== undefined) env.tree.delete(notePath);
    return;
  }
  const note = problems.join('; ');
  if (current?.type === 'text' && current.value === note) return;
  env.tree.set(notePath, text(note));
  reportProblem(env, `${context}: ${note}`, peer);
}

/**
 * Checks every live record in the dictionary `container` against `schema` and publishes each
 * verdict on the record, with the fact's context `<context> <nameNoun> '<name>'`. An empty
 * record is removed, silently (an empty record is not a schema problem). A record that is not
 * a dictionary cannot carry a note: its problems are returned, as `<nameNoun> '<name>': …`,
 * for the container's own verdict.
 */
export function checkRecords(env: CheckEnv, container: Cell, schema: RecordSchema, context: string, peer: string | undefined): string[] {
  const containerProblems: string[] = [];
  for (const record of [...container.children()]) {
    if (record.isDeleted || isErrorNote(record)) continue;
    if (record.kind === 'dictionary' && !hasContent(record)) {
      env.tree.remove(record.path());
      continue;
    }
    const label = `${schema.nameNoun} '${record.name.tag.text}'`;
    const problems = checkRecord(env.tree, record, schema);
    if (record.kind !== 'dictionary') containerProblems.push(`${label}: ${problems.join('; ')}`);
    else publishVerdict(env, record, problems, `${context} ${label}`, peer);
  }
  return containerProblems;
}
