import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { encodeKey, peerIdentity, secureInitiator, secureResponder } from '../src/index.ts';
import { allowing, node, reader } from './helpers.ts';

/** Two in-memory Duplex ends joined back to back: no socket at all. */
function memoryPair(): [Duplex, Duplex] {
  let left!: Duplex;
  let right!: Duplex;
  const end = (peer: () => Duplex): Duplex =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        peer().push(Buffer.from(chunk));
        callback();
      },
      final(callback) {
        peer().push(null);
        callback();
      },
    });
  left = end(() => right);
  right = end(() => left);
  return [left, right];
}

describe('sessions over any Duplex', () => {
  it('runs over an in-memory duplex pair and reports the peer identity for /net', async () => {
    const alice = node('alice');
    const bob = node('bob');
    const [a, b] = memoryPair();
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
