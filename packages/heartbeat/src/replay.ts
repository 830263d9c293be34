/**
 * Replay: the recorded inbound log against the same initial tree, beat by beat.
 */
import { digestHex, type Tree } from '@cep/cells';
import { createRuntime } from './runtime.ts';
import type { LoggedInput, Runtime } from './types.ts';

/** Options of {@link replay}. */
export interface ReplayOptions {
  /** The initial tree (a copy of what the recorded run started from). */
  readonly tree: Tree;
  /** Registers the same enzymes, organs and input kinds as the recorded run (and its initial signals). */
  setup(runtime: Runtime): void;
  /** How many beats to run. */
  readonly beats: number;
  /** The recorded run's first beat (default: the tree's beat). */
  readonly startBeat?: number;
  readonly ceiRetain?: number;
  /** The recorded run's `opsHistoryRetain` (default the runtime's). */
  readonly opsHistoryRetain?: number;
  /** The replaying runtime's inbound log cap (default the runtime's). */
  readonly inboundLogBytes?: number;
}

/** What {@link replay} returns: the root digest after every beat, and the runtime. */
export interface ReplayResult {
  readonly digests: string[];
  readonly runtime: Runtime;
}

/**
 * Runs `beats` beats, pushing each logged input just before the beat that admitted it, and
 * returns the digest of the whole tree after each beat. A recorded run that took the same
 * digests (`digestHex(tree.root)` after every `step()`) is reproduced exactly.
 */
export function replay(log: readonly LoggedInput[], options: ReplayOptions): ReplayResult {
  const runtime = createRuntime({
    tree: options.tree,
    ...(options.startBeat === undefined ? {} : { startBeat: options.startBeat }),
    ...(options.ceiRetain === undefined ? {} : { ceiRetain: options.ceiRetain }),
    ...(options.opsHistoryRetain === undefined ? {} : { opsHistoryRetain: options.opsHistoryRetain }),
    ...(options.inboundLogBytes === undefined ? {} : { inboundLogBytes: options.inboundLogBytes }),
  });
  options.setup(runtime);
  const byBeat = new Map<number, LoggedInput[]>();
  for (const entry of log) {
    let list = byBeat.get(entry.beat);
    if (list === undefined) byBeat.set(entry.beat, (list = []));
    list.push(entry);
  }
  const digests: string[] = [];
  for (let i = 0; i < options.beats; i++) {
    // Logged bytes are never written again, so the replaying log may share them (no copy).
    for (const entry of byBeat.get(runtime.beat) ?? [])
      runtime.pushInput(entry.kind, { stream: entry.stream, seq: entry.seq, data: entry.data }, { owned: true });
    runtime.step();
    digests.push(digestHex(runtime.tree.root));
  }
  return { digests, runtime };
}
