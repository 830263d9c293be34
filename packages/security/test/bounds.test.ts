import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createTree } from '@cep/cells';
import { admitInvokeId, admitInvokeIdVerdict, newInvokeId, pruneUsage, recordUsage, usageOf } from '../src/index.ts';

describe('the replay guard is bounded in records', () => {
  it('a full guard refuses a new id without remembering it; once the window frees room the same id runs once, never twice', () => {
    const tree = createTree();
    const first = [newInvokeId(), newInvokeId(), newInvokeId()];
    for (const id of first) expect(admitInvokeIdVerdict(tree, id, 10, 3)).toBe('fresh');
    const late = newInvokeId();
    tree.setBeat(5);
    expect(admitInvokeIdVerdict(tree, late, 10, 3)).toBe('full');
    expect(tree.get('/rt/security/seen')!.size).toBe(3);
    // Ids inside the window are never given up for room: each is still refused as seen.
    for (const id of first) expect(admitInvokeIdVerdict(tree, id, 10, 3)).toBe('seen');
    tree.setBeat(11); // the beat-0 ids leave the window
    expect(admitInvokeIdVerdict(tree, late, 10, 3)).toBe('fresh');
    expect(admitInvokeIdVerdict(tree, late, 10, 3)).toBe('seen');
    expect(admitInvokeId(tree, late, 10, 3)).toBe(false);
    expect(tree.get('/rt/security/seen')!.size).toBe(1);
  });

  it('never admits an id twice within the window and never holds more than maxIds ids, whatever the bound (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 9 })), { maxLength: 80 }),
        (maxIds, steps) => {
          const window = 8;
          const tree = createTree();
          const ids = Array.from({ length: 10 }, () => newInvokeId());
          const ranAt = new Map<string, number>(); // the beat each id last ran
          let beat = 0;
          for (const [advance, pick] of steps) {
            beat += advance;
            tree.setBeat(beat);
            const id = ids[pick]!;
            const verdict = admitInvokeIdVerdict(tree, id, window, maxIds);
            const last = ranAt.get(id);
            if (last !== undefined && last >= beat - window) expect(verdict).toBe('seen');
            if (verdict === 'fresh') ranAt.set(id, beat);
            expect(tree.get('/rt/security/seen')!.size).toBeLessThanOrEqual(maxIds);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decides the same on a replay of the same admissions (the tree alone decides)', () => {
    const ids = Array.from({ length: 12 }, () => newInvokeId());
    const run = (): string[] => {
      const tree = createTree();
      const out: string[] = [];
      ids.forEach((id, i) => {
        tree.setBeat(i * 2);
        out.push(admitInvokeIdVerdict(tree, id, 6, 2), admitInvokeIdVerdict(tree, ids[Math.max(0, i - 1)]!, 6, 2));
      });
      return out;
    };
    const first = run();
    expect(first).toContain('full');
    expect(run()).toEqual(first);
  });
});

describe('the usage ledger is bounded in records', () => {
  it('keeps at most maxRecords, removing the oldest beats first, down to seven eighths of the bound', () => {
    const tree = createTree();
    const byBeat: string[][] = [];
    for (let beat = 0; beat < 10; beat++) {
      tree.setBeat(beat);
      byBeat[beat] = [];
      for (let i = 0; i < 3; i++) {
        const id = newInvokeId();
        byBeat[beat]!.push(id);
        recordUsage(tree, id, { ioBytes: 1 + i }, 16);
        expect(tree.get('/journal/decisions/sec')!.size).toBeLessThanOrEqual(16);
      }
    }
    // 30 records through a bound of 16: the newest beats are all there, the oldest are gone.
    for (const id of byBeat[9]!) expect(usageOf(tree, id)).toMatchObject({ ioBytes: expect.any(Number) });
    for (const id of byBeat[0]!) expect(usageOf(tree, id)).toEqual({});
    const kept = byBeat.map((ids) => ids.filter((id) => usageOf(tree, id).ioBytes !== undefined).length);
    // Whole beats at a time, oldest first: a prefix of beats gone, the rest complete.
    const firstKept = kept.findIndex((n) => n > 0);
    expect(kept.slice(0, firstKept).every((n) => n === 0)).toBe(true);
    expect(kept.slice(firstKept).every((n) => n === 3)).toBe(true);
  });

  it('a record found below the ledger adds to its totals; one deleted or removed (or the ledger itself) starts again from zero', () => {
    const tree = createTree();
    const [a, b, c] = [newInvokeId(), newInvokeId(), newInvokeId()];
    expect(recordUsage(tree, a, { beats: 2 })).toEqual({ beats: 2, cpuNs: 0, ioBytes: 0, wallMs: 0 });
    expect(recordUsage(tree, a, { beats: 3, ioBytes: 7 })).toEqual({ beats: 5, cpuNs: 0, ioBytes: 7, wallMs: 0 });
    recordUsage(tree, b, { beats: 4 });
    recordUsage(tree, c, { beats: 6 });
    tree.delete(`/journal/decisions/sec/${a}`);
    tree.remove(`/journal/decisions/sec/${b}/usage`);
    expect(recordUsage(tree, a, { beats: 1 })).toEqual({ beats: 1, cpuNs: 0, ioBytes: 0, wallMs: 0 });
    expect(tree.get(`/journal/decisions/sec/${a}/usage/io_bytes`)).toBeUndefined(); // revived, not its old fields
    expect(recordUsage(tree, b, { ioBytes: 2 })).toEqual({ beats: 0, cpuNs: 0, ioBytes: 2, wallMs: 0 });
    expect(usageOf(tree, c).beats).toBe(6);
    tree.delete('/journal/decisions/sec');
    expect(recordUsage(tree, c, { wallMs: 9 })).toEqual({ beats: 0, cpuNs: 0, ioBytes: 0, wallMs: 9 });
    expect(usageOf(tree, c)).toMatchObject({ wallMs: 9 });
    expect(usageOf(tree, a).beats).toBeUndefined();
  });

  it('adding to a record that is there never evicts, and pruneUsage by beat still works', () => {
    const tree = createTree();
    const ids = Array.from({ length: 4 }, () => newInvokeId());
    ids.forEach((id) => recordUsage(tree, id, { beats: 1 }, 4));
    recordUsage(tree, ids[0]!, { cpuNs: 5 }, 4);
    for (const id of ids) expect(usageOf(tree, id).beats).toBe(1);
    expect(usageOf(tree, ids[0]!).cpuNs).toBe(5);
    tree.setBeat(3);
    expect(pruneUsage(tree, 3)).toBe(4);
  });
});
