import { afterEach, describe, expect, it } from 'vitest';
import { createTree, digest, formatPath, text, type Tree } from '@cep/cells';
import { createRuntime, replay, type Runtime } from '@cep/heartbeat';
import { encodeBranch } from '@cep/serializer';
import { isCepError } from '@cep/errors';
import { createTransportManager, type InboundFrame, type TransportManager } from '@cep/transport';
import { FakeProvider, settle } from './fake-provider.ts';

const RELIABLE = ['reliable', 'ordered', 'streaming', 'remote_net', 'crc32c', 'deflate', 'aead'];
// As the UDP provider: it encrypts too (a keyed mount never runs in plaintext unless allowed).
const UNRELIABLE = ['unreliable', 'datagram', 'remote_net', 'crc32c', 'aead'];
const KEY = new Uint8Array(32).fill(9);

let managers: TransportManager[] = [];
afterEach(async () => {
  await Promise.all(managers.map((m) => m.close()));
  managers = [];
});

function setup(providers: FakeProvider[], extra: { peerKey?: boolean; runtime?: Runtime; inboundBudgetBytes?: number; aeadOptional?: boolean } = {}) {
  const runtime = extra.runtime ?? createRuntime();
  const manager = createTransportManager(runtime, {
    localNode: 'earth',
    providers,
    ...(extra.inboundBudgetBytes !== undefined ? { inboundBudgetBytes: extra.inboundBudgetBytes } : {}),
    addressOf: (peer) => `${peer}.test`,
    peerKey: extra.peerKey === false ? undefined : () => KEY,
    ...(extra.aeadOptional === true ? { aeadOptional: () => true } : {}),
  });
  managers.push(manager);
  return { runtime, manager, tree: runtime.tree };
}

const read = (tree: Tree, path: string) => {
  const value = tree.getValue(path);
  return value === undefined ? undefined : value.type === 'u64' ? value.value : value.value;
};

function facts(runtime: Runtime): Array<{ topic: string; note: string; severity: string }> {
  const out: Array<{ topic: string; note: string; severity: string }> = [];
  runtime.cei.onFact((f) => out.push({ topic: f.topic, note: f.note, severity: f.severity }));
  return out;
}

async function beat(runtime: Runtime, n = 1): Promise<void> {
  for (let i = 0; i < n; i++) {
    await settle();
    runtime.step();
  }
}

function branch(value: string) {
  const tree = createTree();
  tree.set('/msg/body', text(value));
  return tree.get('/msg')!;
}

describe('catalog', () => {
  it('mirrors each provider under /net/transports/<id>', () => {
    const { tree } = setup([new FakeProvider('tcp', RELIABLE), new FakeProvider('udp', UNRELIABLE)]);
    expect(read(tree, '/net/transports/tcp/caps/reliable')).toBe(true);
    expect(read(tree, '/net/transports/udp/caps/unreliable')).toBe(true);
    expect(tree.get('/net/transports/udp/caps/reliable')).toBeUndefined();
    expect(read(tree, '/net/transports/tcp/spec_ver')).toBe('cep-provider-v1');
  });

  it('refuses a provider that is not v1, has a bad id or a duplicate id', () => {
    const { manager } = setup([new FakeProvider('tcp', RELIABLE)]);
    expect(() => manager.addProvider({ ...new FakeProvider('x', []), specificationVersion: 'v0' } as never)).toThrow(
      expect.objectContaining({ code: 'PROVIDER_INVALID' }),
    );
    expect(() => manager.addProvider(new FakeProvider('Not A Word', []))).toThrow(expect.objectContaining({ code: 'PROVIDER_INVALID' }));
    expect(() => manager.addProvider(new FakeProvider('tcp', RELIABLE))).toThrow(expect.objectContaining({ code: 'PROVIDER_DUPLICATE' }));
  });
});

