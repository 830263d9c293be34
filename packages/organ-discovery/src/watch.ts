/**
 * Hard removes the heartbeat's organ pass does not see.
 *
 * The heartbeat marks a request for every change below it except a hard `tree.remove` of a
 * field inside it (the remove event's cell is detached; see the heartbeat README, "Limits").
 * The transport manager removes schema that way, so we watch those removes ourselves and
 * queue the peer for a recheck enzyme: a signal enqueued from the tree listener runs in
 * the beat about to run (change between beats or in capture) or the next one (change in
 * compute or commit) — the same N → N+1 rule as the organ pass, and deterministic.
 */
import { compareNames, name, type Name, type TreeChange } from '@cep/cells';
import type { Runtime, SignalTicket } from '@cep/heartbeat';

const NET = name('net').key;
const CEH = name('ceh').key;

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

/** Discovery's rule: a hard remove inside a peer, except inside a CEI mirror topic (CEI rewrites those on every fact). */
export function discoveryMatches(change: TreeChange, below: readonly Name[]): boolean {
  if (change.type !== 'remove' || below.length === 0) return false;
  return !(below[0]!.key === CEH && below.length >= 3);
}
