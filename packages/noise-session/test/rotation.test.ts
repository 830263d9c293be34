import { afterEach, describe, expect, it } from 'vitest';
import { AllowList, generateKeyPair, secureInitiator, secureResponder, type SecureSession, type StaticKeyPair } from '../src/index.ts';
import { allowing, cleanup, errorOf, node, onCleanup, reader, socketPair } from './helpers.ts';

afterEach(cleanup);

const bob = node('bob');

async function dial(key: StaticKeyPair, serverList: AllowList, versions: { dialer?: number[]; listener?: number[] } = {}) {
  const { client, server } = await socketPair('tcp');
  const results = await Promise.allSettled([
    secureInitiator(client, {
      localName: 'alice',
      staticKey: key,
      allowList: allowing(bob),
      peer: 'bob',
      ...(versions.dialer ? { versions: versions.dialer } : {}),
    }),
    secureResponder(server, { localName: 'bob', staticKey: bob.key, allowList: serverList, ...(versions.listener ? { versions: versions.listener } : {}) }),
  ]);
  for (const result of results) {
    if (result.status !== 'fulfilled') continue;
    result.value.on('error', () => {});
    onCleanup(() => void result.value.destroy());
  }
  return results;
}

function session(result: PromiseSettledResult<SecureSession>): SecureSession {
  if (result.status === 'rejected') throw result.reason;
  return result.value;
}

describe('key roll-over', () => {
  it('accepts both keys of a peer during a roll-over and drops only the removed key’s sessions', async () => {
    const oldKey = generateKeyPair();
    const newKey = generateKeyPair();
    const list = new AllowList({ alice: [oldKey.publicKey, newKey.publicKey] });
    const revoked: string[] = [];
    list.onRevoke((r) => revoked.push(`${r.peer} ${r.fingerprint}`));
    const [oldDialer, oldListener] = await dial(oldKey, list);
    const [newDialer, newListener] = await dial(newKey, list);
    expect(session(oldListener).peer.name).toBe('alice');
    expect(session(newListener).peer.name).toBe('alice');

    const dropped = errorOf(session(oldListener));
    expect(list.remove('alice', oldKey.publicKey)).toBe(true);
    expect((await dropped).code).toBe('NOISE_KEY_REVOKED');
    expect(revoked).toHaveLength(1);
    expect(session(oldDialer).destroyed || (await errorOf(session(oldDialer))).code === 'NOISE_CONNECTION_LOST').toBe(true);

    session(newDialer).send(Buffer.from('still here'));
    expect((await reader(session(newListener)).next()).toString()).toBe('still here');

    const [, again] = await dial(oldKey, list);
    expect(again.status === 'rejected' && (again.reason as { code: string }).code).toBe('NOISE_UNKNOWN_PEER');
  });

  it('drops sessions whose key a config reload (replace) no longer lists', async () => {
    const key = generateKeyPair();
    const list = new AllowList({ alice: key.publicKey });
    const [, listener] = await dial(key, list);
    const dropped = errorOf(session(listener));
    list.replace({ alice: generateKeyPair().publicKey });
    expect((await dropped).code).toBe('NOISE_KEY_REVOKED');
  });
});

describe('allow-list rules', () => {
  it('holds at most two keys per peer and one peer per key', () => {
    const [k1, k2, k3] = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
    const list = new AllowList({ alice: [k1.publicKey, k2.publicKey] });
    expect(() => list.add('alice', k3.publicKey)).toThrow(expect.objectContaining({ code: 'NOISE_INVALID_OPTIONS' }));
    expect(() => list.add('carol', k1.publicKey)).toThrow(expect.objectContaining({ code: 'NOISE_INVALID_OPTIONS' }));
    expect(list.keysOf('alice')).toHaveLength(2);
    expect(list.ownerOf(k2.publicKey)).toBe('alice');
    expect(list.remove('carol', k1.publicKey)).toBe(false);
    expect(() => new AllowList({ alice: new Uint8Array(31) })).toThrow(expect.objectContaining({ code: 'NOISE_INVALID_OPTIONS' }));
  });
});

describe('handshake versions', () => {
  it('falls back to a version both sides speak when the dialler prefers a newer one', async () => {
    const key = generateKeyPair();
    const [dialer, listener] = await dial(key, new AllowList({ alice: key.publicKey }), { dialer: [2, 1], listener: [1] });
    expect(session(dialer).peer.version).toBe(1);
    expect(session(listener).peer.version).toBe(1);
    session(dialer).send(Buffer.from('v1'));
    expect((await reader(session(listener)).next()).toString()).toBe('v1');
  });

  it('uses the dialler’s first choice when the listener speaks it', async () => {
    const key = generateKeyPair();
    const [dialer] = await dial(key, new AllowList({ alice: key.publicKey }), { dialer: [2, 1], listener: [1, 2] });
    expect(session(dialer).peer.version).toBe(2);
  });

  it.each([1, 2])('carries messages with version %i alone', async (version) => {
    const key = generateKeyPair();
    const [dialer, listener] = await dial(key, new AllowList({ alice: key.publicKey }), { dialer: [version], listener: [version] });
    expect(session(listener).peer.version).toBe(version);
    session(dialer).send(Buffer.from(`v${version}`));
    expect((await reader(session(listener)).next()).toString()).toBe(`v${version}`);
  });

  it('refuses an unknown version in its own list (NOISE_INVALID_OPTIONS)', async () => {
    const key = generateKeyPair();
    const { client } = await socketPair('tcp');
    await expect(secureInitiator(client, { localName: 'alice', staticKey: key, allowList: allowing(bob), peer: 'bob', versions: [9] })).rejects.toMatchObject({
      code: 'NOISE_INVALID_OPTIONS',
    });
  });

  it('refuses with NOISE_VERSION_UNSUPPORTED on both sides when no version is shared', async () => {
    const key = generateKeyPair();
    const [dialer, listener] = await dial(key, new AllowList({ alice: key.publicKey }), { dialer: [2], listener: [1] });
    expect(dialer.status === 'rejected' && (dialer.reason as { code: string }).code).toBe('NOISE_VERSION_UNSUPPORTED');
    expect(listener.status === 'rejected' && (listener.reason as { code: string }).code).toBe('NOISE_VERSION_UNSUPPORTED');
  });
});
