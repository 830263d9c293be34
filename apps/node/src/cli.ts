#!/usr/bin/env node
/**
 * The `cep-node` binary: wires {@link runCli} to this process.
 */
import { isKeygen, runKeygen } from './keygen.ts';
import { runCli } from './program.ts';

const stdout = (text: string): void => void process.stdout.write(text);
const stderr = (text: string): void => void process.stderr.write(text);
const code = isKeygen(process.argv)
  ? await runKeygen(process.argv.slice(3), { stdout, stderr })
  : await runCli(process.argv, {
      stdout,
      stderr,
      env: process.env,
      signals: process,
      forceExit: (c) => process.exit(c),
    });
// Explicit exit: a provider socket or timer left open by a bug must not keep a stopped peer alive.
process.exitCode = code;
process.stdout.write('', () => process.exit(code));
