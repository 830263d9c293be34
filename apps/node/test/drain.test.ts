import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { KEY_HEX } from './helpers/files.ts';
import type { Peer } from '../src/peer.ts';
import { livePeers } from './helpers/live-peers.ts';

// A graceful stop of the calling peer: earth beats on its own driver; saturn accepts the calls
// at the provider but never beats, so they stay pending until earth's drain runs out.

const ADD = fileURLToPath(new URL('../examples/handlers/add.mjs', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));

const { start, until } = livePeers(HERE);

const post = (peer: Peer, arg: string) =>
  fetch(`${peer.httpUrl}/invoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ peer: 'saturn', handler: 'add', arg }),
  }).then(async (res) => ({
    status: res.status,
    body: (await res.json()) as { error?: { code: string; message: string }; status?: string },
  }));

describe('graceful stop of a caller', () => {
  it('refuses new invokes with 503 SHUTTING_DOWN, answers the pending one with a typed 503 once drain_beats run out, and exits 0', async () => {
    const saturn = await start(
      {
        peer: 'saturn',
        keys: { earth: { hex: KEY_HEX } },
        peer_policy: { default_enclave: 'lab' },
        listen: { tcp: '127.0.0.1:0' },
        invoke: [{ name: 'add', module: ADD }],
      },
      true,
    );
    const earth = await start(
      {
        peer: 'earth',
        beat_ms: 2,
        drain_beats: 25,
        keys: { saturn: { hex: KEY_HEX } },
        peers: [{ name: 'saturn', provider: 'tcp', address: saturn.transport.listening['tcp'] }],
      },
      false,
    );
    const state = (path: string) => earth.tree.getValue(path)?.value;
    await until(() => state('/net/organs/invoke/requests/saturn/state') === 'active', "earth's invoke request to go active");
    const pending = post(earth, '41');
    const invokes = '/net/organs/invoke/requests/saturn/invokes';
    await until(() => [...(earth.tree.get(invokes)?.children() ?? [])].some((c) => c.child('state')?.value?.value === 'sent'), 'the call to leave');
    const stopped = earth.stop('SIGTERM');
    const late = await post(earth, '1');
    expect(late).toMatchObject({ status: 503, body: { error: { code: 'SHUTTING_DOWN' } } });
    const answer = await pending;
    expect(answer.status).toBe(503);
    expect(answer.body.error?.code).toBe('SHUTTING_DOWN');
    expect(answer.body.error?.message).toMatch(/drain ran out/);
    expect((await stopped).exitCode).toBe(0);
    const record = [...earth.tree.get(invokes)!.children()].find((c) => c.child('code') !== undefined);
    expect(record?.child('code')?.value?.value).toBe('INVOKE_CALLER_SHUTDOWN');
  });
});

describe('graceful stop of a callee', () => {
  it('a call that reaches a draining callee is answered 200 with status reject and code INVOKE_SHUTTING_DOWN (nothing ran)', async () => {
    const saturn = await start(
      {
        peer: 'saturn',
        beat_ms: 2,
        keys: { earth: { hex: KEY_HEX } },
        peer_policy: { default_enclave: 'lab' },
        listen: { tcp: '127.0.0.1:0' },
        invoke: [{ name: 'add', module: ADD }],
      },
      false,
    );
    const earth = await start(
      {
        peer: 'earth',
        beat_ms: 2,
        keys: { saturn: { hex: KEY_HEX } },
        peers: [{ name: 'saturn', provider: 'tcp', address: saturn.transport.listening['tcp'] }],
      },
      false,
    );
    await until(() => earth.tree.getValue('/net/organs/invoke/requests/saturn/state')?.value === 'active', "earth's invoke request to go active");
    expect(await post(earth, '41')).toMatchObject({ status: 200, body: { status: 'ok', result: '42' } });
    saturn.organs.invoke.drain();
    const refused = await post(earth, '41');
    expect(refused).toMatchObject({ status: 200, body: { status: 'reject', code: 'INVOKE_SHUTTING_DOWN' } });
    expect((refused.body as { note?: string }).note).toMatch(/nothing ran/);
  });
});
