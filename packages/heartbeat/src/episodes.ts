/**
 * Episodes (the reference's E3): long work in slices, at most one slice per beat each.
 *
 * An episode is an OPS dossier (verb `op/ep`, history `plan, run, yield | run, yield | run, ok`)
 * plus `episode/{slices, [deadline], [max_beats], [bud_cpu_ns], [bud_io_by], usage/{cpu_ns, io_by}}`.
 * Slices run at the end of compute, episodes in id order. The first slice runs in the beat
 * after `start` (N→N+1). Awaits are OPS watchers whose continuation (`ep/cont`) or timeout
 * (`op/tmo`) signal targets the episode's dossier; two built-in enzymes (`ep:cont`, `ep:tmo`)
 * pick them up. CPU is measured at the edge (`cpuClock`) and enters as a logged input
 * (`cep:measure`), so a replay charges — and decides — exactly the same.
 */
import { u64, type Name, type Tree } from '@cep/cells';
import { hbError } from './errors.ts';
import { isTerminal, type OpsInternal } from './ops.ts';
import { readInt, segs } from './paths.ts';
import type { EpisodeOptions, Episodes, Fact, OpState, OpStatus, Phase, Runtime, SliceContext } from './types.ts';

/** The input kind that carries CPU measurements of slices. */
export const MEASURE_INPUT = 'cep:measure';

interface Episode {
  readonly id: string;
  readonly options: EpisodeOptions;
  slices: number;
  runAt: number | undefined;
  cancelRequested: string | undefined;
  inSlice: boolean;
  ctx: SliceContext | undefined;
  sliceIo: bigint;
  sliceCpu: bigint;
}

export interface EpisodesDeps {
  readonly tree: Tree;
  readonly ops: OpsInternal;
  readonly runtime: () => Runtime;
  readonly beat: () => number;
  readonly phase: () => Phase;
  readonly emit: (fact: Fact) => void;
  readonly cpuClock: (() => bigint) | undefined;
  readonly measured: (id: string, slice: number, ns: bigint) => void;
}

export interface EpisodesInternal extends Episodes {
  runSlices(beat: number): number;
  /** `ep/cont` reached the episode: run its next slice this beat. */
  resume(id: string, beat: number): void;
  /** `op/tmo` reached the episode while it awaited. */
  timedOut(id: string): void;
  /** A logged CPU measurement (capture). */
  chargeMeasured(id: string, ns: bigint): void;
}

