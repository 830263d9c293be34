/**
 * `installDiscovery`: marks `/net/peers` as the organ root (each peer is a request) and
 * registers the organ. The heartbeat's organ pass sees every change below a peer, hard removes
 * of fields included, so nothing else needs to watch the tree.
 */
import { parsePath, type Name } from '@cep/cells';
import type { Runtime, Severity } from '@cep/heartbeat';
import type { DiscoveryErrorCode } from './errors.ts';
import { checkPeer } from './peer.ts';
import { checkInstall, type InstallCodes } from './setup.ts';
import type { CheckEnv } from './verdict.ts';

/** The organ root: every peer under it is a request. */
export const PEERS_ROOT: readonly Name[] = Object.freeze(parsePath('/net/peers'));

/** The default organ kind (the reference's slug); the root's store type is `organ/<kind>`. */
export const DISCOVERY_KIND = 'net_discovery';

const INSTALL_CODES: InstallCodes<DiscoveryErrorCode> = { option: 'DISCOVERY_OPTION_INVALID', root: 'DISCOVERY_ROOT_INVALID' };

/** Options of {@link installDiscovery}. */
export interface DiscoveryOptions {
  /** Organ kind (default `net_discovery`). */
  readonly kind?: string;
  /** Severity of `tp_schema` facts: `warn` or `error` (default `error`). */
  readonly severity?: Severity;
}

/** An installed discovery organ. */
export interface DiscoveryOrgan {
  readonly kind: string;
  /** Unregisters the organ. The tree is left as it is (the root keeps its store type). */
  uninstall(): void;
}

/**
 * Installs the discovery organ on `runtime`. Throws `DISCOVERY_OPTION_INVALID` for a bad
 * option, `DISCOVERY_ROOT_INVALID` when `/net/peers` cannot be its root, and the heartbeat's
 * `ORGAN_DUPLICATE` when the kind is installed already.
 */
export function installDiscovery(runtime: Runtime, options: DiscoveryOptions = {}): DiscoveryOrgan {
  const kind = options.kind ?? DISCOVERY_KIND;
  const severity = options.severity ?? 'error';
  const tree = runtime.tree;
  const store = checkInstall(tree, PEERS_ROOT, kind, severity, INSTALL_CODES);
  const env: CheckEnv = { tree, cei: runtime.cei, severity, origin: `org:${kind}:vl` };
  const unregisterOrgan = runtime.registerOrgan({
    kind,
    validator: (ctx) => void checkPeer(env, ctx.request),
    // CEI rewrites ceh on every mirrored fact; error_note/state are our (and the heartbeat's) outputs.
    outputs: ['ceh', 'error_note', 'state'],
  });
  tree.ensureDictionary(PEERS_ROOT, store);
  return { kind, uninstall: unregisterOrgan };
}
