/**
 * `cpu_ns` and `wall_ms` budgets: a handler's run is measured at the edge, the numbers enter as a
 * recorded input (`inv.usage`) admitted at the next capture, are charged to the call's ledger, and
 * the reply leaves only then — or a `sec.limit.hit` refusal when the run went over a budget.
 * The meter here is a stand-in that reports chosen numbers, so nothing depends on machine speed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { u64 } from '@cep/cells';
import { declarePolicy, type PolicyConfig } from '@cep/security';
import { USAGE_INPUT, type InvokeOptions, type UsageMeter } from '@cep/organ-invoke';
import { closeAll, pair, read, until } from './helpers.ts';

afterEach(closeAll);

function fixedMeter(used: { cpuNs: number; wallMs: number }): UsageMeter & { starts: number } {
  const meter = {
    starts: 0,
    start() {
      meter.starts++;
      return () => used;
    },
  };
  return meter;
}

const METERED: PolicyConfig = { enclaves: { lab: {} }, defaults: { cpuNs: 2_000_000, wallMs: 50 } };
const UNMETERED: PolicyConfig = { enclaves: { lab: {} }, defaults: { beats: 400 } };

async function setup(policy: PolicyConfig, meter: UsageMeter | false) {
  const same: InvokeOptions = { enclave: 'lab', peerEnclave: () => 'lab' };
  const p = await pair('memory', same);
  declarePolicy(p.earth.tree, policy);
  declarePolicy(p.saturn.tree, policy);
  const saturn = p.serve({ ...same, meter });
  let runs = 0;
  saturn.expose('/sig/add', (call) => {
    runs++;
    return { status: 'ok', result: u64((call.payload?.type === 'u64' ? call.payload.value : 0n) + 1n) };
  });
  const call = async () => {
    const id = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/add', payload: u64(41n), timeoutBeats: 50 });
    await until([p.earth, p.saturn], () => p.earth.invoke.outcome(id) !== undefined);
    return { id, outcome: p.earth.invoke.outcome(id)! };
  };
  return { p, call, runs: () => runs };
}

const usageInputs = (log: readonly { kind: string; beat: number }[]) => log.filter((i) => i.kind === USAGE_INPUT);

describe('cpu_ns and wall_ms budgets are charged from recorded measurements', () => {
  it('under budget: the measurement is a logged input, charged to the ledger, and the reply leaves after it', async () => {
    const meter = fixedMeter({ cpuNs: 1_500_000, wallMs: 12 });
    const { p, call, runs } = await setup(METERED, meter);
    const { id, outcome } = await call();
    expect(outcome).toMatchObject({ status: 'ok', result: u64(42n) });
    expect(runs()).toBe(1);
    expect(meter.starts).toBe(1);
    expect(usageInputs(p.saturn.runtime.inboundLog)).toHaveLength(1);
    expect(read(p.saturn.tree, `/journal/decisions/sec/${id}/usage/cpu_ns`)).toBe(1_500_000n);
    expect(read(p.saturn.tree, `/journal/decisions/sec/${id}/usage/wall_ms`)).toBe(12n);
    expect(p.saturn.facts.filter((f) => f.topic === 'sec.limit.hit')).toEqual([]);
  });

  it('over a budget: the caller gets a refusal (sec.limit.hit on the callee), though the handler ran once', async () => {
    const { p, call, runs } = await setup(METERED, fixedMeter({ cpuNs: 10, wallMs: 51 }));
    const { outcome } = await call();
    expect(outcome).toMatchObject({ status: 'reject', note: expect.stringContaining('wall_ms 51 is over the budget 50') });
    expect(runs()).toBe(1);
    expect(p.saturn.facts.filter((f) => f.topic === 'sec.limit.hit')).toEqual([
      expect.objectContaining({ severity: 'error', note: expect.stringContaining('wall_ms 51') }),
    ]);
  });

  it('cpu_ns over its budget is refused the same way', async () => {
    const { call } = await setup(METERED, fixedMeter({ cpuNs: 2_000_001, wallMs: 1 }));
    expect((await call()).outcome).toMatchObject({ status: 'reject', note: expect.stringContaining('cpu_ns 2000001 is over the budget 2000000') });
  });

  it('without a cpu_ns or wall_ms budget nothing is measured and the reply is not held', async () => {
    const meter = fixedMeter({ cpuNs: 10 ** 12, wallMs: 10 ** 6 });
    const { p, call } = await setup(UNMETERED, meter);
    expect((await call()).outcome).toMatchObject({ status: 'ok', result: u64(42n) });
    expect(meter.starts).toBe(0);
    expect(usageInputs(p.saturn.runtime.inboundLog)).toEqual([]);
  });

  it('meter: false (replay) measures nothing: the reply waits for the logged measurement and is decided on it', async () => {
    const { p, runs } = await setup(METERED, false);
    const id = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/add', payload: u64(41n), timeoutBeats: 50 });
    await until([p.earth, p.saturn], () => runs() === 1);
    for (let i = 0; i < 5; i++) await until([p.earth, p.saturn], () => false, 1).catch(() => undefined);
    expect(p.earth.invoke.outcome(id)).toBeUndefined();
    // What a replay does: the recorded input, pushed before the beat that admitted it.
    p.saturn.runtime.pushInput(USAGE_INPUT, { stream: 'callee', seq: 1, data: new TextEncoder().encode(JSON.stringify({ id, cpuNs: 0, wallMs: 80 })) });
    await until([p.earth, p.saturn], () => p.earth.invoke.outcome(id) !== undefined);
    expect(p.earth.invoke.outcome(id)).toMatchObject({ status: 'reject', note: expect.stringContaining('wall_ms 80 is over the budget 50') });
    expect(runs()).toBe(1);
  });

  it('a measurement input that cannot be read is ignored and reported', async () => {
    const { p } = await setup(METERED, fixedMeter({ cpuNs: 0, wallMs: 0 }));
    p.saturn.runtime.pushInput(USAGE_INPUT, { stream: 'callee', seq: 99, data: new TextEncoder().encode('{"id":"x","cpuNs":-1}') });
    await until([p.earth, p.saturn], () => p.saturn.facts.some((f) => f.note.includes('measured usage input could not be read')));
  });
});
