import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { indexOf, leaked, patterned, resources, sameBytes, until, within } from '../src/helpers.ts';

describe('compliance helpers', () => {
  it('builds frames the receiver can regenerate and tell apart', () => {
    const a = patterned(7, 300);
    expect(indexOf(a)).toBe(7);
    expect(sameBytes(a, patterned(7, 300))).toBe(true);
    expect(sameBytes(a, patterned(8, 300))).toBe(false);
    expect(sameBytes(a, patterned(7, 299))).toBe(false);
  });

  it('notices a server left listening, and stops noticing once it is closed', async () => {
    const before = resources();
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    expect(leaked(before)).toContain('TCPServerWrap ×1');
    await new Promise((r) => server.close(r));
    await until(1000, 'the server handle to go', () => leaked(before).length === 0);
    expect(leaked(before)).toEqual([]);
  });

  it('turns a wait that never ends into a bounded failure', async () => {
    await expect(within(30, 'nothing', new Promise(() => {}))).rejects.toThrow(/timed out after 30 ms waiting for nothing/);
  });
});
