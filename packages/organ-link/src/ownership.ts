/**
 * Which request owns which mount. Link, invoke and mirror requests all configure mounts on the
 * same manager; a mount belongs to one request at a time, whichever organ it comes from, so a
 * second request for it is a conflict instead of a silent overwrite. The table hangs off the
 * manager (not a process-wide variable): two managers never see each other's claims.
 */
import type { TransportManager } from '@cep/transport';
export { mountKey } from '@cep/transport';

const tables = new WeakMap<TransportManager, Map<string, string>>();

/** The owners table of `manager`: mount key (`peer/mode/mount`) → owning request path. */
export function ownersOf(manager: TransportManager): Map<string, string> {
  let table = tables.get(manager);
  if (table === undefined) {
    table = new Map();
    tables.set(manager, table);
  }
  return table;
}
