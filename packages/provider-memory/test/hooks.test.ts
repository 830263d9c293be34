import { describe, expect, it } from 'vitest';
import { CepError } from '@cep/provider-spec';
import { memoryHooks, memoryNetwork } from '@cep/provider-memory';
import { codeOf, events, indexOf, numbered, pair, provider, puller } from './util.ts';

describe('memoryHooks', () => {
  it('lists the open channels of a provider, dialled and accepted, and forgets closed ones', async () => {
    const { earth, saturn, local, remote } = await pair();
    const second = await earth.open({ peer: 'saturn', mode: 'mirror', mount: 'data', localNode: 'earth', address: 'saturn' });
    expect(memoryHooks(earth).channels()).toEqual([local, second]);
    expect(
      memoryHooks(saturn)
        .channels()
        .map((c) => c.info.mount),
    ).toEqual(['main', 'data']);
    await local.close('done');
    expect(memoryHooks(earth).channels()).toEqual([second]);
    expect(memoryHooks(saturn).channels()).not.toContain(remote);
  });

  it('injects an inbound frame (copied) as if the far end had sent it', async () => {
    const { saturn, local, remote } = await pair();
    const frame = numbered(5);
    memoryHooks(saturn).inject(remote, frame);
    frame.fill(0);
    local.send(numbered(6));
    const inbound = puller(remote);
    expect(indexOf((await inbound.next())!)).toBe(5);
    expect(indexOf((await inbound.next())!)).toBe(6);
  });

  it('raises backpressure that holds send until a raised ready', async () => {
    const { earth, local } = await pair();
    const hooks = memoryHooks(earth);
    const seen = events(local);
    hooks.raise(local, { type: 'backpressure', bufferedBytes: 4096 });
    expect(local.send(numbered(1))).toBe('backpressure');
    expect(local.send(numbered(2))).toBe('backpressure');
    hooks.raise(local, { type: 'ready' });
    expect(local.send(numbered(3))).toBe('ready');
    expect(seen).toEqual([{ type: 'backpressure', bufferedBytes: 4096 }, { type: 'ready' }]);
  });

  it('raises reconnecting as a report only', async () => {
    const { earth, local } = await pair();
    const seen = events(local);
    memoryHooks(earth).raise(local, { type: 'reconnecting', attempt: 1, delayMs: 100, reason: 'test' });
    expect(seen).toEqual([{ type: 'reconnecting', attempt: 1, delayMs: 100, reason: 'test' }]);
    expect(local.send(numbered(1))).toBe('ready');
  });

  it('raises fatal: fatal then closed here, fatal CONNECTION_LOST then closed there, frames still readable', async () => {
    const { earth, local, remote } = await pair();
    const here = events(local);
    const there = events(remote);
    local.send(numbered(1));
    const error = new CepError('AUTH_FAILED', 'simulated');
    memoryHooks(earth).raise(local, { type: 'fatal', error });
    expect(here.map((e) => e.type)).toEqual(['fatal', 'closed']);
    expect(here[0]).toEqual({ type: 'fatal', error });
    expect(there.map((e) => e.type)).toEqual(['fatal', 'closed']);
    expect((there[0] as { error: CepError }).error.code).toBe('CONNECTION_LOST');
    expect(codeOf(() => local.send(numbered(2)))).toBe('CHANNEL_CLOSED');
    expect(codeOf(() => remote.send(numbered(2)))).toBe('CHANNEL_CLOSED');
    expect((await puller(remote).rest()).map(indexOf)).toEqual([1]);
    expect(codeOf(() => memoryHooks(earth).raise(local, { type: 'ready' }))).toBe('CHANNEL_CLOSED');
  });

  it('captures sends on a provider with no remote side, with backpressure relieved by taking them', async () => {
    const lonely = provider({
      network: memoryNetwork(),
      peer: 'earth',
      mode: 'reliable',
      capture: true,
      highWaterBytes: 100,
      hardLimitBytes: 4096,
      maxFrameBytes: 64,
    });
    const hooks = memoryHooks(lonely);
    const channel = await lonely.open({ peer: 'saturn', mode: 'link', mount: 'main', localNode: 'earth', address: 'nowhere' });
    expect(hooks.channels()).toEqual([channel]);
    const seen = events(channel);
    expect(channel.send(numbered(1))).toBe('ready'); // 36
    expect(channel.send(numbered(2))).toBe('ready'); // 72
    expect(channel.send(numbered(3))).toBe('backpressure'); // 108
    expect(hooks.takeOutbound(channel).map(indexOf)).toEqual([1, 2, 3]);
    expect(seen.map((e) => e.type)).toEqual(['backpressure', 'ready']);
    expect(hooks.takeOutbound(channel)).toEqual([]);
    hooks.inject(channel, numbered(9));
    expect(indexOf((await puller(channel).next())!)).toBe(9);
    expect(codeOf(() => hooks.capture(channel, false))).toBe('INVALID_OPTIONS');
  });

  it('captures a connected channel on demand, then delivers again', async () => {
    const { earth, local, remote } = await pair();
    const hooks = memoryHooks(earth);
    hooks.capture(local);
    local.send(numbered(1));
    expect(hooks.takeOutbound(local).map(indexOf)).toEqual([1]);
    hooks.capture(local, false);
    local.send(numbered(2));
    expect(hooks.takeOutbound(local)).toEqual([]);
    expect(indexOf((await puller(remote).next())!)).toBe(2);
  });

  it('keeps captured frames takeable after close', async () => {
    const { earth, local } = await pair();
    const hooks = memoryHooks(earth);
    hooks.capture(local);
    local.send(numbered(1));
    await local.close('done');
    expect(hooks.takeOutbound(local).map(indexOf)).toEqual([1]);
    expect(codeOf(() => hooks.inject(local, numbered(2)))).toBe('CHANNEL_CLOSED');
  });

  it('refuses channels of another provider and providers memory() did not make (NOT_MEMORY)', async () => {
    const { earth, remote } = await pair();
    expect(codeOf(() => memoryHooks(earth).inject(remote, numbered(1)))).toBe('NOT_MEMORY');
    expect(codeOf(() => memoryHooks({ ...earth }))).toBe('NOT_MEMORY');
  });
});
