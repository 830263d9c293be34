import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createTree, u64 } from '@cep/cells';
import { approvePipeline, checkInvoke, declarePolicy } from '@cep/security';
import { loadConfig } from '../src/config/load.ts';
import { loadHandlers } from '../src/handlers.ts';
import { createRuntime } from '@cep/heartbeat';

const example = (file: string) => fileURLToPath(new URL(`../examples/${file}`, import.meta.url));

describe('the README examples', () => {
  it('earth.yaml and saturn.yaml are valid and share one key per pair', () => {
    const earth = loadConfig(example('earth.yaml'));
    const saturn = loadConfig(example('saturn.yaml'));
    expect(earth.peers.map((p) => p.name)).toEqual(['saturn']);
    expect(saturn.peers.map((p) => p.name)).toEqual(['earth']);
    expect(Buffer.from(earth.keys['saturn']!).equals(Buffer.from(saturn.keys['earth']!))).toBe(true);
  });

  it('earth.yaml and saturn.yaml place each other in lab and ops and enforce one policy: only the approved stage crosses', () => {
    const earth = loadConfig(example('earth.yaml'));
    const saturn = loadConfig(example('saturn.yaml'));
    expect([earth.enclave, earth.peers[0]!.enclave, saturn.enclave, saturn.peers[0]!.enclave]).toEqual(['lab', 'ops', 'ops', 'lab']);
    const { approve: _e, ...earthPolicy } = earth.security;
    const { approve: _s, ...saturnPolicy } = saturn.security;
    expect(saturnPolicy).toEqual(earthPolicy);
    // What each side decides for earth → saturn, as the running peers do (see wiring/security.ts).
    for (const [config, side] of [[earth, 'send'], [saturn, 'receive']] as const) {
      const tree = createTree();
      declarePolicy(tree, config.security);
      for (const id of config.security.approve) expect(approvePipeline(tree, id).state).toBe('approved');
      const check = { fromEnclave: 'lab', toEnclave: 'ops', side, usage: { beats: 200 } };
      expect(checkInvoke(tree, { ...check, pipeline: { pipelineId: 'nightly', stageId: 'crunch', dagRunId: 1n, hopIndex: 1 } })).toMatchObject({ allowed: true });
      expect(checkInvoke(tree, check)).toMatchObject({ allowed: false, topic: 'sec.pipeline.reject' });
      expect(checkInvoke(tree, { ...check, fromEnclave: 'ops', toEnclave: 'lab', pipeline: { pipelineId: 'nightly', stageId: 'fetch', dagRunId: 1n, hopIndex: 1 } })).toMatchObject({ allowed: false, topic: 'sec.edge.deny' });
    }
  });

  it('local.yaml, the quick start, is valid and stays on loopback', () => {
    const local = loadConfig(example('local.yaml'));
    expect(local.listen).toEqual({ tcp: '127.0.0.1:0' });
    expect(local.http).toEqual({ host: '127.0.0.1', port: 9464, hosts: [] });
  });

  it("saturn's add handler loads and answers", async () => {
    const saturn = loadConfig(example('saturn.yaml'));
    const [add] = await loadHandlers(saturn, 'saturn.yaml');
    const call = { invokeId: 'inv-test', beat: 1, caller: 'earth', signal: '/sig/add', payload: u64(1), tree: createRuntime().tree };
    expect(add!.handler.run(call)).toEqual({ status: 'ok', result: u64(2) });
    expect(add!.handler.run({ ...call, payload: undefined as never })).toMatchObject({ status: 'reject' });
  });
});
