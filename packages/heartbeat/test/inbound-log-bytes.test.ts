import { describe, expect, it } from 'vitest';
import { createRuntime, DEFAULT_INBOUND_LOG_BYTES, replay } from '../src/index.ts';
import { createTree, digestHex } from '@cep/cells';

const MiB = 1024 * 1024;

describe('inbound log byte cap', () => {
  it('keeps only the newest 1 MiB frames that fit the cap, however many beats it covers', () => {
    const rt = createRuntime({ inboundLogBytes: 8 * MiB });
    const committed: number[] = [];
    rt.defineInput('frame', () => undefined);
    rt.onCommitted((beat, inputs) => void committed.push(...inputs.map(() => beat)));
    for (let beat = 0; beat < 40; beat++) {
      rt.pushInput('frame', { stream: 'p', seq: beat + 1, data: new Uint8Array(MiB).fill(beat) });
      rt.step();
      expect(rt.inboundLogStats.bytes).toBeLessThanOrEqual(8 * MiB);
    }
    // A durable store saw every frame; the log keeps the newest eight.
    expect(committed).toHaveLength(40);
    expect(rt.inboundLog.map((entry) => entry.seq)).toEqual([33, 34, 35, 36, 37, 38, 39, 40]);
    expect(rt.inboundLog.at(-1)!.data[0]).toBe(39);
    expect(rt.inboundLogStats).toEqual({ entries: 8, bytes: 8 * MiB, trimmed: 32 });
  });

  it('counts small inputs too, dropping the oldest first within one beat', () => {
    const rt = createRuntime({ inboundLogBytes: 10 });
    rt.defineInput('frame', () => undefined);
    for (let seq = 1; seq <= 6; seq++) rt.pushInput('frame', { stream: 's', seq, data: new Uint8Array(3) });
    rt.step();
    expect(rt.inboundLog.map((entry) => entry.seq)).toEqual([4, 5, 6]);
    rt.clearInboundLog();
    expect(rt.inboundLogStats).toEqual({ entries: 0, bytes: 0, trimmed: 3 });
  });

  it('defaults to DEFAULT_INBOUND_LOG_BYTES and refuses a bad cap', () => {
    expect(DEFAULT_INBOUND_LOG_BYTES).toBe(16 * MiB);
    expect(() => createRuntime({ inboundLogBytes: -1 })).toThrow(expect.objectContaining({ code: 'INPUT_INVALID' }));
  });

  it('a log within the cap still replays to the same digests', () => {
    const rt = createRuntime({ tree: createTree(), inboundLogBytes: 4 * MiB });
    const setup = (r: typeof rt): void => r.defineInput('frame', () => undefined);
    setup(rt);
    const digests: string[] = [];
    for (let beat = 0; beat < 3; beat++) {
      rt.pushInput('frame', { stream: 'p', seq: beat + 1, data: new Uint8Array(MiB) });
      rt.step();
      digests.push(digestHex(rt.tree.root));
    }
    expect(replay(rt.inboundLog, { tree: createTree(), setup, beats: 3, inboundLogBytes: 4 * MiB }).digests).toEqual(digests);
  });
});
