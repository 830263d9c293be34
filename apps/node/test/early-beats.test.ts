import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { KEY_HEX } from './helpers/files.ts';
import { livePeers } from './helpers/live-peers.ts';

// An arriving frame starts a beat on an idle peer: saturn's slots are a minute apart, so after
// its first beat (at start) only an early beat, started by what earth's dial brings in over
// real TCP, can run its next one within this test's timeout.

const HERE = fileURLToPath(new URL('.', import.meta.url));
const { start, until } = livePeers(HERE);

async function pair(early: boolean) {
  const saturn = await start(
    {
      peer: 'saturn',
      beat_ms: 60_000,
      early_beats: early,
      keys: { earth: { hex: KEY_HEX } },
      peer_policy: { default_enclave: 'lab' },
      listen: { tcp: '127.0.0.1:0' },
    },
    false,
  );
  await until(() => saturn.driverStats.beats >= 1, "saturn's first slot beat");
  const pushed = { inputs: 0 };
  saturn.runtime.onInput(() => void pushed.inputs++);
  const earth = await start(
    {
      peer: 'earth',
      beat_ms: 2,
      keys: { saturn: { hex: KEY_HEX } },
      peers: [{ name: 'saturn', provider: 'tcp', address: saturn.transport.listening['tcp'] }],
    },
    false,
  );
  return { saturn, earth, pushed };
}

describe('early beats', () => {
  it('what earth sends over tcp starts a beat on saturn, idle between two slots a minute apart; its log says which beat admitted it', async () => {
    const { saturn } = await pair(true);
    await until(() => saturn.driverStats.earlyBeats >= 1 && saturn.runtime.beat >= 2, 'an early beat on saturn');
    expect(saturn.driverStats.beats - saturn.driverStats.earlyBeats).toBe(1); // still the first slot only
    // The early beat (beat 1) admitted earth's arrival: the log a replay reads records it there.
    expect(saturn.runtime.inboundLog.some((l) => l.beat === 1 && l.stream.includes('earth'))).toBe(true);
  }, 20_000);

  it('with early_beats: false the same arrival waits for the next slot', async () => {
    const { saturn, pushed } = await pair(false);
    await until(() => pushed.inputs > 0, 'an input pushed at saturn');
    // Two turns of the event loop: an early beat (deferred by one setImmediate) would have run by now.
    for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
    expect(saturn.runtime.beat).toBe(1);
    expect(saturn.driverStats.earlyBeats).toBe(0);
  }, 20_000);
});
