import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { KEY_HEX, tempDir } from './helpers/files.ts';
import { killAll, spawnCepNode } from './helpers/child.ts';

const tmp = tempDir();
afterEach(killAll);
afterAll(() => tmp.cleanup());

describe('cep-node as a real process', () => {
  it('runs a peer, serves HTTP, and exits 0 on SIGTERM with a final log line', async () => {
    const file = tmp.write(
      'earth.yaml',
      stringify({
        peer: 'earth',
        enclave: 'lab',
        beat_ms: 5,
        http: { port: 0 },
        keys: { saturn: { hex: KEY_HEX } },
        peers: [{ name: 'saturn', provider: 'tcp', address: '127.0.0.1:7100' }],
      }),
    );
    const node = spawnCepNode(['run', '--config', file, '--log-format', 'json']);
    const listening = await node.waitForLog((l) => l['msg'] === 'http endpoint listening');
    const url = listening['url'] as string;
    await node.waitForLog((l) => l['msg'] === 'peer started');
    const status = (await (await fetch(`${url}/status`)).json()) as { peer: string; beat: number };
    expect(status.peer).toBe('earth');
    const net = (await (await fetch(`${url}/net?path=/net/organs/link/requests/1`)).json()) as { value: Record<string, string> };
    expect(net.value).toMatchObject({ peer: 'saturn', pref_prov: 'tcp' });

    node.child.kill('SIGTERM');
    const { code, signal } = await node.exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    const last = JSON.parse(node.stdoutLines.filter((l) => l.trim() !== '').at(-1)!) as Record<string, unknown>;
    expect(last).toMatchObject({ msg: 'peer stopped', reason: 'signal SIGTERM', peer: 'earth' });
    expect(last['beats']).toBeGreaterThan(0);
    expect(node.stderr()).toBe('');
  });

  it('exits 3 before starting anything when the config is bad, naming file and field', async () => {
    const file = tmp.write('bad.yaml', stringify({ peer: 'earth', enclave: 'lab', listen: { tcp: 'localhost' } }));
    const node = spawnCepNode(['run', '--config', file]);
    const { code } = await node.exited;
    expect(code).toBe(3);
    expect(node.stderr()).toContain(`${file}: listen.tcp: expected host:port`);
    expect(node.stdoutLines.join('')).toBe('');
  });

  it('prints its version', async () => {
    const node = spawnCepNode(['--version']);
    expect((await node.exited).code).toBe(0);
    expect(node.stdoutLines[0]).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
