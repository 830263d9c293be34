import { describe, expect, it } from 'vitest';
import { packageVersion, runCli } from '../src/program.ts';
import { fakeIo } from './helpers/io.ts';

const argv = (...args: string[]) => ['node', 'cep-node', ...args];

describe('cep-node --help', () => {
  it('lists every command at the top level and exits 0', async () => {
    const io = fakeIo();
    expect(await runCli(argv('--help'), io.deps)).toBe(0);
    for (const command of ['run', 'inspect', 'demo']) expect(io.stdout()).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
  });

  it.each([
    ['run', ['--config <file>', '--log-level <level>', '--log-format <format>', 'Exit codes']],
    ['inspect', ['[path]', '--url <url>', '--config <file>', '--depth <n>', '--metrics', '--status']],
    ['demo', ['--cells <n>', '--beat-ms <ms>', '--timeout <ms>', 'Exit codes']],
  ])('describes `%s` with its options and exits 0', async (command, expected) => {
    const io = fakeIo();
    expect(await runCli(argv(command, '--help'), io.deps)).toBe(0);
    expect(io.stdout()).toContain(`Usage: cep-node ${command}`);
    for (const text of expected) expect(io.stdout()).toContain(text);
  });

  it('prints the package version with --version', async () => {
    const io = fakeIo();
    expect(await runCli(argv('--version'), io.deps)).toBe(0);
    expect(io.stdout().trim()).toBe(packageVersion());
    expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('cep-node usage errors', () => {
  it('exits 2 on an unknown command', async () => {
    const io = fakeIo();
    expect(await runCli(argv('fly'), io.deps)).toBe(2);
    expect(io.stderr()).toContain("unknown command 'fly'");
  });

  it('exits 2 when run has no --config', async () => {
    const io = fakeIo();
    expect(await runCli(argv('run'), io.deps)).toBe(2);
    expect(io.stderr()).toContain("required option '-c, --config <file>' not specified");
  });

  it('exits 2 on a log level that does not exist', async () => {
    const io = fakeIo();
    expect(await runCli(argv('run', '--config', 'x.yaml', '--log-level', 'loud'), io.deps)).toBe(2);
  });

  it('exits 3 and names the file when the config cannot be read', async () => {
    const io = fakeIo();
    expect(await runCli(argv('run', '--config', '/nonexistent/peer.yaml'), io.deps)).toBe(3);
    expect(io.stderr()).toContain('/nonexistent/peer.yaml: cannot read the config file');
  });
});

describe('cep-node demo', () => {
  // The demo itself spawns peer processes: @cep/integration runs it for real (demo.test.ts).
  it('documents its options and exit codes in --help', async () => {
    const io = fakeIo();
    expect(await runCli(argv('demo', '--help'), io.deps)).toBe(0);
    expect(io.stdout()).toContain('--cells <n>');
    expect(io.stdout()).toContain('--beat-ms <ms>');
    expect(io.stdout()).toContain('Exit codes: 0 when every step worked');
  });

  it('refuses a cell count that is not a whole number', async () => {
    const io = fakeIo();
    expect(await runCli(argv('demo', '--cells', 'many'), io.deps)).toBe(2);
    expect(io.stderr()).toContain('expected a whole number');
  });
});
