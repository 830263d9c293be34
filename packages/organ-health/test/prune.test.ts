import { text } from '@cep/cells';
import { describe, expect, it } from 'vitest';
import { fakeManager, harness, writeMount, writeRecord } from './helpers.ts';

const T = '/net/telemetry/saturn';

function twoMounts() {
  const h = harness();
  writeMount(h.tree, 'saturn', 'link', 'main');
  writeMount(h.tree, 'saturn', 'mirror', 'backup');
  writeRecord(h.tree, 'saturn', 'main');
  writeRecord(h.tree, 'saturn', 'backup');
  h.rt.cei.emit({ topic: 'tp_backpr', severity: 'warn', note: 'queue full', origin: 'test', peer: 'saturn' });
  h.rt.step();
  return h;
}

describe('health: pruning when mounts vanish', () => {
  it('a mount removed (hard) between beats takes its telemetry with it in the next beat, not before', () => {
    const h = twoMounts();
    h.tree.remove('/net/mounts/saturn/link/main');
    expect(h.tree.get(`${T}/main`)).toBeDefined(); // nothing happens outside a beat
    const report = h.rt.step();
    expect(report.agenda.map((a) => a.enzyme)).toEqual(['net_health:prune']);
    expect(h.tree.find(`${T}/main`)).toBeUndefined();
    expect(h.tree.get(`${T}/backup`)).toBeDefined();
    expect(h.tree.get('/net/peers/saturn/ceh/tp_backpr')).toBeDefined(); // the peer still has a mount
    expect(h.facts.filter((f) => f.topic === 'tp_schema')).toEqual([]);
  });

  it('a soft delete counts as vanishing too', () => {
    const h = twoMounts();
    h.tree.delete('/net/mounts/saturn/mirror/backup');
    h.rt.step();
    expect(h.tree.find(`${T}/backup`)).toBeUndefined();
    expect(h.tree.get(`${T}/main`)).toBeDefined();
  });

  it('keeps telemetry while the same mount name lives on in another mode', () => {
    const h = twoMounts();
    writeMount(h.tree, 'saturn', 'invoke', 'main');
    h.rt.step();
    h.tree.remove('/net/mounts/saturn/link/main');
    h.rt.step();
    expect(h.tree.get(`${T}/main`)).toBeDefined();
    h.tree.remove('/net/mounts/saturn/invoke');
    h.rt.step();
    expect(h.tree.find(`${T}/main`)).toBeUndefined();
  });

  it('when the last mount goes: the telemetry peer, its CEI mirrors and the then-empty peer entry go', () => {
    const h = twoMounts();
    h.tree.remove('/net/mounts/saturn');
    h.rt.step();
    expect(h.tree.find(T)).toBeUndefined();
    expect(h.tree.find('/net/peers/saturn')).toBeUndefined();
  });

  it('keeps the peer entry (without ceh) when it still advertises services', () => {
    const h = twoMounts();
    h.tree.set('/net/peers/saturn/services/main/mode', text('link'));
    h.tree.delete('/net/mounts/saturn/link/main');
    h.tree.delete('/net/mounts/saturn/mirror/backup');
    h.rt.step();
    expect(h.tree.find('/net/peers/saturn/ceh')).toBeUndefined();
    expect(h.tree.get('/net/peers/saturn/services/main/mode')).toBeDefined();
    expect(h.tree.find(T)).toBeUndefined();
  });

  it('only touches the peer whose mounts went', () => {
    const h = twoMounts();
    writeMount(h.tree, 'venus', 'link', 'main');
    writeRecord(h.tree, 'venus', 'main');
    h.rt.cei.emit({ topic: 'tp_fatal', severity: 'error', note: 'x', origin: 'test', peer: 'venus' });
    h.rt.step();
    h.tree.remove('/net/mounts/saturn');
    h.rt.step();
    expect(h.tree.get('/net/telemetry/venus/main')).toBeDefined();
    expect(h.tree.get('/net/peers/venus/ceh/tp_fatal')).toBeDefined();
  });

  it('/net/mounts removed as a whole prunes every peer', () => {
    const h = twoMounts();
    writeMount(h.tree, 'venus', 'link', 'main');
    writeRecord(h.tree, 'venus', 'main');
    h.rt.step();
    h.tree.remove('/net/mounts');
    h.rt.step();
    expect(h.tree.get('/net/telemetry')!.children()).toEqual([]);
    expect(h.tree.find('/net/peers/saturn')).toBeUndefined();
  });

  it('leaves telemetry alone when no mount vanished (a record written before its mount is not pruned)', () => {
    const h = harness();
    writeRecord(h.tree, 'saturn', 'main');
    h.rt.run(3);
    expect(h.tree.get(`${T}/main`)).toBeDefined();
    // a field change inside a live mount is not a mount vanishing
    writeMount(h.tree, 'saturn', 'link', 'other');
    h.rt.step();
    h.tree.remove('/net/mounts/saturn/link/other/state');
    const report = h.rt.step();
    expect(report.signals).toBe(0);
    expect(h.tree.get(`${T}/main`)).toBeDefined();
  });

  for (const lag of [false, true]) {
    it(`does not fight a transport manager that writes telemetry every beat${lag ? ' (one beat late to notice a removal)' : ''}`, () => {
      const h = harness();
      fakeManager(h.rt, { lag });
      writeMount(h.tree, 'saturn', 'link', 'main');
      writeMount(h.tree, 'saturn', 'link', 'aux');
      h.rt.run(2);
      h.rt.registerEnzyme({ name: 'close', signal: '/test/close', run: (ctx) => void ctx.runtime.tree.remove('/net/mounts/saturn/link/aux') });
      h.rt.step();
      h.rt.enqueue('/test/close');
      h.rt.step(); // the mount goes in compute; the manager (maybe stale) writes in commit
      h.rt.step(); // the prune runs in compute of the next beat
      expect(h.tree.find(`${T}/aux`)).toBeUndefined();
      const frames = (): unknown => h.tree.getValue(`${T}/main/frame_count`);
      const before = frames();
      h.rt.run(4);
      expect(h.tree.find(`${T}/aux`)).toBeUndefined(); // never comes back
      expect(frames()).not.toEqual(before); // the live mount's telemetry keeps flowing
      expect(h.facts).toEqual([]);
      expect(
        h.tree
          .get(`${T}/main`)!
          .children()
          .some((c) => c.name.tag.text === 'error_note'),
      ).toBe(false);
    });
  }

  it('settles: after a prune, further beats do no organ or prune work', () => {
    const h = twoMounts();
    h.tree.remove('/net/mounts/saturn/link/main');
    h.rt.run(2);
    const report = h.rt.step();
    expect(report.organRuns + report.signals).toBe(0);
  });
});
