/**
 * Lifecycle: what a provider and its channels say about themselves, how they open and close,
 * and that nothing outlives `close()`.
 */
import { expect } from 'vitest';
import { CepError, PROVIDER_SPEC_V1 } from '@cep/provider-spec';
import { codeOf, indexOf, leaked, patterned, reader, record, resources, until, within } from './helpers.ts';
import type { SuiteContext } from './context.ts';

export function registerLifecycle(ctx: SuiteContext): void {
  const { ms, reliable, test } = ctx;
  test('states the v1 specification, an id and capabilities that match the profile', async ({ kit }) => {
    const { env } = await kit.pair();
    for (const provider of [env.dialer, env.listener]) {
      expect(provider.specificationVersion).toBe(PROVIDER_SPEC_V1);
      expect(provider.id).toMatch(/^[a-z0-9_]{1,11}$/);
      if (reliable) expect(provider.caps).toEqual(expect.arrayContaining(['reliable', 'ordered']));
      else {
        expect(provider.caps).toContain('unreliable');
        expect(provider.caps).not.toContain('reliable');
      }
    }
  });

  test('describes both ends of a channel: peers, mount, initiator and a frame limit', async ({ kit }) => {
    const p = await kit.pair();
    const { local, remote } = await p.open('info');
    expect(local.info).toMatchObject({ provider: p.env.dialer.id, peer: p.env.listenerPeer, mode: 'link', mount: 'info', initiator: true });
    expect(remote.info).toMatchObject({ provider: p.env.listener.id, peer: p.env.dialerPeer, mode: 'link', mount: 'info', initiator: false });
    expect(local.info.maxFrameBytes).toBeGreaterThan(0);
    expect(remote.info.maxFrameBytes).toBeGreaterThan(0);
  });

  test('makes close() idempotent: one closed event, CHANNEL_CLOSED on send, frames() ends', async ({ kit }) => {
    const p = await kit.pair();
    const { local } = await p.open('close');
    const events = record(local);
    const frames = reader(local);
    await within(ms, 'close()', Promise.all([local.close('test'), local.close('again')]));
    await within(ms, 'a third close()', local.close('third'));
    expect(events.filter((e) => e.type === 'closed')).toHaveLength(1);
    expect(codeOf(() => local.send(new Uint8Array(1)))).toBe('CHANNEL_CLOSED');
    expect(await frames.next(ms)).toBeUndefined();
  });

  test('tells the far end with a closed event when one side closes its channel', async ({ kit }) => {
    const p = await kit.pair();
    const { local, remote } = await p.open('farclose');
    const events = record(remote);
    const frames = reader(remote);
    await local.close('done');
    await until(ms, 'closed on the far end', () => events.some((e) => e.type === 'closed'));
    expect(await frames.next(ms)).toBeUndefined();
  });

  test('gives the dialler closed (or fatal then closed) when the listening provider goes away', async ({ kit }) => {
    const p = await kit.pair();
    const { local } = await p.open('gone');
    const events = record(local);
    await within(ms, 'listener.close()', p.env.listener.close());
    await until(ms, 'closed after the far provider closed', () => events.some((e) => e.type === 'closed'));
    const last = events.at(-1);
    expect(last?.type).toBe('closed');
  });

  test('closes its listener: nothing can connect afterwards, and close() is idempotent', async ({ kit }) => {
    const p = await kit.pair();
    await within(ms, 'listener.close()', p.listener.close());
    await within(ms, 'listener.close() again', p.listener.close());
    if (reliable) {
      await expect(
        within(
          ms,
          'open after close',
          p.env.dialer.open({ peer: p.env.listenerPeer, mode: 'link', mount: 'late', localNode: p.env.dialerPeer, address: p.listener.address }),
        ),
      ).rejects.toBeInstanceOf(CepError);
    }
    expect(p.accepted.find((c) => c.info.mount === 'late')).toBeUndefined();
  });

  test('rejects open() with OPEN_ABORTED when the request signal has fired', async ({ kit }) => {
    const p = await kit.pair();
    const abort = new AbortController();
    abort.abort();
    const error = await within(
      ms,
      'an aborted open()',
      p.env.dialer
        .open({ peer: p.env.listenerPeer, mode: 'link', mount: 'aborted', localNode: p.env.dialerPeer, address: p.listener.address, signal: abort.signal })
        .then(
          () => undefined,
          (e: unknown) => e,
        ),
    );
    expect(error).toBeInstanceOf(CepError);
    expect((error as CepError).code).toBe('OPEN_ABORTED');
  });

  test('shuts down cleanly: no socket, server or handle outlives close()', async ({ kit }) => {
    const before = resources();
    const p = await kit.pair();
    const { local, remote } = await p.open('leak');
    const frames = reader(remote);
    local.send(patterned(7, 100));
    if (reliable) expect(indexOf((await frames.next(ms))!)).toBe(7);
    await kit.shutdown(p);
    let left: string[] = [];
    await until(ms, 'handles to be released', () => (left = leaked(before)).length === 0).catch(() => undefined);
    expect(left).toEqual([]);
  });
}
