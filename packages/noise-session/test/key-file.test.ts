import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeKey, encodeKey, fingerprint, generateKeyPair, loadKeyFile, loadPublicKeyFile, writeKeyFile } from '../src/index.ts';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'noise-keys-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('key files', () => {
  it('writes a key pair readable by its owner only and loads it back', async () => {
    const pair = generateKeyPair();
    const path = join(dir, 'node.key');
    const umask = process.umask(0);
    try {
      await writeKeyFile(path, pair);
    } finally {
      process.umask(umask);
    }
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const loaded = await loadKeyFile(path);
    expect(Buffer.from(loaded.publicKey)).toEqual(Buffer.from(pair.publicKey));
    expect(Buffer.from(loaded.privateKey)).toEqual(Buffer.from(pair.privateKey));
  });

  it('never overwrites an existing file', async () => {
    const path = join(dir, 'node.key');
    await writeKeyFile(path, generateKeyPair());
    const before = readFileSync(path, 'utf8');
    await expect(writeKeyFile(path, generateKeyPair())).rejects.toMatchObject({ code: 'NOISE_KEY_FILE_EXISTS' });
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  it.each([0o640, 0o604, 0o644, 0o660])('refuses a private key file with mode %o', async (mode) => {
    const path = join(dir, 'node.key');
    await writeKeyFile(path, generateKeyPair());
    chmodSync(path, mode);
    await expect(loadKeyFile(path)).rejects.toMatchObject({ code: 'NOISE_KEY_FILE_PERMISSIONS' });
  });

  it('refuses a file whose public half does not match its private half, or that is not a key file', async () => {
    const path = join(dir, 'node.key');
    await writeKeyFile(path, generateKeyPair());
    const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    writeFileSync(path, JSON.stringify({ ...json, publicKey: encodeKey(generateKeyPair().publicKey) }), { mode: 0o600 });
    await expect(loadKeyFile(path)).rejects.toMatchObject({ code: 'NOISE_KEY_FILE_INVALID' });
    writeFileSync(path, 'not json', { mode: 0o600 });
    await expect(loadKeyFile(path)).rejects.toMatchObject({ code: 'NOISE_KEY_FILE_INVALID' });
    writeFileSync(path, JSON.stringify({ ...json, privateKey: 'AAAA' }), { mode: 0o600 });
    await expect(loadKeyFile(path)).rejects.toMatchObject({ code: 'NOISE_KEY_FILE_INVALID' });
  });

  it('reads a public key file and gives a stable fingerprint', async () => {
    const pair = generateKeyPair();
    const path = join(dir, 'node.pub');
    writeFileSync(path, `${encodeKey(pair.publicKey)}\n`);
    expect(Buffer.from(await loadPublicKeyFile(path))).toEqual(Buffer.from(pair.publicKey));
    expect(fingerprint(pair.publicKey)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(fingerprint(new Uint8Array(32))).toBe('SHA256:Zmh6rfhivXdsj8GLjp+OIAiXFIVu4jOzkCpZHQ1fKSU');
    expect(() => decodeKey('short')).toThrow(expect.objectContaining({ code: 'NOISE_INVALID_OPTIONS' }));
  });
});
