import { isCepError } from '@cep/errors';
import { DEFAULT_INBOUND_LOG_BYTES, DEFAULT_OPS_HISTORY_RETAIN } from '@cep/heartbeat';
import { DEFAULT_MAX_INFLIGHT } from '@cep/organ-mirror';
import { DEFAULT_INBOUND_BUSY_BYTES, DEFAULT_INBOUND_QUEUED_BYTES_PER_PEER, DEFAULT_MAX_MOUNTS_PER_PEER } from '@cep/transport';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config/load.ts';
import { createLogger } from '../src/log.ts';
import { startPeer, type Peer } from '../src/peer.ts';
import { logSink } from './helpers/io.ts';

const peers: Peer[] = [];
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.stop('test over')));
});

const config = (extra: Record<string, unknown> = {}) => validateConfig({ peer: 'earth', enclave: 'lab', http: { port: 0 }, ...extra }, 'peer.yaml', '/tmp');

describe('config: limits', () => {
  it('every bound defaults to its package constant', () => {
    expect(config().limits).toEqual({
      inbound_log_bytes: DEFAULT_INBOUND_LOG_BYTES,
      inbound_beat_bytes: 256 * 1024,
      busy_beat_bytes: DEFAULT_INBOUND_BUSY_BYTES,
      peer_queued_bytes: DEFAULT_INBOUND_QUEUED_BYTES_PER_PEER,
      mounts_per_peer: DEFAULT_MAX_MOUNTS_PER_PEER,
      mirror_max_infl: DEFAULT_MAX_INFLIGHT,
      mirror_max_window: 1024,
      ops_history: DEFAULT_OPS_HISTORY_RETAIN,
    });
  });

  it.each([
    [{ mounts_per_peer: 0 }, 'limits.mounts_per_peer: expected at least 1'],
    [{ inbound_log_bytes: 1.5 }, 'limits.inbound_log_bytes: expected int'],
    [{ peer_queued_bytes: 'lots' }, 'limits.peer_queued_bytes: expected number'],
    [{ max_mounts: 3 }, 'limits.max_mounts: unknown field'],
    [{ ops_history: 0 }, 'limits.ops_history: expected at least 1'],
    [{ busy_beat_bytes: -5 }, 'limits.busy_beat_bytes: expected at least 1'],
  ])('refuses %j naming the field', (limits, message) => {
    try {
      config({ limits });
    } catch (error) {
      expect(isCepError(error, 'CONFIG_INVALID')).toBe(true);
      expect((error as Error).message).toContain(message);
      return;
    }
    throw new Error('accepted');
  });
});

describe('a peer runs with its configured limits', () => {
  it('the transport bounds are in /net/limits and the inbound log keeps to its byte bound', async () => {
    const peer = await startPeer({
      config: config({ limits: { mounts_per_peer: 5, peer_queued_bytes: 1_000_000, inbound_log_bytes: 100, busy_beat_bytes: 2048, ops_history: 3 } }),
      log: createLogger({ level: 'silent', destination: logSink().destination, isTTY: false }),
      manualBeats: true,
    });
    peers.push(peer);
    expect(peer.tree.getValue('/net/limits/mounts_peer')?.value).toBe(5n);
    expect(peer.tree.getValue('/net/limits/in_q_bytes')?.value).toBe(1_000_000n);
    expect(peer.tree.getValue('/net/limits/in_busy')?.value).toBe(2048n);
    const op = peer.runtime.ops.start({ verb: 'test/moves' });
    for (let i = 0; i < 6; i++) {
      peer.runtime.ops.setState(op, i % 2 === 0 ? 'yield' : 'run');
      peer.runtime.step();
    }
    expect(peer.tree.get([...peer.runtime.ops.path(op), 'history'])?.children()).toHaveLength(3);
    peer.runtime.defineInput('junk', () => undefined);
    for (let seq = 1; seq <= 10; seq++) peer.runtime.pushInput('junk', { stream: 's', seq, data: new Uint8Array(40) });
    peer.runtime.step();
    // Trimmed: the 8 oldest junk entries and the invoke organ's id seed (admitted in the same beat).
    expect(peer.runtime.inboundLogStats).toMatchObject({ entries: 2, bytes: 80, trimmed: 9 });
    const metrics = await (await fetch(`${peer.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/cep_inbound_log_trimmed_total\{node="earth"\} 9/);
  });
});
