import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createTree, digestHex, name, text, u64, type Tree } from '@cep/cells';
import { isCepError } from '@cep/errors';
import {
  admitInvokeId,
  approvePipeline,
  checkInvoke,
  declarePolicy,
  invokeIdName,
  newInvokeId,
  parsePipelineMeta,
  preflight,
  pruneUsage,
  recordUsage,
  usageOf,
  writePipelineSpec,
  type PolicyConfig,
} from '@cep/security';

const POLICY: PolicyConfig = {
  enclaves: { earth: { tier: 0 }, saturn: { tier: 1 }, moon: { tier: 2 } },
  edges: [{ from: 'earth', to: 'saturn', budgets: { beats: 8, cpuNs: 5_000_000, ioBytes: 65_536, hops: 3, wallMs: 500 } }],
  defaults: { beats: 64 },
  pipelines: [
    {
      id: 'demo/ingest',
      stages: [
        { id: 'StageA', enclave: 'earth' },
        { id: 'StageB', enclave: 'saturn', gateway: 'sig:ingest' },
      ],
    },
  ],
};
const META = { pipelineId: 'demo/ingest', stageId: 'StageB', dagRunId: 7n, hopIndex: 1 };

function runtimeTree(config: PolicyConfig = POLICY, approve = true): Tree {
  const tree = createTree();
  declarePolicy(tree, config);
  if (approve) for (const p of config.pipelines ?? []) approvePipeline(tree, p.id);
  return tree;
}

describe.each(['send', 'receive'] as const)('checkInvoke on the %s side', (side) => {
  it('allows an invoke inside one enclave without pipeline metadata', () => {
    const d = checkInvoke(runtimeTree(), { fromEnclave: 'earth', toEnclave: 'earth', side });
    expect(d).toMatchObject({ allowed: true, origin: `sec/${side}` });
  });

  it('allows a cross-enclave invoke of an approved pipeline stage over a declared edge', () => {
    expect(checkInvoke(runtimeTree(), { fromEnclave: 'earth', toEnclave: 'saturn', pipeline: META, side })).toMatchObject({ allowed: true, pipeline: META });
  });

  it('rejects a cross-enclave invoke without pipeline metadata (sec.pipeline.reject)', () => {
    expect(checkInvoke(runtimeTree(), { fromEnclave: 'earth', toEnclave: 'saturn', side })).toMatchObject({ allowed: false, topic: 'sec.pipeline.reject' });
  });

  it('denies an undeclared edge, including the reverse of a declared one (sec.edge.deny)', () => {
    const tree = runtimeTree();
    expect(checkInvoke(tree, { fromEnclave: 'saturn', toEnclave: 'earth', pipeline: { ...META, stageId: 'StageA' }, side })).toMatchObject({
      allowed: false,
      topic: 'sec.edge.deny',
    });
    expect(checkInvoke(tree, { fromEnclave: 'earth', toEnclave: 'moon', pipeline: META, side })).toMatchObject({ allowed: false, topic: 'sec.edge.deny' });
  });

  it('denies every cross-enclave pair when no enclave is registered at all', () => {
    const tree = createTree();
    expect(checkInvoke(tree, { fromEnclave: 'earth', toEnclave: 'saturn', pipeline: META, side })).toMatchObject({ allowed: false, topic: 'sec.edge.deny' });
  });

  it('rejects a pipeline that was never approved (a forged frame naming it)', () => {
    const tree = runtimeTree(POLICY, false);
    expect(checkInvoke(tree, { fromEnclave: 'earth', toEnclave: 'saturn', pipeline: META, side })).toMatchObject({
      allowed: false,
      topic: 'sec.pipeline.reject',
    });
    expect(checkInvoke(tree, { fromEnclave: 'earth', toEnclave: 'saturn', pipeline: { ...META, pipelineId: 'made/up' }, side })).toMatchObject({
      allowed: false,
      topic: 'sec.pipeline.reject',
    });
  });

  it('rejects a stage the pipeline does not have, or one that runs in another enclave', () => {
    const tree = runtimeTree();
    expect(checkInvoke(tree, { fromEnclave: 'earth', toEnclave: 'saturn', pipeline: { ...META, stageId: 'StageZ' }, side })).toMatchObject({
      topic: 'sec.pipeline.reject',
    });
    expect(checkInvoke(tree, { fromEnclave: 'earth', toEnclave: 'saturn', pipeline: { ...META, stageId: 'StageA' }, side })).toMatchObject({
      topic: 'sec.pipeline.reject',
    });
  });

  it('checks hop_index against the hop budget at every hop (sec.limit.hit)', () => {
    const tree = runtimeTree();
    expect(checkInvoke(tree, { fromEnclave: 'earth', toEnclave: 'saturn', pipeline: { ...META, hopIndex: 3 }, side }).allowed).toBe(true);
    expect(checkInvoke(tree, { fromEnclave: 'earth', toEnclave: 'saturn', pipeline: { ...META, hopIndex: 4 }, side })).toMatchObject({
      allowed: false,
      topic: 'sec.limit.hit',
    });
  });

  it('charges recorded usage against each budget (beats, CPU, IO bytes, wall clock)', () => {
    for (const [key, over] of [
      ['beats', 9],
      ['cpuNs', 5_000_001],
      ['ioBytes', 65_537],
      ['wallMs', 501],
    ] as const) {
      const tree = runtimeTree();
      const id = newInvokeId();
      recordUsage(tree, id, { [key]: over - 1 });
      expect(checkInvoke(tree, { fromEnclave: 'earth', toEnclave: 'saturn', pipeline: META, usage: usageOf(tree, id), side }).allowed).toBe(true);
      recordUsage(tree, id, { [key]: 1 });
      const d = checkInvoke(tree, { fromEnclave: 'earth', toEnclave: 'saturn', pipeline: META, usage: usageOf(tree, id), side });
      expect([key, d.allowed, d.topic]).toEqual([key, false, 'sec.limit.hit']);
    }
  });
});

