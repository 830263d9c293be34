import { text } from '@cep/cells';
import { describe, expect, it } from 'vitest';
import { harness, validService, writeService } from './helpers.ts';

const P = '/net/peers/saturn';

describe('discovery: pruning', () => {
  it('removes the services branch and the peer when the last service is deleted (soft)', () => {
    const h = harness();
    writeService(h.tree, 'saturn', 'main', validService());
    writeService(h.tree, 'venus', 'main', validService());
    h.rt.step();
    h.tree.delete(`${P}/services/main`);
    h.rt.step();
    expect(h.tree.find(P)).toBeUndefined(); // removed for good, not merely deleted
    expect(h.tree.get('/net/peers/venus/services/main')).toBeDefined();
    expect(h.facts).toEqual([]);
  });

  it('removes them when the last service is removed hard (the heartbeat organ pass sees it, same beat)', () => {
    const h = harness();
    writeService(h.tree, 'saturn', 'main', validService());
    h.rt.step();
    h.tree.remove(`${P}/services/main`);
    const report = h.rt.step();
    expect(report.organRuns).toBe(1);
    expect(h.tree.find(P)).toBeUndefined();
  });

  it('keeps the other services when one goes', () => {
    const h = harness();
    writeService(h.tree, 'saturn', 'main', validService());
    writeService(h.tree, 'saturn', 'gauges', validService());
    h.rt.step();
    h.tree.remove(`${P}/services/main`);
    h.rt.step();
    expect(
      h.tree
        .get(`${P}/services`)!
        .children()
        .map((c) => c.name.tag.text),
    ).toEqual(['gauges']);
  });

  it('keeps a peer that still has CEI mirrors (ceh), without its empty services branch', () => {
    const h = harness();
    writeService(h.tree, 'saturn', 'main', validService());
    h.rt.cei.emit({ topic: 'tp_backpr', severity: 'warn', note: 'queue full', origin: 'test', peer: 'saturn' });
    h.rt.step();
    h.tree.delete(`${P}/services/main`);
    h.rt.step();
    expect(h.tree.find(`${P}/services`)).toBeUndefined();
    expect(h.tree.getValue(`${P}/ceh/tp_backpr/note`)).toEqual(text('queue full'));
  });

  it("removes a peer once its CEI mirrors are gone too, at the peer's next check (ceh is an output, so removing inside it checks nothing)", () => {
    const h = harness();
    h.rt.cei.emit({ topic: 'tp_backpr', severity: 'warn', note: 'queue full', origin: 'test', peer: 'saturn' });
    h.rt.step();
    h.tree.remove(`${P}/ceh/tp_backpr`);
    expect(h.rt.step().organRuns).toBe(0);
    expect(h.tree.get(`${P}/ceh`)!.children()).toEqual([]);
    h.tree.ensureDictionary(`${P}/services/spare`); // any change below the peer checks it
    h.rt.step();
    expect(h.tree.find(P)).toBeUndefined();
  });

  it('removes an empty service branch without reporting it', () => {
    const h = harness();
    writeService(h.tree, 'saturn', 'main', validService());
    h.tree.ensureDictionary(`${P}/services/spare`);
    h.rt.step();
    expect(h.tree.find(`${P}/services/spare`)).toBeUndefined();
    expect(h.tree.get(`${P}/services/main`)).toBeDefined();
    expect(h.facts).toEqual([]);
  });

  it('removes a service left with only its error note', () => {
    const h = harness();
    writeService(h.tree, 'saturn', 'main', validService());
    writeService(h.tree, 'saturn', 'bad', { mode: text('link') });
    h.rt.step();
    expect(h.tree.get(`${P}/services/bad/error_note`)).toBeDefined();
    h.tree.delete(`${P}/services/bad/mode`);
    h.rt.step();
    expect(h.tree.find(`${P}/services/bad`)).toBeUndefined();
  });

  it('a CEI mirror rewrite does not revalidate the peer (ceh is an output)', () => {
    const h = harness();
    writeService(h.tree, 'saturn', 'main', validService());
    h.rt.step();
    for (let i = 0; i < 3; i++) {
      h.rt.cei.emit({ topic: 'tp_backpr', severity: 'warn', note: `queue full ${i}`, origin: 'test', peer: 'saturn' });
      const report = h.rt.step();
      expect(report.organRuns).toBe(0);
      expect(report.signals).toBe(0);
    }
  });

  it('a CEI fact for an unknown peer creates a peer with only ceh, which is valid and kept', () => {
    const h = harness();
    h.rt.cei.emit({ topic: 'tp_noprov', severity: 'error', note: 'no provider', origin: 'test', peer: 'mars' });
    const report = h.rt.step();
    expect(report.organRuns).toBe(1);
    expect(h.facts.filter((f) => f.topic === 'tp_schema')).toEqual([]);
    expect(h.tree.get('/net/peers/mars/ceh/tp_noprov')).toBeDefined();
  });

  it('settles: after pruning, further beats change nothing', () => {
    const h = harness();
    writeService(h.tree, 'saturn', 'main', validService());
    writeService(h.tree, 'saturn', 'bad', validService({ mode: undefined }));
    h.rt.step();
    h.tree.remove(`${P}/services/main`);
    h.rt.run(3);
    const report = h.rt.step();
    expect(report.organRuns + report.signals).toBe(0);
    expect(h.facts).toHaveLength(1);
  });
});
