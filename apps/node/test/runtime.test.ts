import { text } from '@cep/cells';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config/load.ts';
import { createLogger } from '../src/log.ts';
import { INBOUND_LOG_BEATS, startPeer, type Peer } from '../src/peer.ts';
import { runCli } from '../src/program.ts';
import { KEY_HEX } from './helpers/files.ts';
import { fakeIo, logSink } from './helpers/io.ts';

// These tests fail against anything but @cep/heartbeat: organs, CEI mailboxes, ceh
// mirrors and commit hooks are the real runtime's, and /net must show what it wrote.

const peers: Peer[] = [];
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.stop('test over')));
});

const linked = {
  keys: { saturn: { hex: KEY_HEX } },
  peers: [{ name: 'saturn', provider: 'tcp', address: '127.0.0.1:7100' }],
};

async function start(extra: Record<string, unknown> = {}, manualBeats = true) {
  const config = validateConfig({ peer: 'earth', enclave: 'lab', http: { port: 0 }, ...extra }, 'peer.yaml', '/tmp');
  const sink = logSink();
  const peer = await startPeer({
    config,
    log: createLogger({ level: 'debug', destination: sink.destination, isTTY: false, base: { peer: 'earth' } }),
    manualBeats,
  });
  peers.push(peer);
  return { peer, logs: sink.lines };
}

async function net(peer: Peer, path: string): Promise<any> {
  const res = await fetch(`${peer.httpUrl}/net?path=${encodeURIComponent(path)}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { value: unknown }).value;
}

describe('the peer runs on @cep/heartbeat', () => {
  it('the link organ validates link requests in the tree, and /net shows its verdict', async () => {
    const { peer, logs } = await start(linked);
    peer.tree.set('/net/organs/link/requests/bad/mount', text('main'));
    peer.runtime.step();
    expect(await net(peer, '/net/organs/link/requests/bad')).toMatchObject({ state: 'error', error_note: expect.stringContaining('peer') });
    expect(await net(peer, '/net/organs/link/requests/1')).toMatchObject({ peer: 'saturn', mount: 'main' });
    // The refusal is a CEI fact in the runtime's mailbox, and a log line.
    const msgs = await net(peer, '/data/mailbox/diag/msgs');
    expect(Object.values(msgs)).toContainEqual(
      expect.objectContaining({ err: expect.objectContaining({ sev: 'error', note: expect.stringContaining('/net/organs/link/requests/bad') }) }),
    );
    expect(logs.find((l) => l['msg'] === 'cei fact' && String(l['note']).includes('requests/bad'))).toMatchObject({
      level: 50,
      peer: 'earth',
      severity: 'error',
      beat: 0,
    });
  });

  it('a CEI fact about a remote peer is mirrored under /net/peers/<peer>/ceh, read by HTTP and inspect', async () => {
    const { peer, logs } = await start();
    peer.runtime.step();
    peer.runtime.step();
    peer.runtime.cei.emit({ topic: 'tp_noprov', severity: 'usage', note: 'no provider has reliable', origin: 'transport', peer: 'saturn' });
    expect(await net(peer, '/net/peers/saturn/ceh')).toEqual({ tp_noprov: { severity: 'usage', note: 'no provider has reliable', beat: '2' } });
    const io = fakeIo();
    expect(await runCli(['node', 'cep-node', 'inspect', '/net/peers/saturn/ceh/tp_noprov', '--url', peer.httpUrl!], io.deps)).toBe(0);
    expect(JSON.parse(io.stdout())).toEqual({
      path: '/net/peers/saturn/ceh/tp_noprov',
      beat: 2,
      value: { severity: 'usage', note: 'no provider has reliable', beat: '2' },
    });
    // `peer` in a log line is always this peer; the fact's peer is `remote`.
    expect(logs.find((l) => l['msg'] === 'cei fact')).toMatchObject({ level: 40, peer: 'earth', remote: 'saturn', topic: 'tp_noprov', origin: 'transport' });
  });

  it("the beat timer steps the runtime: one commit per driven beat, and enzymes' writes show in /net", async () => {
    const { peer } = await start({ beat_ms: 1 }, false);
    const commits: number[] = [];
    peer.runtime.onCommit((beat) => void commits.push(beat));
    peer.runtime.registerEnzyme({
      name: 'tick',
      signal: '/sig/tick',
      run: (ctx) => {
        ctx.runtime.tree.set('/net/test/last_tick', text(`beat ${ctx.beat}`));
        ctx.runtime.enqueue('/sig/tick');
      },
    });
    peer.runtime.enqueue('/sig/tick');
    while (commits.length < 5) await new Promise((r) => setTimeout(r, 2));
    const result = await peer.stop('enough');
    // Beats the timer ran before the hooks were added committed unseen; every later one was seen once, in order.
    expect(commits).toEqual(Array.from({ length: commits.length }, (_, i) => commits[0]! + i));
    expect(commits.at(-1)).toBe(peer.runtime.beat - 1);
    expect(result.beats).toBe(peer.runtime.beat);
    expect(peer.tree.getValue('/net/test/last_tick')).toEqual(text(`beat ${peer.runtime.beat - 1}`));
  });

  it('keeps only the last INBOUND_LOG_BEATS beats of the inbound log and of closed OPS dossiers', async () => {
    const { peer } = await start();
    peer.runtime.defineInput('test.tick', () => undefined);
    const op = peer.runtime.ops.start({ verb: 'op/test' });
    peer.runtime.ops.close(op, 'ok');
    for (let beat = 0; beat < INBOUND_LOG_BEATS + 600; beat++) {
      peer.runtime.pushInput('test.tick', { stream: 's', seq: beat, data: new Uint8Array(1) });
      peer.runtime.step();
    }
    const beats = peer.runtime.inboundLog.map((entry) => entry.beat);
    expect(beats[0]).toBeGreaterThan(0);
    expect(beats.at(-1)! - beats[0]!).toBeLessThan(INBOUND_LOG_BEATS + 256);
    expect(beats.at(-1)! - beats[0]!).toBeGreaterThanOrEqual(INBOUND_LOG_BEATS - 1);
    // Closed OPS dossiers go with it.
    expect(peer.runtime.ops.state(op)).toBeUndefined();
  });
});
