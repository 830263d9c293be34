import { afterEach, describe, expect, it } from 'vitest';
import { text, u64 } from '@cep/cells';
import { memoryHooks, memoryNetwork } from '@cep/provider-memory';
import type { MountEvent } from '@cep/transport';
import { installLink, LINK_DEFAULT_REQUIRED } from '@cep/organ-link';
import { beat, closeAll, loneMemory, pair, peer, read, stallProvider, topics, until, writeRequest, type Transport } from './helpers.ts';

afterEach(closeAll);

const REQ = '/net/organs/link/requests';

function lone(...extra: Parameters<typeof peer>[1]) {
  const network = memoryNetwork();
  const p = peer('earth', [loneMemory(network), ...extra]);
  const organ = installLink(p.runtime, p.manager);
  return { ...p, organ, network };
}

describe('link validator', () => {
  it('turns a valid request into a mount: pending, then active with the provider; the serializer fields reach the mount', async () => {
    const p = lone();
    writeRequest(p.tree, `${REQ}/link_req`, {
      peer: 'saturn',
      mount: 'main',
      mode: 'link',
      local_node: 'earth',
      'caps/required/reliable': true,
      'caps/required/ordered': true,
    });
    writeRequest(p.tree, `${REQ}/link_req/serializer`, { crc32c_ok: false, deflate_ok: false, aead_ok: true, warn_down: false, cmp_max_ver: 3 });
    p.runtime.step();
    expect(read(p.tree, `${REQ}/link_req/state`)).toBe('pending');
    await beat(p);
    expect(read(p.tree, `${REQ}/link_req/state`)).toBe('active');
    expect(read(p.tree, `${REQ}/link_req/provider`)).toBe('memory');
    expect(p.tree.get(`${REQ}/link_req/error_note`)).toBeUndefined();
    const m = '/net/mounts/saturn/link/main';
    expect(read(p.tree, `${m}/state`)).toBe('open');
    expect(read(p.tree, `${m}/local_node`)).toBe('earth');
    expect([read(p.tree, `${m}/serializer/crc32c_ok`), read(p.tree, `${m}/serializer/deflate_ok`), read(p.tree, `${m}/serializer/aead_ok`)]).toEqual([
      false,
      false,
      true,
    ]);
    expect(read(p.tree, `${m}/serializer/warn_down`)).toBe(false);
    expect(read(p.tree, `${m}/serializer/cmp_max_ver`)).toBe(3n);
    expect(p.organ.request('link_req')?.state).toBe('active');
  });

  it('deleting the request closes the mount with reason link-request-destroy, removes it, and leaves state=removed', async () => {
    const p = lone();
    const events: MountEvent[] = [];
    p.manager.onMountEvent((e) => events.push(e));
    writeRequest(p.tree, `${REQ}/a`, { peer: 'saturn', mount: 'main', local_node: 'earth' });
    await beat(p);
    await beat(p);
    expect(read(p.tree, `${REQ}/a/state`)).toBe('active');
    p.tree.delete(`${REQ}/a`);
    p.runtime.step();
    expect(events.filter((e) => e.type === 'closed').map((e) => e.note)).toEqual(['link-request-destroy']);
    expect(p.manager.get('saturn', 'link', 'main')).toBeUndefined();
    expect(p.tree.get('/net/mounts/saturn/link/main')).toBeUndefined();
    expect(p.tree.get('/net/telemetry/saturn/main')).toBeUndefined();
    expect(read(p.tree, `${REQ}/a/state`)).toBe('removed');
    expect(p.tree.get(`${REQ}/a/peer`)).toBeUndefined();
    expect(p.organ.request('a')).toBeUndefined();
    // The tombstone is not a new request: nothing is configured again.
    await beat(p);
    expect(p.manager.get('saturn', 'link', 'main')).toBeUndefined();
  });

  it('a hard remove of the request removes the mount and leaves nothing behind', async () => {
    const p = lone();
    writeRequest(p.tree, `${REQ}/a`, { peer: 'saturn', mount: 'main', local_node: 'earth' });
    await beat(p);
    p.tree.remove(`${REQ}/a`);
    p.runtime.step();
    expect(p.manager.get('saturn', 'link', 'main')).toBeUndefined();
    expect(p.tree.find(`${REQ}/a`)).toBeUndefined();
  });

  it('changing pref_prov on the same request reconfigures its mount to that provider (the reference duplicate-request case)', async () => {
    const network = memoryNetwork();
    const p = peer('earth', [loneMemory(network, 'memory'), loneMemory(network, 'mem_b')]);
    installLink(p.runtime, p.manager);
    writeRequest(p.tree, `${REQ}/dup`, { peer: 'saturn', mount: 'main', local_node: 'earth', pref_prov: 'memory' });
    await beat(p);
    await beat(p);
    expect([read(p.tree, `${REQ}/dup/state`), read(p.tree, `${REQ}/dup/provider`)]).toEqual(['active', 'memory']);
    writeRequest(p.tree, `${REQ}/dup`, { pref_prov: 'mem_b' });
    await beat(p);
    await beat(p);
    expect([read(p.tree, `${REQ}/dup/state`), read(p.tree, `${REQ}/dup/provider`)]).toEqual(['active', 'mem_b']);
    expect(read(p.tree, '/net/mounts/saturn/link/main/transport/provider')).toBe('mem_b');
  });

  it('a second request for a mount another request owns is a conflict (tp_mconf), and the first keeps its mount unchanged', async () => {
    const network = memoryNetwork();
    const p = peer('earth', [loneMemory(network, 'memory'), loneMemory(network, 'mem_b')]);
    installLink(p.runtime, p.manager);
    writeRequest(p.tree, `${REQ}/first`, { peer: 'saturn', mount: 'main', local_node: 'earth', pref_prov: 'memory' });
    await beat(p);
    await beat(p);
    writeRequest(p.tree, `${REQ}/second`, { peer: 'saturn', mount: 'main', local_node: 'earth', pref_prov: 'mem_b' });
    await beat(p);
    expect(read(p.tree, `${REQ}/second/state`)).toBe('error');
    expect(read(p.tree, `${REQ}/second/error_note`)).toMatch(/saturn\/link\/main is already owned by request \/net\/organs\/link\/requests\/first/);
    expect(p.tree.get(`${REQ}/second/provider`)).toBeUndefined();
    expect(topics(p)).toContain('tp_mconf');
    expect(read(p.tree, `${REQ}/first/state`)).toBe('active');
    expect(read(p.tree, '/net/mounts/saturn/link/main/transport/provider')).toBe('memory');
    // Once the owner is gone, the second request can have the mount.
    p.tree.delete(`${REQ}/first`);
    await beat(p);
    writeRequest(p.tree, `${REQ}/second`, { pref_prov: 'mem_b', mode: 'link' });
    await beat(p);
    await beat(p);
    expect([read(p.tree, `${REQ}/second/state`), read(p.tree, `${REQ}/second/provider`)]).toEqual(['active', 'mem_b']);
  });

  it('a request without peer is an error that names the field (tp_schema); no mount, no provider', async () => {
    const p = lone();
    writeRequest(p.tree, `${REQ}/bad_link`, { mount: 'mount-bad', mode: 'link', local_node: 'earth' });
    p.runtime.step();
    expect(read(p.tree, `${REQ}/bad_link/state`)).toBe('error');
    expect(read(p.tree, `${REQ}/bad_link/error_note`)).toBe('peer: missing');
    expect(p.tree.get(`${REQ}/bad_link/provider`)).toBeUndefined();
    expect(p.manager.mounts()).toEqual([]);
    expect(p.facts.find((f) => f.topic === 'tp_schema')?.note).toMatch(/bad_link: peer: missing/);
  });

  it('a field of the wrong type is an error naming the field and the types', async () => {
    const p = lone();
    writeRequest(p.tree, `${REQ}/typed`, { peer: 'saturn', mount: 'main', local_node: 'earth' });
    p.tree.set(`${REQ}/typed/deadline`, text('soon'));
    p.runtime.step();
    expect(read(p.tree, `${REQ}/typed/error_note`)).toBe('deadline: expected u64, found text');
    p.tree.set(`${REQ}/typed/peer`, u64(7n));
    p.tree.remove(`${REQ}/typed/deadline`);
    p.runtime.step();
    expect(read(p.tree, `${REQ}/typed/error_note`)).toBe('peer: expected text, found u64');
    expect(p.manager.mounts()).toEqual([]);
  });

  it('refuses names over the CEP word limits, naming the field', () => {
    const p = lone();
    writeRequest(p.tree, `${REQ}/long`, { peer: 'peer-invoke-xx', mount: 'main', local_node: 'earth' });
    p.runtime.step();
    expect(read(p.tree, `${REQ}/long/state`)).toBe('error');
    expect(read(p.tree, `${REQ}/long/error_note`)).toMatch(/^peer: "peer-invoke-xx" is not a CEP word/);
    writeRequest(p.tree, `${REQ}/long`, { peer: 'saturn', local_node: 'Node-Local' });
    p.runtime.step();
    expect(read(p.tree, `${REQ}/long/error_note`)).toMatch(/^local_node: "Node-Local" is not a CEP word/);
    expect(p.manager.mounts()).toEqual([]);
  });

  it('a deadline already past at activation is an error (tp_mtimeout); no mount is opened', async () => {
    const p = lone();
    p.runtime.run(5);
    writeRequest(p.tree, `${REQ}/late`, { peer: 'saturn', mount: 'main', local_node: 'earth', deadline: 3 });
    p.runtime.step();
    expect(read(p.tree, `${REQ}/late/state`)).toBe('error');
    expect(read(p.tree, `${REQ}/late/error_note`)).toBe('deadline: expired before activation (deadline beat 3, now beat 5)');
    expect(topics(p)).toContain('tp_mtimeout');
    expect(p.manager.mounts()).toEqual([]);
  });

  it('a mount still pending when its deadline beat ends: error, tp_mtimeout mirrored to the peer, mount removed', async () => {
    const p = peer('earth', [stallProvider()]);
    installLink(p.runtime, p.manager);
    writeRequest(p.tree, `${REQ}/slow`, { peer: 'saturn', mount: 'main', local_node: 'earth', deadline: 3 });
    p.runtime.step(); // beat 0
    p.runtime.step(); // beat 1
    p.runtime.step(); // beat 2
    expect(read(p.tree, `${REQ}/slow/state`)).toBe('pending');
    p.runtime.step(); // beat 3: still pending at its end
    expect(read(p.tree, `${REQ}/slow/state`)).toBe('error');
    expect(read(p.tree, `${REQ}/slow/error_note`)).toMatch(/not active by deadline beat 3/);
    expect(read(p.tree, '/net/peers/saturn/ceh/tp_mtimeout/severity')).toBe('error');
    expect(p.manager.get('saturn', 'link', 'main')).toBeUndefined();
  });

  it('a request that lists no required caps requires reliable and ordered (reference default); upd_latest links do not', async () => {
    const p = lone();
    writeRequest(p.tree, `${REQ}/a`, { peer: 'saturn', mount: 'main', local_node: 'earth' });
    writeRequest(p.tree, `${REQ}/g`, { peer: 'saturn', mount: 'gauge', local_node: 'earth', 'caps/upd_latest': true });
    p.runtime.step();
    for (const cap of LINK_DEFAULT_REQUIRED) expect(read(p.tree, `/net/mounts/saturn/link/main/caps/required/${cap}`)).toBe(true);
    expect(p.tree.get('/net/mounts/saturn/link/gauge/caps/required/reliable')).toBeUndefined();
    // No unreliable provider in the catalog: the gauge link has none (the manager's tp_noprov), shown on the request.
    expect(read(p.tree, `${REQ}/g/state`)).toBe('error');
    expect(read(p.tree, `${REQ}/g/error_note`)).toMatch(/no provider|upd_latest|unreliable/i);
    expect(topics(p)).toContain('tp_noprov');
  });

  it('moving a request to another peer removes its old mount and configures the new one', async () => {
    const p = lone();
    writeRequest(p.tree, `${REQ}/a`, { peer: 'saturn', mount: 'main', local_node: 'earth' });
    await beat(p);
    writeRequest(p.tree, `${REQ}/a`, { peer: 'jupiter' });
    await beat(p);
    await beat(p);
    expect(p.manager.get('saturn', 'link', 'main')).toBeUndefined();
    expect(p.manager.get('jupiter', 'link', 'main')?.state).toBe('open');
    expect(read(p.tree, `${REQ}/a/state`)).toBe('active');
  });

  it('a request that turns invalid lets its mount go', async () => {
    const p = lone();
    writeRequest(p.tree, `${REQ}/a`, { peer: 'saturn', mount: 'main', local_node: 'earth' });
    await beat(p);
    p.tree.set(`${REQ}/a/mount`, text('Main Mount!'));
    await beat(p);
    expect(read(p.tree, `${REQ}/a/state`)).toBe('error');
    expect(p.manager.get('saturn', 'link', 'main')).toBeUndefined();
  });
});

