/**
 * The security decision table of @cep/security (README), row by row, as invoke meets it: on the
 * sending runtime before a frame leaves, and on the receiving runtime before anything runs —
 * including frames forged by hand and replayed frames. Each runtime decides on its own policy.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createTree, text, u64, type Cell, type Value } from '@cep/cells';
import type { PipelineMeta } from '@cep/heartbeat';
import { approvePipeline, declarePolicy, newInvokeId, writePipelineSpec, type PolicyConfig } from '@cep/security';
import { encodeBranch } from '@cep/serializer';
import type { InvokeOptions } from '@cep/organ-invoke';
import { closeAll, pair, read, REQ, request, until, type Pair, type Peer, type Transport } from './helpers.ts';

afterEach(closeAll);

const POLICY: PolicyConfig = {
  enclaves: { lab: {}, ops: {}, moon: {} },
  edges: [{ from: 'lab', to: 'ops', budgets: { beats: 8, hops: 3, ioBytes: 65_536 } }],
  pipelines: [
    {
      id: 'demo/ingest',
      stages: [
        { id: 'StageA', enclave: 'lab' },
        { id: 'StageB', enclave: 'ops' },
      ],
    },
  ],
};
const META = { pipelineId: 'demo/ingest', stageId: 'StageB', dagRunId: 7n, hopIndex: 1 };

function secure(tree: Peer['tree'], policy: PolicyConfig | undefined): void {
  if (policy === undefined) return;
  declarePolicy(tree, policy);
  for (const p of policy.pipelines ?? []) approvePipeline(tree, p.id);
}

interface Setup {
  /** Where earth believes saturn is, and where saturn believes earth is (default ops / lab). */
  readonly earthSeesSaturn?: string;
  readonly saturnSeesEarth?: string;
  readonly earthEnclave?: string;
  readonly saturnEnclave?: string;
  readonly earthPolicy?: PolicyConfig | undefined;
  readonly saturnPolicy?: PolicyConfig | undefined;
  /** More options for saturn's (the receiver's) invoke organ. */
  readonly saturnOptions?: InvokeOptions;
}

/** earth (lab) invoking saturn (ops); saturn runs a plain enzyme on /sig/run that counts and keeps ctx.pipeline. */
async function setup(transport: Transport, s: Setup = {}) {
  const earthOptions: InvokeOptions = { enclave: s.earthEnclave ?? 'lab', peerEnclave: () => s.earthSeesSaturn ?? 'ops' };
  const p = await pair(transport, earthOptions);
  secure(p.earth.tree, 'earthPolicy' in s ? s.earthPolicy : POLICY);
  secure(p.saturn.tree, 'saturnPolicy' in s ? s.saturnPolicy : POLICY);
  p.serve({ ...s.saturnOptions, enclave: s.saturnEnclave ?? 'ops', peerEnclave: () => s.saturnSeesEarth ?? 'lab' });
  const runs: Array<PipelineMeta | undefined> = [];
  p.saturn.runtime.registerEnzyme({ name: 'work', signal: '/sig/run', run: (ctx) => void runs.push(ctx.pipeline) });
  const submit = (extra: { pipeline?: typeof META; timeoutBeats?: number; payload?: Value } = {}) => {
    const id = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/run', target: '/data/y', timeoutBeats: extra.timeoutBeats ?? 6, ...extra });
    return id;
  };
  const settle = async (id: string) => until([p.earth, p.saturn], () => p.earth.invoke.outcome(id) !== undefined);
  return { ...p, runs, submit, settle };
}

const facts = (peer: Peer, topic: string) => peer.facts.filter((f) => f.topic === topic);
const framesAdmitted = (peer: Peer) => peer.runtime.inboundLog.filter((i) => i.kind === 'tp.frame').length;

/** A call frame built cell by cell (not with the organ's own builder): what an attacker would send. */
function handCall(fields: { id?: string; pipeline?: Record<string, Value>; signal?: string; timeout?: bigint; payload?: Value } = {}): {
  cell: Cell;
  id: string;
} {
  const tree = createTree();
  const id = fields.id ?? newInvokeId();
  tree.set('/f/kind', text('call'));
  tree.set('/f/id', text(id));
  tree.set('/f/signal', text(fields.signal ?? '/sig/run'));
  tree.set('/f/timeout', u64(fields.timeout ?? 4n));
  if (fields.payload !== undefined) tree.set('/f/payload', fields.payload);
  for (const [k, v] of Object.entries(fields.pipeline ?? {})) tree.set(`/f/pipeline/${k}`, v);
  return { cell: tree.get('/f')!, id };
}
const metaCells = (m: typeof META): Record<string, Value> => ({
  pipeline_id: text(m.pipelineId),
  stage_id: text(m.stageId),
  dag_run_id: u64(m.dagRunId),
  hop_index: u64(BigInt(m.hopIndex)),
});

