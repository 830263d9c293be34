import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import type { ChannelEventV1 } from '@cep/provider-spec';
import { tcp } from '../src/index.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

it('gives fatal and closed, not a hang, when a remote process is killed with SIGKILL', async () => {
  const key = randomBytes(32);
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@cep/source', fileURLToPath(new URL('./remote-child.ts', import.meta.url))], {
    env: { ...process.env, CEP_TEST_KEY: key.toString('hex') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cleanups.push(() => child.kill('SIGKILL'));
  const address = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
  const earth = tcp({ localPeer: 'earth', keys: { saturn: key }, backoff: { maxAttempts: 0 } });
  cleanups.push(() => earth.close());
  const channel = await earth.open({ peer: 'saturn', mode: 'link', mount: 'echo', localNode: 'earth', address });
  const events: ChannelEventV1[] = [];
  channel.onEvent((e) => events.push(e));
  const frames = channel.frames()[Symbol.asyncIterator]();
  channel.send(Buffer.from('ping'));
  expect(Buffer.from((await frames.next()).value as Uint8Array).toString()).toBe('ping');
  child.kill('SIGKILL');
  const end = await frames.next();
  expect(end.done).toBe(true);
  expect(events.map((e) => e.type)).toEqual(['fatal', 'closed']);
  expect(events[0]).toMatchObject({ type: 'fatal', error: { code: 'CONNECTION_LOST' } });
}, 15_000);
