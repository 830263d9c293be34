/**
 * `installHealth`: marks `/net/telemetry` as the organ root (each peer is a request), registers
 * the organ and the prune enzyme, and watches `/net/mounts` for mounts that vanish.
 */
import { name, parsePath, type Name } from '@cep/cells';
import type { Runtime, Severity } from '@cep/heartbeat';
import { checkInstall, type CheckEnv, type InstallCodes } from '@cep/organ-discovery/records';
import { checkTelemetryPeer } from './check.ts';
import type { HealthErrorCode } from './errors.ts';
import { everyPeer, prunePeer } from './prune.ts';
import { MountWatch } from './watch.ts';

/** The organ root: every peer under it is a request. */
export const TELEMETRY_ROOT: readonly Name[] = Object.freeze(parsePath('/net/telemetry'));

/** The default organ kind (the reference's slug); the root's store type is `organ/<kind>`. */
export const HEALTH_KIND = 'net_health';

const INSTALL_CODES: InstallCodes<HealthErrorCode> = { option: 'HEALTH_OPTION_INVALID', root: 'HEALTH_ROOT_INVALID' };

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
  const tree = runtime.tree;
  const store = checkInstall(tree, TELEMETRY_ROOT, kind, severity, INSTALL_CODES);
  const signal = [name(kind), name('prune')];
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