describe.each<Transport>(['memory', 'tcp'])('two runtimes over provider-%s', (transport) => {
  it("a link request on earth opens a mount saturn accepts; deleting it closes saturn's side too", async () => {
    const { earth, saturn } = await pair(transport);
    installLink(earth.runtime, earth.manager);
    writeRequest(earth.tree, `${REQ}/to_saturn`, { peer: 'saturn', mount: 'main', local_node: 'earth' });
    await until(
      [earth, saturn],
      () => read(earth.tree, `${REQ}/to_saturn/state`) === 'active' && read(saturn.tree, '/net/mounts/earth/link/main/state') === 'open',
    );
    expect(read(earth.tree, `${REQ}/to_saturn/provider`)).toBe(transport);
    expect(read(saturn.tree, '/net/mounts/earth/link/main/transport/provider')).toBe(transport);
    earth.tree.delete(`${REQ}/to_saturn`);
    await until(
      [earth, saturn],
      () => read(saturn.tree, '/net/mounts/earth/link/main/state') === 'closed' || read(saturn.tree, '/net/mounts/earth/link/main/state') === 'error',
    );
    expect(read(earth.tree, `${REQ}/to_saturn/state`)).toBe('removed');
  });
});

describe('a peer that restarts', () => {
  it('the request shows the peer session; a new session (the peer restarted) re-opens it on the new one', async () => {
    const { earth, saturn } = await pair('memory');
    installLink(earth.runtime, earth.manager);
    writeRequest(earth.tree, `${REQ}/live`, { peer: 'saturn', mount: 'main', local_node: 'earth' });
    await until([earth, saturn], () => read(earth.tree, `${REQ}/live/state`) === 'active' && read(earth.tree, `${REQ}/live/session_seq`) === 1n);
    const hooks = memoryHooks(earth.providers[0]!);
    const channel = hooks.channels()[0]!;
    const same = channel.info.remoteSession!;
    hooks.raise(channel, { type: 'session', id: same }); // a plain reconnect: nothing changes
    for (let i = 0; i < 3; i++) await beat(earth, saturn);
    expect(read(earth.tree, `${REQ}/live/session_seq`)).toBe(1n);
    hooks.raise(channel, { type: 'session', id: 'saturn.restarted' });
    await until([earth, saturn], () => read(earth.tree, `${REQ}/live/session_seq`) === 2n);
    expect(read(earth.tree, `${REQ}/live/state`)).toBe('active');
    expect(read(earth.tree, '/net/mounts/saturn/link/main/session')).toBe('saturn.restarted');
    expect(read(earth.tree, '/net/peers/saturn/ceh/tp_newsess/note')).toMatch(/new session/);
  });
});

