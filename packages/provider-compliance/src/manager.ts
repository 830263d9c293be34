/**
 * `@cep/provider-compliance/manager`: one check driven through the real `@cep/transport`
 * manager, for a provider author who wants to see their provider carry CEP branches end to end.
 * A separate entry, so the main suite needs no runtime: importing this one needs `@cep/transport`,
 * `@cep/heartbeat` and `@cep/cells` installed (optional peer dependencies of this package).
 */
import { expect, it } from 'vitest';
import { createTree, u64 } from '@cep/cells';
import { createRuntime, type Runtime } from '@cep/heartbeat';
import { createTransportManager, type TransportManager } from '@cep/transport';
import type { ComplianceEnv } from './types.ts';

/** Options of {@link managerComplianceTest}. */
export interface ManagerComplianceOptions {
  /** Shown in the test title. */
  readonly name: string;
  /** `reliable`: every branch arrives, in order; `unreliable`: some arrive, none altered. */
  readonly profile: 'reliable' | 'unreliable';
  /** Two providers that trust each other, as for the main suite (intruders and second dialers are not used). */
  setup(): Promise<ComplianceEnv>;
  /** Beats stepped, at most, before the check fails (default 2000); a hang becomes a failure, not a wait on the clock. */
  readonly beatLimit?: number;
}

/** Lets pending provider callbacks run before the next beat. */
async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Registers one test: two runtimes, each with a transport manager holding one of `setup()`'s
 * providers; the dialler's manager configures a mount to the listener's, and 50 branches sent
 * with `mount.sendBranch` arrive through `onFrame` on the other side, decoded and verified by
 * the manager (in order, all of them, on a reliable provider).
 */
export function managerComplianceTest(options: ManagerComplianceOptions): void {
  const limit = options.beatLimit ?? 2000;
  const reliable = options.profile === 'reliable';

  it(`${options.name}: carries branches between two transport managers, through configure, listen and onFrame`, async ({ onTestFinished }) => {
    const env = await options.setup();
    const sides: { runtime: Runtime; manager: TransportManager }[] = [];
    onTestFinished(async () => {
      for (const side of sides) await side.manager.close();
      await env.dialer.close();
      await env.listener.close();
      await env.teardown?.();
    });
    const side = (localNode: string, provider: ComplianceEnv['dialer']) => {
      const runtime = createRuntime();
      const made = { runtime, manager: createTransportManager(runtime, { localNode, providers: [provider] }) };
      sides.push(made);
      return made;
    };
    const dialing = side(env.dialerPeer, env.dialer);
    const listening = side(env.listenerPeer, env.listener);
    const beatUntil = async (what: string, done: () => boolean): Promise<void> => {
      for (let beat = 0; beat < limit; beat++) {
        if (done()) return;
        await settle();
        dialing.runtime.step();
        listening.runtime.step();
      }
      throw new Error(`${what}: not reached in ${limit} beats`);
    };

    const got: bigint[] = [];
    listening.manager.onFrame('link', ({ branch }) => {
      const value = branch.root.children?.[0]?.value;
      if (value?.type === 'u64') got.push(value.value);
    });
    const listener = await listening.manager.listen(env.listener.id, env.address);
    const mount = dialing.manager.configure({
      peer: env.listenerPeer,
      mode: 'link',
      mount: 'compliance',
      address: listener.address,
      ...(reliable ? {} : { caps: { updLatest: true } }),
    });
    await beatUntil(
      'both ends of the mount open',
      () => mount.state === 'open' && listening.manager.get(env.dialerPeer, 'link', 'compliance')?.state === 'open',
    );

    const count = 50;
    const body = createTree();
    for (let i = 0; i < count; i++) {
      body.set('/msg/n', u64(BigInt(i)));
      mount.sendBranch(body.get('/msg')!);
      if (i % 10 === 9) await beatUntil('the sends to be taken', () => true);
    }
    if (reliable) {
      await beatUntil(`all ${count} branches`, () => got.length >= count);
      expect(got).toEqual(Array.from({ length: count }, (_, i) => BigInt(i)));
    } else {
      // Lossy media may drop some, and a gauge mount keeps only the latest: at least one arrives, none invented.
      await beatUntil('a branch', () => got.length > 0);
      for (const n of got) expect(n >= 0n && n < BigInt(count)).toBe(true);
    }
  });
}
