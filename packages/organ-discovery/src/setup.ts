/**
 * The checks every record organ makes before it installs: the options, and that its root can
 * be its root. Shared with `@cep/organ-health` through `@cep/organ-discovery/records`.
 */
import { formatName, formatPath, name, nameEquals, type Name, type Tree } from '@cep/cells';
import { CepError } from '@cep/errors';
import { organStore, type Severity } from '@cep/heartbeat';

/** The error codes the calling package throws for a bad option and for a root it cannot use. */
export interface InstallCodes<C extends string> {
  readonly option: C;
  readonly root: C;
}

/**
 * Checks `kind` and `severity` (`warn` or `error`) and that `root` is absent or a dictionary
 * that no other organ owns; returns the store type `organ/<kind>`. Throws `CepError` with the
 * caller's `codes.option` / `codes.root`. Writes nothing.
 */
export function checkInstall<C extends string>(tree: Tree, root: readonly Name[], kind: string, severity: Severity, codes: InstallCodes<C>): Name {
  if (severity !== 'warn' && severity !== 'error') {
    throw new CepError(codes.option, `severity must be 'warn' or 'error', not '${String(severity)}'`, { severity });
  }
  let store: Name;
  try {
    store = organStore(kind);
    name(kind); // an organ may also name its signals after its kind (`/<kind>/prune`)
  } catch (error) {
    throw new CepError(codes.option, `kind '${kind}' does not make a valid name: ${(error as Error).message}; use a short lower-case word`, { kind });
  }
  const at = formatPath(root);
  const existing = tree.find(root);
  if (existing !== undefined && existing.kind !== 'dictionary') {
    throw new CepError(codes.root, `${at} is a ${existing.kind}, not a dictionary; remove it before installing the organ`, { kind: existing.kind });
  }
  if (existing?.storeType !== undefined && !nameEquals(existing.storeType, store)) {
    throw new CepError(codes.root, `${at} is already the root of ${formatName(existing.storeType)}; one dictionary serves one organ`, {
      storeType: formatName(existing.storeType),
    });
  }
  return store;
}
