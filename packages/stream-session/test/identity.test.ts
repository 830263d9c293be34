import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CepError } from '@cep/provider-spec';
import { decodeHello, decodeWelcome, encodeHello, encodeWelcome, toStreamError } from '../src/identity.ts';
import { AllowList, generateKeyPair } from '../src/index.ts';
import { loopback } from './fixtures.ts';

describe('the channel hello and welcome inside a Noise session', () => {
  it('round-trips mode, mount and session id', () => {
    const session = randomBytes(16);
    expect(decodeHello(encodeHello('mirror', 'sky', session))).toEqual({ mode: 'mirror', mount: 'sky', session: session.toString('hex') });
    expect(decodeWelcome(encodeWelcome(session))).toBe(session.toString('hex'));
  });

  it('refuses a malformed hello or welcome with PROTOCOL_ERROR', () => {
    const good = encodeHello('link', 'main', randomBytes(16));
    const bad: Buffer[] = [
      Buffer.alloc(0),
      Buffer.concat([Uint8Array.of(2), good.subarray(1)]), // another hello version
      good.subarray(0, good.length - 1), // session id cut short
      Buffer.concat([good, Uint8Array.of(0)]), // trailing byte
      Buffer.from([1, 0, 4, 0x6d, 0x61, 0x69, 0x6e]), // empty mode
      Buffer.from([1, 200, 0x61]), // a name longer than the message
    ];
    for (const hello of bad) expect(() => decodeHello(hello)).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
    for (const welcome of [Buffer.alloc(16), Buffer.alloc(18), Buffer.concat([Uint8Array.of(9), randomBytes(16)])]) {
      expect(() => decodeWelcome(welcome)).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
    }
  });
});

describe('noise-session errors as provider codes', () => {
  it.each([
    ['NOISE_UNKNOWN_PEER', 'AUTH_FAILED'],
    ['NOISE_AUTH_FAILED', 'AUTH_FAILED'],
    ['NOISE_KEY_REVOKED', 'AUTH_FAILED'],
    ['NOISE_VERSION_UNSUPPORTED', 'AUTH_FAILED'],
    ['NOISE_PEER_MISMATCH', 'PEER_MISMATCH'],
    ['NOISE_REPLAY', 'REPLAYED_FRAME'],
    ['NOISE_OUT_OF_ORDER', 'REPLAYED_FRAME'],
    ['NOISE_RECORD_TOO_LARGE', 'FRAME_TOO_LARGE'],
    ['NOISE_CONNECTION_LOST', 'CONNECTION_LOST'],
    ['NOISE_HANDSHAKE_TRUNCATED', 'CONNECTION_LOST'],
    ['NOISE_PROTOCOL_ERROR', 'PROTOCOL_ERROR'],
  ])('%s → %s, keeping the original code', (noise, code) => {
    const mapped = toStreamError(new CepError(noise, 'x', { owner: 'mallory' }));
    expect(mapped).toMatchObject({ code, details: { noiseCode: noise, peer: 'mallory' } });
  });

  it('leaves a provider error as it is', () => {
    const error = new CepError('HANDSHAKE_TIMEOUT', 'slow');
    expect(toStreamError(error)).toBe(error);
  });
});

describe('identity options', () => {
  const pair = generateKeyPair();
  it.each([
    ['an allow-list that is not an AllowList', { staticKey: pair, allowList: {} as AllowList }],
    ['a static key of the wrong size', { staticKey: { publicKey: new Uint8Array(31), privateKey: pair.privateKey }, allowList: new AllowList() }],
    ['a PSK of the wrong size', { staticKey: pair, allowList: new AllowList(), psks: { saturn: new Uint8Array(16) } }],
  ])('refuses %s with INVALID_OPTIONS', (_, identity) => {
    expect(() => loopback({ localPeer: 'earth', identity })).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
  });

  it('refuses to open a channel to a peer with neither a key nor a public key, before dialling', async () => {
    const provider = loopback({ localPeer: 'earth', identity: { staticKey: pair, allowList: new AllowList() } });
    await expect(provider.open({ peer: 'saturn', mode: 'link', mount: 'main', localNode: 'earth', address: '127.0.0.1:1' })).rejects.toMatchObject({
      code: 'AUTH_FAILED',
    });
    await provider.close();
  });
});