describe('mounts', () => {
  it('configure writes the schema, opens at once, and the tree says open at the next capture', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { runtime, manager, tree } = setup([tcp]);
    const mount = manager.configure({ peer: 'saturn', mode: 'link', mount: 'main', caps: { required: ['reliable'], preferred: ['ordered'] } });
    expect(tcp.opens).toHaveLength(1);
    expect(tcp.opens[0]!.request).toMatchObject({ peer: 'saturn', mode: 'link', mount: 'main', localNode: 'earth', address: 'saturn.test' });
    expect(read(tree, '/net/mounts/saturn/link/main/state')).toBe('opening');
    expect(read(tree, '/net/mounts/saturn/link/main/caps/required/reliable')).toBe(true);
    expect(read(tree, '/net/mounts/saturn/link/main/caps/preferred/ordered')).toBe(true);
    expect(read(tree, '/net/mounts/saturn/link/main/transport/provider')).toBe('tcp');
    expect(read(tree, '/net/mounts/saturn/link/main/transport/prov_caps/aead')).toBe(true);
    expect(read(tree, '/net/mounts/saturn/link/main/local_node')).toBe('earth');
    expect(['mode', 'mount', 'local_node', 'provider', 'upd_latest'].map((f) => read(tree, `/net/peers/saturn/services/main/${f}`))).toEqual([
      'link',
      'main',
      'earth',
      'tcp',
      false,
    ]);
    await beat(runtime);
    expect(mount.state).toBe('open');
    expect(read(tree, '/net/mounts/saturn/link/main/state')).toBe('open');
    expect(read(tree, '/net/telemetry/saturn/main/last_event')).toBe('open');
  });

  it('no qualifying provider: error state, tp_noprov mirrored to the peer, no channel', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { runtime, manager, tree } = setup([tcp]);
    const seen = facts(runtime);
    const mount = manager.configure({ peer: 'saturn', mode: 'link', mount: 'main', caps: { required: ['multicast'] } });
    expect(mount.state).toBe('error');
    expect(tcp.opens).toHaveLength(0);
    expect(read(tree, '/net/mounts/saturn/link/main/error_note')).toContain('multicast');
    expect(seen.map((f) => f.topic)).toEqual(['tp_noprov']);
    expect(read(tree, '/net/peers/saturn/ceh/tp_noprov/severity')).toBe('error');
    expect(() => mount.sendFrame(new Uint8Array(8))).toThrow(expect.objectContaining({ code: 'MOUNT_CLOSED' }));
  });

  it('a provider joining the catalog renegotiates mounts left without one (tp_catsync)', async () => {
    const { runtime, manager, tree } = setup([new FakeProvider('tcp', RELIABLE)]);
    const seen = facts(runtime);
    manager.configure({ peer: 'saturn', mode: 'gauge', mount: 'temp', caps: { updLatest: true } });
    expect(read(tree, '/net/mounts/saturn/gauge/temp/state')).toBe('error');
    const udp = new FakeProvider('udp', UNRELIABLE);
    manager.addProvider(udp);
    expect(udp.opens).toHaveLength(1);
    expect(seen.map((f) => f.topic).filter((t) => t !== 'tp_flatneg')).toEqual(['tp_noprov', 'tp_catsync']);
    await beat(runtime);
    expect(read(tree, '/net/mounts/saturn/gauge/temp/state')).toBe('open');
    expect(read(tree, '/net/mounts/saturn/gauge/temp/transport/provider')).toBe('udp');
  });

  it('tp_flatneg once per feature the provider lacks, outcome written to serializer/', () => {
    const pipe = new FakeProvider('pipe', ['reliable', 'ordered', 'local_ipc']);
    const { runtime, manager, tree } = setup([pipe], { aeadOptional: true });
    const seen = facts(runtime);
    manager.configure({ peer: 'saturn', mode: 'link', mount: 'main', serializer: { crc32c: true, deflate: true, aead: true } });
    manager.configure({ peer: 'saturn', mode: 'link', mount: 'main', serializer: { crc32c: true, deflate: true, aead: true } });
    expect(seen.filter((f) => f.topic === 'tp_flatneg').map((f) => f.note)).toEqual([
      expect.stringContaining('crc32c'),
      expect.stringContaining('deflate'),
      expect.stringContaining('aead'),
    ]);
    expect(seen.every((f) => f.topic !== 'tp_flatneg' || f.severity === 'warn')).toBe(true);
    for (const field of ['crc32c_ok', 'deflate_ok', 'aead_ok']) expect(read(tree, `/net/mounts/saturn/link/main/serializer/${field}`)).toBe(false);
  });

  it('a keyed peer whose provider lacks aead: the mount goes to error (tp_aead_req) and opens nothing', () => {
    const pipe = new FakeProvider('pipe', ['reliable', 'ordered', 'local_ipc', 'crc32c', 'deflate']);
    const { runtime, manager, tree } = setup([pipe]);
    const seen = facts(runtime);
    const mount = manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    expect(mount.state).toBe('error');
    expect(pipe.opens).toHaveLength(0);
    expect(read(tree, '/net/mounts/saturn/link/main/error_note')).toContain('lacks the aead cap');
    expect(read(tree, '/net/mounts/saturn/link/main/serializer/aead_ok')).toBe(false);
    expect(seen).toEqual([expect.objectContaining({ topic: 'tp_aead_req', severity: 'error' })]);
    expect(seen.some((f) => f.topic === 'tp_flatneg')).toBe(false);
  });

  it('aead: optional lets the same mount open in plaintext, told at warn and recorded as serializer/aead_down', async () => {
    const pipe = new FakeProvider('pipe', ['reliable', 'ordered', 'local_ipc', 'crc32c', 'deflate']);
    const { runtime, manager, tree } = setup([pipe], { aeadOptional: true });
    const seen = facts(runtime);
    manager.configure({ peer: 'saturn', mode: 'link', mount: 'main', serializer: { warnDown: false } });
    await beat(runtime);
    expect(read(tree, '/net/mounts/saturn/link/main/state')).toBe('open');
    expect(read(tree, '/net/mounts/saturn/link/main/serializer/aead_ok')).toBe(false);
    expect(read(tree, '/net/mounts/saturn/link/main/serializer/aead_down')).toBe(true);
    expect(seen.filter((f) => f.topic === 'tp_flatneg')).toEqual([
      expect.objectContaining({ severity: 'warn', note: expect.stringContaining('aead: optional') }),
    ]);
  });

  it('a spec that turns aead off for a keyed peer is refused the same way, unless the peer is aead: optional', async () => {
    const strict = setup([new FakeProvider('tcp', RELIABLE)]);
    const seen = facts(strict.runtime);
    const refused = strict.manager.configure({ peer: 'saturn', mode: 'link', mount: 'main', serializer: { aead: false } });
    expect(refused.state).toBe('error');
    expect(read(strict.tree, '/net/mounts/saturn/link/main/error_note')).toContain('the mount spec turns aead off');
    expect(seen).toEqual([expect.objectContaining({ topic: 'tp_aead_req' })]);
    const loose = setup([new FakeProvider('tcp', RELIABLE)], { aeadOptional: true });
    loose.manager.configure({ peer: 'saturn', mode: 'link', mount: 'main', serializer: { aead: false } });
    await beat(loose.runtime);
    expect(read(loose.tree, '/net/mounts/saturn/link/main/state')).toBe('open');
    expect(read(loose.tree, '/net/mounts/saturn/link/main/serializer/aead_down')).toBe(true);
  });

  it('a mount with AEAD on carries no serializer/aead_down', () => {
    const { manager, tree } = setup([new FakeProvider('tcp', RELIABLE)], { aeadOptional: true });
    manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    expect(read(tree, '/net/mounts/saturn/link/main/serializer/aead_ok')).toBe(true);
    expect(read(tree, '/net/mounts/saturn/link/main/serializer/aead_down')).toBeUndefined();
  });

  it('warn_down=false turns features off silently', () => {
    const { runtime, manager, tree } = setup([new FakeProvider('pipe', ['reliable'])], { peerKey: false });
    const seen = facts(runtime);
    manager.configure({ peer: 'saturn', mode: 'link', mount: 'main', serializer: { crc32c: true, warnDown: false } });
    expect(seen).toEqual([]);
    expect(read(tree, '/net/mounts/saturn/link/main/serializer/crc32c_ok')).toBe(false);
    expect(read(tree, '/net/mounts/saturn/link/main/serializer/warn_down')).toBe(false);
  });

  it('aead without a key for the peer leaves the mount in error and opens nothing', () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { manager, tree } = setup([tcp], { peerKey: false });
    const mount = manager.configure({ peer: 'saturn', mode: 'link', mount: 'main', serializer: { aead: true } });
    expect(mount.state).toBe('error');
    expect(read(tree, '/net/mounts/saturn/link/main/error_note')).toContain('no key');
    expect(tcp.opens).toHaveLength(0);
  });

  it('reconfigure on the same provider reuses the open channel; another provider replaces it', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const pipe = new FakeProvider('pipe', [...RELIABLE, 'local_ipc']);
    const { runtime, manager } = setup([tcp, pipe]);
    manager.configure({ peer: 'saturn', mode: 'link', mount: 'main', prefProv: 'tcp' });
    await beat(runtime);
    manager.configure({ peer: 'saturn', mode: 'link', mount: 'main', prefProv: 'tcp', serializer: { deflate: false } });
    expect(tcp.opens).toHaveLength(1);
    expect(tcp.channels[0]!.closedWith).toBeUndefined();
    const mount = manager.configure({ peer: 'saturn', mode: 'link', mount: 'main', prefProv: 'pipe' });
    expect(tcp.channels[0]!.closedWith).toBe('reconfigure');
    expect(pipe.opens).toHaveLength(1);
    await beat(runtime);
    expect(mount.provider).toBe('pipe');
    expect(mount.state).toBe('open');
  });

  it('close keeps the schema; configure reopens through the catalogued provider', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { runtime, manager, tree } = setup([tcp]);
    const mount = manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    await beat(runtime);
    mount.close('user');
    expect(tcp.channels[0]!.closedWith).toBe('user');
    expect(read(tree, '/net/mounts/saturn/link/main/state')).toBe('closed');
    expect(read(tree, '/net/mounts/saturn/link/main/transport/provider')).toBe('tcp');
    manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    await beat(runtime);
    expect(tcp.opens).toHaveLength(2);
    expect(mount.state).toBe('open');
  });

  it('a dial overtaken by a close is closed when it completes, and changes nothing', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE, false);
    const { runtime, manager, tree } = setup([tcp]);
    const mount = manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    mount.close('user');
    const late = tcp.opens[0]!.resolve();
    await beat(runtime);
    expect(late.closedWith).toBe('superseded');
    expect(read(tree, '/net/mounts/saturn/link/main/state')).toBe('closed');
  });

  it('refuses bad names with MOUNT_INVALID and writes nothing', () => {
    const { manager, tree } = setup([new FakeProvider('tcp', RELIABLE)]);
    const before = digest(tree.root);
    for (const spec of [
      { peer: 'Saturn!', mode: 'link', mount: 'main' },
      { peer: 'saturn', mode: 'link', mount: 'a_very_long_mount_name' },
      { peer: 'saturn', mode: 'link', mount: 'main', caps: { required: [''] } },
      { peer: 'saturn', mode: 42, mount: 'main' },
    ]) {
      let error: unknown;
      try {
        manager.configure(spec as never);
      } catch (e) {
        error = e;
      }
      expect(isCepError(error, 'MOUNT_INVALID')).toBe(true);
    }
    expect(digest(tree.root)).toEqual(before);
  });

  it('remove closes the channel and deletes the mount and its telemetry', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { runtime, manager, tree } = setup([tcp]);
    manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    await beat(runtime);
    expect(manager.remove('saturn', 'link', 'main', 'gone')).toBe(true);
    expect(tcp.channels[0]!.closedWith).toBe('gone');
    expect(tree.get('/net/mounts/saturn/link/main')).toBeUndefined();
    expect(tree.get('/net/telemetry/saturn/main')).toBeUndefined();
    expect(tree.get('/net/peers/saturn/services/main')).toBeUndefined();
    expect(manager.get('saturn', 'link', 'main')).toBeUndefined();
  });
});

