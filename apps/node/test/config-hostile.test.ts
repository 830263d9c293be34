import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isCepError } from '@cep/errors';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../src/config/load.ts';
import { runCli } from '../src/program.ts';
import { KEY_HEX, minimalConfig, tempDir } from './helpers/files.ts';
import { fakeIo } from './helpers/io.ts';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

const argv = (...args: string[]): string[] => ['node', 'cep-node', ...args];

/** `cep-node run --config <file>` in-process: the exit code and stderr. */
async function run(file: string): Promise<{ code: number; stderr: string }> {
  const io = fakeIo();
  const code = await runCli(argv('run', '--config', file), io.deps);
  return { code, stderr: io.stderr() };
}

/** The lines of the CONFIG_INVALID error `doc` gets, without the file prefix. */
function problems(doc: unknown): string[] {
  const path = tmp.write('peer.yaml', stringify(doc));
  try {
    loadConfig(path);
  } catch (error) {
    if (!isCepError(error, 'CONFIG_INVALID')) throw error;
    return error.message.split('\n').map((l) => l.slice(path.length + 2));
  }
  throw new Error('the config was accepted');
}

// A "billion laughs": each level refers to the one before nine times.
const ALIAS_BOMB = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`),
  'peer: earth',
  'enclave: lab',
].join('\n');

describe('config files a hostile or careless hand wrote exit 3 with "file: field: ...", never a stack trace', () => {
  it.each([
    ['an empty file', ''],
    ['a file of only a comment', '# nothing here\n'],
    ['a YAML list', '- peer: earth\n'],
    ['a bare word', 'earth\n'],
  ])('%s', async (_what, text) => {
    const file = tmp.write('peer.yaml', text);
    const { code, stderr } = await run(file);
    expect(code).toBe(3);
    expect(stderr).toContain(`${file}: (root): expected a mapping`);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('a YAML alias bomb', async () => {
    const file = tmp.write('peer.yaml', ALIAS_BOMB);
    const { code, stderr } = await run(file);
    expect(code).toBe(3);
    expect(stderr).toContain(`${file}: (root): not a usable YAML document`);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('a key file of /dev/zero does not hang start-up: refused as not a regular file', async () => {
    const file = tmp.write('peer.yaml', stringify(minimalConfig({ keys: { saturn: { file: '/dev/zero', encoding: 'raw' } } })));
    const { code, stderr } = await run(file);
    expect(code).toBe(3);
    expect(stderr).toContain(`${file}: keys.saturn.file: cannot read key file /dev/zero: not a regular file`);
  });

  it('a key file far larger than a key is refused after reading a few KiB, not read whole', async () => {
    const big = tmp.write('big.key', Buffer.alloc(8 << 20, 0x61));
    expect(problems(minimalConfig({ keys: { saturn: { file: big } } }))).toEqual([
      `keys.saturn.file: cannot read key file ${big}: larger than 4096 bytes, so not a key or token`,
    ]);
  });

  it('a key file that is a FIFO nobody writes is refused at once', async () => {
    const fifo = join(tmp.dir, 'key.fifo');
    execFileSync('mkfifo', [fifo]);
    expect(existsSync(fifo)).toBe(true);
    expect(problems(minimalConfig({ keys: { saturn: { file: fifo } } }))).toEqual([`keys.saturn.file: cannot read key file ${fifo}: not a regular file`]);
  });

  it('a config file of /dev/zero is refused, not read forever', async () => {
    const { code, stderr } = await run('/dev/zero');
    expect(code).toBe(3);
    expect(stderr).toContain('/dev/zero: cannot read the config file (not a regular file)');
  });
});

describe('the http section', () => {
  it('requires a token when the endpoint is bound beyond loopback', () => {
    expect(problems(minimalConfig({ http: { host: '0.0.0.0' } }))).toEqual([
      expect.stringMatching(/^http\.token: required when http\.host is not a loopback address \("0\.0\.0\.0"\)/),
    ]);
    expect(problems(minimalConfig({ http: { host: '10.1.2.3', token: 'short' } }))).toEqual(['http.token: expected at least 16 characters, got 5']);
  });

  it('takes the token from a file (bounded, trimmed), and refuses a file of the wrong shape', () => {
    const good = tmp.write('token', 'sixteen-chars-or-more\n');
    const config = loadConfig(tmp.write('peer.yaml', stringify(minimalConfig({ http: { host: '0.0.0.0', token_file: good } }))));
    expect(config.http).toEqual({ host: '0.0.0.0', port: 9464, hosts: [], token: 'sixteen-chars-or-more' });
    expect(problems(minimalConfig({ http: { token_file: '/dev/zero' } }))).toEqual(['http.token_file: cannot read token file /dev/zero: not a regular file']);
    const short = tmp.write('short', 'abc');
    expect(problems(minimalConfig({ http: { token_file: short } }))).toEqual([
      `http.token_file: expected a token of at least 16 characters without spaces in ${short}`,
    ]);
    expect(problems(minimalConfig({ http: { token: 'sixteen-chars-or-more', token_file: good } }))).toEqual([
      'http.token_file: give token or token_file, not both',
    ]);
  });

  it('a loopback endpoint needs no token; http: false still turns it off', () => {
    expect(loadConfig(tmp.write('a.yaml', stringify(minimalConfig({ http: { host: '::1' } })))).http).toMatchObject({ host: '::1' });
    expect(loadConfig(tmp.write('b.yaml', stringify(minimalConfig({ http: false })))).http).toBe(false);
  });
});

describe('branch access in the config', () => {
  const saturn = { keys: { saturn: { hex: KEY_HEX } }, peers: [{ name: 'saturn', provider: 'tcp', address: '127.0.0.1:7100' }] };
  const mirrorInto = (target: string) => ({ ...saturn, mirrors: [{ name: 'sky', source: { peer: 'saturn', path: '/data/sky' }, target }] });

  it.each(['/sys/security', '/sys', '/net', '/net/organs/mirror/requests', '/journal/x', '/rt/ops'])(
    'refuses a mirror target inside a reserved branch: %s',
    (target) => {
      expect(problems(minimalConfig(mirrorInto(target)))).toEqual([
        expect.stringMatching(new RegExp(`^mirrors\\[0\\]\\.target: "${target}" is inside /(sys|net|journal|rt), which this peer keeps for itself`)),
      ]);
    },
  );

  it('accepts targets that only look alike (/system, /network)', () => {
    expect(loadConfig(tmp.write('ok.yaml', stringify(minimalConfig(mirrorInto('/system/sky'))))).mirrors[0]!.target).toBe('/system/sky');
  });

  it('refuses an export inside a reserved branch, accepts branches elsewhere', () => {
    expect(problems(minimalConfig({ exports: ['/data/sky', '/sys/security'] }))).toEqual([
      'exports[1]: "/sys/security" is inside /sys, which a peer never serves',
    ]);
    expect(loadConfig(tmp.write('ok.yaml', stringify(minimalConfig({ exports: ['/data/sky'] })))).exports).toEqual(['/data/sky']);
  });
});
