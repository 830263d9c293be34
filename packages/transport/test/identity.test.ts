import { afterEach, describe, expect, it } from 'vitest';
import { createTree, digestHex, text, u64 } from '@cep/cells';
import { CepError } from '@cep/errors';
import { createRuntime, replay, type Runtime } from '@cep/heartbeat';
import { createTransportManager, type TransportManager } from '@cep/transport';
import { FakeProvider, settle } from './fake-provider.ts';

const RELIABLE = ['reliable', 'ordered', 'streaming', 'remote_net', 'crc32c', 'deflate', 'aead'];
const KEY = new Uint8Array(32).fill(9);
const SATURN = {
  publicKey: 'c2F0dXJuLWtleS0xLWJhc2U2NC1wdWJsaWMta2V5LXg=',
  fingerprint: 'SHA256:abc',
  protocol: 'Noise_XXpsk3_25519_ChaChaPoly_SHA256',
  version: 1,
};

let managers: TransportManager[] = [];
afterEach(async () => {
  await Promise.all(managers.map((m) => m.close()));
  managers = [];
});

function setup(provider: FakeProvider, runtime: Runtime = createRuntime(), offline = false) {
  const manager = createTransportManager(runtime, {
    localNode: 'earth',
    providers: [provider],
    addressOf: (peer) => `${peer}.test`,
    peerKey: () => KEY,
    offline,
  });
  managers.push(manager);
  return { runtime, manager, tree: runtime.tree };
}

async function beat(runtime: Runtime, n = 1): Promise<void> {
  for (let i = 0; i < n; i++) {
    await settle();
    runtime.step();
  }
}

describe('/net/peers/<peer>/identity', () => {
  it('records the identity a dialled channel proved', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    tcp.remoteIdentity = SATURN;
    const { runtime, manager, tree } = setup(tcp);
    manager.configure({ peer: 'saturn', mode: 'mirror', mount: 'main' });
    await beat(runtime);
    expect(tree.getValue('/net/peers/saturn/identity/name')).toEqual(text('saturn'));
    expect(tree.getValue('/net/peers/saturn/identity/public_key')).toEqual(text(SATURN.publicKey));
    expect(tree.getValue('/net/peers/saturn/identity/fingerprint')).toEqual(text('SHA256:abc'));
    expect(tree.getValue('/net/peers/saturn/identity/protocol')).toEqual(text(SATURN.protocol));
    expect(tree.getValue('/net/peers/saturn/identity/version')).toEqual(u64(1n));
  });

  it('records the identity of an accepted channel, and a new key after a reconnect (roll-over)', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { runtime, manager, tree } = setup(tcp);
    await manager.listen('tcp', 'x');
    tcp.remoteIdentity = SATURN;
    const channel = tcp.incoming('saturn', 'mirror', 'main');
    await beat(runtime);
    expect(tree.getValue('/net/peers/saturn/identity/fingerprint')).toEqual(text('SHA256:abc'));
    (channel as { info: object }).info = { ...channel.info, remoteIdentity: { ...SATURN, publicKey: 'bmV3LWtleQ==', fingerprint: 'SHA256:new' } };
    channel.raise({ type: 'session', id: 'sat-2' });
    await beat(runtime);
    expect(tree.getValue('/net/peers/saturn/identity/fingerprint')).toEqual(text('SHA256:new'));
    expect(tree.getValue('/net/peers/saturn/identity/public_key')).toEqual(text('bmV3LWtleQ=='));
  });

  it('records nothing for a provider without identities, or one reporting something that is not one', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { runtime, manager, tree } = setup(tcp);
    manager.configure({ peer: 'saturn', mode: 'mirror', mount: 'a' });
    tcp.remoteIdentity = { publicKey: '', fingerprint: 'SHA256:x' };
    manager.configure({ peer: 'saturn', mode: 'mirror', mount: 'b' });
    await beat(runtime);
    expect(tree.get('/net/peers/saturn/identity')).toBeUndefined();
  });

  it('a replay of the live inputs writes the same identity at the same beat', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    tcp.remoteIdentity = SATURN;
    const live = setup(tcp);
    live.manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    const digests: string[] = [];
    for (let i = 0; i < 4; i++) {
      await beat(live.runtime);
      if (i === 1) tcp.channels[0]!.raise({ type: 'fatal', error: new CepError('CONNECTION_LOST', 'gone') });
      digests.push(digestHex(live.runtime.tree.root));
    }
    expect(live.tree.getValue('/net/peers/saturn/identity/fingerprint')).toEqual(text('SHA256:abc'));
    const replayed = replay(live.runtime.inboundLog, {
      tree: createTree(),
      beats: 4,
      setup: (runtime) => {
        const manager = createTransportManager(runtime, {
          localNode: 'earth',
          offline: true,
          addressOf: (peer) => `${peer}.test`,
          peerKey: () => KEY,
          providers: [new FakeProvider('tcp', RELIABLE)],
        });
        manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
      },
    });
    expect(replayed.digests).toEqual(digests);
  });
});
