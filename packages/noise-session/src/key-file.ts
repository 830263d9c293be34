import { type FileHandle, open, readFile } from 'node:fs/promises';
import { noiseError } from './errors.ts';
import { decodeKey, encodeKey, keyPairFromPrivate, sameKey, type StaticKeyPair } from './keys.ts';

/** The `format` field of a key file. */
export const KEY_FILE_FORMAT = 'cep-noise-key';
/** The `version` of the key files this package writes and reads. */
export const KEY_FILE_VERSION = 1;

/** A key file as JSON: both halves in base64; the public half is checked against the private one on load. */
export interface KeyFileJson {
  readonly format: typeof KEY_FILE_FORMAT;
  readonly version: typeof KEY_FILE_VERSION;
  readonly curve: '25519';
  readonly publicKey: string;
  readonly privateKey: string;
}

/** The JSON text of a key file for `pair`. */
export function formatKeyFile(pair: StaticKeyPair): string {
  const json: KeyFileJson = {
    format: KEY_FILE_FORMAT,
    version: KEY_FILE_VERSION,
    curve: '25519',
    publicKey: encodeKey(pair.publicKey),
    privateKey: encodeKey(pair.privateKey),
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}

/** Parses a key file's text; anything malformed or inconsistent → `NOISE_KEY_FILE_INVALID`. */
export function parseKeyFile(text: string, source = 'key file'): StaticKeyPair {
  let json: Partial<Record<keyof KeyFileJson, unknown>>;
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    throw noiseError('NOISE_KEY_FILE_INVALID', `${source} is not JSON; write one with \`cep-node keygen\``, { source });
  }
  if (json === null || typeof json !== 'object' || json.format !== KEY_FILE_FORMAT || json.version !== KEY_FILE_VERSION || json.curve !== '25519') {
    throw noiseError('NOISE_KEY_FILE_INVALID', `${source} is not a version ${KEY_FILE_VERSION} ${KEY_FILE_FORMAT} file`, { source });
  }
  if (typeof json.privateKey !== 'string' || typeof json.publicKey !== 'string') {
    throw noiseError('NOISE_KEY_FILE_INVALID', `${source} lacks publicKey or privateKey`, { source });
  }
  let pair: StaticKeyPair;
  let stated: Uint8Array;
  try {
    pair = keyPairFromPrivate(decodeKey(json.privateKey, 'privateKey'));
    stated = decodeKey(json.publicKey, 'publicKey');
  } catch (error) {
    throw noiseError('NOISE_KEY_FILE_INVALID', `${source}: ${(error as Error).message}`, { source });
  }
  if (!sameKey(stated, pair.publicKey)) {
    throw noiseError('NOISE_KEY_FILE_INVALID', `${source}: publicKey is not the public half of privateKey`, { source });
  }
  return pair;
}

/**
 * Writes `pair` to a new file readable by its owner only (mode 0600, also against a
 * permissive umask). An existing file is never overwritten: `NOISE_KEY_FILE_EXISTS`.
 */
export async function writeKeyFile(path: string, pair: StaticKeyPair): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw noiseError('NOISE_KEY_FILE_EXISTS', `${path} exists; move it away first (a key is never overwritten)`, { path });
    }
    throw error;
  }
  try {
    await handle.chmod(0o600);
    await handle.writeFile(formatKeyFile(pair), 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Loads a private key file. Refuses (`NOISE_KEY_FILE_PERMISSIONS`) a file that group or
 * others may read or write, as ssh does: such a key must be presumed leaked. The check
 * is skipped on Windows, whose permissions mode bits do not describe.
 */
export async function loadKeyFile(path: string): Promise<StaticKeyPair> {
  const handle = await open(path, 'r');
  try {
    const stat = await handle.stat();
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      throw noiseError(
        'NOISE_KEY_FILE_PERMISSIONS',
        `${path} is accessible by group or others (mode ${(stat.mode & 0o777).toString(8)}); run \`chmod 600 ${path}\` and consider the key leaked`,
        { path, mode: stat.mode & 0o777 },
      );
    }
    return parseKeyFile(await handle.readFile('utf8'), path);
  } finally {
    await handle.close();
  }
}

/** Reads a public key given as a file of base64 text (what `cep-node keygen` prints). */
export async function loadPublicKeyFile(path: string): Promise<Uint8Array> {
  return decodeKey((await readFile(path, 'utf8')).trim(), path);
}