describe('send path and telemetry', () => {
  it('frames sent while opening are queued and flushed in order when the mount opens', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { runtime, manager } = setup([tcp]);
    const mount = manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    expect(mount.sendFrame(Uint8Array.of(1))).toBe('queued');
    expect(mount.sendFrame(Uint8Array.of(2))).toBe('queued');
    await beat(runtime);
    expect(tcp.channels[0]!.sent).toEqual([Uint8Array.of(1), Uint8Array.of(2)]);
    expect(mount.sendFrame(Uint8Array.of(3))).toBe('sent');
    expect(tcp.channels[0]!.sent).toHaveLength(3);
  });

  it('telemetry after a scripted event sequence', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { runtime, manager, tree } = setup([tcp]);
    const seen = facts(runtime);
    const mount = manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    await beat(runtime); // beat 0: open
    const channel = tcp.channels[0]!;
    mount.sendFrame(Uint8Array.of(1));
    channel.raise({ type: 'backpressure', bufferedBytes: 4096 });
    await beat(runtime); // beat 1: bp
    expect(mount.sendFrame(Uint8Array.of(2))).toBe('queued');
    expect(mount.sendFrame(Uint8Array.of(3))).toBe('queued');
    expect(channel.sent).toHaveLength(1);
    channel.raise({ type: 'ready' });
    await beat(runtime); // beat 2: ready flushes
    expect(channel.sent.map((f) => f[0])).toEqual([1, 2, 3]);
    channel.raise({ type: 'backpressure', bufferedBytes: 10 });
    channel.raise({ type: 'ready' });
    await beat(runtime); // beat 3
    const t = '/net/telemetry/saturn/main';
    expect({
      ready: read(tree, `${t}/ready_count`),
      bp: read(tree, `${t}/bp_count`),
      fatal: read(tree, `${t}/fatal_count`),
      frames: read(tree, `${t}/frame_count`),
      mode: read(tree, `${t}/last_mode`),
      event: read(tree, `${t}/last_event`),
      flag: read(tree, `${t}/bp_flag`),
      sample: read(tree, `${t}/last_sample`),
    }).toEqual({ ready: 2n, bp: 2n, fatal: 0n, frames: 3n, mode: 'queued', event: 'ready', flag: false, sample: 3n });
    expect(seen.filter((f) => f.topic === 'tp_backpr')).toHaveLength(2);
    expect(read(tree, '/net/peers/saturn/ceh/tp_backpr/severity')).toBe('warn');
  });

  it('telemetry of sends is written once per beat per mount, at commit, and never revives a removed mount', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { runtime, manager, tree } = setup([tcp]);
    const mount = manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    await beat(runtime);
    const t = '/net/telemetry/saturn/main';
    runtime.registerEnzyme({
      name: 'burst',
      signal: ['sig', 'burst'],
      run: () => {
        for (let i = 0; i < 100; i++) mount.sendFrame(Uint8Array.of(i));
      },
    });
    runtime.enqueue('/sig/burst');
    const writes: string[] = [];
    const off = tree.subscribe((change) => {
      const path = formatPath(change.path);
      if (path.startsWith(t)) writes.push(path);
    });
    const sentBeat = runtime.beat;
    runtime.step();
    off();
    expect(tcp.channels[0]!.sent).toHaveLength(100);
    expect(read(tree, `${t}/frame_count`)).toBe(100n);
    expect(read(tree, `${t}/last_mode`)).toBe('direct');
    expect(read(tree, `${t}/last_sample`)).toBe(BigInt(sentBeat));
    // One sample for the whole beat: each field written once, not once per frame.
    expect(writes.sort()).toEqual([`${t}/frame_count`, `${t}/last_mode`, `${t}/last_sample`]);
    // An enzyme that sends and then fails: its own writes are undone, but the frames did leave,
    // and the beat's sample counts them.
    runtime.registerEnzyme({
      name: 'send_then_fail',
      signal: ['sig', 'fail'],
      run: () => {
        mount.sendFrame(Uint8Array.of(7));
        mount.sendFrame(Uint8Array.of(8));
        runtime.tree.set('/data/half_done', text('x'));
        throw new Error('after sending');
      },
    });
    runtime.enqueue('/sig/fail');
    runtime.step();
    expect(tree.get('/data/half_done')).toBeUndefined();
    expect(tcp.channels[0]!.sent).toHaveLength(102);
    expect(read(tree, `${t}/frame_count`)).toBe(102n);
    // A send, then the mount removed before the commit: the late sample writes nothing.
    mount.sendFrame(Uint8Array.of(9));
    manager.remove('saturn', 'link', 'main', 'gone');
    await beat(runtime);
    expect(tree.get(t)).toBeUndefined();
  });

  it('an organ reports its own backpressure: bp_flag stays on through a channel ready, sends are not blocked', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { runtime, manager, tree } = setup([tcp]);
    const seen = facts(runtime);
    const mount = manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    await beat(runtime);
    const t = '/net/telemetry/saturn/main';
    mount.reportBackpressure(true, 'max_infl 2 reached');
    mount.reportBackpressure(true, 'again');
    expect(read(tree, `${t}/bp_flag`)).toBe(true);
    expect(read(tree, `${t}/bp_count`)).toBe(1n);
    expect(seen.filter((f) => f.topic === 'tp_backpr').map((f) => f.note)).toEqual([expect.stringContaining('max_infl 2 reached')]);
    expect(mount.sendFrame(Uint8Array.of(1))).toBe('sent');
    const channel = tcp.channels[0]!;
    channel.raise({ type: 'backpressure', bufferedBytes: 8 });
    channel.raise({ type: 'ready' });
    await beat(runtime);
    expect(read(tree, `${t}/bp_flag`)).toBe(true); // the channel is ready, the organ still holds back
    mount.reportBackpressure(false);
    expect(read(tree, `${t}/bp_flag`)).toBe(false);
    expect(read(tree, `${t}/bp_count`)).toBe(2n);
  });

  it('upd_latest: under backpressure the newest gauge replaces the pending one; ready flushes it', async () => {
    const udp = new FakeProvider('udp', UNRELIABLE);
    const { runtime, manager, tree } = setup([udp]);
    const mount = manager.configure({ peer: 'saturn', mode: 'gauge', mount: 'temp', caps: { updLatest: true } });
    await beat(runtime);
    const channel = udp.channels[0]!;
    channel.raise({ type: 'backpressure', bufferedBytes: 1 });
    await beat(runtime);
    expect(mount.sendFrame(Uint8Array.of(1), { gauge: true })).toBe('queued');
    expect(mount.sendFrame(Uint8Array.of(2), { gauge: true })).toBe('replaced');
    expect(mount.sendFrame(Uint8Array.of(3), { gauge: true })).toBe('replaced');
    await beat(runtime); // telemetry is sampled at commit
    expect(read(tree, '/net/telemetry/saturn/temp/last_mode')).toBe('replaced');
    expect(read(tree, '/net/telemetry/saturn/temp/frame_count')).toBe(1n);
    channel.raise({ type: 'ready' });
    await beat(runtime);
    expect(channel.sent).toEqual([Uint8Array.of(3)]);
  });

  it('upd_latest under edge backpressure: a newer gauge replaces only a pending gauge, never another frame', async () => {
    const udp = new FakeProvider('udp', UNRELIABLE);
    const { runtime, manager } = setup([udp]);
    const mount = manager.configure({ peer: 'saturn', mode: 'gauge', mount: 'temp', caps: { updLatest: true } });
    await beat(runtime);
    const channel = udp.channels[0]!;
    channel.answer = 'backpressure';
    // The channel takes this one and says "wait": what follows waits on the wire queue.
    expect(mount.sendFrame(Uint8Array.of(0))).toBe('sent');
    expect(mount.sendFrame(Uint8Array.of(1))).toBe('sent');
    expect(mount.sendFrame(Uint8Array.of(10), { gauge: true })).toBe('sent');
    expect(mount.sendFrame(Uint8Array.of(2))).toBe('sent');
    expect(mount.sendFrame(Uint8Array.of(11), { gauge: true })).toBe('sent');
    expect(mount.sendFrame(Uint8Array.of(12), { gauge: true })).toBe('sent');
    expect(channel.sent).toEqual([Uint8Array.of(0)]);
    channel.answer = 'ready';
    channel.raise({ type: 'ready' });
    // Both plain frames survive, in order; of the gauges only the newest is left, in the first gauge's place.
    expect(channel.sent).toEqual([Uint8Array.of(0), Uint8Array.of(1), Uint8Array.of(12), Uint8Array.of(2)]);
  });

  it("a new channel is not held by the old one's backpressure: after a close and a redial, sends reach the new channel", async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { runtime, manager } = setup([tcp]);
    const mount = manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    await beat(runtime);
    const old = tcp.channels[0]!;
    old.answer = 'backpressure';
    mount.sendFrame(Uint8Array.of(1));
    mount.sendFrame(Uint8Array.of(2)); // waits for the old channel's ready, which never comes
    await old.close('peer went away');
    await beat(runtime);
    expect(mount.state).toBe('closed');
    manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    await beat(runtime);
    expect(mount.state).toBe('open');
    const fresh = tcp.channels[1]!;
    expect(mount.sendFrame(Uint8Array.of(3))).toBe('sent');
    expect(fresh.sent).toEqual([Uint8Array.of(3)]);
  });

  it('a gauge on a reliable mount is delivered with tp_upd_mis (once); an opted-out mount denies it with tp_upd_den', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { runtime, manager } = setup([tcp]);
    const seen = facts(runtime);
    const reliable = manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    const strict = manager.configure({ peer: 'saturn', mode: 'link', mount: 'strict', allowUpd: false });
    await beat(runtime);
    expect(reliable.sendFrame(Uint8Array.of(1), { gauge: true })).toBe('sent');
    expect(reliable.sendFrame(Uint8Array.of(2), { gauge: true })).toBe('sent');
    expect(strict.sendFrame(Uint8Array.of(3), { gauge: true })).toBe('denied');
    expect(seen.map((f) => f.topic)).toEqual(['tp_upd_mis', 'tp_upd_den']);
    expect(tcp.channels.find((c) => c.info.mount === 'main')!.sent).toHaveLength(2);
    expect(tcp.channels.find((c) => c.info.mount === 'strict')!.sent).toHaveLength(0);
  });

  it('a fatal event turns the mount to error, counts it and mirrors tp_fatal', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { runtime, manager, tree } = setup([tcp]);
    const events: string[] = [];
    manager.onMountEvent((e) => events.push(`${e.type}@${e.beat}`));
    const mount = manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    await beat(runtime);
    const { CepError } = await import('@cep/errors');
    tcp.channels[0]!.raise({ type: 'fatal', error: new CepError('CONNECTION_LOST', 'peer vanished') });
    await beat(runtime);
    expect(mount.state).toBe('error');
    expect(read(tree, '/net/mounts/saturn/link/main/error_note')).toContain('CONNECTION_LOST');
    expect(read(tree, '/net/telemetry/saturn/main/fatal_count')).toBe(1n);
    expect(read(tree, '/net/peers/saturn/ceh/tp_fatal/note')).toContain('peer vanished');
    expect(events).toEqual(['open@0', 'fatal@1']);
  });

  it('a failed dial is an error with the provider code in the note', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE, false);
    const { runtime, manager, tree } = setup([tcp]);
    manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    const { CepError } = await import('@cep/errors');
    tcp.opens[0]!.reject(new CepError('AUTH_FAILED', 'wrong key'));
    await beat(runtime);
    expect(read(tree, '/net/mounts/saturn/link/main/state')).toBe('error');
    expect(read(tree, '/net/mounts/saturn/link/main/error_note')).toContain('AUTH_FAILED');
  });

  it('a frame over maxFrameBytes is refused with FRAME_TOO_LARGE and tp_sendfail', async () => {
    const runtime = createRuntime();
    const tcp = new FakeProvider('tcp', RELIABLE);
    const manager = createTransportManager(runtime, { localNode: 'earth', providers: [tcp], addressOf: () => 'x', maxFrameBytes: 100 });
    managers.push(manager);
    const seen = facts(runtime);
    const mount = manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    expect(() => mount.sendFrame(new Uint8Array(101))).toThrow(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }));
    expect(seen.map((f) => f.topic)).toEqual(['tp_sendfail']);
  });
});

