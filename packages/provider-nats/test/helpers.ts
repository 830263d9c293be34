import { randomBytes } from 'node:crypto';
import type { ChannelV1, ProviderV1 } from '@cep/provider-spec';
import { nats, type NatsOptions } from '../src/index.ts';

/** Waits until `check` holds, polling; throws after `ms` naming `what`. */
export async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Collects every frame a channel yields, copying each (they may be views). */
export function collect(channel: ChannelV1): Uint8Array[] {
  const got: Uint8Array[] = [];
  void (async () => {
    for await (const frame of channel.frames()) got.push(Uint8Array.from(frame));
  })();
  return got;
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const str = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Two providers on one server that trust each other, a listener on a fresh prefix, and one open channel. */
export async function connectedPair(
  url: string,
  extra: { earth?: Partial<NatsOptions>; saturn?: Partial<NatsOptions> } = {},
): Promise<{ earth: ProviderV1; saturn: ProviderV1; local: ChannelV1; remote: ChannelV1; prefix: string; close(): Promise<void> }> {
  const key = randomBytes(32);
  const earth = nats({ localPeer: 'earth', keys: { saturn: key }, servers: url, ...extra.earth });
  const saturn = nats({ localPeer: 'saturn', keys: { earth: key }, servers: url, ...extra.saturn });
  const prefix = `cep.t.${randomBytes(6).toString('hex')}`;
  const accepted: ChannelV1[] = [];
  await saturn.listen!({ address: prefix }, (ch) => accepted.push(ch));
  const local = await earth.open({ peer: 'saturn', mode: 'link', mount: 'main', localNode: 'earth', address: prefix });
  await until('the accepted channel', () => accepted.length === 1);
  return {
    earth,
    saturn,
    local,
    remote: accepted[0]!,
    prefix,
    async close() {
      await earth.close();
      await saturn.close();
    },
  };
}
