import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HandshakeState, type PatternName } from '../src/noise-state.ts';
import { TransportCipher } from '../src/transport-cipher.ts';
import type { CipherName } from '../src/primitives.ts';

interface Vector {
  protocol_name: string;
  init_prologue: string;
  init_psks?: string[];
  init_static: string;
  init_ephemeral: string;
  resp_prologue: string;
  resp_psks?: string[];
  resp_static: string;
  resp_ephemeral: string;
  handshake_hash: string;
  messages: { payload: string; ciphertext: string }[];
}

const vectors = (JSON.parse(readFileSync(new URL('./fixtures/cacophony-xx.json', import.meta.url), 'utf8')) as { vectors: Vector[] }).vectors;
const hex = (s: string): Buffer => Buffer.from(s, 'hex');

describe('published Noise test vectors (cacophony)', () => {
  it('holds the four XX vectors', () => {
    expect(vectors.map((v) => v.protocol_name).sort()).toEqual([
      'Noise_XX_25519_AESGCM_SHA256',
      'Noise_XX_25519_ChaChaPoly_SHA256',
      'Noise_XXpsk3_25519_AESGCM_SHA256',
      'Noise_XXpsk3_25519_ChaChaPoly_SHA256',
    ]);
  });

  for (const vector of vectors) {
    it(`reproduces every byte of ${vector.protocol_name}`, () => {
      const pattern = vector.protocol_name.split('_')[1] as PatternName;
      const cipher = vector.protocol_name.split('_')[3] as CipherName;
      const initiator = new HandshakeState({
        pattern,
        cipher,
        initiator: true,
        prologue: hex(vector.init_prologue),
        staticPrivate: hex(vector.init_static),
        _ephemeralPrivate: hex(vector.init_ephemeral),
        ...(vector.init_psks ? { psk: hex(vector.init_psks[0]!) } : {}),
      });
      const responder = new HandshakeState({
        pattern,
        cipher,
        initiator: false,
        prologue: hex(vector.resp_prologue),
        staticPrivate: hex(vector.resp_static),
        _ephemeralPrivate: hex(vector.resp_ephemeral),
        ...(vector.resp_psks ? { psk: hex(vector.resp_psks[0]!) } : {}),
      });
      const handshakeLength = 3;
      vector.messages.slice(0, handshakeLength).forEach((message, i) => {
        const [writer, reader] = i % 2 === 0 ? [initiator, responder] : [responder, initiator];
        const wire = writer.writeMessage(hex(message.payload));
        expect(wire.toString('hex')).toBe(message.ciphertext);
        expect(reader.readMessage(wire).toString('hex')).toBe(message.payload);
      });
      const i = initiator.split();
      const r = responder.split();
      expect(i.handshakeHash.toString('hex')).toBe(vector.handshake_hash);
      expect(r.handshakeHash.toString('hex')).toBe(vector.handshake_hash);
      // Transport messages: our records carry the same ciphertext, behind a length and counter header.
      const ciphers = {
        initiator: { send: new TransportCipher(i.sendKey, cipher), receive: new TransportCipher(i.receiveKey, cipher) },
        responder: { send: new TransportCipher(r.sendKey, cipher), receive: new TransportCipher(r.receiveKey, cipher) },
      };
      vector.messages.slice(handshakeLength).forEach((message, j) => {
        const [from, to] = (handshakeLength + j) % 2 === 0 ? [ciphers.initiator, ciphers.responder] : [ciphers.responder, ciphers.initiator];
        const counter = from.send.nextCounter;
        const body = Buffer.concat(from.send.sealRaw([hex(message.payload)]));
        expect(body.toString('hex')).toBe(message.ciphertext);
        expect(to.receive.openRaw(counter, body)?.toString('hex')).toBe(message.payload);
      });
    });
  }

  it('refuses a handshake message with one bit flipped', () => {
    const vector = vectors.find((v) => v.protocol_name.includes('psk3'))!;
    const params = { pattern: 'XXpsk3' as const, prologue: hex(vector.init_prologue), psk: hex(vector.init_psks![0]!) };
    const initiator = new HandshakeState({ ...params, initiator: true, staticPrivate: hex(vector.init_static) });
    const responder = new HandshakeState({ ...params, initiator: false, staticPrivate: hex(vector.resp_static) });
    responder.readMessage(initiator.writeMessage(new Uint8Array(0)));
    const second = responder.writeMessage(new Uint8Array(0));
    second[40]! ^= 1;
    expect(() => initiator.readMessage(second)).toThrow(expect.objectContaining({ code: 'NOISE_AUTH_FAILED' }));
  });
});
