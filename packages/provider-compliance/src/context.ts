import { it, type TestAPI } from 'vitest';
import type { ChannelV1, ListenerV1, RejectionV1 } from '@cep/provider-spec';
import { until, within } from './helpers.ts';
import type { ComplianceEnv, ComplianceOptions } from './types.ts';

/** One test's providers: the listener listening, what it accepted and refused. */
export interface Pair {
  readonly env: ComplianceEnv;
  readonly listener: ListenerV1;
  /** Channels the listener handed to `onChannel`, in order. */
  readonly accepted: ChannelV1[];
  /** What the listener told `onReject`, in order. */
  readonly rejections: RejectionV1[];
  /** Opens `mount` from the dialer (to the listener, or through `address`) and waits for the listener's side. */
  open(mount: string, address?: string): Promise<{ local: ChannelV1; remote: ChannelV1 }>;
}

/**
 * What each test gets from its vitest context (the `kit` fixture): everything it makes is
 * released when that test ends, whatever happens, and nothing is shared between tests (so they
 * could run concurrently).
 */
export interface Kit {
  /** A fresh pair for this test (closed after it). */
  pair(): Promise<Pair>;
  /** Closes `pair` now (both providers and its teardown), instead of after the test. */
  shutdown(pair: Pair): Promise<void>;
  /** Runs `step` after this test, before its pairs are closed (intruders, taps, extra providers). */
  release(step: () => Promise<unknown>): void;
}

/** The suite's `it`, with the `kit` fixture. */
export type ComplianceTest = TestAPI<{ kit: Kit }>;

/** What the suite's sections share. */
export interface SuiteContext {
  readonly options: ComplianceOptions;
  /** Bound on every wait, in ms. */
  readonly ms: number;
  readonly reliable: boolean;
  /** Registers one test; its body takes `{ kit }` from the test context. */
  readonly test: ComplianceTest;
}

/** Makes the suite's `test`: vitest's `it` extended with a per-test {@link Kit}. */
export function complianceTest(options: ComplianceOptions, ms: number): ComplianceTest {
  async function makePair(): Promise<Pair> {
    const env = await options.setup();
    const accepted: ChannelV1[] = [];
    const rejections: RejectionV1[] = [];
    if (env.listener.listen === undefined) throw new Error(`${options.name}: the listener provider must implement listen()`);
    const listener = await within(
      ms,
      'listen()',
      env.listener.listen({ address: env.address, onReject: (r) => rejections.push(r) }, (ch) => accepted.push(ch)),
    );
    return {
      env,
      listener,
      accepted,
      rejections,
      async open(mount, address = listener.address) {
        const local = await within(ms, `open(${mount})`, env.dialer.open({ peer: env.listenerPeer, mode: 'link', mount, localNode: env.dialerPeer, address }));
        let remote: ChannelV1 | undefined;
        await until(ms, `the listener to accept ${mount}`, () => (remote = accepted.find((c) => c.info.mount === mount)) !== undefined);
        return { local, remote: remote! };
      },
    };
  }

  async function close(p: Pair): Promise<void> {
    await within(ms, 'dialer.close()', p.env.dialer.close());
    await within(ms, 'listener.close()', p.env.listener.close());
    await p.env.teardown?.();
  }

  return it.extend<{ kit: Kit }>({
    // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern; this one has none
    kit: async ({}, use) => {
      let pairs: Pair[] = [];
      const extras: Array<() => Promise<unknown>> = [];
      await use({
        async pair() {
          const made = await makePair();
          pairs.push(made);
          return made;
        },
        async shutdown(p) {
          pairs = pairs.filter((x) => x !== p);
          await close(p);
        },
        release(step) {
          extras.push(step);
        },
      });
      for (const release of extras) await within(ms, 'releasing an intruder, tap or extra provider', release()).catch(() => undefined);
      for (const p of pairs) await close(p);
    },
  });
}
