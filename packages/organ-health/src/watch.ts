/**
 * Mounts vanishing under `/net/mounts`. They live outside the organ root, so the heartbeat's
 * organ pass never sees them: this tree listener is how pruning learns a mount went. It
 * queues the peer and enqueues the prune signal, which runs in the beat about to run (change
 * between beats or in capture) or the next one (change in compute or commit) — the same
 * N → N+1 rule as the organ pass, so a transport manager that writes telemetry in commit of N
 * has already stopped for the mount by the time the prune runs.
 */
import { compareNames, name, type Name, type TreeChange } from '@cep/cells';
import type { Runtime, SignalTicket } from '@cep/heartbeat';

const NET = name('net').key;
const MOUNTS = name('mounts').key;

/** Collects the peers whose peer, mode or mount entry under `/net/mounts` was deleted or removed. */
export class MountWatch {
  private pending = new Map<string, Name>();
  private all = false;
  private ticket: SignalTicket | undefined;

  constructor(
    private readonly runtime: Runtime,
    private readonly signal: readonly Name[],
  ) {}

  /** The tree listener. */
  readonly listen = (change: TreeChange): void => {
    if (change.type !== 'delete' && change.type !== 'remove') return;
    const path = change.path;
    if (path.length === 0 || path[0]!.key !== NET) return;
    if (path.length === 1 || (path.length === 2 && path[1]!.key === MOUNTS)) {
      // `/net` or `/net/mounts` itself: every peer's mounts are gone.
      this.all = true;
      this.schedule();
      return;
    }
    // A peer, mode or mount (path length 3 to 5); a field inside a mount does not count.
    if (path[1]!.key !== MOUNTS || path.length > 5) return;
    this.pending.set(path[2]!.key, path[2]!);
    this.schedule();
  };

  /** Takes the queued peers (name order), or `'all'`. */
  take(): Name[] | 'all' {
    this.ticket = undefined;
    const all = this.all;
    const peers = [...this.pending.values()].sort(compareNames);
    this.pending = new Map();
    this.all = false;
    return all ? 'all' : peers;
  }

  private schedule(): void {
    // A ticket from an earlier beat ran already (e.g. before the enzyme was active): replace it.
    if (this.ticket !== undefined && this.ticket.beat >= this.runtime.beat) return;
    this.ticket = this.runtime.enqueue(this.signal);
  }

  /** Drops whatever is queued (uninstall). */
  cancel(): void {
    this.ticket?.cancel();
    this.ticket = undefined;
    this.pending.clear();
    this.all = false;
  }
}
