/**
 * The telemetry record schema (`/net/telemetry/<peer>/<mount>/`) and the checks that turn a
 * record into a list of problems. Pure: reads the tree, writes nothing.
 * (The field checks mirror @cep/organ-discovery's; each organ package stands alone.)
 */
import { CEP, explainNotWord, idEquals, name, type Cell, type Name, type Tree } from '@cep/cells';

/** The value types a schema field can demand. */
export type FieldType = 'text' | 'u64' | 'bool';

/** One field of a record schema. */
export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
  readonly meaning: string;
}

/** The fields of a telemetry record, all required. Other children are allowed and left alone. */
export const TELEMETRY_FIELDS: readonly FieldSpec[] = Object.freeze([
  { name: 'ready_count', type: 'u64', meaning: '`ready` events seen on the mount' },
  { name: 'bp_count', type: 'u64', meaning: '`backpressure` events seen' },
  { name: 'fatal_count', type: 'u64', meaning: '`fatal` events seen' },
  { name: 'frame_count', type: 'u64', meaning: 'frames moved' },
  { name: 'last_mode', type: 'text', meaning: 'mode of the last frame (`none`, `data`, `upd_latest`, …)' },
  { name: 'last_sample', type: 'u64', meaning: 'the beat the record was last updated in' },
  { name: 'last_event', type: 'text', meaning: 'the last mount event (`none`, `open`, `ready`, `backpressure`, …)' },
  { name: 'bp_flag', type: 'bool', meaning: 'true while the mount is backpressured' },
]);

/** Field names resolved once (validation runs for every record every beat the manager writes). */
const FIELD_NAMES: readonly Name[] = TELEMETRY_FIELDS.map((spec) => name(spec.name));

/** The field the organ writes on a record it refuses (and soft-deletes once the record is valid). */
export const ERROR_NOTE = 'error_note';
const ERROR_NOTE_KEY = name(ERROR_NOTE).key;

/** Why `n` is not a CEP word (for notes), or `undefined` when it is one. */
export function nameProblem(n: Name): string | undefined {
  if (!idEquals(n.domain, CEP)) return `it is not in the CEP domain`;
  if (n.tag.kind === 'word') return undefined;
  return explainNotWord(n.tag.text) ?? `it encodes as a ${n.tag.kind}, not a word`;
}

/** How a cell that is not the expected value reads in a note ("text", "a dictionary"). */
export function describe(cell: Cell): string {
  if (cell.kind === 'value') return cell.value?.type ?? 'nothing';
  return `a ${cell.kind}`;
}

/** True when the store has a live child other than the organ's own `error_note`. */
export function hasContent(store: Cell): boolean {
  for (const child of store.children()) if (!child.isDeleted && child.name.key !== ERROR_NOTE_KEY) return true;
  return false;
}

/** True for the organ's own `error_note` child. */
export function isErrorNote(cell: Cell): boolean {
  return cell.name.key === ERROR_NOTE_KEY;
}

/** Every problem of one telemetry record: its (mount) name, then its fields ([] when valid). */
export function checkTelemetry(tree: Tree, record: Cell): string[] {
  const problems: string[] = [];
  const why = nameProblem(record.name);
  if (why !== undefined) problems.push(`mount name is not a CEP word: ${why}`);
  if (record.kind !== 'dictionary') {
    problems.push(`a telemetry record must be a dictionary, found ${describe(record)}`);
    return problems;
  }
  for (let i = 0; i < TELEMETRY_FIELDS.length; i++) {
    const spec = TELEMETRY_FIELDS[i]!;
    let cell = record.child(FIELD_NAMES[i]!);
    if (cell === undefined || cell.isDeleted) {
      problems.push(`missing field '${spec.name}' (${spec.type})`);
      continue;
    }
    if (cell.kind === 'link') {
      const target = tree.resolveLink(cell);
      if (target === undefined) {
        problems.push(`field '${spec.name}' is a dangling link`);
        continue;
      }
      cell = target;
    }
    const value = cell.kind === 'value' ? cell.value : undefined;
    if (value?.type !== spec.type) problems.push(`field '${spec.name}' must be ${spec.type}, found ${describe(cell)}`);
    else if (value.type === 'text' && value.value === '') problems.push(`field '${spec.name}' must not be empty`);
  }
  return problems;
}