describe('inbound', () => {
  it('decodes frames with the mount policy and hands them to the mode handler at the next capture', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { runtime, manager } = setup([tcp]);
    const got: Array<{ beat: number; body: string }> = [];
    manager.onFrame('link', (f: InboundFrame) => got.push({ beat: f.beat, body: String(f.branch.root.children?.find(() => true)?.value?.value ?? '') }));
    const mount = manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    await beat(runtime);
    const frame = encodeBranch(branch('hello'), (mount as unknown as { policy: never }).policy);
    tcp.channels[0]!.inject(frame);
    await beat(runtime);
    expect(got).toEqual([{ beat: 1, body: 'hello' }]);
  });

  it('a close that arrives after frames in the same beat is admitted after them (arrival order, not input kind); replay agrees', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const wire = (runtime: Runtime, manager: TransportManager, seen: string[]) => {
      manager.onFrame('link', (f) => {
        seen.push(`frame ${String(f.branch.root.children?.[0]?.value?.value)}@${f.beat}`);
        runtime.tree.set(`/data/seen/n${seen.length}`, text(seen[seen.length - 1]!));
      });
      manager.onMountEvent((e) => {
        seen.push(`${e.type}@${e.beat}`);
        runtime.tree.set(`/data/seen/n${seen.length}`, text(seen[seen.length - 1]!));
      });
      return manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    };
    const live = setup([tcp]);
    const seen: string[] = [];
    const mount = wire(live.runtime, live.manager, seen);
    const { digestHex } = await import('@cep/cells');
    const digests: string[] = [];
    const step = async () => {
      await settle();
      live.runtime.step();
      digests.push(digestHex(live.runtime.tree.root));
    };
    await step();
    const policy = (mount as unknown as { policy: never }).policy;
    const channel = tcp.channels[0]!;
    // The reply and then the remote close, both before the next beat: the provider raises
    // `closed` at once while the frames it received are still being pulled.
    channel.inject(encodeBranch(branch('reply-1'), policy));
    channel.inject(encodeBranch(branch('reply-2'), policy));
    void channel.close('remote closed: shutting down');
    await step();
    await step();
    expect(seen).toEqual(['open@0', 'frame reply-1@1', 'frame reply-2@1', 'closed@1']);
    const replaySeen: string[] = [];
    const replayed = replay(live.runtime.inboundLog, {
      tree: createTree(),
      beats: digests.length,
      setup: (runtime) => {
        const manager = createTransportManager(runtime, {
          localNode: 'earth',
          offline: true,
          addressOf: (peer) => `${peer}.test`,
          peerKey: () => KEY,
          providers: [new FakeProvider('tcp', RELIABLE)],
        });
        wire(runtime, manager, replaySeen);
      },
    });
    expect(replaySeen).toEqual(seen);
    expect(replayed.digests).toEqual(digests);
  });

  it('a frame that fails to decode is refused with tp_schema and reaches no handler', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { runtime, manager, tree } = setup([tcp]);
    const seen = facts(runtime);
    let handled = 0;
    manager.onFrame('link', () => handled++);
    manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    await beat(runtime);
    tcp.channels[0]!.inject(Uint8Array.of(1, 2, 3, 4, 5));
    // Plaintext payloads on an AEAD mount are refused too (fail closed).
    tcp.channels[0]!.inject(encodeBranch(branch('x'.repeat(100)), {}));
    await beat(runtime);
    expect(handled).toBe(0);
    expect(seen.filter((f) => f.topic === 'tp_schema')).toHaveLength(2);
    expect(read(tree, '/net/telemetry/saturn/main/last_event')).toBe('frame_refused');
  });

  it('an accepted channel becomes a mount the handler can reply on; AEAD keys agree on both sides', async () => {
    const dialer = new FakeProvider('tcp', RELIABLE);
    const listener = new FakeProvider('tcp', RELIABLE);
    const earth = setup([dialer]);
    const saturnRuntime = createRuntime();
    const saturn = createTransportManager(saturnRuntime, { localNode: 'saturn', providers: [listener], peerKey: () => KEY });
    managers.push(saturn);
    await saturn.listen('tcp', 'saturn.test');
    const replies: string[] = [];
    saturn.onFrame('link', (f) => {
      replies.push(String(f.branch.root.children?.[0]?.value?.value));
      f.mount.sendBranch(branch('pong'));
    });
    const earthMount = earth.manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    await beat(earth.runtime);
    // Wire the fake channels back to back: what earth sends, saturn's accepted channel receives.
    const incoming = listener.incoming('earth', 'link', 'main');
    await beat(saturnRuntime);
    expect(saturnRuntime.tree.getValue('/net/mounts/earth/link/main/state')).toEqual(text('open'));
    earthMount.sendBranch(branch('ping-ping-ping-ping-ping-ping-ping-ping-ping-ping-ping-ping-ping'));
    incoming.inject(dialer.channels[0]!.sent[0]!);
    await beat(saturnRuntime);
    expect(replies).toEqual(['ping-ping-ping-ping-ping-ping-ping-ping-ping-ping-ping-ping-ping']);
    expect(incoming.sent).toHaveLength(1);
    let pong = '';
    earth.manager.onFrame('link', (f) => (pong = String(f.branch.root.children?.[0]?.value?.value)));
    dialer.channels[0]!.inject(incoming.sent[0]!);
    await beat(earth.runtime);
    expect(pong).toBe('pong');
  });

  it('acceptPolicy: accepted mounts of that mode allow what it says (deflate off), other modes keep the default', async () => {
    const dialer = new FakeProvider('tcp', RELIABLE);
    const listener = new FakeProvider('tcp', RELIABLE);
    const earth = setup([dialer], { peerKey: false });
    const saturnRuntime = createRuntime();
    const saturn = createTransportManager(saturnRuntime, { localNode: 'saturn', providers: [listener] });
    managers.push(saturn);
    const remove = saturn.acceptPolicy('bulk', { deflate: false });
    await saturn.listen('tcp', 'saturn.test');
    // A reply that deflates well (long runs): a mount that tries deflate sends far fewer bytes.
    for (const mode of ['bulk', 'link']) saturn.onFrame(mode, (f) => void f.mount.sendBranch(branch('z'.repeat(40_000))));
    const bulk = earth.manager.configure({ peer: 'saturn', mode: 'bulk', mount: 'main' });
    const link = earth.manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    await beat(earth.runtime);
    const inBulk = listener.incoming('earth', 'bulk', 'main');
    const inLink = listener.incoming('earth', 'link', 'main');
    await beat(saturnRuntime);
    const tree = saturnRuntime.tree;
    expect(read(tree, '/net/mounts/earth/bulk/main/serializer/deflate_ok')).toBe(false);
    expect(read(tree, '/net/mounts/earth/bulk/main/serializer/crc32c_ok')).toBe(true);
    expect(read(tree, '/net/mounts/earth/link/main/serializer/deflate_ok')).toBe(true);
    bulk.sendBranch(branch('ping'));
    link.sendBranch(branch('ping'));
    const [toBulk, toLink] = dialer.channels.map((c) => c.sent[0]!);
    inBulk.inject(toBulk!);
    inLink.inject(toLink!);
    await beat(saturnRuntime);
    expect(inBulk.sent[0]!.length).toBeGreaterThan(40_000);
    expect(inLink.sent[0]!.length).toBeLessThan(10_000);
    // The plain reply reads on the dialling side, whose own policy allows deflate.
    const got: number[] = [];
    earth.manager.onFrame('bulk', (f) => void got.push(String(f.branch.root.children?.[0]?.value?.value).length));
    dialer.channels[0]!.inject(inBulk.sent[0]!);
    await beat(earth.runtime);
    expect(got).toEqual([40_000]);
    // Removed: a channel admitted afterwards is back to the default.
    remove();
    listener.incoming('mars', 'bulk', 'main');
    await beat(saturnRuntime);
    expect(read(tree, '/net/mounts/mars/bulk/main/serializer/deflate_ok')).toBe(true);
  });

  it("acceptPolicy never turns AEAD off: a keyed peer's accepted mount stays sealed", async () => {
    const listener = new FakeProvider('tcp', RELIABLE);
    const saturnRuntime = createRuntime();
    const saturn = createTransportManager(saturnRuntime, { localNode: 'saturn', providers: [listener], peerKey: () => KEY });
    managers.push(saturn);
    saturn.acceptPolicy('bulk', { deflate: false, aead: false } as never);
    await saturn.listen('tcp', 'saturn.test');
    listener.incoming('earth', 'bulk', 'main');
    await beat(saturnRuntime);
    expect(read(saturnRuntime.tree, '/net/mounts/earth/bulk/main/serializer/aead_ok')).toBe(true);
    expect(read(saturnRuntime.tree, '/net/mounts/earth/bulk/main/serializer/deflate_ok')).toBe(false);
  });

  async function acceptedPlaintext(aeadOptional: boolean) {
    const listener = new FakeProvider('tcp', RELIABLE);
    const saturnRuntime = createRuntime();
    const saturn = createTransportManager(saturnRuntime, {
      localNode: 'saturn',
      providers: [listener],
      peerKey: () => KEY,
      ...(aeadOptional ? { aeadOptional: (p: string) => p === 'earth' } : {}),
    });
    managers.push(saturn);
    await saturn.listen('tcp', 'saturn.test');
    const seen = facts(saturnRuntime);
    const got: string[] = [];
    saturn.onFrame('link', (f) => void got.push(String(f.branch.root.children?.[0]?.value?.value)));
    const incoming = listener.incoming('earth', 'link', 'main');
    await beat(saturnRuntime);
    expect(saturnRuntime.tree.getValue('/net/mounts/earth/link/main/serializer/aead_ok')).toEqual({ type: 'bool', value: true });
    incoming.inject(encodeBranch(branch('x'.repeat(100)), {}));
    incoming.inject(encodeBranch(branch('y'.repeat(100)), {}));
    await beat(saturnRuntime);
    return { tree: saturnRuntime.tree, seen, got };
  }

  it('a plaintext frame on an accepted AEAD mount is refused, counted and told once (tp_aead_req); AEAD stays on', async () => {
    const { tree, seen, got } = await acceptedPlaintext(false);
    expect(got).toEqual([]);
    expect(tree.getValue('/net/mounts/earth/link/main/serializer/aead_ok')).toEqual({ type: 'bool', value: true });
    expect(tree.getValue('/net/mounts/earth/link/main/serializer/aead_down')).toBeUndefined();
    expect(read(tree, '/net/telemetry/earth/main/plain_refused')).toBe(2n);
    expect(seen.filter((f) => f.topic === 'tp_aead_req')).toEqual([expect.objectContaining({ severity: 'error' })]);
    expect(seen.some((f) => f.topic === 'tp_flatneg')).toBe(false);
  });

  it('under aead: optional an accepted mount follows a dialler that turned aead off (tp_flatneg once, serializer/aead_down)', async () => {
    const { tree, seen, got } = await acceptedPlaintext(true);
    expect(got).toEqual(['x'.repeat(100), 'y'.repeat(100)]);
    expect(tree.getValue('/net/mounts/earth/link/main/serializer/aead_ok')).toEqual({ type: 'bool', value: false });
    expect(tree.getValue('/net/mounts/earth/link/main/serializer/aead_down')).toEqual({ type: 'bool', value: true });
    expect(seen.filter((f) => f.topic === 'tp_flatneg')).toHaveLength(1);
    expect(seen.some((f) => f.topic === 'tp_aead_req')).toBe(false);
  });

  it('an accepted channel from a keyed peer over a provider without aead is closed, the mount in error', async () => {
    const listener = new FakeProvider('pipe', ['reliable', 'ordered', 'local_ipc']);
    const saturnRuntime = createRuntime();
    const saturn = createTransportManager(saturnRuntime, { localNode: 'saturn', providers: [listener], peerKey: () => KEY });
    managers.push(saturn);
    await saturn.listen('pipe', 'saturn.sock');
    const seen = facts(saturnRuntime);
    const events: string[] = [];
    saturn.onMountEvent((e) => void events.push(e.type));
    const incoming = listener.incoming('earth', 'link', 'main');
    await beat(saturnRuntime);
    expect(read(saturnRuntime.tree, '/net/mounts/earth/link/main/state')).toBe('error');
    expect(incoming.closedWith).toBe('aead-required');
    expect(events).toEqual(['error']);
    expect(seen).toEqual([expect.objectContaining({ topic: 'tp_aead_req' })]);
  });

  it('a listener refusal is counted and visible as tp_fatal', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    let reject: ((r: { code: string; reason: string; claimedPeer?: string }) => void) | undefined;
    tcp.listen = async (options) => {
      reject = options.onReject;
      return { address: 'x', close: async () => undefined };
    };
    const { runtime, manager, tree } = setup([tcp]);
    const seen = facts(runtime);
    await manager.listen('tcp', 'x');
    reject!({ code: 'AUTH_FAILED', reason: 'bad proof', claimedPeer: 'mars' });
    // Counted at the edge, pushed at the next commit, admitted and written in the beat after.
    await beat(runtime, 2);
    expect(read(tree, '/net/listeners/tcp/rejected')).toBe(1n);
    expect(seen).toEqual([expect.objectContaining({ topic: 'tp_fatal', note: expect.stringContaining('mars') })]);
  });
});

