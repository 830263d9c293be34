/**
 * Mounts vanishing under `/net/mounts` (outside the organ root, and often by a hard
 * `tree.remove` from the transport manager). The tree listener queues the peer and enqueues
 * the prune signal: it runs in the beat about to run (change between beats or in capture) or
 * the next one (change in compute or commit) — the same N → N+1 rule as the organ pass, so
 * a transport manager that writes telemetry in commit of N has already stopped for the mount
 * by the time the prune runs. (The same watcher as @cep/organ-discovery's.)
 */
import { compareNames, name, type Name, type TreeChange } from '@cep/cells';
import type { Runtime, SignalTicket } from '@cep/heartbeat';

const NET = name('net').key;

/** Collects peers under `/net/<branch>/<peer>/…` hit by a matching change and schedules `signal`. */
export class PeerWatch {
  private pending = new Map<string, Name>();
  private all = false;
  private ticket: SignalTicket | undefined;
  private readonly branch: string;

  constructor(
    private readonly runtime: Runtime,
    branch: string,
    private readonly signal: readonly Name[],
    /** Which changes count, given the path below `/net/<branch>/<peer>` (may be empty). */
    private readonly matches: (change: TreeChange, below: readonly Name[]) => boolean,
    /** Whether a change at `/net` or `/net/<branch>` itself means "every peer". */
    private readonly wholeBranch: (change: TreeChange) => boolean = () => false,
  ) {
    this.branch = name(branch).key;
  }

  /** The tree listener. */
  readonly listen = (change: TreeChange): void => {
    const path = change.path;
    if (path.length === 0 || path[0]!.key !== NET) return;
    if (path.length === 1 || (path.length === 2 && path[1]!.key === this.branch)) {
      if (this.wholeBranch(change)) {
        this.all = true;
        this.schedule();
      }
      return;
    }
    if (path[1]!.key !== this.branch) return;
    if (!this.matches(change, path.slice(3))) return;
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

/** Health's rule: a peer, mode or mount under `/net/mounts` deleted or removed (fields inside a mount do not count). */
export function mountGone(change: TreeChange, below: readonly Name[]): boolean {
  return (change.type === 'delete' || change.type === 'remove') && below.length <= 2;
}

/** `/net` or `/net/mounts` itself deleted or removed: every peer's mounts are gone. */
export function allMountsGone(change: TreeChange): boolean {
  return change.type === 'delete' || change.type === 'remove';
}
