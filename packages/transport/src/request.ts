/**
 * Reading a mount request cell (the fields link, mirror and invoke requests share, SPEC §7)
 * into a {@link MountSpec}, or into a problem that names the field. Organs call it from their
 * validators, so a request with a wrong type never reaches the manager.
 */
import { explainNotWord, type Cell, type Value } from '@cep/cells';
import type { MountSpec } from './manager.ts';

/** A mount request as read from the tree. */
export interface MountRequest {
  readonly spec: MountSpec;
  /** `deadline` (a beat), when given: the request must be active by then. */
  readonly deadline: number | undefined;
}

/** Why a request is not valid: the field, and a note for `error_note` and CEI. */
export interface RequestProblem {
  readonly field: string;
  readonly note: string;
}

/** The live cell at `path` (`a/b`) under a request, if any (a soft-deleted step counts as absent). */
export function requestField(request: Cell, path: string): Cell | undefined {
  let cell: Cell | undefined = request;
  for (const part of path.split('/')) {
    cell = cell?.child(part);
    if (cell?.isDeleted) return undefined;
  }
  return cell;
}

/**
 * The value at `path` when it has type `type`; `undefined` when absent; a problem naming the
 * field when it is of another type or not a value. Organs reading their own request fields
 * use it so every request reports type errors the same way.
 */
export function readTypedField(request: Cell, path: string, type: Value['type']): Value | RequestProblem | undefined {
  const cell = requestField(request, path);
  if (cell === undefined) return undefined;
  if (cell.kind !== 'value' || cell.value?.type !== type) {
    return { field: path, note: `${path}: expected ${type}, found ${cell.kind === 'value' ? cell.value?.type : cell.kind}` };
  }
  return cell.value;
}

/**
 * Reads `peer`, `mount`, `mode`, `local_node` (CEP words), optional `pref_prov` (word),
 * `allow_upd` (bool), `deadline` (u64 beat), `caps/{required,preferred}/<cap>` (bool: true means
 * listed), `caps/upd_latest` (bool), `serializer/{crc32c_ok,deflate_ok,aead_ok,warn_down}` (bool)
 * and `serializer/cmp_max_ver` (u64). `defaults.mode` is used when the request has no `mode`.
 */
export function readMountRequest(request: Cell, defaults: { readonly mode?: string; readonly localNode?: string } = {}): MountRequest | RequestProblem {
  const problem = (name: string, note: string): RequestProblem => ({ field: name, note: `${name}: ${note}` });
  const typed = (name: string, type: Value['type']): Value | RequestProblem | undefined => readTypedField(request, name, type);
  const word = (name: string, required: boolean, fallback?: string): string | RequestProblem | undefined => {
    const v = typed(name, 'text');
    if (isRequestProblem(v)) return v;
    const text = v === undefined ? fallback : (v.value as string);
    if (text === undefined) return required ? problem(name, 'missing') : undefined;
    const bad = explainNotWord(text);
    return bad === undefined ? text : problem(name, `${JSON.stringify(text)} is not a CEP word (${bad})`);
  };
  const flag = (name: string): boolean | RequestProblem | undefined => {
    const v = typed(name, 'bool');
    return v === undefined || isRequestProblem(v) ? v : (v.value as boolean);
  };
  const count = (name: string): number | RequestProblem | undefined => {
    const v = typed(name, 'u64');
    if (v === undefined || isRequestProblem(v)) return v;
    const n = v.value as bigint;
    return n > BigInt(Number.MAX_SAFE_INTEGER) ? problem(name, 'too large') : Number(n);
  };
  const capSet = (name: string): string[] | RequestProblem => {
    const set = requestField(request, name);
    if (set === undefined) return [];
    if (set.kind !== 'dictionary') return problem(name, `expected a dictionary of capability flags, found ${set.kind}`);
    const caps: string[] = [];
    for (const child of set.children()) {
      if (child.isDeleted) continue;
      const capName = `${name}/${child.name.tag.text}`;
      if (child.kind !== 'value' || child.value?.type !== 'bool') return problem(capName, 'expected bool');
      if (child.value.value) caps.push(child.name.tag.text);
    }
    return caps;
  };

  const peer = word('peer', true);
  const mount = word('mount', true);
  const mode = word('mode', true, defaults.mode);
  const localNode = word('local_node', defaults.localNode === undefined, defaults.localNode);
  const prefProv = word('pref_prov', false);
  const allowUpd = flag('allow_upd');
  const deadline = count('deadline');
  const required = capSet('caps/required');
  const preferred = capSet('caps/preferred');
  const updLatest = flag('caps/upd_latest');
  const crc32c = flag('serializer/crc32c_ok');
  const deflate = flag('serializer/deflate_ok');
  const aead = flag('serializer/aead_ok');
  const warnDown = flag('serializer/warn_down');
  const cmpMaxVer = count('serializer/cmp_max_ver');
  for (const v of [peer, mount, mode, localNode, prefProv, allowUpd, deadline, required, preferred, updLatest, crc32c, deflate, aead, warnDown, cmpMaxVer]) {
    if (isRequestProblem(v)) return v;
  }
  const spec: MountSpec = {
    peer: peer as string,
    mount: mount as string,
    mode: mode as string,
    ...(localNode !== undefined ? { localNode: localNode as string } : {}),
    ...(prefProv !== undefined ? { prefProv: prefProv as string } : {}),
    ...(allowUpd !== undefined ? { allowUpd: allowUpd as boolean } : {}),
    caps: { required: required as string[], preferred: preferred as string[], updLatest: (updLatest as boolean | undefined) ?? false },
    serializer: {
      ...(crc32c !== undefined ? { crc32c: crc32c as boolean } : {}),
      ...(deflate !== undefined ? { deflate: deflate as boolean } : {}),
      ...(aead !== undefined ? { aead: aead as boolean } : {}),
      ...(warnDown !== undefined ? { warnDown: warnDown as boolean } : {}),
      ...(cmpMaxVer !== undefined ? { cmpMaxVer: cmpMaxVer as number } : {}),
    },
  };
  return { spec, deadline: deadline as number | undefined };
}

/** True for a {@link RequestProblem} (what the readers return instead of a value when a field is wrong). */
export function isRequestProblem(value: unknown): value is RequestProblem {
  return typeof value === 'object' && value !== null && 'field' in value;
}
