/**
 * Head of line between two real `cep-node` processes over TCP: calls on the invoke mount, made
 * together while saturn's large branch is still streaming to earth on the mirror mount,
 * complete before the mirror does (they do not wait behind the bundle's parts), and the copy
 * still converges. Not timed: the mirror's length in beats is bounded below by its bytes (about
 * 60 KB of parts per saturn beat), the calls' by a few beats each.
 */
import { describe, expect, it } from 'vitest';
import type { RunningPeer } from './harness/peer-process.ts';
import { COPY, SKY, startEarth, startSaturn, untilActive, untilMirrored, withPeers } from './support/federation.ts';

/**
 * Cells `sky` fills in one beat: ~0.6 MB of parts with AEAD in the mirror's packed form (about
 * 14 bytes a cell), ten beats or more of its budget. Not more: saturn's fill beat must stay well
 * inside the calls' 200-beat deadline on a busy machine.
 */
const CELLS = 45_000;
/** The last cell the sky handler writes, as it lands in earth's copy (see support/federation.ts). */
const LAST = `/stars/${Math.floor((CELLS - 2) / 100) + 1}/${((CELLS - 2) % 100) + 2}`;

/** Whether `peer` has a live cell at `path` (its HTTP endpoint answers 404 when not). */
async function has(peer: RunningPeer, path: string): Promise<boolean> {
  try {
    await peer.net(path);
    return true;
  } catch (error) {
    if (/answered 404/.test((error as Error).message)) return false;
    throw error;
  }
}

describe('an invoke during a large mirror', () => {
  it(
    'calls on another mount of the same peers complete while the mirror is still streaming; the copy converges',
    withPeers(120_000, async (harness) => {
      const { saturn, address } = await startSaturn(harness, 'tcp');
      const { earth } = await startEarth(harness, 'tcp', address);
      expect(await untilActive(earth)).toEqual({ link: 'active', invoke: 'active', mirror: 'active' });

      // The handler fills the branch in one beat; its reply may miss the 200-beat deadline on a
      // busy machine (it still ran: the branch is there, which the convergence below checks).
      const sky = await earth.invoke('saturn', 'sky', CELLS);
      expect(['ok', 'timeout']).toContain(sky['status']);
      // Issued together: each completes in a few beats, the mirror's parts take ten or more.
      const answers = await Promise.all([0, 1, 2].map((n) => earth.invoke('saturn', 'add', n)));
      expect(answers.map((a) => [a['status'], a['result']])).toEqual([
        ['ok', '1'],
        ['ok', '2'],
        ['ok', '3'],
      ]);
      // Read after the answers came back: the copy was not whole when the calls completed.
      expect(await has(earth, COPY + LAST)).toBe(false);
      expect(await has(saturn, SKY + LAST)).toBe(true);

      const { cells } = await untilMirrored(earth, saturn);
      expect(cells).toBeGreaterThan(CELLS); // the stars and the dictionaries that hold them
      expect(await has(earth, COPY + LAST)).toBe(true);
    }),
  );
});