describe('both sides dial the same mount', () => {
  it('when our dial fails, the mount carries on over the channel the peer opened to it', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE, false);
    const { runtime, manager, tree } = setup([tcp]);
    await manager.listen('tcp', 'earth.test');
    const mount = manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    const theirs = tcp.incoming('saturn', 'link', 'main');
    await beat(runtime);
    expect(mount.state).toBe('opening');
    const { CepError } = await import('@cep/errors');
    tcp.opens[0]!.reject(new CepError('OPEN_FAILED', 'saturn is not listening yet'));
    await beat(runtime);
    expect(theirs.closedWith).toBeUndefined();
    expect(mount.state).toBe('open');
    expect(mount.initiator).toBe(false);
    expect(read(tree, '/net/telemetry/saturn/main/fatal_count')).toBe(1n);
    expect(mount.sendFrame(Uint8Array.of(7))).toBe('sent');
    expect(theirs.sent).toEqual([Uint8Array.of(7)]);
    // A redial (configure again) reuses the peer's open channel instead of closing it.
    manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    expect(tcp.opens).toHaveLength(1);
    expect(theirs.closedWith).toBeUndefined();
    expect(mount.state).toBe('open');
  });

  it('our own channel failing does not close the channel the peer opened', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { runtime, manager } = setup([tcp]);
    await manager.listen('tcp', 'earth.test');
    const mount = manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    await beat(runtime);
    const theirs = tcp.incoming('saturn', 'link', 'main');
    await beat(runtime);
    const { CepError } = await import('@cep/errors');
    tcp.channels[0]!.raise({ type: 'fatal', error: new CepError('CONNECTION_LOST', 'gone') });
    await beat(runtime);
    expect(theirs.closedWith).toBeUndefined();
    expect(mount.state).toBe('open');
    mount.sendFrame(Uint8Array.of(1));
    expect(theirs.sent).toHaveLength(1);
  });
});

