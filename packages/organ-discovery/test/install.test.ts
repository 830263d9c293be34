import { createTree, text } from '@cep/cells';
import { createRuntime, organStore } from '@cep/heartbeat';
import { describe, expect, it } from 'vitest';
import { installDiscovery, type DiscoveryErrorCode } from '@cep/organ-discovery';
import { validService, writeService } from './helpers.ts';

describe('discovery: install', () => {
  it('marks /net/peers as the organ root and validates peers already there', () => {
    const tree = createTree();
    writeService(tree, 'saturn', 'main', validService({ mode: undefined }));
    const rt = createRuntime({ tree });
    installDiscovery(rt);
    expect(tree.get('/net/peers')!.storeType?.key).toBe(organStore('net_discovery').key);
    rt.step();
    expect(tree.get('/net/peers/saturn/services/main/error_note')).toBeDefined();
  });

  it('refuses a /net/peers that is a value or belongs to another organ', () => {
    const a = createRuntime();
    a.tree.set('/net/peers', text('x'));
    expect(() => installDiscovery(a)).toThrow(expect.objectContaining({ code: 'DISCOVERY_ROOT_INVALID' satisfies DiscoveryErrorCode }));
    const b = createRuntime();
    b.tree.ensureDictionary('/net/peers', organStore('other'));
    expect(() => installDiscovery(b)).toThrow(expect.objectContaining({ code: 'DISCOVERY_ROOT_INVALID' }));
  });

  it('refuses bad options', () => {
    expect(() => installDiscovery(createRuntime(), { severity: 'info' })).toThrow(expect.objectContaining({ code: 'DISCOVERY_OPTION_INVALID' }));
    expect(() => installDiscovery(createRuntime(), { kind: 'x'.repeat(300) })).toThrow(expect.objectContaining({ code: 'DISCOVERY_OPTION_INVALID' }));
  });

  it('refuses a second install of the same kind and leaves the first working', () => {
    const rt = createRuntime();
    installDiscovery(rt);
    expect(() => installDiscovery(rt)).toThrow(expect.objectContaining({ code: 'ORGAN_DUPLICATE' }));
    writeService(rt.tree, 'saturn', 'main', validService({ mode: undefined }));
    rt.step();
    expect(rt.tree.get('/net/peers/saturn/services/main/error_note')).toBeDefined();
  });

  it('uninstall stops validation and pruning', () => {
    const rt = createRuntime();
    const organ = installDiscovery(rt);
    organ.uninstall();
    rt.step();
    writeService(rt.tree, 'saturn', 'main', validService({ mode: undefined }));
    rt.tree.ensureDictionary('/net/peers/venus/services/empty');
    rt.step();
    expect(rt.tree.get('/net/peers/saturn/services/main/error_note')).toBeUndefined();
    expect(rt.tree.get('/net/peers/venus/services/empty')).toBeDefined();
    // and the kind can be installed again
    installDiscovery(rt);
  });
});
