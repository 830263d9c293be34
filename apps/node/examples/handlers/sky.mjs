// An invoke handler (the demo's): fills /data/sky with N cells, in groups of 100 under numeric
// names (/data/sky/<group>/<n>): a text and a u64 per star. Synchronous, reads no clock.
//
// At most CELLS_PER_BEAT cells are written in a beat: the first ones in the call's own beat, the
// rest by `call.defer`, one bounded step per following beat. Filling 100,000 cells in one beat
// held every other mount of this peer (an `add` on the invoke mount, the mirror's parts) behind
// that beat, and the next one journaling it. 256, not 1,024: each cell written also costs the
// mirror source that serves the branch its share of a part to pack and encode, and at 1,024 a beat
// (~5 ms of writing alone) saturn's beats ran 20-30 ms at the median while a 100,000-cell mirror
// ran, a call on another mount waiting behind them (trace of `bench:compare` row f: median step
// 7 ms and call p99 about half at 256; at 128 the bundles got too small to keep up). A count of
// cells, not a clock, bounds each step, so a replay writes the same cells at
// the same beats. The call is answered when the first step is written; the last cell lands
// ceil(N / CELLS_PER_BEAT) - 1 beats later. Without `call.defer` (a bare call) it writes all at once.
const CELLS_PER_BEAT = 256;

export default {
  description: 'fills /data/sky with N cells (groups of 100: a text and a u64 per star), 256 cells a beat',
  run(call) {
    if (call.payload?.type !== 'u64') return { status: 'reject', note: 'sky expects a u64 cell count' };
    const n = Number(call.payload.value);
    let i = 0;
    // Writes the next CELLS_PER_BEAT cells (all of them when `all`); true when the branch is full.
    const fill = (tree, all = false) => {
      const end = all ? n : Math.min(n, i + CELLS_PER_BEAT);
      let group;
      for (; i < end; i += 2) {
        // One walk per group, not per cell: setChild writes under a cell already found.
        if (i % 100 === 0 || group === undefined) group = tree.ensureDictionary('/data/sky/' + Math.floor(i / 100));
        tree.setChild(group, String(i % 100), { type: 'text', value: 'star ' + i });
        tree.setChild(group, String((i % 100) + 1), { type: 'u64', value: BigInt(i * 7919) });
      }
      return i >= n;
    };
    if (!fill(call.tree, call.defer === undefined)) call.defer((tree) => fill(tree));
    return { status: 'ok', result: { type: 'u64', value: BigInt(n) } };
  },
};
