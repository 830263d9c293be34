/**
 * Two runtimes, each with a transport manager, joined by one provider pair — the in-process
 * setup the cross-package tests and benches share. Beats are stepped by hand.
 */
import { createRuntime, type Runtime } from '@cep/heartbeat';
import { createTransportManager, type TransportManager, type TransportManagerOptions } from '@cep/transport';
import type { ProviderV1 } from '@cep/transport/provider';

export interface Side {
  readonly runtime: Runtime;
  readonly manager: TransportManager;
}

/** Lets pending callbacks (provider deliveries, frame pumps) run. */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Steps both runtimes once, after letting the edge catch up. */
export async function beatBoth(a: Side, b: Side): Promise<void> {
  await settle();
  a.runtime.step();
  b.runtime.step();
}

export function side(localNode: string, provider: ProviderV1, extra: Partial<TransportManagerOptions> = {}): Side {
  const runtime = createRuntime();
  const manager = createTransportManager(runtime, { localNode, providers: [provider], addressOf: (peer) => peer, ...extra });
  return { runtime, manager };
}

/** Steps both sides until `done()` holds; throws after `limit` beats (a hang becomes a failure). */
export async function until(a: Side, b: Side, done: () => boolean, limit = 500): Promise<number> {
  for (let i = 0; i < limit; i++) {
    if (done()) return i;
    await beatBoth(a, b);
  }
  throw new Error(`condition not reached in ${limit} beats`);
}