describe('the budgets that applied', () => {
  const side = 'receive' as const;
  it('an allowed decision carries them (tightest of defaults, edge and ceilings), so usage measured later can be charged', () => {
    const tree = runtimeTree();
    const d = checkInvoke(tree, { fromEnclave: 'earth', toEnclave: 'saturn', pipeline: META, side });
    expect(d.allowed).toBe(true);
    expect(d.budgets).toMatchObject({ beats: 8, cpuNs: 5_000_000, ioBytes: 65_536, wallMs: 500 });
    const denied = checkInvoke(tree, { fromEnclave: 'saturn', toEnclave: 'earth', pipeline: META, side });
    expect(denied.budgets).toBeUndefined();
  });
});

describe('approvals', () => {
  it('an edit of the approved spec voids the approval (any edit)', () => {
    fc.assert(
      fc.property(fc.constantFrom('stage-id', 'gateway', 'ceiling', 'extra-stage'), fc.string({ minLength: 1, maxLength: 10 }), (edit, value) => {
        const tree = runtimeTree();
        const spec = POLICY.pipelines![0]!;
        const stages = [...spec.stages];
        if (edit === 'stage-id') stages[1] = { ...stages[1]!, id: `StageB${value}` };
        if (edit === 'gateway') stages[1] = { ...stages[1]!, gateway: `g${value}` };
        if (edit === 'extra-stage') stages.push({ id: `S${value}`, enclave: 'saturn' });
        writePipelineSpec(tree, { ...spec, stages, ...(edit === 'ceiling' ? { ceilings: { hops: value.length } } : {}) });
        const d = checkInvoke(tree, { fromEnclave: 'earth', toEnclave: 'saturn', pipeline: { ...META, stageId: stages[1]!.id }, side: 'receive' });
        expect(d).toMatchObject({ allowed: false, topic: 'sec.pipeline.reject' });
      }),
      { numRuns: 60 },
    );
  });

  it('a policy change after the approval voids it', () => {
    const tree = runtimeTree();
    declarePolicy(tree, { ...POLICY, edges: [{ from: 'earth', to: 'saturn', budgets: { hops: 9 } }] });
    // declarePolicy rewrote the specs but not the approvals: the policy version moved on.
    const d = checkInvoke(tree, { fromEnclave: 'earth', toEnclave: 'saturn', pipeline: META, side: 'receive' });
    expect(d).toMatchObject({ allowed: false, topic: 'sec.pipeline.reject' });
    expect(d.note).toMatch(/policy changed/);
  });

  it('refuses to approve a pipeline whose hops are not declared edges', () => {
    const tree = runtimeTree({
      ...POLICY,
      pipelines: [
        {
          id: 'bad',
          stages: [
            { id: 'a', enclave: 'saturn' },
            { id: 'b', enclave: 'moon' },
          ],
        },
      ],
    });
    expect(approvePipeline(tree, 'bad')).toMatchObject({ state: 'rejected' });
    expect(preflight(tree, { pipelineId: 'bad', stageId: 'b', dagRunId: 1n, hopIndex: 0 })).toMatchObject({ ok: false });
  });

  it('preflight stamps validated metadata for an approved stage', () => {
    expect(preflight(runtimeTree(), { ...META })).toEqual({ ok: true, pipeline: META });
  });
});

