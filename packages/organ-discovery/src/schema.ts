/**
 * The service record schema (`/net/peers/<peer>/services/<service>/`) and the checks that
 * turn a record into a list of problems. Pure: reads the tree, writes nothing.
 */
import { CEP, explainNotWord, idEquals, name, type Cell, type Name, type Tree } from '@cep/cells';

/** The value types a schema field can demand. */
export type FieldType = 'text' | 'u64' | 'bool';

/** One field of a record schema. */
export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
  /** A text that must also encode as a CEP word (it names a cell, node or provider). */
  readonly word: boolean;
  readonly meaning: string;
}

/** The fields of a service record, all required. Other children are allowed and left alone. */
export const SERVICE_FIELDS: readonly FieldSpec[] = Object.freeze([
  { name: 'mode', type: 'text', word: true, meaning: 'the mount mode the service is reached through (`link`, `mirror`, `invoke`, …)' },
  { name: 'mount', type: 'text', word: true, meaning: 'the mount name under `/net/mounts/<peer>/<mode>/`' },
  { name: 'local_node', type: 'text', word: true, meaning: 'the node on this side that owns the mount' },
  { name: 'provider', type: 'text', word: true, meaning: 'the transport provider id (as catalogued under `/net/transports/`)' },
  { name: 'upd_latest', type: 'bool', word: false, meaning: 'whether the service accepts latest-value-only (droppable) gauges' },
]);

/** The field the organ writes on a record it refuses (and soft-deletes once the record is valid). */
export const ERROR_NOTE = 'error_note';
const ERROR_NOTE_KEY = name(ERROR_NOTE).key;

const fieldNames = new Map<string, Name>();
/** Field names resolved once (validation runs for every record of a peer on every change). */
function fieldName(field: string): Name {
  let found = fieldNames.get(field);
  if (found === undefined) fieldNames.set(field, (found = name(field)));
  return found;
}

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

/** The live child called `field`, or `undefined`. */
export function liveChild(record: Cell, field: string): Cell | undefined {
  const child = record.child(field);
  return child === undefined || child.isDeleted ? undefined : child;
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

/** Problems with the fields of `record` against `fields`, in schema order ([] when valid). */
export function fieldProblems(tree: Tree, record: Cell, fields: readonly FieldSpec[]): string[] {
  const problems: string[] = [];
  for (const spec of fields) {
    let cell = record.child(fieldName(spec.name));
    if (cell?.isDeleted === true) cell = undefined;
    if (cell === undefined) {
      problems.push(`missing field '${spec.name}' (${spec.type})`);
      continue;
    }
    if (cell.kind === 'link') {
      // Links are read through, as everywhere else in the tree.
      const target = tree.resolveLink(cell);
      if (target === undefined) {
        problems.push(`field '${spec.name}' is a dangling link`);
        continue;
      }
      cell = target;
    }
    const value = cell.kind === 'value' ? cell.value : undefined;
    if (value?.type !== spec.type) {
      problems.push(`field '${spec.name}' must be ${spec.type}, found ${describe(cell)}`);
      continue;
    }
    if (value.type !== 'text') continue;
    if (value.value === '') {
      problems.push(`field '${spec.name}' must not be empty`);
      continue;
    }
    if (spec.word) {
      const why = explainNotWord(value.value);
      if (why !== undefined) problems.push(`field '${spec.name}' ('${value.value}') is not a CEP word: ${why}`);
    }
  }
  return problems;
}

/** Every problem of one service record: its name, then its fields ([] when valid). */
export function checkService(tree: Tree, service: Cell): string[] {
  const problems: string[] = [];
  const why = nameProblem(service.name);
  if (why !== undefined) problems.push(`service name is not a CEP word: ${why}`);
  if (service.kind !== 'dictionary') {
    problems.push(`a service must be a dictionary, found ${describe(service)}`);
    return problems;
  }
  problems.push(...fieldProblems(tree, service, SERVICE_FIELDS));
  return problems;
}