describe('provider fatal on a live link', () => {
  it("turns the request to error with the provider's note; the manager mirrors tp_fatal to the peer", async () => {
    const { earth, saturn } = await pair('memory');
    installLink(earth.runtime, earth.manager);
    writeRequest(earth.tree, `${REQ}/live`, { peer: 'saturn', mount: 'main', local_node: 'earth' });
    await until([earth, saturn], () => read(earth.tree, `${REQ}/live/state`) === 'active');
    const hooks = memoryHooks(earth.providers[0]!);
    hooks.raise(hooks.channels()[0]!, { type: 'fatal', error: { code: 'CONNECTION_LOST', message: 'provider-fatal-test' } as never });
    await until([earth, saturn], () => read(earth.tree, `${REQ}/live/state`) === 'error');
    expect(read(earth.tree, `${REQ}/live/error_note`)).toMatch(/provider-fatal-test/);
    expect(read(earth.tree, '/net/peers/saturn/ceh/tp_fatal/severity')).toBe('error');
    expect(read(earth.tree, '/net/peers/saturn/ceh/tp_fatal/note')).toMatch(/provider-fatal-test/);
  });

  it('a channel the peer closes turns the request to error saying so; touching the request reopens it', async () => {
    const { earth, saturn } = await pair('memory');
    installLink(earth.runtime, earth.manager);
    writeRequest(earth.tree, `${REQ}/live`, { peer: 'saturn', mount: 'main', local_node: 'earth' });
    await until([earth, saturn], () => read(saturn.tree, '/net/mounts/earth/link/main/state') === 'open');
    saturn.manager.get('earth', 'link', 'main')!.close('saturn-says-bye');
    await until([earth, saturn], () => read(earth.tree, `${REQ}/live/state`) === 'error');
    expect(read(earth.tree, `${REQ}/live/error_note`)).toMatch(/closed/);
    writeRequest(earth.tree, `${REQ}/live`, { pref_prov: 'memory' });
    await until([earth, saturn], () => read(earth.tree, `${REQ}/live/state`) === 'active');
  });
});
