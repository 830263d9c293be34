import type { ProviderV1 } from '@cep/provider-spec';
import { createStreamProvider, type StreamOptions } from '@cep/stream-session';
import { bindPath, checkPath, releasePath } from './socket-file.ts';

/** Options of {@link pipe}: the shared stream options (keys, limits, backoff). */
export type PipeOptions = StreamOptions;

/** Capabilities every pipe provider advertises. */
export const PIPE_CAPS = ['reliable', 'ordered', 'streaming', 'local_ipc', 'low_latency', 'crc32c', 'deflate', 'aead'] as const;

/**
 * A CEP transport provider over Unix domain sockets (named pipes on Windows). Addresses
 * are socket paths. The same authenticated framing as `@cep/provider-tcp`; the socket
 * file is created owner-only, removed on close, and a stale one is cleared at listen.
 *
 * @example
 * const earth = pipe({ localPeer: 'earth', keys: { saturn: key } });
 * const channel = await earth.open({ peer: 'saturn', mode: 'link', mount: 'main', localNode: 'earth', address: '/run/cep/saturn.sock' });
 */
export function pipe(options: PipeOptions): ProviderV1 {
  return createStreamProvider({
    defaultId: 'pipe',
    caps: PIPE_CAPS,
    options,
    endpoint: {
      connectOptions(address) {
        return { path: checkPath(address) };
      },
      bind: bindPath,
      release: releasePath,
    },
  });
}
