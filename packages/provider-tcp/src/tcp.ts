import type { AddressInfo, Server } from 'node:net';
import type { ProviderV1 } from '@cep/provider-spec';
import { createStreamProvider, type StreamOptions } from '@cep/stream-session';
import { formatAddress, parseAddress } from './address.ts';

/** Options of {@link tcp}: the shared stream options (keys, limits, backoff). */
export type TcpOptions = StreamOptions;

/** Capabilities every TCP provider advertises. */
export const TCP_CAPS = ['reliable', 'ordered', 'streaming', 'remote_net', 'crc32c', 'deflate', 'aead'] as const;

function bind(server: Server, address: string): Promise<string> {
  const { host, port } = parseAddress(address, true);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.removeListener('error', reject);
      const bound = server.address() as AddressInfo;
      resolve(formatAddress(bound.address, bound.port));
    });
  });
}

/**
 * A CEP transport provider over TCP. Every channel is one authenticated connection:
 * a pre-shared key per peer, a mutual challenge–response at open, then a sequence
 * number and a MAC on every frame.
 *
 * @example
 * const earth = tcp({ localPeer: 'earth', keys: { saturn: key } });
 * const channel = await earth.open({ peer: 'saturn', mode: 'link', mount: 'main', localNode: 'earth', address: '127.0.0.1:7000' });
 */
export function tcp(options: TcpOptions): ProviderV1 {
  return createStreamProvider({
    defaultId: 'tcp',
    caps: TCP_CAPS,
    options,
    endpoint: {
      connectOptions(address) {
        return parseAddress(address, false);
      },
      bind,
    },
  });
}
