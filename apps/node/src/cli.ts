#!/usr/bin/env node
/**
 * The `cep-node` binary: wires {@link runCli} to this process.
 */
import { runCli } from './program.ts';

const code = await runCli(process.argv, {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  env: process.env,
  signals: process,
  forceExit: (c) => process.exit(c),
});
// Explicit exit: a provider socket or timer left open by a bug must not keep a stopped peer alive.
process.exitCode = code;
process.stdout.write('', () => process.exit(code));
