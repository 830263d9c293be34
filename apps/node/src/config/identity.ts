/**
 * Public-key identities in the config: this node's own key pair (`identity.file`, written by
 * `cep-node keygen`) and, per peer under `keys`, the public key(s) it is accepted by
 * (`public_key`, or `public_keys: [old, new]` during a roll-over). A peer's pre-shared key
 * (`hex`/`base64`/`file`) stays optional beside them and is then mixed into the handshake.
 */
import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { isCepError } from '@cep/errors';
import { MAX_KEYS_PER_PEER, decodeKey, parseKeyFile, type StaticKeyPair } from '@cep/noise-session';
import * as z from 'zod';
import { BoundedReadError, readBoundedFile } from './bounded-read.ts';

/** Largest identity key file read, in bytes (a keygen file is about 200). */
const IDENTITY_FILE_MAX_BYTES = 4096;

/** `identity: { file }`: the node's static key pair, loaded and checked while the config is read. */
export function identitySection(baseDir: string) {
  return z
    .strictObject({ file: z.string().min(1, 'expected the path of a key file written by cep-node keygen') })
    .transform((section, ctx): { file: string; staticKey: StaticKeyPair } => {
      const file = isAbsolute(section.file) ? section.file : resolve(baseDir, section.file);
      const problem = (message: string): typeof z.NEVER => {
        ctx.addIssue({ code: 'custom', path: ['file'], message });
        return z.NEVER;
      };
      let text: string;
      try {
        // An identity file anyone else may read is a leaked key (as ssh treats it).
        const mode = statSync(file).mode;
        if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
          return problem(
            `${file} is accessible by group or others (mode ${(mode & 0o777).toString(8)}); run \`chmod 600 ${file}\` and consider the key leaked`,
          );
        }
        text = readBoundedFile(file, IDENTITY_FILE_MAX_BYTES).toString('utf8');
      } catch (error) {
        return problem(`cannot read identity file ${file}: ${error instanceof BoundedReadError || error instanceof Error ? error.message : String(error)}`);
      }
      try {
        return { file, staticKey: parseKeyFile(text, file) };
      } catch (error) {
        return problem(isCepError(error) ? error.message : String(error));
      }
    });
}

const publicKeyText = z.string().transform((text, ctx): Uint8Array => {
  try {
    return decodeKey(text.trim(), 'public key');
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `${(error as Error).message} (paste the line cep-node keygen printed)` });
    return z.NEVER;
  }
});

/** The public-key fields of a `keys.<peer>` entry. */
export const publicKeyFields = {
  public_key: publicKeyText.optional(),
  public_keys: z
    .array(publicKeyText)
    .min(1, 'expected at least one public key')
    .max(MAX_KEYS_PER_PEER, `a peer holds at most ${MAX_KEYS_PER_PEER} keys (the current one and its successor during a roll-over)`)
    .optional(),
};

/** The public keys of one entry (`public_key` or `public_keys`, not both), or an issue. */
export function publicKeysOf(
  entry: { public_key?: Uint8Array | undefined; public_keys?: Uint8Array[] | undefined },
  ctx: z.RefinementCtx,
): Uint8Array[] | undefined {
  if (entry.public_key !== undefined && entry.public_keys !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['public_keys'], message: 'give public_key or public_keys, not both' });
    return undefined;
  }
  const keys = entry.public_keys ?? (entry.public_key !== undefined ? [entry.public_key] : []);
  const texts = keys.map((k) => Buffer.from(k).toString('base64'));
  if (new Set(texts).size !== texts.length) {
    ctx.addIssue({ code: 'custom', path: ['public_keys'], message: 'the same public key is listed twice' });
    return undefined;
  }
  return keys;
}
