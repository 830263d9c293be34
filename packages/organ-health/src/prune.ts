/**
 * Pruning after mounts vanish. For one peer, in beat work (the prune enzyme):
 * telemetry records whose mount no longer exists in any mode are removed; when the peer has
 * no mount left at all, its CEI mirrors (`/net/peers/<peer>/ceh`) are removed too, and the
 * peer entry if that left it empty. Decided from the tree alone, so it is deterministic and
 * idempotent; it only ever removes telemetry of mounts that are gone, which the transport
 * manager no longer writes — the two never undo each other's work.
 */
import { name, type Cell, type Name, type Tree } from '@cep/cells';
import { hasContent, isErrorNote } from '@cep/organ-discovery/records';

const NET = name('net');
const MOUNTS = name('mounts');
const TELEMETRY = name('telemetry');
const PEERS = name('peers');
const CEH = name('ceh');

function liveChildren(cell: Cell | undefined): Cell[] {
  if (cell === undefined || cell.kind !== 'dictionary') return [];
  return cell.children().filter((c) => !c.isDeleted);
}

/** Mount names of `peer` that exist (live) under any mode of `/net/mounts/<peer>/`. */
export function liveMounts(tree: Tree, peer: Name): Set<string> {
  const names = new Set<string>();
  for (const mode of liveChildren(tree.get([NET, MOUNTS, peer]))) {
    for (const mount of liveChildren(mode)) names.add(mount.name.key);
  }
  return names;
}

/** Prunes what `peer`'s vanished mounts leave behind. Returns how many branches it removed. */
export function prunePeer(tree: Tree, peer: Name): number {
  let removed = 0;
  const live = liveMounts(tree, peer);
  const telemetry = tree.get([NET, TELEMETRY, peer]);
  if (telemetry !== undefined && telemetry.kind === 'dictionary') {
    for (const record of [...telemetry.children()]) {
      if (record.isDeleted || isErrorNote(record) || live.has(record.name.key)) continue;
      tree.remove(record.path());
      removed++;
    }
    if (!hasContent(telemetry)) {
      tree.remove(telemetry.path());
      removed++;
    }
  }
  if (live.size === 0) {
    const entry = tree.get([NET, PEERS, peer]);
    if (entry !== undefined && entry.kind === 'dictionary') {
      if (entry.child(CEH) !== undefined) {
        tree.remove([NET, PEERS, peer, CEH]);
        removed++;
      }
      if (!hasContent(entry)) {
        tree.remove(entry.path());
        removed++;
      }
    }
  }
  return removed;
}

/** Every peer that has telemetry or a peer entry (for a prune after `/net/mounts` itself went). */
export function everyPeer(tree: Tree): Name[] {
  const seen = new Map<string, Name>();
  for (const branch of [TELEMETRY, PEERS]) for (const peer of liveChildren(tree.get([NET, branch]))) seen.set(peer.name.key, peer.name);
  return [...seen.values()];
}