describe('bounded inbound work per beat', () => {
  const BUDGET = 200_000;
  /** Frames of pseudo-random sizes (1 KiB .. 120 KiB), one over the budget, all arriving before a beat. */
  function frames(policy: never): Uint8Array[] {
    let seed = 11;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) % 10_000) / 10_000;
    const out: Uint8Array[] = [];
    for (let i = 0; i < 24; i++) {
      const tree = createTree();
      const size = i === 9 ? BUDGET + 50_000 : 1024 + Math.floor(rand() * 120_000);
      tree.set('/msg/n', text(String(i)));
      tree.set('/msg/pad', text('x'.repeat(size)));
      out.push(encodeBranch(tree.get('/msg')!, { ...(policy as object), deflate: false }));
    }
    return out;
  }
  const wire = (runtime: Runtime, manager: TransportManager, seen: Array<{ n: number; beat: number; bytes: number }>) => {
    manager.onFrame('link', (f) => {
      const n = Number(f.branch.root.children.find((c) => c.name.tag.text === 'n')?.value?.value);
      seen.push({ n, beat: f.beat, bytes: f.bytes.length });
      runtime.tree.set(`/data/inbox/f${n}`, text(`${f.beat}:${f.bytes.length}`));
    });
    manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
  };

  it('a beat admits at most the byte budget per mount (at least one frame), the rest in later beats in arrival order; replay admits the same', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const live = setup([tcp], { inboundBudgetBytes: BUDGET });
    const seen: Array<{ n: number; beat: number; bytes: number }> = [];
    wire(live.runtime, live.manager, seen);
    await beat(live.runtime);
    const sent = frames((live.manager.get('saturn', 'link', 'main') as unknown as { policy: never }).policy);
    for (const frame of sent) tcp.channels[0]!.inject(frame);
    const { digestHex } = await import('@cep/cells');
    const digests: string[] = [digestHex(live.runtime.tree.root)];
    while (seen.length < sent.length) {
      await beat(live.runtime);
      digests.push(digestHex(live.runtime.tree.root));
      expect(digests.length).toBeLessThan(60);
    }
    // Arrival order, every frame exactly once.
    expect(seen.map((s) => s.n)).toEqual(sent.map((_, i) => i));
    // Per beat: within the budget or a single frame; and greedy: the next frame would not have fit.
    const beats = [...new Set(seen.map((s) => s.beat))];
    expect(beats.length).toBeGreaterThan(5);
    for (const b of beats) {
      const taken = seen.filter((s) => s.beat === b);
      const bytes = taken.reduce((sum, s) => sum + s.bytes, 0);
      if (taken.length > 1) expect(bytes).toBeLessThanOrEqual(BUDGET);
      const next = seen[seen.indexOf(taken.at(-1)!) + 1];
      if (next !== undefined) expect(bytes + next.bytes).toBeGreaterThan(BUDGET);
    }
    expect(seen.find((s) => s.n === 9)!.bytes).toBeGreaterThan(BUDGET);
    expect(seen.filter((s) => s.beat === seen.find((x) => x.n === 9)!.beat)).toHaveLength(1);

    const replayed = replay(live.runtime.inboundLog, {
      tree: createTree(),
      beats: digests.length,
      setup: (runtime) => {
        const manager = createTransportManager(runtime, {
          localNode: 'earth',
          offline: true,
          addressOf: (peer) => `${peer}.test`,
          peerKey: () => KEY,
          providers: [new FakeProvider('tcp', RELIABLE)],
          inboundBudgetBytes: BUDGET,
        });
        wire(runtime, manager, []);
      },
    });
    expect(replayed.digests).toEqual(digests);
  });

  it('refuses a budget or window that is not a whole number ≥ 1 (OPTIONS_INVALID)', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => createTransportManager(createRuntime(), { localNode: 'earth', inboundBudgetBytes: bad })).toThrow(
        expect.objectContaining({ code: 'OPTIONS_INVALID' }),
      );
      expect(() => createTransportManager(createRuntime(), { localNode: 'earth', inboundWindow: bad })).toThrow(
        expect.objectContaining({ code: 'OPTIONS_INVALID' }),
      );
    }
  });
});

