import { bool, text } from '@cep/cells';
import { createRuntime } from '@cep/heartbeat';
import { installDiscovery } from '@cep/organ-discovery';
import { describe, expect, it } from 'vitest';
import { installHealth } from '@cep/organ-health';
import { fakeManager, writeMount } from './helpers.ts';

function service(rt: ReturnType<typeof createRuntime>, peer: string, name: string): void {
  const at = `/net/peers/${peer}/services/${name}`;
  rt.tree.set(`${at}/mode`, text('link'));
  rt.tree.set(`${at}/mount`, text(name));
  rt.tree.set(`${at}/local_node`, text('earth'));
  rt.tree.set(`${at}/provider`, text('tcp'));
  rt.tree.set(`${at}/upd_latest`, bool(false));
}

describe('health and discovery together', () => {
  it('a peer losing its mounts and then its services ends with nothing under /net, and the two organs settle', () => {
    const rt = createRuntime();
    installDiscovery(rt);
    installHealth(rt);
    fakeManager(rt);
    writeMount(rt.tree, 'saturn', 'link', 'main');
    service(rt, 'saturn', 'main');
    rt.step();
    rt.cei.emit({ topic: 'tp_backpr', severity: 'warn', note: 'full', origin: 'test', peer: 'saturn' });
    rt.run(2);
    expect(rt.tree.get('/net/telemetry/saturn/main/frame_count')).toBeDefined();

    rt.tree.remove('/net/mounts/saturn/link/main');
    rt.step();
    // health: telemetry and ceh gone; discovery: the services stay advertised
    expect(rt.tree.find('/net/telemetry/saturn')).toBeUndefined();
    expect(rt.tree.find('/net/peers/saturn/ceh')).toBeUndefined();
    expect(rt.tree.get('/net/peers/saturn/services/main')).toBeDefined();

    rt.tree.remove('/net/peers/saturn/services/main');
    rt.step();
    expect(rt.tree.find('/net/peers/saturn')).toBeUndefined();

    rt.run(2);
    const report = rt.step();
    expect(report.organRuns + report.signals).toBe(0);
  });

  it('schema facts from both organs land in the same ceh mirror without retriggering either', () => {
    const rt = createRuntime();
    installDiscovery(rt);
    installHealth(rt);
    writeMount(rt.tree, 'saturn', 'link', 'main');
    rt.tree.set('/net/peers/saturn/services/main/mode', text('link'));
    rt.tree.set('/net/telemetry/saturn/main/frame_count', text('x'));
    rt.step();
    const note = rt.tree.getValue('/net/peers/saturn/ceh/tp_schema/note');
    // discovery ('net_discovery') runs before health ('net_health'): the latest fact is health's
    expect(note?.type === 'text' && note.value.startsWith(`telemetry peer 'saturn' mount 'main'`)).toBe(true);
    const report = rt.step();
    expect(report.organRuns + report.signals).toBe(0);
  });
});
