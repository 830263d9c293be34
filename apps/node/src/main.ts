/**
 * What the `cep-node` binary does with this process: `keygen`, or {@link runCli} with the
 * process's output, signals and exit. Shared by `src/cli.ts` (run from source) and the bundle's
 * entry (scripts/bundle.mjs), which first waits for what the bundle loads asynchronously.
 */
import { isKeygen, runKeygen } from './keygen.ts';
import { runCli } from './program.ts';

/** Runs the command in `process.argv` and exits with its code. */
export async function runBinary(): Promise<void> {
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
}
