/**
 * The GMAC record parser fed chunks at chosen boundaries. A real socket decides its own chunk
 * boundaries (framing.property.test.ts covers that, over loopback); here the chunks are exact,
 * so every byte offset of a wire — inside a header, a batch's frame length, a frame, a tag — is
 * a boundary once, and a whole wire of many records can arrive as one chunk.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { CepError } from '@cep/provider-spec';
import { Conn } from '../src/conn.ts';
import { GmacLink } from '../src/gmac-link.ts';
import { BATCH, DATA } from '../src/record.ts';
import { record } from './fixtures.ts';

const SEND = randomBytes(32);

/** A stand-in for the socket under a {@link Conn}: the test emits its `data` chunks itself. */
function feeder(): { socket: Socket; feed(chunk: Buffer): void } {
  const emitter = new EventEmitter();
  const socket = Object.assign(emitter, {
    writableLength: 0,
    writableNeedDrain: false,
    pause() {},
    resume() {},
    destroy() {},
  }) as unknown as Socket;
  return { socket, feed: (chunk) => emitter.emit('data', chunk) };
}

/** A link that receives with {@link SEND} (the key the test writes records under), and what it delivered. */
function receiver(maxFrameBytes = 1 << 20) {
  const { socket, feed } = feeder();
  const link = new GmacLink(new Conn(socket), { send: randomBytes(32), recv: SEND }, 'earth', maxFrameBytes);
  const frames: Buffer[] = [];
  const errors: CepError[] = [];
  link.start({
    frame: (f) => frames.push(Buffer.from(f)),
    goodbye: () => undefined,
    gone: () => undefined,
    fatal: (e) => errors.push(e),
    drain: () => undefined,
  });
  return { feed, frames, errors };
}

/** A batch record body: each frame as u32 length + bytes. */
function batchBody(frames: Uint8Array[]): Buffer {
  return Buffer.concat(
    frames.flatMap((f) => {
      const n = Buffer.alloc(4);
      n.writeUInt32BE(f.length);
      return [n, Buffer.from(f)];
    }),
  );
}

/** Two batches (one holding an empty frame) around a frame written in place, as one wire, and the frames it carries in order. */
function sampleWire(): { wire: Buffer; frames: Buffer[] } {
  const first = [randomBytes(3), randomBytes(40), Buffer.alloc(0)];
  const large = randomBytes(70);
  const last = [randomBytes(1), randomBytes(17)];
  const wire = Buffer.concat([record(SEND, 0, batchBody(first), BATCH), record(SEND, 1, large, DATA), record(SEND, 2, batchBody(last), BATCH)]);
  return { wire, frames: [...first, large, ...last] };
}

describe('the record parser over arbitrary chunking', () => {
  it('delivers every frame once, in order, whichever byte offset splits the wire', () => {
    const { wire, frames } = sampleWire();
    for (let at = 1; at < wire.length; at++) {
      const r = receiver();
      r.feed(wire.subarray(0, at));
      r.feed(wire.subarray(at));
      expect(r.errors, `split at ${at}`).toEqual([]);
      expect(r.frames, `split at ${at}`).toEqual(frames);
    }
  });

  it('delivers every frame when the wire arrives one byte per chunk', () => {
    const { wire, frames } = sampleWire();
    const r = receiver();
    for (let at = 0; at < wire.length; at++) r.feed(wire.subarray(at, at + 1));
    expect(r.errors).toEqual([]);
    expect(r.frames).toEqual(frames);
  });

  it('delivers many records arriving in one chunk, and nothing of a record whose tag has not arrived', () => {
    const payloads = Array.from({ length: 300 }, (_, i) => randomBytes(i % 50));
    const records = payloads.map((p, seq) => record(SEND, seq, p, DATA));
    const r = receiver();
    const wire = Buffer.concat(records);
    r.feed(wire.subarray(0, wire.length - 1));
    expect(r.frames).toEqual(payloads.slice(0, -1));
    r.feed(wire.subarray(wire.length - 1));
    expect(r.errors).toEqual([]);
    expect(r.frames).toEqual(payloads);
  });

  it('a tampered byte anywhere in a split record fails authentication and delivers none of that record', () => {
    const { wire, frames } = sampleWire();
    const firstRecordEnd = record(SEND, 0, batchBody(frames.slice(0, 3)), BATCH).length;
    for (let at = 13; at < firstRecordEnd; at += 7) {
      const bad = Buffer.from(wire);
      bad[at] = bad[at]! ^ 0x40;
      const r = receiver();
      r.feed(bad.subarray(0, at));
      r.feed(bad.subarray(at));
      expect(r.frames, `tampered at ${at}`).toEqual([]);
      expect(r.errors.map((e) => e.code)).toEqual(['AUTH_FAILED']);
    }
  });
});