describe('invoke ids', () => {
  it('are 128-bit random and accepted once within the window', () => {
    const tree = createTree();
    const id = newInvokeId();
    expect(id).toMatch(/^inv-[0-9a-f]{32}$/);
    expect(newInvokeId()).not.toBe(id);
    // Across several draws from the random source, every id is new and well formed.
    const many = Array.from({ length: 1000 }, () => newInvokeId());
    expect(new Set(many).size).toBe(1000);
    for (const other of many) expect(other).toMatch(/^inv-[0-9a-f]{32}$/);
    expect(admitInvokeId(tree, id)).toBe(true);
    tree.setBeat(10);
    expect(admitInvokeId(tree, id)).toBe(false);
  });

  it('refuses ids that are not unguessable', () => {
    expect(admitInvokeId(createTree(), 'inv-1')).toBe(false);
    expect(admitInvokeId(createTree(), 'INV-00000000000000000000000000000000')).toBe(false);
  });

  it('scans for expired ids once per beat, deciding exactly as a scan per id would (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 7 })), { maxLength: 60 }), (steps) => {
        const tree = createTree();
        const ids = Array.from({ length: 8 }, () => newInvokeId());
        const model = new Map<string, number>(); // the per-id scan, as the guard behaved before
        let beat = 0;
        for (const [advance, pick] of steps) {
          beat += advance;
          tree.setBeat(beat);
          for (const [id, at] of model) if (at < beat - 5) model.delete(id);
          const expected = !model.has(ids[pick]!);
          if (expected) model.set(ids[pick]!, beat);
          expect(admitInvokeId(tree, ids[pick]!, 5)).toBe(expected);
        }
        expect(tree.get('/rt/security/seen')?.size ?? 0).toBe(model.size);
      }),
      { numRuns: 200 },
    );
  });

  it('with a wide window, sweeps in batches yet decides exactly as a scan per id would (property)', () => {
    const window = 40; // sweeps at most once per 5 beats
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 7 })), { maxLength: 80 }), (steps) => {
        const tree = createTree();
        const ids = Array.from({ length: 8 }, () => newInvokeId());
        const model = new Map<string, number>();
        let beat = 0;
        for (const [advance, pick] of steps) {
          beat += advance;
          tree.setBeat(beat);
          for (const [id, at] of model) if (at < beat - window) model.delete(id);
          const expected = !model.has(ids[pick]!);
          if (expected) model.set(ids[pick]!, beat);
          expect(admitInvokeId(tree, ids[pick]!, window)).toBe(expected);
          // Every id the model remembers is there with its stamp; anything more is already forgotten.
          for (const child of tree.get('/rt/security/seen')!.children()) {
            const at = Number((child.value as { value: bigint }).value);
            const id = child.name.tag.text;
            if (model.has(id)) expect(at).toBe(model.get(id));
            else expect(at).toBeLessThan(beat - window);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('sweeps a wide window once per eighth of it, and stays bounded by the window and one eighth', () => {
    const tree = createTree();
    let sweeps = 0;
    tree.subscribe((c) => c.type !== 'remove' && c.path.map((n) => n.tag.text).join('/') === 'rt/security/seen_cut' && sweeps++);
    let most = 0;
    for (let beat = 0; beat < 640; beat++) {
      tree.setBeat(beat);
      admitInvokeId(tree, newInvokeId(), 64);
      most = Math.max(most, tree.get('/rt/security/seen')!.size);
    }
    expect(sweeps).toBeLessThanOrEqual(1 + Math.ceil(640 / 8));
    expect(sweeps).toBeGreaterThan(640 / 8 - 10);
    expect(most).toBeLessThanOrEqual(64 + 8 + 1);
  });

  it('records the cutoff it scanned for in /rt/security/seen_cut; a later beat removes expired ids once', () => {
    const tree = createTree();
    tree.setBeat(20);
    const removed: string[] = [];
    admitInvokeId(tree, newInvokeId(), 5);
    tree.setBeat(30);
    tree.subscribe((c) => c.type === 'remove' && removed.push(c.path.map((n) => n.tag.text).join('/')));
    for (let i = 0; i < 5; i++) admitInvokeId(tree, newInvokeId(), 5);
    expect(removed).toHaveLength(1); // the beat-20 id, removed by the first admit of beat 30 only
    expect(tree.getValue('/rt/security/seen_cut')).toEqual({ type: 'u64', value: 25n });
  });

  it('stays bounded: ids older than the window are forgotten', () => {
    const tree = createTree();
    for (let i = 0; i < 50; i++) {
      tree.setBeat(i);
      admitInvokeId(tree, newInvokeId(), 10);
    }
    expect(tree.get('/rt/security/seen')!.size).toBeLessThanOrEqual(11);
  });
});

describe('bad input changes nothing and says why', () => {
  it('malformed pipeline metadata', () => {
    for (const bad of [
      { ...META, pipelineId: '' },
      { ...META, stageId: 'x'.repeat(128) },
      { ...META, dagRunId: -1n },
      { ...META, dagRunId: 5 },
      { ...META, hopIndex: -1 },
      { ...META, hopIndex: 1.5 },
    ]) {
      let error: unknown;
      try {
        parsePipelineMeta(bad as never);
      } catch (e) {
        error = e;
      }
      expect(isCepError(error, 'SEC_PIPELINE_MALFORMED')).toBe(true);
    }
  });

  it('an invalid policy names the field and leaves the tree as it was', () => {
    const tree = runtimeTree();
    tree.set('/keep', text('me'));
    const before = digestHex(tree.root);
    for (const bad of [
      { enclaves: { 'Not A Word!': {} } },
      { edges: [{ from: 'earth', to: 'saturn', budgets: { hops: -1 } }] },
      { pipelines: [{ id: 'p', stages: [] }] },
      {
        pipelines: [
          {
            id: 'p',
            stages: [
              { id: 'a', enclave: 'earth' },
              { id: 'a', enclave: 'earth' },
            ],
          },
        ],
      },
    ] as PolicyConfig[]) {
      let error: unknown;
      try {
        declarePolicy(tree, bad);
      } catch (e) {
        error = e;
      }
      expect(isCepError(error, 'SEC_POLICY_INVALID')).toBe(true);
      expect((error as Error).message).toMatch(/enclaves|edges\[0\]|pipelines\[0\]/);
      expect(digestHex(tree.root)).toBe(before);
    }
  });

  it('invokeIdName is the name name() gives the id (a reference), for any text', () => {
    for (const id of [newInvokeId(), newInvokeId()]) {
      expect(invokeIdName(id)).toEqual(name(id));
      expect(invokeIdName(id).tag.kind).toBe('reference');
    }
    for (const text of ['inv-1', 'state', 'INV-0123456789ABCDEF0123456789ABCDEF', '42']) expect(invokeIdName(text)).toEqual(name(text));
    expect(() => invokeIdName('')).toThrow(expect.objectContaining({ code: 'NAME_EMPTY' }));
  });

  it('negative usage is refused', () => {
    expect(() => recordUsage(createTree(), newInvokeId(), { cpuNs: -5 })).toThrow(/cpuNs/);
  });

  it('a negative field after a valid one changes nothing', () => {
    const tree = createTree();
    const id = newInvokeId();
    recordUsage(tree, id, { ioBytes: 7 });
    const before = digestHex(tree.root);
    expect(() => recordUsage(tree, id, { ioBytes: 3, wallMs: -1 })).toThrow(/wallMs/);
    expect(digestHex(tree.root)).toBe(before);
    expect(usageOf(tree, id)).toEqual({ beats: 0, cpuNs: 0, ioBytes: 7, wallMs: 0 });
  });

  it('stores only the fields something non-zero was added to; a missing field reads as 0', () => {
    const tree = createTree();
    const id = newInvokeId();
    const field = (f: string) => tree.get(`/journal/decisions/sec/${id}/usage/${f}`);
    tree.setBeat(2);
    expect(recordUsage(tree, id, { beats: 8 })).toEqual({ beats: 8, cpuNs: 0, ioBytes: 0, wallMs: 0 });
    expect(field('beats')!.modified).toBe(2);
    for (const f of ['cpu_ns', 'io_bytes', 'wall_ms']) expect(field(f)).toBeUndefined();
    expect(usageOf(tree, id)).toEqual({ beats: 8, cpuNs: 0, ioBytes: 0, wallMs: 0 });
    tree.setBeat(5);
    const changes: string[] = [];
    tree.subscribe((change) => changes.push(`${change.type} ${change.cell.name.tag.text}`));
    // Adding 0 and leaving fields out are the same: nothing but io_bytes is touched.
    expect(recordUsage(tree, id, { ioBytes: 100, cpuNs: 0 })).toEqual({ beats: 8, cpuNs: 0, ioBytes: 100, wallMs: 0 });
    expect(changes).toEqual(['create io_bytes']);
    expect(field('io_bytes')!.modified).toBe(5);
    expect(field('beats')!.modified).toBe(2);
    expect(usageOf(tree, id)).toEqual({ beats: 8, cpuNs: 0, ioBytes: 100, wallMs: 0 });
  });

  it('an invoke recorded with nothing added still has its entry, and reads all zeros', () => {
    const tree = createTree();
    const id = newInvokeId();
    expect(usageOf(tree, id)).toEqual({});
    expect(recordUsage(tree, id, {})).toEqual({ beats: 0, cpuNs: 0, ioBytes: 0, wallMs: 0 });
    expect(tree.get(`/journal/decisions/sec/${id}/usage`)?.children()).toEqual([]);
    expect(usageOf(tree, id)).toEqual({ beats: 0, cpuNs: 0, ioBytes: 0, wallMs: 0 });
  });

  it('a removed field reads as 0; one that holds something else than a u64 is rewritten at the next record', () => {
    const tree = createTree();
    const id = newInvokeId();
    recordUsage(tree, id, { beats: 1 });
    tree.set(`/journal/decisions/sec/${id}/usage/cpu_ns`, u64(3n));
    tree.remove(`/journal/decisions/sec/${id}/usage/cpu_ns`);
    tree.set(`/journal/decisions/sec/${id}/usage/wall_ms`, text('garbage'));
    expect(usageOf(tree, id)).toEqual({ beats: 1, cpuNs: 0, ioBytes: 0, wallMs: 0 });
    expect(recordUsage(tree, id, { cpuNs: 2 })).toEqual({ beats: 1, cpuNs: 2, ioBytes: 0, wallMs: 0 });
    expect(tree.getValue(`/journal/decisions/sec/${id}/usage/wall_ms`)).toEqual(u64(0n));
    expect(usageOf(tree, id)).toEqual({ beats: 1, cpuNs: 2, ioBytes: 0, wallMs: 0 });
  });

  it('gives the same tree as writing every non-zero addition (property)', () => {
    const usage = fc.record({ beats: fc.nat(1000), cpuNs: fc.nat(1000), ioBytes: fc.nat(1000), wallMs: fc.nat(1000) }, { requiredKeys: [] });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(2), usage), { maxLength: 12 }), (steps) => {
        const ours = createTree();
        const every = createTree();
        const id = newInvokeId();
        const keys = [
          ['beats', 'beats'],
          ['cpuNs', 'cpu_ns'],
          ['ioBytes', 'io_bytes'],
          ['wallMs', 'wall_ms'],
        ] as const;
        for (const [gap, add] of steps) {
          ours.setBeat(ours.beat + gap);
          every.setBeat(every.beat + gap);
          recordUsage(ours, id, add);
          // The reference: the entry made at the first record, then each field read back and written
          // whenever something is added to it, by paths from the root.
          every.ensureDictionary(`/journal/decisions/sec/${id}/usage`);
          for (const [key, f] of keys) {
            if ((add[key] ?? 0) === 0) continue;
            const at = `/journal/decisions/sec/${id}/usage/${f}`;
            const current = every.getValue(at);
            every.set(at, { type: 'u64', value: (current?.type === 'u64' ? current.value : 0n) + BigInt(add[key]!) });
          }
          // What each side reads is the running total, field by field, zeros included.
          const totals = Object.fromEntries(
            keys.map(([key, f]) => {
              const v = every.getValue(`/journal/decisions/sec/${id}/usage/${f}`);
              return [key, v?.type === 'u64' ? Number(v.value) : 0];
            }),
          );
          expect(usageOf(ours, id)).toEqual(totals);
        }
        expect(digestHex(ours.root)).toBe(digestHex(every.root));
      }),
    );
  });
});

describe('policy reload', () => {
  it('reloading the same policy keeps approvals valid', () => {
    const tree = runtimeTree();
    declarePolicy(tree, POLICY);
    expect(checkInvoke(tree, { fromEnclave: 'earth', toEnclave: 'saturn', pipeline: META, side: 'receive' }).allowed).toBe(true);
  });
});

describe('pruneUsage', () => {
  it('removes only usage records untouched since before the given beat', () => {
    const tree = createTree();
    const old = newInvokeId();
    const fresh = newInvokeId();
    tree.setBeat(3);
    recordUsage(tree, old, { ioBytes: 10 });
    tree.setBeat(10);
    recordUsage(tree, fresh, { ioBytes: 5 });
    expect(pruneUsage(tree, 10)).toBe(1);
    expect(usageOf(tree, old)).toEqual({});
    expect(usageOf(tree, fresh)).toMatchObject({ ioBytes: 5 });
    expect(pruneUsage(tree, 10)).toBe(0);
  });
});
