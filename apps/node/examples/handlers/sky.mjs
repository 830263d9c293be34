// An invoke handler (the demo's): fills /data/sky with N cells, in groups of 100 under numeric
// names (/data/sky/<group>/<n>): a text and a u64 per star. Synchronous, reads no clock.
export default {
  description: 'fills /data/sky with N cells (groups of 100: a text and a u64 per star)',
  run(call) {
    if (call.payload?.type !== 'u64') return { status: 'reject', note: 'sky expects a u64 cell count' };
    const n = Number(call.payload.value);
    for (let i = 0; i < n; i += 2) {
      const group = Math.floor(i / 100);
      call.tree.set('/data/sky/' + group + '/' + (i % 100), { type: 'text', value: 'star ' + i });
      call.tree.set('/data/sky/' + group + '/' + ((i % 100) + 1), { type: 'u64', value: BigInt(i * 7919) });
    }
    return { status: 'ok', result: { type: 'u64', value: BigInt(n) } };
  },
};
