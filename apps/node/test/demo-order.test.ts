/**
 * The demo's own decisions that run without peers: when the mirror counts as over (so `add 41`
 * may go) and how long a demo call may wait. The demo end to end runs in @cep/integration.
 */
import { describe, expect, it } from 'vitest';
import { callTimeoutBeats, mirrorQuiet } from '../src/demo.ts';
import { MAX_INVOKE_TIMEOUT_BEATS } from '../src/config/schema.ts';

describe('mirrorQuiet (saturn serving record, as JSON from /net)', () => {
  it('is true only when every sealed bundle is acknowledged and none is in flight', () => {
    expect(mirrorQuiet({ seq: '2', acked: '2', inflight: '0', held: false, state: 'live' })).toBe(true);
    expect(mirrorQuiet({ seq: '3', acked: '2', inflight: '1' })).toBe(false);
    // acknowledged up to seq but the record still counts one in flight: not yet.
    expect(mirrorQuiet({ seq: '2', acked: '2', inflight: '1' })).toBe(false);
    expect(mirrorQuiet({ seq: '2', acked: '1', inflight: '0' })).toBe(false);
  });

  it('is false before saturn serves the mirror at all', () => {
    expect(mirrorQuiet(undefined)).toBe(false);
    expect(mirrorQuiet(null as never)).toBe(false);
    expect(mirrorQuiet({})).toBe(false);
  });
});

describe('callTimeoutBeats', () => {
  it('gives a call the beats the demo has left, at least the peer default of 200', () => {
    expect(callTimeoutBeats(60_000, 5)).toBe(12_000);
    expect(callTimeoutBeats(30_001, 5)).toBe(6_001);
    expect(callTimeoutBeats(100, 5)).toBe(200);
    expect(callTimeoutBeats(-50, 5)).toBe(200);
  });

  it('stays within what POST /invoke accepts', () => {
    expect(callTimeoutBeats(1e12, 1)).toBe(MAX_INVOKE_TIMEOUT_BEATS);
  });
});
