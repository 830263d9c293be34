import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { createTree, u64 } from '@cep/cells';
import { approvePipeline, checkInvoke, declarePolicy } from '@cep/security';
import { loadConfig, validateConfig } from '../src/config/load.ts';
import type { PeerConfig } from '../src/config/schema.ts';
import { createLogger } from '../src/log.ts';
import { startPeer, type Peer } from '../src/peer.ts';
import { logSink } from './helpers/io.ts';
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
    for (const [config, side] of [
      [earth, 'send'],
      [saturn, 'receive'],
    ] as const) {
      const tree = createTree();
      declarePolicy(tree, config.security);
      for (const id of config.security.approve) expect(approvePipeline(tree, id).state).toBe('approved');
      const check = { fromEnclave: 'lab', toEnclave: 'ops', side, usage: { beats: 200 } };
      expect(checkInvoke(tree, { ...check, pipeline: { pipelineId: 'nightly', stageId: 'crunch', dagRunId: 1n, hopIndex: 1 } })).toMatchObject({
        allowed: true,
      });
      expect(checkInvoke(tree, check)).toMatchObject({ allowed: false, topic: 'sec.pipeline.reject' });
      expect(
        checkInvoke(tree, { ...check, fromEnclave: 'ops', toEnclave: 'lab', pipeline: { pipelineId: 'nightly', stageId: 'fetch', dagRunId: 1n, hopIndex: 1 } }),
      ).toMatchObject({ allowed: false, topic: 'sec.edge.deny' });
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

describe('the loopback pair (examples/loopback), which runs as is on one machine', () => {
  const loopback = (file: string) => fileURLToPath(new URL(`../examples/loopback/${file}`, import.meta.url));
  const peers: Peer[] = [];
  afterEach(async () => {
    await Promise.all(peers.splice(0).map((peer) => peer.stop('test over')));
  });

  it('stays on loopback with distinct ports and one shared example key', () => {
    const earth = loadConfig(loopback('earth.yaml'));
    const saturn = loadConfig(loopback('saturn.yaml'));
    const ports = [
      earth.listen['tcp'],
      saturn.listen['tcp'],
      `127.0.0.1:${earth.http ? earth.http.port : ''}`,
      `127.0.0.1:${saturn.http ? saturn.http.port : ''}`,
    ];
    for (const address of ports) expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(new Set(ports.map((address) => address!.split(':')[1])).size).toBe(4);
    expect(earth.peers[0]!.address).toBe(saturn.listen['tcp']);
    expect(saturn.peers[0]!.address).toBe(earth.listen['tcp']);
    expect(Buffer.from(earth.keys['saturn']!).equals(Buffer.from(saturn.keys['earth']!))).toBe(true);
  });

  it('links, mirrors and invokes with only the ports changed (free ones, so tests can run beside anything)', async () => {
    const [earthTcp, saturnTcp] = await Promise.all([freePort(), freePort()]);
    const rewrite = (file: string): PeerConfig => {
      const text = readFileSync(loopback(file), 'utf8')
        .replaceAll('7101', String(earthTcp))
        .replaceAll('7102', String(saturnTcp))
        .replace(/port: 946\d/, 'port: 0');
      return validateConfig(parseYaml(text), loopback(file));
    };
    const quiet = () => createLogger({ level: 'warn', destination: logSink().destination, isTTY: false });
    const saturnConfig = rewrite('saturn.yaml');
    const saturn = await startPeer({ config: saturnConfig, handlers: await loadHandlers(saturnConfig, loopback('saturn.yaml')), log: quiet() });
    peers.push(saturn);
    const earth = await startPeer({ config: rewrite('earth.yaml'), log: quiet() });
    peers.push(earth);
    const invoke = async (handler: string, arg: string) => {
      const res = await fetch(`${earth.httpUrl}/invoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ peer: 'saturn', handler, arg }),
      });
      return (await res.json()) as { status: string; result?: unknown };
    };
    expect(await invoke('add', '41')).toMatchObject({ status: 'ok', result: '42' });
    // 9,000 cells: more than the handler writes in one beat (256), so the rest is deferred
    // (call.defer) and the reply comes before the branch is full.
    expect(await invoke('sky', '9000')).toMatchObject({ status: 'ok', result: '9000' });
    const digest = async (peer: Peer, path: string) =>
      (await (await fetch(`${peer.httpUrl}/digest?path=${path}`)).json()) as { digest: string | null; cells: number };
    let source = await digest(saturn, '/data/sky');
    let copy = await digest(earth, '/data/saturn/sky');
    // 9,000 values in 90 groups under the branch's root.
    while (source.cells !== 9091 || copy.digest !== source.digest) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      [source, copy] = await Promise.all([digest(saturn, '/data/sky'), digest(earth, '/data/saturn/sky')]);
    }
    expect(copy.cells).toBe(9091);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
