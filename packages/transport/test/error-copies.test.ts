/**
 * A provider package may install its own copy of @cep/errors next to the one the transport
 * uses. The manager must still read the provider's error code (a refused key is AUTH_FAILED in
 * the tree, not a generic OPEN_FAILED). The provider's copy here is @cep/errors' source loaded
 * again under another module id: a separate module instance with its own CepError class.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CepError } from '@cep/errors';
import { createRuntime, type Runtime } from '@cep/heartbeat';
import { createTransportManager, type TransportManager } from '@cep/transport';
import { FakeProvider, settle } from './fake-provider.ts';

type ErrorsModule = typeof import('@cep/errors');

let managers: TransportManager[] = [];
afterEach(async () => {
  await Promise.all(managers.map((m) => m.close()));
  managers = [];
});

async function providersCopy(): Promise<ErrorsModule> {
  const specifier = new URL('../../errors/src/index.ts?copy=provider', import.meta.url).href;
  const copy = (await import(/* @vite-ignore */ specifier)) as ErrorsModule;
  expect(copy.CepError, 'the test needs a second, distinct copy').not.toBe(CepError);
  return copy;
}

function setup(provider: FakeProvider): { runtime: Runtime; manager: TransportManager } {
  const runtime = createRuntime();
  const manager = createTransportManager(runtime, { localNode: 'earth', providers: [provider], addressOf: (peer) => `${peer}.test` });
  managers.push(manager);
  return { runtime, manager };
}

async function beat(runtime: Runtime): Promise<void> {
  await settle();
  runtime.step();
}

const note = (runtime: Runtime, path: string): unknown => runtime.tree.getValue(path)?.value;

describe('errors from a provider built against another copy of @cep/errors', () => {
  it("a dial refused with the provider's AUTH_FAILED is recorded as AUTH_FAILED", async () => {
    const copy = await providersCopy();
    const tcp = new FakeProvider('tcp', ['reliable', 'ordered', 'streaming', 'remote_net'], false);
    const { runtime, manager } = setup(tcp);
    manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    tcp.opens[0]!.reject(new copy.CepError('AUTH_FAILED', 'saturn refused our key'));
    await beat(runtime);
    expect(note(runtime, '/net/mounts/saturn/link/main/state')).toBe('error');
    const errorNote = note(runtime, '/net/mounts/saturn/link/main/error_note');
    expect(errorNote).toContain('AUTH_FAILED');
    expect(errorNote).not.toContain('OPEN_FAILED');
  });
});
