/**
 * Names (the reference's DT): a domain identifier and a tag identifier.
 * Almost every name lives in the `CEP` domain, so `name('mounts')` means `CEP:mounts`.
 */
import { cellsError } from './errors.ts';
import { acronymId, compareIds, id, idEquals, type Id } from './ids.ts';

/** A cell name: domain and tag. Immutable; `key` is unique per name (use it as a Map key). */
export interface Name {
  readonly domain: Id;
  readonly tag: Id;
  /** A string that is equal for equal names and different otherwise. */
  readonly key: string;
}

/** The `CEP` acronym, the domain of every kernel and federation name. */
export const CEP: Id = acronymId('CEP');

const KIND_CHAR = { word: 'w', acronym: 'a', reference: 'r', numeric: 'n' } as const;

function idKey(value: Id): string {
  return KIND_CHAR[value.kind] + value.text;
}

const MEMO_LIMIT = 1 << 16;
const cepNames = new Map<string, Name>();

function build(domain: Id, tag: Id): Name {
  const key = domain === CEP || idEquals(domain, CEP) ? idKey(tag) : `${idKey(domain)}\u0000${idKey(tag)}`;
  return Object.freeze({ domain, tag, key });
}

/**
 * The name with `tag` in `domain` (default `CEP`). A string tag goes through the one
 * text → identifier rule ({@link id}).
 */
export function name(tag: string | Id, domain: Id = CEP): Name {
  if (typeof tag === 'string' && domain === CEP) {
    let found = cepNames.get(tag);
    if (found === undefined) {
      found = build(CEP, id(tag));
      if (cepNames.size >= MEMO_LIMIT) cepNames.clear();
      cepNames.set(tag, found);
    }
    return found;
  }
  return build(domain, typeof tag === 'string' ? id(tag) : tag);
}

/** Orders names by domain, then tag ({@link compareIds}). */
export function compareNames(a: Name, b: Name): number {
  if (a === b) return 0;
  return compareIds(a.domain, b.domain) || compareIds(a.tag, b.tag);
}

/** Structural equality of names. */
export function nameEquals(a: Name, b: Name): boolean {
  return a === b || a.key === b.key;
}

/** `tag` for names in the CEP domain, `DOMAIN:tag` otherwise. */
export function formatName(n: Name): string {
  return idEquals(n.domain, CEP) ? n.tag.text : `${n.domain.text}:${n.tag.text}`;
}

/** A path given as text (`/net/mounts/saturn`) or as segments (names or tag texts). */
export type PathLike = string | readonly (Name | string)[];

/**
 * Turns a path into names. Text paths split on `/` (a leading `/` is optional; empty
 * segments are refused with `PATH_INVALID`); use the array form for tags that contain `/`.
 */
export function parsePath(path: PathLike): Name[] {
  if (typeof path !== 'string') {
    return path.map((segment) => (typeof segment === 'string' ? name(segment) : segment));
  }
  if (path === '' || path === '/') return [];
  const body = path.startsWith('/') ? path.slice(1) : path;
  const parts = body.split('/');
  const names: Name[] = new Array(parts.length);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === '') throw cellsError('PATH_INVALID', `path ${JSON.stringify(path)} has an empty segment`, { path });
    names[i] = name(part);
  }
  return names;
}

/** Renders names as a `/`-separated path (`/net/mounts/saturn`). */
export function formatPath(path: readonly Name[]): string {
  return '/' + path.map(formatName).join('/');
}