export function createEpisodes(deps: EpisodesDeps): EpisodesInternal {
  const { tree, ops } = deps;
  const live = new Map<string, Episode>();
  const episodePath = (id: string): Name[] => segs(ops.path(id), 'episode');

  const finish = (ep: Episode, status: OpStatus, note?: string): void => {
    live.delete(ep.id);
    if (!isTerminal(ops.state(ep.id))) ops.close(ep.id, status, note);
  };

  const addUsage = (ep: Episode, field: 'cpu_ns' | 'io_by', amount: bigint): void => {
    const path = segs(episodePath(ep.id), 'usage', field);
    tree.set(path, u64((readInt(tree, path) ?? 0n) + amount));
  };

  const overBudget = (ep: Episode, kind: 'cpu' | 'io', used: bigint): boolean => {
    const limit = kind === 'cpu' ? ep.options.budget?.cpuNs : ep.options.budget?.ioBytes;
    if (limit === undefined || used <= limit) return false;
    deps.emit({
      topic: `ep:budget/${kind}`,
      severity: 'usage',
      note: `episode ${ep.id} used ${used} ${kind === 'cpu' ? 'ns of CPU' : 'IO bytes'} in one slice (budget ${limit})`,
      origin: 'ep',
    });
    return true;
  };

  const episodes: EpisodesInternal = {
    start(options: EpisodeOptions): string {
      if (typeof options?.slice !== 'function') throw hbError('EPISODE_INVALID', 'an episode needs a slice(ctx) function');
      const id = ops.start({
        verb: options.verb ?? 'op/ep',
        state: 'plan',
        ...(options.target === undefined ? {} : { target: options.target }),
        ...(options.pipeline === undefined ? {} : { pipeline: options.pipeline }),
      });
      const path = episodePath(id);
      tree.set(segs(path, 'slices'), u64(0));
      if (options.deadline !== undefined) tree.set(segs(path, 'deadline'), u64(options.deadline));
      if (options.maxBeats !== undefined) tree.set(segs(path, 'max_beats'), u64(options.maxBeats));
      if (options.budget?.cpuNs !== undefined) tree.set(segs(path, 'bud_cpu_ns'), u64(options.budget.cpuNs));
      if (options.budget?.ioBytes !== undefined) tree.set(segs(path, 'bud_io_by'), u64(options.budget.ioBytes));
      const runAt = deps.phase() === 'idle' ? deps.beat() : deps.beat() + 1;
      live.set(id, { id, options, slices: 0, runAt, cancelRequested: undefined, inSlice: false, ctx: undefined, sliceIo: 0n, sliceCpu: 0n });
      return id;
    },

    yield(id: string, note?: string): void {
      const ep = live.get(id);
      if (ep === undefined) throw hbError('EPISODE_NOT_FOUND', `there is no active episode ${id}`, { episode: id });
      if (ep.ctx === undefined) throw hbError('EPISODE_OUTSIDE_SLICE', `yield() is only allowed inside episode ${id}'s own slice`, { episode: id });
      ep.ctx.yield(note);
    },

    cancel(id: string, note = 'cancelled'): boolean {
      const ep = live.get(id);
      if (ep === undefined) return false;
      if (ep.inSlice) {
        ep.cancelRequested ??= note;
        return true;
      }
      finish(ep, 'cxl', note);
      return true;
    },

    isActive(id: string): boolean {
      return live.has(id);
    },

    resume(id: string, beat: number): void {
      const ep = live.get(id);
      if (ep !== undefined && ep.runAt === undefined) ep.runAt = beat;
    },

    timedOut(id: string): void {
      const ep = live.get(id);
      if (ep !== undefined && ep.runAt === undefined) finish(ep, 'cxl', 'await timeout');
    },

    chargeMeasured(id: string, ns: bigint): void {
      const ep = live.get(id);
      if (ep === undefined) return;
      addUsage(ep, 'cpu_ns', ns);
      if (overBudget(ep, 'cpu', ns)) finish(ep, 'cxl', 'cpu budget exceeded');
    },

    runSlices(beat: number): number {
      const due = [...live.values()].filter((ep) => ep.runAt !== undefined && ep.runAt <= beat).sort((a, b) => Number(a.id) - Number(b.id));
      let ran = 0;
      for (const ep of due) {
        if (!live.has(ep.id)) continue;
        if (isTerminal(ops.state(ep.id))) {
          live.delete(ep.id); // closed from outside (e.g. a CEI fact attached to it)
          continue;
        }
        const { deadline, maxBeats } = ep.options;
        if (deadline !== undefined && beat > deadline) {
          deps.emit({ topic: 'ep:deadline', severity: 'warn', note: `episode ${ep.id} passed its deadline beat ${deadline}`, origin: 'ep' });
          finish(ep, 'cxl', 'deadline');
          continue;
        }
        if (maxBeats !== undefined && ep.slices >= maxBeats) {
          finish(ep, 'cxl', 'max beats exceeded');
          continue;
        }
        runSlice(ep, beat);
        ran++;
      }
      return ran;
    },
  };

  const runSlice = (ep: Episode, beat: number): void => {
    ep.slices++;
    ep.runAt = undefined;
    ep.sliceIo = 0n;
    ep.sliceCpu = 0n;
    tree.set(segs(episodePath(ep.id), 'slices'), u64(ep.slices));
    ops.setState(ep.id, 'run');
    let decision:
      | { kind: 'yield'; note?: string }
      | { kind: 'await'; op: string; want: OpState; ttl: number }
      | { kind: 'close'; status: OpStatus; summary?: string }
      | undefined;
    const inside = (what: string): void => {
      if (!ep.inSlice) throw hbError('EPISODE_OUTSIDE_SLICE', `${what}() is only allowed inside episode ${ep.id}'s own slice`, { episode: ep.id });
    };
    const ctx: SliceContext = {
      runtime: deps.runtime(),
      beat,
      id: ep.id,
      slice: ep.slices,
      get cancelled() {
        return ep.cancelRequested !== undefined;
      },
      yield(note?: string) {
        inside('yield');
        decision = note === undefined ? { kind: 'yield' } : { kind: 'yield', note };
      },
      await(op: string, want: OpState, ttl = 0) {
        inside('await');
        if (ops.state(op) === undefined) throw hbError('OP_NOT_FOUND', `episode ${ep.id} cannot await operation ${op}: it does not exist`, { op });
        decision = { kind: 'await', op, want, ttl };
      },
      close(status: OpStatus = 'ok', summary?: string) {
        inside('close');
        decision = summary === undefined ? { kind: 'close', status } : { kind: 'close', status, summary };
      },
      charge(kind: 'cpu' | 'io', amount: bigint) {
        inside('charge');
        if (kind === 'io') {
          ep.sliceIo += amount;
          addUsage(ep, 'io_by', amount);
          if (overBudget(ep, 'io', ep.sliceIo)) ep.cancelRequested ??= 'io budget exceeded';
        } else {
          ep.sliceCpu += amount;
          addUsage(ep, 'cpu_ns', amount);
          if (overBudget(ep, 'cpu', ep.sliceCpu)) ep.cancelRequested ??= 'cpu budget exceeded';
        }
      },
    };
    const clock = ep.options.budget?.cpuNs !== undefined ? deps.cpuClock : undefined;
    const started = clock?.();
    ep.inSlice = true;
    ep.ctx = ctx;
    let threw: string | undefined;
    try {
      tree.batch(() => ep.options.slice(ctx));
    } catch (error) {
      threw = (error as Error)?.message ?? String(error);
    } finally {
      ep.inSlice = false;
      ep.ctx = undefined;
    }
    if (clock !== undefined && started !== undefined) deps.measured(ep.id, ep.slices, clock() - started);
    if (threw !== undefined) {
      deps.emit({ topic: 'ep:slice', severity: 'error', note: `episode ${ep.id} slice ${ep.slices} threw: ${threw}`, origin: 'ep', op: ep.id });
      finish(ep, 'fail', threw);
      return;
    }
    if (isTerminal(ops.state(ep.id))) {
      live.delete(ep.id);
      return;
    }
    if (ep.cancelRequested !== undefined) {
      finish(ep, 'cxl', ep.cancelRequested);
      return;
    }
    if (decision === undefined || decision.kind === 'close') {
      finish(ep, decision?.status ?? 'ok', decision?.summary);
    } else if (decision.kind === 'yield') {
      ops.setState(ep.id, 'yield', decision.note === undefined ? {} : { note: decision.note });
      ep.runAt = beat + 1;
    } else {
      ops.setState(ep.id, 'await', { note: `awaiting ${decision.op} ${decision.want}` });
      ops.await(decision.op, { want: decision.want, ttl: decision.ttl, signal: segs('ep/cont'), target: ops.path(ep.id), timeoutSignal: segs('op/tmo') });
    }
  };

  return episodes;
}
