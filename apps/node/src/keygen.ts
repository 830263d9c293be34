/**
 * `cep-node keygen --out <file>`: creates this node's static key pair (the identity its
 * peers list by public key), writes it to a new file readable by the owner only (0600)
 * and prints the public key — one base64 line on stdout, so `cep-node keygen -o k > k.pub`
 * gives the line to hand to peers — and its fingerprint on stderr.
 */
import { parseArgs } from 'node:util';
import { isCepError } from '@cep/errors';
import { encodeKey, fingerprint, generateKeyPair, writeKeyFile } from '@cep/noise-session';

/** What keygen needs from the process. */
export interface KeygenIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const USAGE = `Usage: cep-node keygen --out <file>

Create a static X25519 key pair for this node and write it to <file> (mode 0600; an
existing file is never overwritten). Prints the public key (base64) on stdout and its
fingerprint on stderr. Give the public key to the peers that should accept this node.

Options:
  -o, --out <file>  where to write the key pair (required)
  -h, --help        show help

Exit codes: 0 written, 2 usage error, 3 the file exists or cannot be written.
`;

/** True when `argv` (as `process.argv`) asks for the keygen command. */
export function isKeygen(argv: readonly string[]): boolean {
  return argv[2] === 'keygen';
}

/** Runs `cep-node keygen` with the arguments after `keygen`; resolves to the exit code. */
export async function runKeygen(args: readonly string[], io: KeygenIo): Promise<number> {
  let values: { out?: string | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({ args: [...args], options: { out: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } }, strict: true }));
  } catch (error) {
    io.stderr(`cep-node keygen: ${(error as Error).message}\n(run with --help for usage)\n`);
    return 2;
  }
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  if (!values.out) {
    io.stderr(`cep-node keygen: --out <file> is required\n(run with --help for usage)\n`);
    return 2;
  }
  const pair = generateKeyPair();
  try {
    await writeKeyFile(values.out, pair);
  } catch (error) {
    const what = isCepError(error) ? `${error.code}\n${error.message}` : `cannot write ${values.out}: ${(error as Error).message}`;
    io.stderr(`cep-node keygen: ${what}\n`);
    return 3;
  }
  io.stdout(`${encodeKey(pair.publicKey)}\n`);
  io.stderr(`wrote ${values.out} (0600); fingerprint ${fingerprint(pair.publicKey)}\n`);
  return 0;
}
