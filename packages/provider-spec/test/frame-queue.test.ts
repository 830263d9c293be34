/** createFrameQueue: order, the high- and low-water marks, the end, and a reader that leaves. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createFrameQueue, isCepError } from '@cep/provider-spec';

const bytes = (n: number, fill = 0): Uint8Array => new Uint8Array(n).fill(fill);

async function collect(iterable: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const frame of iterable) out.push(frame);
  return out;
}

describe('createFrameQueue', () => {
  it('yields the frames in push order, the same objects, then ends after end()', async () => {
    const queue = createFrameQueue({ highWaterMark: 1000 });
    const frames = [bytes(3, 1), bytes(0), bytes(5, 2)];
    for (const frame of frames) queue.push(frame);
    queue.end();
    const got = await collect(queue.frames());
    expect(got).toHaveLength(3);
    got.forEach((frame, i) => {
      expect(frame).toBe(frames[i]);
    });
  });

  it('hands a frame to a reader that was already waiting', async () => {
    const queue = createFrameQueue({ highWaterMark: 1000 });
    const iterator = queue.frames()[Symbol.asyncIterator]();
    const first = iterator.next();
    const second = iterator.next();
    const a = bytes(1, 7);
    const b = bytes(2, 8);
    queue.push(a);
    queue.push(b);
    expect(await first).toEqual({ done: false, value: a });
    expect(await second).toEqual({ done: false, value: b });
    expect(queue.bufferedFrames).toBe(0);
    const third = iterator.next();
    queue.end();
    expect(await third).toEqual({ done: true, value: undefined });
  });

  it('answers pause at the high-water mark and calls onDrain once at the low-water mark', async () => {
    let drains = 0;
    const queue = createFrameQueue({ highWaterMark: 100, lowWaterMark: 40, onDrain: () => drains++ });
    expect(queue.push(bytes(60))).toBe('more');
    expect(queue.push(bytes(30))).toBe('more');
    expect(queue.push(bytes(10))).toBe('pause'); // 100 buffered
    expect(queue.push(bytes(10))).toBe('pause'); // still kept: the mark never drops a frame
    expect(queue.bufferedBytes).toBe(110);
    const iterator = queue.frames()[Symbol.asyncIterator]();
    await iterator.next(); // 50 left: above the low mark
    expect(drains).toBe(0);
    await iterator.next(); // 20 left
    expect(drains).toBe(1);
    await iterator.next();
    await iterator.next();
    expect(drains).toBe(1);
    expect(queue.push(bytes(10))).toBe('more');
  });

  it('never holds more than the mark plus what was pushed after a pause (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 500 }),
        fc.array(fc.oneof(fc.integer({ min: 0, max: 120 }), fc.constant(-1)), { maxLength: 60 }),
        async (mark, script) => {
          // -1 pulls one frame; n pushes n bytes unless the queue said pause (a provider that obeys).
          let paused = false;
          let drains = 0;
          const queue = createFrameQueue({ highWaterMark: mark, onDrain: () => drains++ });
          const iterator = queue.frames()[Symbol.asyncIterator]();
          const pushed: Uint8Array[] = [];
          const pulled: Uint8Array[] = [];
          for (const step of script) {
            if (step === -1) {
              if (queue.bufferedFrames > 0) pulled.push((await iterator.next()).value as Uint8Array);
              if (drains > 0) paused = false;
              drains = 0;
            } else if (!paused) {
              const frame = bytes(step);
              pushed.push(frame);
              paused = queue.push(frame) === 'pause';
              expect(queue.bufferedBytes).toBeLessThan(mark + step + 1);
            }
          }
          queue.end();
          for await (const frame of { [Symbol.asyncIterator]: () => iterator }) pulled.push(frame);
          expect(pulled).toEqual(pushed);
          expect(pulled.every((frame, i) => frame === pushed[i])).toBe(true);
        },
      ),
    );
  });

  it('notices a reader that breaks out of for-await: drops the buffer, calls onReaderLeft once, ignores later pushes', async () => {
    let left = 0;
    const queue = createFrameQueue({ highWaterMark: 1000, onReaderLeft: () => left++ });
    queue.push(bytes(4));
    queue.push(bytes(4));
    for await (const _frame of queue.frames()) break;
    expect(left).toBe(1);
    expect(queue.readerLeft).toBe(true);
    expect(queue.bufferedBytes).toBe(0);
    expect(queue.push(bytes(4))).toBe('pause');
    expect(queue.bufferedFrames).toBe(0);
    queue.end();
    expect(left).toBe(1);
  });

  it('notices a reader that throws inside its loop, and wakes a waiting next() with done', async () => {
    let left = 0;
    const queue = createFrameQueue({ highWaterMark: 1000, onReaderLeft: () => left++ });
    queue.push(bytes(1));
    await expect(
      (async () => {
        for await (const _frame of queue.frames()) throw new Error('reader crashed');
      })(),
    ).rejects.toThrow('reader crashed');
    expect(left).toBe(1);

    const other = createFrameQueue({ highWaterMark: 1000, onReaderLeft: () => left++ });
    const iterator = other.frames()[Symbol.asyncIterator]();
    const waiting = iterator.next();
    await iterator.return?.();
    expect(await waiting).toEqual({ done: true, value: undefined });
    expect(left).toBe(2);
  });

  it('does not call onReaderLeft for a reader that read to the end', async () => {
    let left = 0;
    const queue = createFrameQueue({ highWaterMark: 10, onReaderLeft: () => left++ });
    queue.push(bytes(1));
    queue.end();
    expect(await collect(queue.frames())).toHaveLength(1);
    expect(left).toBe(0);
  });

  it('has a single reader: a second frames() throws FRAMES_TAKEN', () => {
    const queue = createFrameQueue({ highWaterMark: 10 });
    queue.frames();
    const error = (() => {
      try {
        queue.frames();
      } catch (e) {
        return e;
      }
    })();
    expect(isCepError(error) && error.code).toBe('FRAMES_TAKEN');
  });

  it('refuses marks that are not positive integers, or a low mark not under the high mark, with INVALID_OPTIONS', () => {
    for (const options of [
      { highWaterMark: 0 },
      { highWaterMark: 1.5 },
      { highWaterMark: Number.NaN },
      { highWaterMark: 10, lowWaterMark: 10 },
      { highWaterMark: 10, lowWaterMark: -1 },
      { highWaterMark: 10, maxFrames: 0 },
      { highWaterMark: 10, maxFrames: 2.5 },
    ]) {
      expect(() => createFrameQueue(options), JSON.stringify(options)).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
    }
  });

  it('keeps order and byte counts across many interleaved pushes and pulls (the buffer compacts as it goes)', async () => {
    const queue = createFrameQueue({ highWaterMark: 1 << 30 });
    const iterator = queue.frames()[Symbol.asyncIterator]();
    let pushed = 0;
    let pulled = 0;
    // Push 3, pull 2, so the buffer grows past the compaction threshold while its head moves.
    for (let round = 0; round < 2000; round++) {
      for (let k = 0; k < 3; k++) queue.push(bytes((pushed % 7) + 1, pushed++ % 256));
      for (let k = 0; k < 2; k++) {
        const { value } = await iterator.next();
        expect(value?.[0]).toBe(pulled % 256);
        expect(value?.byteLength).toBe((pulled % 7) + 1);
        pulled++;
      }
    }
    expect(queue.bufferedFrames).toBe(pushed - pulled);
    let expectedBytes = 0;
    for (let i = pulled; i < pushed; i++) expectedBytes += (i % 7) + 1;
    expect(queue.bufferedBytes).toBe(expectedBytes);
    queue.end();
    for (;;) {
      const { done, value } = await iterator.next();
      if (done) break;
      expect(value[0]).toBe(pulled++ % 256);
    }
    expect(pulled).toBe(pushed);
  });

  it('with maxFrames drops the oldest frames a push would exceed, and counts their bytes out', async () => {
    const queue = createFrameQueue({ highWaterMark: 1000, maxFrames: 2 });
    queue.push(bytes(1, 1));
    queue.push(bytes(2, 2));
    queue.push(bytes(3, 3));
    expect(queue.bufferedFrames).toBe(2);
    expect(queue.bufferedBytes).toBe(5);
    queue.end();
    expect((await collect(queue.frames())).map((f) => f[0])).toEqual([2, 3]);
  });

  it('without maxFrames never drops a frame, whatever the marks', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(20), { maxLength: 50 }), fc.integer({ min: 1, max: 30 }), async (sizes, mark) => {
        const queue = createFrameQueue({ highWaterMark: mark });
        for (const size of sizes) queue.push(bytes(size));
        queue.end();
        expect((await collect(queue.frames())).map((f) => f.byteLength)).toEqual(sizes);
      }),
    );
  });
});
