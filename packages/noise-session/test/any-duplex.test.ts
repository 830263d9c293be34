import { describe, expect, it } from 'vitest';
import { encodeKey, peerIdentity, secureInitiator, secureResponder } from '../src/index.ts';
import { allowing, duplexPair, node, reader } from './helpers.ts';

describe('sessions over any Duplex', () => {
  it('runs over an in-memory duplex pair and reports the peer identity for /net', async () => {
    const alice = node('alice');
    const bob = node('bob');
    const [a, b] = duplexPair();
    const [dialer, listener] = await Promise.all([
      secureInitiator(a, { localName: 'alice', staticKey: alice.key, allowList: allowing(bob), peer: 'bob' }),
      secureResponder(b, { localName: 'bob', staticKey: bob.key, allowList: allowing(alice) }),
    ]);
    dialer.send(Buffer.from('over memory'));
    expect((await reader(listener).next()).toString()).toBe('over memory');
    expect(peerIdentity(listener.peer)).toEqual({
      name: 'alice',
      publicKey: encodeKey(alice.key.publicKey),
      fingerprint: listener.peer.fingerprint,
      version: 1,
      protocol: 'Noise_XXpsk3_25519_ChaChaPoly_SHA256',
    });
    dialer.end();
    listener.end();
    expect(await reader(dialer).ended()).toBe(true);
  });
});
