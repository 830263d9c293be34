import { createTree, text } from '@cep/cells';
import { createRuntime, organStore } from '@cep/heartbeat';
import { describe, expect, it } from 'vitest';
import { installHealth, type HealthErrorCode } from '@cep/organ-health';
import { validRecord, writeMount, writeRecord } from './helpers.ts';

describe('health: install', () => {
  it('marks /net/telemetry as the organ root and validates records already there', () => {
    const tree = createTree();
    writeRecord(tree, 'saturn', 'main', validRecord({ bp_flag: undefined }));
    const rt = createRuntime({ tree });
    installHealth(rt);
    expect(tree.get('/net/telemetry')!.storeType?.key).toBe(organStore('net_health').key);
    rt.step();
    expect(tree.get('/net/telemetry/saturn/main/error_note')).toBeDefined();
  });

  it('refuses a /net/telemetry that is a value or belongs to another organ', () => {
    const a = createRuntime();
    a.tree.set('/net/telemetry', text('x'));
    expect(() => installHealth(a)).toThrow(expect.objectContaining({ code: 'HEALTH_ROOT_INVALID' satisfies HealthErrorCode }));
    const b = createRuntime();
    b.tree.ensureDictionary('/net/telemetry', organStore('other'));
    expect(() => installHealth(b)).toThrow(expect.objectContaining({ code: 'HEALTH_ROOT_INVALID' }));
  });

  it('refuses bad options and a second install', () => {
    expect(() => installHealth(createRuntime(), { severity: 'fatal' })).toThrow(expect.objectContaining({ code: 'HEALTH_OPTION_INVALID' }));
    expect(() => installHealth(createRuntime(), { kind: 'x'.repeat(300) })).toThrow(expect.objectContaining({ code: 'HEALTH_OPTION_INVALID' }));
    const rt = createRuntime();
    installHealth(rt);
    expect(() => installHealth(rt)).toThrow(expect.objectContaining({ code: 'ORGAN_DUPLICATE' }));
  });

  it('uninstall stops validation and pruning', () => {
    const rt = createRuntime();
    installHealth(rt).uninstall();
    writeMount(rt.tree, 'saturn', 'link', 'main');
    writeRecord(rt.tree, 'saturn', 'main', validRecord({ bp_flag: undefined }));
    rt.step();
    rt.tree.remove('/net/mounts/saturn');
    rt.step();
    expect(rt.tree.get('/net/telemetry/saturn/main')).toBeDefined();
    expect(rt.tree.get('/net/telemetry/saturn/main/error_note')).toBeUndefined();
    installHealth(rt);
  });
});
