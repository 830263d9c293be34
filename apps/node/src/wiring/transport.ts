/**
 * Wiring point for the transport: providers, the transport manager, listeners.
 *
 * Not wired yet — `@cep/provider-tcp`, `-pipe`, `-udp` and the manager in
 * `@cep/transport` are being written. When they land, {@link wireTransport}:
 *   1. builds one provider per id used in `config.listen` and `config.peers[].provider`
 *      (`tcp({ keys })`, `pipe({ keys })`, `udp({ keys })`; keys from `config.keys`,
 *      never from a process-wide variable);
 *   2. creates the manager over `ctx.runtime` (it mirrors the catalog under
 *      `/net/transports/` and telemetry under `/net/telemetry/`) and registers the
 *      providers, with each peer's address from `config.peers[]`;
 *   3. starts `provider.listen({ address })` for each `config.listen` entry, handing
 *      accepted channels to the manager, and logs the bound addresses;
 *   4. registers shutdown hooks: close listeners, then `manager.close()`, then
 *      `provider.close()` (hooks run newest first, so register in the reverse order).
 * A failure in any step must throw: `startPeer` then unwinds what was started.
 */
import type { PeerContext } from './context.ts';

/** What the transport wiring reports back (bound listen addresses, by provider id). */
export interface TransportHandle {
  readonly listening: Readonly<Record<string, string>>;
  /** False until the providers and the manager are wired in. */
  readonly wired: boolean;
}

/** Starts providers, manager and listeners for `ctx.config`. */
export async function wireTransport(ctx: PeerContext): Promise<TransportHandle> {
  const { config, log } = ctx;
  const wanted = Object.keys(config.listen).length + config.peers.length;
  if (wanted > 0) {
    log.warn(
      { listen: config.listen, peers: config.peers.map((p) => `${p.name}/${p.mount} via ${p.provider} ${p.address}`) },
      'transport not wired in this build yet: listen addresses and peers are validated but no socket is opened',
    );
  }
  return { listening: {}, wired: false };
}
