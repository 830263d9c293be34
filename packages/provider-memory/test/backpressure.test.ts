import { describe, expect, it } from 'vitest';
import { memoryHooks, QUEUED_FRAME_OVERHEAD } from '@cep/provider-memory';
import { codeOf, events, indexOf, numbered, pair, puller } from './util.ts';

const FRAME = 100;
const COST = FRAME + QUEUED_FRAME_OVERHEAD; // 132
const limits = { highWaterBytes: 1000, hardLimitBytes: 2000, maxFrameBytes: 256 };

describe('backpressure driven by the receiver pulling', () => {
  it('answers backpressure once unpulled bytes pass highWaterBytes, with one event', async () => {
    const { earth, local } = await pair(limits);
    const seen = events(local);
    const answers = Array.from({ length: 9 }, (_, i) => local.send(numbered(i, FRAME)));
    // 7 × 132 = 924 ≤ 1000; the 8th makes 1056.
    expect(answers).toEqual([...Array(7).fill('ready'), 'backpressure', 'backpressure']);
    expect(seen).toEqual([{ type: 'backpressure', bufferedBytes: 8 * COST }]);
    expect(memoryHooks(earth).bufferedBytes(local)).toBe(9 * COST);
  });

  it('fires ready only when the far side has pulled down to half of highWaterBytes', async () => {
    const { local, remote } = await pair(limits);
    const seen = events(local);
    for (let i = 0; i < 8; i++) local.send(numbered(i, FRAME));
    const inbound = puller(remote);
    const readiesAfterPull: number[] = [];
    for (let i = 0; i < 8; i++) {
      expect(indexOf((await inbound.next())!)).toBe(i);
      readiesAfterPull.push(seen.filter((e) => e.type === 'ready').length);
    }
    // 1056 → 924 → 792 → 660 → 528 → 396 (≤ 500: ready) …
    expect(readiesAfterPull).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(seen.map((e) => e.type)).toEqual(['backpressure', 'ready']);
  });

  it('keeps answering backpressure until ready, even once below highWaterBytes', async () => {
    const { local, remote } = await pair(limits);
    for (let i = 0; i < 8; i++) local.send(numbered(i, FRAME));
    const inbound = puller(remote);
    await inbound.next(); // 924 unpulled: under the mark but above half
    expect(local.send(numbered(8, FRAME))).toBe('backpressure');
  });

  it('throws CHANNEL_OVERFLOW past hardLimitBytes without queueing the frame, and recovers after pulls', async () => {
    const { earth, local, remote } = await pair(limits);
    for (let i = 0; i < 15; i++) local.send(numbered(i, FRAME)); // 15 × 132 = 1980
    expect(codeOf(() => local.send(numbered(15, FRAME)))).toBe('CHANNEL_OVERFLOW');
    expect(memoryHooks(earth).bufferedBytes(local)).toBe(15 * COST);
    const inbound = puller(remote);
    await inbound.next();
    expect(local.send(numbered(15, FRAME))).toBe('backpressure');
    const rest: number[] = [];
    for (let i = 0; i < 15; i++) rest.push(indexOf((await inbound.next())!));
    expect(rest).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
  });

  it('bounds a flood of empty frames too (each counts its bookkeeping)', async () => {
    const { local } = await pair(limits);
    let code: string | undefined;
    let sent = 0;
    while (code === undefined && sent < 1000) {
      code = codeOf(() => local.send(new Uint8Array(0)));
      if (code === undefined) sent++;
    }
    expect(code).toBe('CHANNEL_OVERFLOW');
    expect(sent).toBe(Math.floor(2000 / QUEUED_FRAME_OVERHEAD));
  });

  it('copies frames on send, so the sender may reuse its buffer (Buffer included)', async () => {
    const { local, remote } = await pair();
    const reused = new Uint8Array([1, 2, 3, 4]);
    local.send(reused);
    reused.fill(9);
    const nodeBuffer = Buffer.from([5, 6, 7]);
    local.send(nodeBuffer);
    nodeBuffer.fill(0);
    const inbound = puller(remote);
    expect([...(await inbound.next())!]).toEqual([1, 2, 3, 4]);
    expect([...(await inbound.next())!]).toEqual([5, 6, 7]);
  });

  it('copies mid-sized frames intact across slab boundaries, and never rewrites a frame already received', async () => {
    const { local, remote } = await pair();
    const buffer = new Uint8Array(1000);
    const inbound = puller(remote);
    const kept: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) {
      buffer.fill(i & 0xff);
      new DataView(buffer.buffer).setUint32(0, i);
      local.send(buffer);
      if (i % 7 === 0) kept.push((await inbound.next())!);
    }
    buffer.fill(0);
    await local.close('done');
    const all = [...kept, ...(await inbound.rest())];
    expect(all.map(indexOf)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    for (const frame of all) expect(frame.subarray(4).every((b) => b === (indexOf(frame) & 0xff))).toBe(true);
  });

  it('lets frames() be taken once (FRAMES_TAKEN), and pulls nothing until asked', async () => {
    const { saturn, local, remote } = await pair();
    local.send(numbered(1));
    remote.frames();
    expect(codeOf(() => remote.frames())).toBe('FRAMES_TAKEN');
    expect(memoryHooks(saturn).bufferedBytes(remote)).toBe(0);
  });

  it('yields frames that arrived before close, then ends, on both sides', async () => {
    const { local, remote } = await pair();
    local.send(numbered(1));
    local.send(numbered(2));
    remote.send(numbered(3));
    await local.close('done');
    expect((await puller(remote).rest()).map(indexOf)).toEqual([1, 2]);
    expect((await puller(local).rest()).map(indexOf)).toEqual([3]);
    expect(codeOf(() => remote.send(numbered(4)))).toBe('CHANNEL_CLOSED');
  });
});
