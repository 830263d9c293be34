import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { isCepError } from '@cep/errors';
import { encodeKey, formatKeyFile, generateKeyPair, writeKeyFile } from '@cep/noise-session';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../src/config/load.ts';
import { sessionCredentials, streamSession } from '../src/wiring/transport.ts';
import { KEY_HEX, minimalConfig, tempDir } from './helpers/files.ts';

let tmp: ReturnType<typeof tempDir>;
let keyFile: string;
const mine = generateKeyPair();
const saturn = generateKeyPair();
const next = generateKeyPair();
beforeEach(async () => {
  tmp = tempDir();
  keyFile = join(tmp.dir, 'earth.key');
  await writeKeyFile(keyFile, mine);
});
afterEach(() => tmp.cleanup());

function load(doc: unknown) {
  return loadConfig(tmp.write('peer.yaml', stringify(doc)));
}

function problems(doc: unknown): string[] {
  try {
    load(doc);
  } catch (error) {
    if (!isCepError(error, 'CONFIG_INVALID')) throw error;
    return error.message.split('\n').map((line) => line.slice(line.indexOf(': ') + 2));
  }
  throw new Error('the config was accepted');
}

const peer = { name: 'saturn', provider: 'tcp', address: '127.0.0.1:7100' };

describe('identity and public keys in the config', () => {
  it('loads the node key pair and a peer listed by public key only', () => {
    const config = load(minimalConfig({ identity: { file: 'earth.key' }, keys: { saturn: { public_key: encodeKey(saturn.publicKey) } }, peers: [peer] }));
    expect(Buffer.from(config.identity!.staticKey.publicKey)).toEqual(Buffer.from(mine.publicKey));
    expect(config.public_keys['saturn']!.map((k) => encodeKey(k))).toEqual([encodeKey(saturn.publicKey)]);
    // No pre-shared key: nothing for the mounts' AEAD either.
    expect(config.keys['saturn']).toBeUndefined();
  });

  it('takes two keys during a roll-over, and a pre-shared key beside them becomes the PSK of the Noise session', () => {
    const config = load(
      minimalConfig({
        identity: { file: keyFile },
        keys: { saturn: { public_keys: [encodeKey(saturn.publicKey), encodeKey(next.publicKey)], hex: KEY_HEX }, venus: { hex: KEY_HEX } },
        peers: [peer, { name: 'venus', provider: 'tcp', address: '127.0.0.1:7101' }],
      }),
    );
    expect(config.public_keys['saturn']).toHaveLength(2);
    const credentials = sessionCredentials(config, config.keys);
    // saturn goes through Noise with its old key as PSK; venus keeps the legacy handshake.
    expect(Object.keys(credentials.keys)).toEqual(['venus']);
    expect(Buffer.from(credentials.identity!.psks!['saturn']!).toString('hex')).toBe(KEY_HEX);
    expect(credentials.identity!.allowList.keysOf('saturn')).toHaveLength(2);
    expect(credentials.identity!.allowList.keysOf('venus')).toHaveLength(0);
  });

  it.each([
    [
      'a public key without identity',
      { keys: { saturn: { public_key: encodeKey(saturn.publicKey) } }, peers: [peer] },
      'keys.saturn: a public key for "saturn" needs this node\'s own key pair',
    ],
    ['a public key that is not 32 bytes of base64', { identity: { file: 'earth.key' }, keys: { saturn: { public_key: 'AAAA' } } }, 'keys.saturn.public_key:'],
    [
      'three keys for one peer',
      { identity: { file: 'earth.key' }, keys: { saturn: { public_keys: [saturn, next, mine].map((k) => encodeKey(k.publicKey)) } } },
      'keys.saturn.public_keys: expected at most 2',
    ],
    [
      'public_key and public_keys',
      { identity: { file: 'earth.key' }, keys: { saturn: { public_key: encodeKey(saturn.publicKey), public_keys: [encodeKey(next.publicKey)] } } },
      'keys.saturn.public_keys: give public_key or public_keys, not both',
    ],
    [
      'one public key for two peers',
      { identity: { file: 'earth.key' }, keys: { saturn: { public_key: encodeKey(saturn.publicKey) }, venus: { public_key: encodeKey(saturn.publicKey) } } },
      'keys.venus: this public key is already "saturn"\'s',
    ],
    [
      'an entry with neither kind of key',
      { keys: { saturn: {} } },
      'keys.saturn: expected a public_key (or public_keys) and/or exactly one of hex, base64 or file',
    ],
    ['an identity file that does not exist', { identity: { file: 'missing.key' } }, 'identity.file: cannot read identity file'],
    [
      'AEAD for a peer with only a public key',
      { identity: { file: 'earth.key' }, keys: { saturn: { public_key: encodeKey(saturn.publicKey) } }, peer_policy: { aead: { saturn: 'required' } } },
      'peer_policy.aead.saturn: peer "saturn" has only a public key',
    ],
    [
      'a nats peer with only a public key (nats authenticates with the pre-shared key)',
      {
        identity: { file: 'earth.key' },
        keys: { saturn: { public_key: encodeKey(saturn.publicKey) } },
        nats: { servers: 'nats://127.0.0.1:4222' },
        peers: [{ name: 'saturn', provider: 'nats', address: 'cep.saturn' }],
      },
      'keys.saturn: peer "saturn" is reached over nats, which authenticates with a pre-shared key',
    ],
  ])('refuses %s', (_, extra, message) => {
    expect(problems(minimalConfig(extra)).join('\n')).toContain(message);
  });

  it('accepts a nats peer with a public key when a pre-shared key is beside it', () => {
    const config = load(
      minimalConfig({
        identity: { file: 'earth.key' },
        keys: { saturn: { public_key: encodeKey(saturn.publicKey), hex: KEY_HEX } },
        nats: { servers: 'nats://127.0.0.1:4222' },
        peers: [{ name: 'saturn', provider: 'nats', address: 'cep.saturn' }],
      }),
    );
    expect(Buffer.from(config.keys['saturn']!).toString('hex')).toBe(KEY_HEX);
  });

  it('refuses an identity file others may read, and one that is not a key file', () => {
    chmodSync(keyFile, 0o644);
    expect(problems(minimalConfig({ identity: { file: keyFile } })).join('\n')).toContain(
      'identity.file: ' + keyFile + ' is accessible by group or others (mode 644)',
    );
    const junk = tmp.write('junk.key', 'not a key');
    chmodSync(junk, 0o600);
    expect(problems(minimalConfig({ identity: { file: junk } })).join('\n')).toContain('identity.file: ' + junk + ' is not JSON');
    const other = tmp.write('other.key', formatKeyFile(saturn).replace(encodeKey(saturn.publicKey), encodeKey(next.publicKey)));
    chmodSync(other, 0o600);
    expect(problems(minimalConfig({ identity: { file: other } })).join('\n')).toContain('publicKey is not the public half of privateKey');
  });
});

