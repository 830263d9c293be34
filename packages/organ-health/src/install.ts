/**
 * `installHealth`: marks `/net/telemetry` as the organ root (each peer is a request), registers
 * the organ and the prune enzyme, and watches `/net/mounts` for mounts that vanish.
 */
import { formatName, name, nameEquals, parsePath, type Name } from '@cep/cells';
import { organStore, type Runtime, type Severity } from '@cep/heartbeat';
import { checkTelemetryPeer, type CheckEnv } from './check.ts';
import { healthError } from './errors.ts';
import { everyPeer, prunePeer } from './prune.ts';
import { MountWatch } from './watch.ts';

/** The organ root: every peer under it is a request. */
export const TELEMETRY_ROOT: readonly Name[] = Object.freeze(parsePath('/net/telemetry'));

/** The default organ kind (the reference's slug); the root's store type is `organ/<kind>`. */
export const HEALTH_KIND = 'net_health';

/** Options of {@link installHealth}. */
export interface HealthOptions {
  /** Organ kind (default `net_health`). */
  readonly kind?: string;
  /** Severity of `tp_schema` facts: `warn` or `error` (default `error`). */
  readonly severity?: Severity;
}

/** An installed health organ. */
export interface HealthOrgan {
  readonly kind: string;
  /** The signal the prune enzyme listens on (`/<kind>/prune`). */
  readonly signal: readonly Name[];
  /** Unregisters the organ and the enzyme and stops watching. The tree is left as it is. */
  uninstall(): void;
}

/**
 * Installs the health organ on `runtime`. Throws `HEALTH_OPTION_INVALID` for a bad option,
 * `HEALTH_ROOT_INVALID` when `/net/telemetry` cannot be its root, and the heartbeat's
 * `ORGAN_DUPLICATE` when the kind is installed already.
 */
export function installHealth(runtime: Runtime, options: HealthOptions = {}): HealthOrgan {
  const kind = options.kind ?? HEALTH_KIND;
  const severity = options.severity ?? 'error';
  if (severity !== 'warn' && severity !== 'error') {
    throw healthError('HEALTH_OPTION_INVALID', `severity must be 'warn' or 'error', not '${String(severity)}'`, { severity });
  }
  let store: Name;
  let signal: Name[];
  try {
    store = organStore(kind);
    signal = [name(kind), name('prune')];
  } catch (error) {
    throw healthError('HEALTH_OPTION_INVALID', `kind '${kind}' does not make a valid name: ${(error as Error).message}; use a short lower-case word`, { kind });
  }
  const tree = runtime.tree;
  const existing = tree.find(TELEMETRY_ROOT);
  if (existing !== undefined && existing.kind !== 'dictionary') {
    throw healthError('HEALTH_ROOT_INVALID', `/net/telemetry is a ${existing.kind}, not a dictionary; remove it before installing health`, { kind: existing.kind });
  }
  if (existing?.storeType !== undefined && !nameEquals(existing.storeType, store)) {
    throw healthError('HEALTH_ROOT_INVALID', `/net/telemetry is already the root of ${formatName(existing.storeType)}; one dictionary serves one organ`, {
      storeType: formatName(existing.storeType),
    });
  }

  const env: CheckEnv = { tree, cei: runtime.cei, severity, origin: `org:${kind}:vl` };
  const unregisterOrgan = runtime.registerOrgan({ kind, validator: (ctx) => void checkTelemetryPeer(env, ctx.request) });
  const watch = new MountWatch(runtime, signal);
  let unregisterEnzyme: () => void;
  try {
    unregisterEnzyme = runtime.registerEnzyme({
      name: `${kind}:prune`,
      signal,
      run: () => {
        const peers = watch.take();
        for (const peer of peers === 'all' ? everyPeer(tree) : peers) prunePeer(tree, peer);
      },
    });
  } catch (error) {
    unregisterOrgan();
    throw error;
  }
  tree.ensureDictionary(TELEMETRY_ROOT, store);
  const unsubscribe = tree.subscribe(watch.listen);
  return {
    kind,
    signal: Object.freeze(signal),
    uninstall() {
      unsubscribe();
      watch.cancel();
      unregisterEnzyme();
      unregisterOrgan();
    },
  };
}
