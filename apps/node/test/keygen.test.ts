import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeKey, fingerprint, loadKeyFile } from '@cep/noise-session';
import { isKeygen, runKeygen } from '../src/keygen.ts';
import { killAll, spawnCepNode } from './helpers/child.ts';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cep-keygen-'));
});
afterEach(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { deps: { stdout: (t: string) => void out.push(t), stderr: (t: string) => void err.push(t) }, stdout: () => out.join(''), stderr: () => err.join('') };
}

describe('cep-node keygen', () => {
  it('writes a 0600 key file and prints its public key and fingerprint', async () => {
    const path = join(dir, 'node.key');
    const run = io();
    expect(await runKeygen(['--out', path], run.deps)).toBe(0);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const pair = await loadKeyFile(path);
    const printed = decodeKey(run.stdout().trim());
    expect(Buffer.from(printed)).toEqual(Buffer.from(pair.publicKey));
    expect(run.stderr()).toContain(fingerprint(pair.publicKey));
  });

  it('refuses to overwrite an existing key file (exit 3) and leaves it unchanged', async () => {
    const path = join(dir, 'node.key');
    expect(await runKeygen(['-o', path], io().deps)).toBe(0);
    const before = readFileSync(path, 'utf8');
    const run = io();
    expect(await runKeygen(['-o', path], run.deps)).toBe(3);
    expect(run.stderr()).toContain('NOISE_KEY_FILE_EXISTS');
    expect(run.stdout()).toBe('');
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  it('exits 2 without --out or with an unknown option, and documents itself in --help', async () => {
    expect(await runKeygen([], io().deps)).toBe(2);
    expect(await runKeygen(['--bits', '4096'], io().deps)).toBe(2);
    const help = io();
    expect(await runKeygen(['--help'], help.deps)).toBe(0);
    expect(help.stdout()).toContain('Usage: cep-node keygen --out <file>');
    expect(isKeygen(['node', 'cep-node', 'keygen'])).toBe(true);
    expect(isKeygen(['node', 'cep-node', 'run'])).toBe(false);
  });

  it('runs as the cep-node binary', async () => {
    const path = join(dir, 'bin.key');
    const child = spawnCepNode(['keygen', '--out', path]);
    expect((await child.exited).code).toBe(0);
    const pair = await loadKeyFile(path);
    expect(child.stdoutLines[0]).toBe(Buffer.from(pair.publicKey).toString('base64'));
  });
});