/** Steps both runtimes until saturn has admitted `n` frames, then a few beats more (for any reply). */
async function delivered(p: Pair, n: number): Promise<void> {
  await until([p.earth, p.saturn], () => framesAdmitted(p.saturn) >= n);
  for (let i = 0; i < 3; i++) await until([p.earth, p.saturn], () => true, 1).catch(() => undefined);
}

describe.each<Transport>(['memory', 'tcp'])('invoke security over provider-%s', (transport) => {
  it('same enclave, no pipeline: allowed on both sides', async () => {
    const p = await setup(transport, { earthEnclave: 'lab', earthSeesSaturn: 'lab', saturnEnclave: 'lab', saturnSeesEarth: 'lab' });
    const id = p.submit();
    await p.settle(id);
    expect(p.earth.invoke.outcome(id)?.status).toBe('ok');
    expect(p.runs).toEqual([undefined]);
  });

  it('cross-enclave, approved stage, declared edge, within budgets: allowed; the remote enzyme sees the pipeline metadata', async () => {
    const p = await setup(transport);
    const id = p.submit({ pipeline: META });
    await p.settle(id);
    expect(p.earth.invoke.outcome(id)?.status).toBe('ok');
    expect(p.runs).toEqual([META]);
    const op = read(p.earth.tree, `${REQ}/to_saturn/invokes/${id}/op`) as string;
    expect(read(p.earth.tree, `/rt/ops/${op}/pipeline/pipeline_id`)).toBe('demo/ingest');
  });

  it('cross-enclave without pipeline metadata: the sender refuses before sending (sec.pipeline.reject, tp_inv_reject); nothing is sent', async () => {
    const p = await setup(transport);
    const id = p.submit();
    expect(p.earth.invoke.outcome(id)).toMatchObject({ status: 'reject', refusedBy: 'sender' });
    expect(facts(p.earth, 'sec.pipeline.reject')[0]).toMatchObject({ origin: 'sec/send', peer: 'saturn' });
    expect(facts(p.earth, 'tp_inv_reject')).toHaveLength(1);
    await until([p.earth, p.saturn], () => true, 1);
    for (let i = 0; i < 5; i++) await until([p.earth, p.saturn], () => false, 1).catch(() => undefined);
    expect(framesAdmitted(p.saturn)).toBe(0);
    expect(p.runs).toEqual([]);
  });

  it('cross-enclave without pipeline metadata: the receiver refuses it too (earth believed saturn shared its enclave); earth sees tp_inv_reject', async () => {
    const p = await setup(transport, { earthSeesSaturn: 'lab' });
    const id = p.submit();
    await p.settle(id);
    expect(p.earth.invoke.outcome(id)).toMatchObject({ status: 'reject', refusedBy: 'receiver', note: expect.stringMatching(/no pipeline metadata/) });
    expect(facts(p.saturn, 'sec.pipeline.reject')[0]).toMatchObject({ origin: 'sec/receive', peer: 'earth' });
    expect(facts(p.earth, 'tp_inv_reject')).toHaveLength(1);
    expect(p.runs).toEqual([]);
  });

  it('undeclared edge (the reverse of a declared one): sec.edge.deny on the sending side', async () => {
    const p = await setup(transport, { earthEnclave: 'ops', earthSeesSaturn: 'lab' });
    const id = p.submit({ pipeline: { ...META, stageId: 'StageA' } });
    expect(p.earth.invoke.outcome(id)).toMatchObject({ status: 'reject', refusedBy: 'sender' });
    expect(facts(p.earth, 'sec.edge.deny')).toHaveLength(1);
    expect(p.runs).toEqual([]);
  });

  it('undeclared edge: sec.edge.deny on the receiving side (saturn places earth in an enclave with no edge to it)', async () => {
    const p = await setup(transport, { saturnSeesEarth: 'moon' });
    const id = p.submit({ pipeline: META });
    await p.settle(id);
    expect(p.earth.invoke.outcome(id)).toMatchObject({ status: 'reject', refusedBy: 'receiver' });
    expect(facts(p.saturn, 'sec.edge.deny')[0]).toMatchObject({ origin: 'sec/receive', pipeline: META });
    expect(p.runs).toEqual([]);
  });

  it('no enclave registered at all: sec.edge.deny (sender without a policy; receiver without a policy)', async () => {
    const sender = await setup(transport, { earthPolicy: undefined });
    const refused = sender.submit({ pipeline: META });
    expect(sender.earth.invoke.outcome(refused)).toMatchObject({ status: 'reject', refusedBy: 'sender' });
    expect(facts(sender.earth, 'sec.edge.deny')).toHaveLength(1);
    await closeAll();
    const receiver = await setup(transport, { saturnPolicy: undefined });
    const id = receiver.submit({ pipeline: META });
    await receiver.settle(id);
    expect(receiver.earth.invoke.outcome(id)).toMatchObject({ status: 'reject', refusedBy: 'receiver' });
    expect(facts(receiver.saturn, 'sec.edge.deny')).toHaveLength(1);
    expect(receiver.runs).toEqual([]);
  });

  it('pipeline never approved: the sender refuses it; a forged frame naming it is refused by the receiver and nothing runs', async () => {
    const p = await setup(transport);
    const id = p.submit({ pipeline: { ...META, pipelineId: 'made/up' } });
    expect(p.earth.invoke.outcome(id)).toMatchObject({ status: 'reject', refusedBy: 'sender', note: expect.stringMatching(/made\/up has no spec/) });
    const forged = handCall({ pipeline: metaCells({ ...META, pipelineId: 'made/up' }) });
    await p.forge(forged.cell);
    await delivered(p, 1);
    expect(facts(p.saturn, 'sec.pipeline.reject')[0]).toMatchObject({ origin: 'sec/receive', note: expect.stringMatching(/made\/up has no spec/) });
    expect(p.runs).toEqual([]);
  });

  it('stage not in the pipeline, or in another enclave: sec.pipeline.reject on the sender; a forged frame with such a stage on the receiver', async () => {
    const p = await setup(transport);
    const a = p.submit({ pipeline: { ...META, stageId: 'StageZ' } });
    const b = p.submit({ pipeline: { ...META, stageId: 'StageA' } });
    expect(p.earth.invoke.outcome(a)).toMatchObject({ status: 'reject', note: expect.stringMatching(/has no stage StageZ/) });
    expect(p.earth.invoke.outcome(b)).toMatchObject({ status: 'reject', note: expect.stringMatching(/runs in lab, not ops/) });
    await p.forge(handCall({ pipeline: metaCells({ ...META, stageId: 'StageZ' }) }).cell);
    await delivered(p, 1);
    expect(facts(p.saturn, 'sec.pipeline.reject')).toHaveLength(1);
    expect(p.runs).toEqual([]);
  });

  it('spec edited after approval (on the receiver): the approval is void there, sec.pipeline.reject, earth sees tp_inv_reject', async () => {
    const p = await setup(transport);
    writePipelineSpec(p.saturn.tree, {
      id: 'demo/ingest',
      stages: [
        { id: 'StageA', enclave: 'lab' },
        { id: 'StageB', enclave: 'ops', gateway: 'sig:other' },
      ],
    });
    const id = p.submit({ pipeline: META });
    await p.settle(id);
    expect(p.earth.invoke.outcome(id)).toMatchObject({ status: 'reject', refusedBy: 'receiver', note: expect.stringMatching(/changed after its approval/) });
    expect(facts(p.saturn, 'sec.pipeline.reject')).toHaveLength(1);
    expect(p.runs).toEqual([]);
  });

  it('policy changed after approval (on the receiver): sec.pipeline.reject', async () => {
    const p = await setup(transport);
    declarePolicy(p.saturn.tree, { ...POLICY, edges: [{ from: 'lab', to: 'ops', budgets: { beats: 9, hops: 3, ioBytes: 65_536 } }] });
    const id = p.submit({ pipeline: META });
    await p.settle(id);
    expect(p.earth.invoke.outcome(id)).toMatchObject({ status: 'reject', note: expect.stringMatching(/policy changed/) });
    expect(p.runs).toEqual([]);
  });

  it('hop_index over the hop budget: sec.limit.hit on the sender, and on the receiver for a forged frame', async () => {
    const p = await setup(transport);
    const id = p.submit({ pipeline: { ...META, hopIndex: 4 } });
    expect(p.earth.invoke.outcome(id)).toMatchObject({ status: 'reject', refusedBy: 'sender', note: expect.stringMatching(/hop 4 is over the hop budget 3/) });
    expect(facts(p.earth, 'sec.limit.hit')).toHaveLength(1);
    await p.forge(handCall({ pipeline: metaCells({ ...META, hopIndex: 4 }) }).cell);
    await delivered(p, 1);
    expect(facts(p.saturn, 'sec.limit.hit')[0]).toMatchObject({ origin: 'sec/receive' });
    expect(p.runs).toEqual([]);
  });

  it("usage over budget: the sender charges the beats it would wait; the receiver charges the frame's IO bytes (sec.limit.hit)", async () => {
    const p = await setup(transport);
    const long = p.submit({ pipeline: META, timeoutBeats: 9 });
    expect(p.earth.invoke.outcome(long)).toMatchObject({ status: 'reject', refusedBy: 'sender', note: expect.stringMatching(/beats 9 is over the budget 8/) });
    const big = p.submit({ pipeline: META, payload: text('x'.repeat(70_000)) });
    await p.settle(big);
    expect(p.earth.invoke.outcome(big)).toMatchObject({
      status: 'reject',
      refusedBy: 'receiver',
      note: expect.stringMatching(/io_bytes \d+ is over the budget 65536/),
    });
    expect(facts(p.saturn, 'sec.limit.hit')).toHaveLength(1);
    expect(p.runs).toEqual([]);
  });

  it('replayed frame (same invoke id twice): the first runs, the second is refused and nothing runs again', async () => {
    const p = await setup(transport);
    const { cell } = handCall({ pipeline: metaCells(META) });
    const bytes = encodeBranch(cell, p.policy());
    await p.forgeBytes(bytes);
    await p.forgeBytes(bytes);
    await delivered(p, 2);
    expect(p.runs).toEqual([META]);
    expect(facts(p.saturn, 'tp_inv_reject')[0]).toMatchObject({ origin: 'sec/receive', note: expect.stringMatching(/seen before/) });
  });

  it('duplicate detection is per runtime: the same id on a second mount is refused too', async () => {
    const p = await setup(transport);
    request(p.earth.tree, 'alt', { peer: 'saturn', mount: 'alt', local_node: 'earth' });
    await until(
      [p.earth, p.saturn],
      () => read(p.earth.tree, `${REQ}/alt/state`) === 'active' && read(p.saturn.tree, '/net/mounts/earth/invoke/alt/state') === 'open',
    );
    const { cell } = handCall({ pipeline: metaCells(META) });
    await p.forge(cell, 'main');
    await delivered(p, 1);
    await p.forge(cell, 'alt');
    await delivered(p, 2);
    expect(p.runs).toEqual([META]);
    expect(facts(p.saturn, 'tp_inv_reject')).toHaveLength(1);
  });

  it('replay guard full (maxSeenIds): a new call is refused with INVOKE_BUSY and not remembered; sent again it is refused again; nothing runs twice', async () => {
    const p = await setup(transport, { saturnOptions: { maxSeenIds: 2 } });
    const first = [p.submit({ pipeline: META }), p.submit({ pipeline: META })];
    for (const id of first) await p.settle(id);
    expect(first.map((id) => p.earth.invoke.outcome(id)?.status)).toEqual(['ok', 'ok']);
    // The guard holds its two ids, both inside its window: the third call cannot be remembered, so it must not run.
    const third = p.submit({ pipeline: META });
    await p.settle(third);
    expect(p.earth.invoke.outcome(third)).toMatchObject({ status: 'reject', refusedBy: 'receiver', code: 'INVOKE_BUSY' });
    expect(p.runs).toHaveLength(2);
    // A new call (one id) forged twice while the guard is still full: refused both times, nothing runs.
    const again = handCall({ pipeline: metaCells(META) });
    const bytes = encodeBranch(again.cell, p.policy());
    const before = framesAdmitted(p.saturn);
    await p.forgeBytes(bytes);
    await p.forgeBytes(bytes);
    await delivered(p, before + 2);
    expect(p.runs).toHaveLength(2);
    expect(facts(p.saturn, 'tp_inv_reject').filter((f) => /replay guard holds its 2 ids/.test(f.note ?? ''))).toHaveLength(3);
    expect(p.saturn.tree.get('/rt/security/seen')!.size).toBe(2);
  });

  it('guessable or malformed invoke id: refused, nothing runs', async () => {
    const p = await setup(transport, { earthSeesSaturn: 'lab', saturnSeesEarth: 'ops' });
    await p.forge(handCall({ id: 'inv-1', pipeline: metaCells(META) }).cell);
    await delivered(p, 1);
    expect(facts(p.saturn, 'tp_inv_reject')[0]?.note).toMatch(/not an unguessable invoke id/);
    expect(p.runs).toEqual([]);
  });

  it('malformed pipeline metadata: the sender throws SEC_PIPELINE_MALFORMED; the receiver refuses a forged frame carrying it', async () => {
    const p = await setup(transport);
    expect(() => p.submit({ pipeline: { ...META, hopIndex: -1 } })).toThrow(expect.objectContaining({ code: 'SEC_PIPELINE_MALFORMED' }));
    await p.forge(handCall({ pipeline: { ...metaCells(META), hop_index: text('one') } }).cell);
    await delivered(p, 1);
    expect(facts(p.saturn, 'tp_inv_reject')[0]?.note).toMatch(/SEC_PIPELINE_MALFORMED/);
    expect(p.runs).toEqual([]);
  });
});
