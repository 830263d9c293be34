/**
 * The timing loop the A/B scripts share (ab.ts, hash-sizes.ts, value-sizes.ts): contenders race
 * in interleaved rounds on the process's CPU clock, so time the machine gives to other processes
 * is not counted, and each round starts one contender later, so none always runs after the same one.
 */

import { performance } from 'node:perf_hooks';

/** This process's CPU time (user + system), in ms. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * For each of `fns`, the median over `rounds` of its µs per call, each timed for about `batchMs` of
 * CPU per round. The clock is read once per run of calls that takes ~0.2 ms (counted before the
 * rounds), not once per call: reading the CPU clock is a system call, ~1.8 µs here, which read
 * per call added that much to every figure and pulled a 2-cell frame's ratios toward 1 (a real
 * 10% change showed as ~7%).
 */
export function medianMicros(fns: readonly (() => unknown)[], rounds: number, batchMs: number): number[] {
  // Calls per run, counted on the wall clock (a cheap read) over 2 ms.
  const runs = fns.map((fn) => {
    const start = performance.now();
    let calls = 0;
    while (performance.now() - start < 2) {
      fn();
      calls++;
    }
    return Math.max(1, Math.floor(calls / 10));
  });
  const times: number[][] = fns.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < fns.length; k++) {
      const index = (k + r) % fns.length;
      const fn = fns[index]!;
      const run = runs[index]!;
      const start = cpuMs();
      let now = start;
      let calls = 0;
      do {
        for (let i = 0; i < run; i++) fn();
        calls += run;
        now = cpuMs();
      } while (now - start < batchMs);
      times[index]!.push((1000 * (now - start)) / calls);
    }
  }
  return times.map((xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!);
}
