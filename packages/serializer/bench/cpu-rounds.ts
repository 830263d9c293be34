/**
 * The timing loop the A/B scripts share (ab.ts, hash-sizes.ts, value-sizes.ts): contenders race
 * in interleaved rounds on the process's CPU clock, so time the machine gives to other processes
 * is not counted, and each round starts one contender later, so none always runs after the same one.
 */

/** This process's CPU time (user + system), in ms. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** For each of `fns`, the median over `rounds` of its µs per call, each timed for about `batchMs` of CPU per round. */
export function medianMicros(fns: readonly (() => unknown)[], rounds: number, batchMs: number): number[] {
  const times: number[][] = fns.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < fns.length; k++) {
      const index = (k + r) % fns.length;
      const fn = fns[index]!;
      const start = cpuMs();
      let calls = 0;
      while (cpuMs() - start < batchMs) {
        fn();
        calls++;
      }
      times[index]!.push((1000 * (cpuMs() - start)) / calls);
    }
  }
  return times.map((xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!);
}
