import { createCipheriv, randomBytes } from 'node:crypto';
import { connect, type AddressInfo } from 'node:net';
import type { ChannelV1, ListenerV1, ProviderV1 } from '@cep/provider-spec';
import { Conn } from '../src/conn.ts';
import { type SessionKeys, tag } from '../src/crypto.ts';
import { dialHandshake } from '../src/handshake.ts';
import { type RejectInfo, type StreamOptions, createStreamProvider } from '../src/index.ts';
import { writeHeader, HEADER_BYTES } from '../src/record.ts';

/** A plain-TCP stream provider, built here so these tests need no provider package. */
export function loopback(options: StreamOptions): ProviderV1 {
  return createStreamProvider({
    defaultId: 'loop',
    caps: ['reliable', 'ordered'],
    options,
    endpoint: {
      connectOptions(address) {
        const [host, port] = address.split(':');
        return { host: host!, port: Number(port) };
      },
      bind(server, address) {
        const [host, port] = address.split(':');
        return new Promise((resolve) => server.listen({ host, port: Number(port) }, () => resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`)));
      },
    },
  });
}

export const KEY = randomBytes(32);

/** A listening provider for peer "saturn" that trusts "earth" with KEY, plus what it accepted and rejected. */
export async function saturn(extra: Partial<StreamOptions> = {}) {
  const accepted: ChannelV1[] = [];
  const rejected: RejectInfo[] = [];
  const provider = loopback({ localPeer: 'saturn', keys: { earth: KEY }, maxFrameBytes: 1 << 20, onReject: (r) => rejected.push(r), ...extra });
  const listener: ListenerV1 = await provider.listen!({ address: '127.0.0.1:0' }, (ch) => accepted.push(ch));
  return { provider, listener, accepted, rejected };
}

/** A hand-driven authenticated client: it runs the real handshake, then writes whatever records a test wants. */
export async function rawClient(address: string, key: Uint8Array = KEY, mount = 'raw') {
  const [host, port] = address.split(':');
  const socket = connect({ host: host!, port: Number(port) });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const conn = new Conn(socket);
  const { keys, session }: { keys: SessionKeys; session: string } = await dialHandshake(conn, {
    localPeer: 'earth',
    peer: 'saturn',
    mode: 'link',
    mount,
    key,
    session: randomBytes(16),
  });
  return { conn, keys, socket, session };
}

/** One record as the wire carries it, with a valid tag under `key`. */
export function record(key: Buffer, seq: number, payload: Uint8Array, type = 1): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  writeHeader(header, 0, payload.length, type, seq);
  return Buffer.concat([header, payload, tag(key, seq, header, payload)]);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function until(ms: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await sleep(5);
  }
}

/** Node's AES-256-GCM with an empty plaintext, the IV as the record layer builds it: the reference. */
export function gcmTag(key: Buffer, seq: number, header: Uint8Array, payload: Uint8Array): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), 4);
  iv.writeUInt32BE(seq >>> 0, 8);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.concat([header, payload]));
  cipher.final();
  return cipher.getAuthTag();
}
