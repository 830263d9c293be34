/**
 * The one place `cep-node` touches the heartbeat runtime.
 *
 * `@cep/heartbeat` is not published yet, so {@link createBeatRuntime} is a stand-in
 * with just the surface the peer needs (a tree whose beat moves, `step()`, commit
 * hooks). When the real package lands, this file becomes
 * `createRuntime(options)` from `@cep/heartbeat` and `BeatRuntime` its `Runtime`;
 * nothing else in the app changes.
 */
import { createTree, type Tree } from '@cep/cells';

/** What the peer needs from a heartbeat runtime (a subset of `@cep/heartbeat`'s `Runtime`). */
export interface BeatRuntime {
  /** The runtime's cell tree. */
  readonly tree: Tree;
  /** The beat the next `step()` runs. */
  readonly beat: number;
  /** Runs one whole beat (capture → compute → commit), then moves to the next. */
  step(): unknown;
  /** Runs `hook` after every commit; returns the function that removes it. */
  onCommit(hook: (beat: number) => void): () => void;
}

/** Options of {@link createBeatRuntime} (those of `@cep/heartbeat`'s `createRuntime`). */
export interface BeatRuntimeOptions {
  readonly tree?: Tree;
  readonly startBeat?: number;
}

/** True while the runtime is the stand-in below rather than `@cep/heartbeat`. */
export const HEARTBEAT_STAND_IN = true;

/** Creates the peer's runtime. */
export function createBeatRuntime(options: BeatRuntimeOptions = {}): BeatRuntime {
  const tree = options.tree ?? createTree();
  let beat = options.startBeat ?? tree.beat;
  const hooks = new Set<(beat: number) => void>();
  return {
    tree,
    get beat() {
      return beat;
    },
    step() {
      tree.setBeat(beat);
      for (const hook of hooks) hook(beat);
      beat += 1;
    },
    onCommit(hook) {
      hooks.add(hook);
      return () => hooks.delete(hook);
    },
  };
}
