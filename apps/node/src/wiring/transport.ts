/**
 * Wiring of the transport: one provider per id the config uses (keys from `config.keys`,
 * never from process-wide state), the transport manager over the peer's runtime (catalog
 * under `/net/transports/`, telemetry under `/net/telemetry/`), listeners for `config.listen`,
 * and shutdown hooks that close them in reverse order. Any failure throws, so `startPeer`
 * unwinds what was started.
 */
import type { ProviderV1 } from '@cep/transport/provider';
import { createTransportManager, type TransportManager } from '@cep/transport';
import { tcp } from '@cep/provider-tcp';
import { pipe } from '@cep/provider-pipe';
import { udp } from '@cep/provider-udp';
import { PROVIDER_IDS } from '../config/schema.ts';
import type { PeerContext } from './context.ts';

/** What the transport wiring reports back. */
export interface TransportHandle {
  /** Bound listen addresses (OS-chosen ports filled in), by provider id. */
  readonly listening: Readonly<Record<string, string>>;
  readonly wired: boolean;
  /** The manager: organs configure mounts through it. */
  readonly manager: TransportManager;
}

type ProviderId = (typeof PROVIDER_IDS)[number];

const FACTORIES: Record<ProviderId, (options: { localPeer: string; keys: Record<string, Uint8Array> }) => ProviderV1> = { tcp, pipe, udp };

/** Starts providers, manager and listeners for `ctx.config`. */
export async function wireTransport(ctx: PeerContext): Promise<TransportHandle> {
  const { config, log, runtime } = ctx;
  const keys: Record<string, Uint8Array> = { ...config.keys };
  // Every provider is registered, so negotiation can pick any of them; only used ones listen.
  const providers = PROVIDER_IDS.map((id) => FACTORIES[id]({ localPeer: config.peer, keys }));
  const addresses = new Map<string, string>();
  for (const peer of config.peers) addresses.set(`${peer.name}/${peer.provider}`, peer.address);
  const manager = createTransportManager(runtime, {
    localNode: config.peer,
    providers,
    addressOf: (peer, providerId) => addresses.get(`${peer}/${providerId}`),
    peerKey: (peer) => keys[peer],
  });
  ctx.onShutdown('transport manager', () => manager.close());
  const listening: Record<string, string> = {};
  for (const id of PROVIDER_IDS) {
    const address = config.listen[id];
    if (address === undefined) continue;
    const listener = await manager.listen(id, address);
    listening[id] = listener.address;
    log.info({ provider: id, address: listener.address }, 'listening');
  }
  return { listening, wired: true, manager };
}