describe('table_ghash', () => {
  it('defaults to true, is handed to tcp and pipe as tableGhash, and refuses anything but a boolean', () => {
    const keys = { saturn: { hex: KEY_HEX } };
    const on = load(minimalConfig({ keys, peers: [peer] }));
    expect(on.table_ghash).toBe(true);
    expect(streamSession(on, { localPeer: 'earth', keys: on.keys }).tableGhash).toBe(true);
    const off = load(minimalConfig({ keys, peers: [peer], table_ghash: false }));
    expect(streamSession(off, { localPeer: 'earth', keys: off.keys })).toMatchObject({ tableGhash: false, localPeer: 'earth' });
    expect(Object.keys(streamSession(off, { localPeer: 'earth', keys: off.keys }).keys)).toEqual(['saturn']);
    expect(problems(minimalConfig({ keys, peers: [peer], table_ghash: 'no' })).join('\n')).toMatch(/table_ghash/);
  });
});

describe('young_gc_kib', () => {
  it('defaults to 2048 KiB, takes 0 (off), and refuses a negative, a fraction or a string', () => {
    expect(load(minimalConfig({})).young_gc_kib).toBe(2048);
    expect(load(minimalConfig({ young_gc_kib: 0 })).young_gc_kib).toBe(0);
    for (const bad of [-1, 1.5, '2m']) expect(problems(minimalConfig({ young_gc_kib: bad })).join('\n')).toMatch(/young_gc_kib/);
  });
});
