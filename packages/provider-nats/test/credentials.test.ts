import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '@nats-io/nkeys';
import { CepError } from '@cep/provider-spec';
import { nats, type NatsCredentials } from '../src/index.ts';
import { startNatsServer, type NatsServer } from '../src/testing.ts';
import { collect, str, text, until } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'cep-nats-creds-'));
const user = createUser();
const seed = new TextDecoder().decode(user.getSeed());
const seedFile = join(dir, 'user.nk');
writeFileSync(seedFile, `${seed}\n`);
const stranger = new TextDecoder().decode(createUser().getSeed());

const servers: Record<string, NatsServer> = {};
beforeAll(async () => {
  const nkeyConf = join(dir, 'nkey.conf');
  writeFileSync(nkeyConf, `authorization { users = [ { nkey: "${user.getPublicKey()}" } ] }\n`);
  servers['token'] = await startNatsServer(['--auth', 's3cret-token']);
  servers['user'] = await startNatsServer(['--user', 'cep', '--pass', 'p4ss']);
  servers['nkey'] = await startNatsServer(['-c', nkeyConf]);
});
afterAll(async () => {
  for (const server of Object.values(servers)) await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens a channel through `server` with `credentials` on both sides and carries one frame. */
async function roundTrip(server: NatsServer, credentials: NatsCredentials | undefined): Promise<string> {
  const key = randomBytes(32);
  const common = { servers: server.url, ...(credentials !== undefined ? { credentials } : {}) };
  const saturn = nats({ localPeer: 'saturn', keys: { earth: key }, ...common });
  const earth = nats({ localPeer: 'earth', keys: { saturn: key }, ...common });
  try {
    const accepted: ReturnType<typeof collect>[] = [];
    await saturn.listen!({ address: 'cep.saturn' }, (ch) => accepted.push(collect(ch)));
    const channel = await earth.open({ peer: 'saturn', mode: 'link', mount: 'main', localNode: 'earth', address: 'cep.saturn' });
    channel.send(text('through an authenticated server'));
    await until('the frame', () => accepted[0]?.length === 1);
    return str(accepted[0]![0]!);
  } finally {
    await earth.close();
    await saturn.close();
  }
}

async function openFails(server: NatsServer, credentials: NatsCredentials | undefined): Promise<CepError> {
  const provider = nats({ localPeer: 'earth', keys: { saturn: randomBytes(32) }, servers: server.url, ...(credentials !== undefined ? { credentials } : {}) });
  try {
    const error = await provider.open({ peer: 'saturn', mode: 'link', mount: 'main', localNode: 'earth', address: 'cep.saturn' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CepError);
    return error as CepError;
  } finally {
    await provider.close();
  }
}

describe('NATS credentials', () => {
  it('connects with a token, and fails with OPEN_FAILED without it or with a wrong one', async () => {
    expect(await roundTrip(servers['token']!, { token: 's3cret-token' })).toBe('through an authenticated server');
    expect((await openFails(servers['token']!, { token: 'wrong' })).code).toBe('OPEN_FAILED');
    expect((await openFails(servers['token']!, undefined)).code).toBe('OPEN_FAILED');
  });

  it('connects with user and password, and fails with OPEN_FAILED on a wrong password', async () => {
    expect(await roundTrip(servers['user']!, { user: 'cep', pass: 'p4ss' })).toBe('through an authenticated server');
    expect((await openFails(servers['user']!, { user: 'cep', pass: 'nope' })).code).toBe('OPEN_FAILED');
  });

  it('connects with an nkey seed, given inline or as a file, and fails with OPEN_FAILED for an unknown nkey', async () => {
    expect(await roundTrip(servers['nkey']!, { nkeySeed: seed })).toBe('through an authenticated server');
    expect(await roundTrip(servers['nkey']!, { nkeySeedFile: seedFile })).toBe('through an authenticated server');
    expect((await openFails(servers['nkey']!, { nkeySeed: stranger })).code).toBe('OPEN_FAILED');
  });

  it('fails with OPEN_FAILED naming the file when a creds or seed file cannot be read', async () => {
    const missing = join(dir, 'absent.creds');
    const error = await openFails(servers['nkey']!, { credsFile: missing });
    expect(error.code).toBe('OPEN_FAILED');
    expect(error.message).toContain(missing);
  });
});