describe('determinism', () => {
  it('replaying the inbound log offline rebuilds the same tree digest at every beat', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const udp = new FakeProvider('udp', UNRELIABLE);
    const wire = (runtime: Runtime, manager: TransportManager) => {
      manager.onFrame('link', (f) => {
        const body = f.branch.root.children?.[0]?.value;
        if (body?.type === 'text') runtime.tree.set(`/data/inbox/n${f.beat}x${body.value.length}`, body);
        f.mount.sendFrame(Uint8Array.of(f.beat & 0xff));
      });
      manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
      manager.configure({ peer: 'saturn', mode: 'gauge', mount: 'temp', caps: { updLatest: true } });
    };
    const live = setup([tcp, udp]);
    wire(live.runtime, live.manager);
    const digests: string[] = [];
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) % 1000) / 1000;
    const { digestHex } = await import('@cep/cells');
    for (let i = 0; i < 40; i++) {
      await settle();
      const channel = tcp.channels[0];
      const gauge = udp.channels[0];
      if (channel !== undefined) {
        if (rand() < 0.5)
          channel.inject(
            encodeBranch(branch('m'.repeat(1 + Math.floor(rand() * 60))), (live.manager.get('saturn', 'link', 'main') as unknown as { policy: never }).policy),
          );
        if (rand() < 0.2) channel.raise({ type: 'backpressure', bufferedBytes: 1 });
        if (rand() < 0.2) channel.raise({ type: 'ready' });
      }
      if (gauge !== undefined) {
        if (rand() < 0.3) gauge.raise({ type: rand() < 0.5 ? 'backpressure' : 'ready', bufferedBytes: 1 } as never);
        live.manager.get('saturn', 'gauge', 'temp')!.sendFrame(Uint8Array.of(i), { gauge: true });
      }
      await settle();
      live.runtime.step();
      digests.push(digestHex(live.runtime.tree.root));
    }
    expect(live.runtime.inboundLog.length).toBeGreaterThan(20);
    const replayed = replay(live.runtime.inboundLog, {
      tree: createTree(),
      beats: 40,
      setup: (runtime) => {
        const manager = createTransportManager(runtime, {
          localNode: 'earth',
          offline: true,
          addressOf: (peer) => `${peer}.test`,
          peerKey: () => KEY,
          providers: [new FakeProvider('tcp', RELIABLE), new FakeProvider('udp', UNRELIABLE)],
        });
        wire(runtime, manager);
        // The live run's gauges were sent from outside the beat; the replay sends the same ones.
        let i = 0;
        runtime.onCommit(() => void 0);
        const originalStep = runtime.step.bind(runtime);
        (runtime as { step: () => ReturnType<Runtime['step']> }).step = () => {
          manager.get('saturn', 'gauge', 'temp')!.sendFrame(Uint8Array.of(i++), { gauge: true });
          return originalStep();
        };
      },
    });
    expect(replayed.digests).toEqual(digests);
  });
});
