/**
 * The README's main command: `cep-node demo` as a real process (it spawns earth and saturn as
 * two more), checked by what it prints and its exit code.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cepNodeCommand } from './harness/peer-process.ts';

describe('cep-node demo', () => {
  it('links two peer processes over TCP, mirrors a branch to equal digests, invokes remotely once the mirror is over, and exits 0', async () => {
    const { args, cwd } = cepNodeCommand();
    const child = spawn(process.execPath, [...args, 'demo', '--cells', '1000', '--timeout', '40000'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => void (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => void (err += c));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toMatch(/linked {2}earth → saturn over tcp, authenticated/);
    expect(out).toMatch(/mirror\/sky +open +provider tcp/);
    expect(out).toMatch(/\d+ cells, digest [0-9a-f]{16}… equal on both peers/);
    expect(out).toMatch(/sky 1000 +→ 1000 cells written/);
    expect(out).toMatch(/add 41 +→ 42/);
    // add 41 goes out after the mirror is over: earth's beat when it was issued is not before the
    // mirror's last commit as read at the end of the demo (a call sent while bundles still
    // arrived would show a later last commit than its own beat).
    const issued = Number(/add 41 .*issued at earth beat (\d+)/.exec(out)?.[1]);
    const lastCommit = Number(/bundles applied \d+, last commit at beat (\d+)/.exec(out)?.[1]);
    expect(Number.isSafeInteger(issued) && Number.isSafeInteger(lastCommit)).toBe(true);
    expect(issued).toBeGreaterThanOrEqual(lastCommit);
    expect(out).toMatch(/stopped both peers with SIGTERM \(exit codes 0, 0\)/);
  }, 60_000);
});
