/**
 * Field checks for `/net` records (a dictionary of typed values, such as a service record or a
 * telemetry record). Pure: reads the tree, writes nothing. Shared with `@cep/organ-health`
 * through `@cep/organ-discovery/records`.
 */
import { CEP, explainNotWord, idEquals, name, type Cell, type Name, type Tree } from '@cep/cells';

/** The value types a schema field can demand. */
export type FieldType = 'text' | 'u64' | 'bool';

/** One field of a record schema. Every field of a schema is required. */
export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
  /** A text that must also encode as a CEP word (it names a cell, node or provider). Default false. */
  readonly word?: boolean;
  readonly meaning: string;
}

/** The field an organ writes on a record it refuses (and soft-deletes once the record is valid). */
export const ERROR_NOTE = 'error_note';
const ERROR_NOTE_KEY = name(ERROR_NOTE).key;

/** Field names resolved once per schema: validation runs for every record on every change. */
const fieldNames = new WeakMap<readonly FieldSpec[], readonly Name[]>();
function namesOf(fields: readonly FieldSpec[]): readonly Name[] {
  let found = fieldNames.get(fields);
  if (found === undefined) fieldNames.set(fields, (found = fields.map((spec) => name(spec.name))));
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

/**
 * Problems with the fields of `record` against `fields`, in schema order ([] when valid):
 * missing, wrong type, dangling link, empty text, text that is not a word (`word: true`).
 * A field that is a link is read through, as everywhere else in the tree.
 */
export function fieldProblems(tree: Tree, record: Cell, fields: readonly FieldSpec[]): string[] {
  const problems: string[] = [];
  const names = namesOf(fields);
  for (let i = 0; i < fields.length; i++) {
    const spec = fields[i]!;
    let cell = record.child(names[i]!);
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
    if (value?.type !== spec.type) {
      problems.push(`field '${spec.name}' must be ${spec.type}, found ${describe(cell)}`);
      continue;
    }
    if (value.type !== 'text') continue;
    if (value.value === '') {
      problems.push(`field '${spec.name}' must not be empty`);
      continue;
    }
    if (spec.word === true) {
      const why = explainNotWord(value.value);
      if (why !== undefined) problems.push(`field '${spec.name}' ('${value.value}') is not a CEP word: ${why}`);
    }
  }
  return problems;
}

/** A record type: its fields, and the words notes use for it. */
export interface RecordSchema {
  /** What a record is called in notes: `service`, `telemetry record`. */
  readonly noun: string;
  /** What a record's name is called in notes: `service`, `mount`. */
  readonly nameNoun: string;
  readonly fields: readonly FieldSpec[];
}

/**
 * Every problem of one record: its name (it must be a CEP word), then that it is a
 * dictionary, then its fields ([] when valid).
 */
export function checkRecord(tree: Tree, record: Cell, schema: RecordSchema): string[] {
  const problems: string[] = [];
  const why = nameProblem(record.name);
  if (why !== undefined) problems.push(`${schema.nameNoun} name is not a CEP word: ${why}`);
  if (record.kind !== 'dictionary') {
    problems.push(`a ${schema.noun} must be a dictionary, found ${describe(record)}`);
    return problems;
  }
  problems.push(...fieldProblems(tree, record, schema.fields));
  return problems;
}
