import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { COMMIT_INPUT } from '@cep/organ-mirror';
import { validateConfig } from '../src/config/load.ts';
import { hostnameOf, isLoopbackHost } from '../src/http-guard.ts';
import { unsafeNumberIn } from '../src/json-body.ts';
import { createLogger } from '../src/log.ts';
import { startPeer, type Peer } from '../src/peer.ts';
import { KEY_HEX } from './helpers/files.ts';
import { fakeIo, logSink } from './helpers/io.ts';
import { runCli } from '../src/program.ts';

const peers: Peer[] = [];
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.stop('test over')));
});

const TOKEN = 'a-long-enough-test-token-1234';

async function peerFor(http: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<Peer> {
  const config = validateConfig({ peer: 'earth', enclave: 'lab', http: { port: 0, ...http }, ...extra }, 'peer.yaml', '/tmp');
  const sink = logSink();
  const started = await startPeer({ config, log: createLogger({ level: 'warn', destination: sink.destination, isTTY: false }), manualBeats: true });
  peers.push(started);
  return started;
}

interface Answer {
  status: number;
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

/** One request with exactly the headers given (fetch would not let a test set Host). */
function call(peer: Peer, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  const url = new URL(peer.httpUrl!);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: Number(url.port), method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON: kept as text
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const JSON_TYPE = { 'content-type': 'application/json' };

describe('the admin endpoint refuses what a web page could send', () => {
  it('refuses a Host that is not the bound address or a configured name (DNS rebinding), with a typed 421', async () => {
    const peer = await peerFor({ hosts: ['peer.internal'] });
    const port = new URL(peer.httpUrl!).port;
    const evil = await call(peer, 'GET', '/net', { host: 'evil.example' });
    expect(evil).toMatchObject({ status: 421, body: { error: { code: 'HOST_NOT_ALLOWED', message: expect.stringContaining('evil.example') } } });
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'peer.internal', `PEER.internal:${port}`]) {
      expect((await call(peer, 'GET', '/status', { host })).status).toBe(200);
    }
  });

  it('refuses cross-site requests: a foreign Origin, another port of the same host, Sec-Fetch-Site cross-site or same-site', async () => {
    const peer = await peerFor();
    const host = new URL(peer.httpUrl!).host;
    const body = JSON.stringify({ peer: 'saturn', handler: 'add', arg: '1' });
    for (const headers of [
      { origin: 'https://evil.example' },
      { origin: 'http://127.0.0.1:1' },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
    ] as Record<string, string>[]) {
      const answer = await call(peer, 'POST', '/invoke', { ...JSON_TYPE, ...headers }, body);
      expect(answer, JSON.stringify(headers)).toMatchObject({ status: 403, body: { error: { code: 'CROSS_SITE_REQUEST' } } });
    }
    // The endpoint's own origin, and a navigation typed by hand, pass the guard.
    expect((await call(peer, 'GET', '/status', { origin: `http://${host}`, 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    expect((await call(peer, 'GET', '/status', { 'sec-fetch-site': 'none' })).status).toBe(200);
  });

  it('requires application/json on every write: a form-style text/plain POST never reaches a handler', async () => {
    const peer = await peerFor(
      {},
      {
        keys: { saturn: { hex: KEY_HEX } },
        peers: [{ name: 'saturn', provider: 'tcp', address: '127.0.0.1:7100' }],
        mirrors: [{ name: 'sky', source: { peer: 'saturn', path: '/data/sky' }, target: '/data/saturn/sky', bundle: { commit_mode: 'manual' } }],
      },
    );
    peer.runtime.step();
    const commits = (): number => peer.runtime.inboundLog.filter((input) => input.kind === COMMIT_INPUT).length;
    for (const [path, type] of [
      ['/invoke', 'text/plain'],
      ['/mirror/sky/commit', 'application/x-www-form-urlencoded'],
      ['/mirror/sky/commit', ''],
    ] as const) {
      const answer = await call(peer, 'POST', path, type === '' ? {} : { 'content-type': type }, '{"peer":"saturn","handler":"add"}');
      expect(answer).toMatchObject({ status: 415, body: { error: { code: 'UNSUPPORTED_MEDIA_TYPE' } } });
    }
    // Nothing was submitted: no commit input.
    peer.runtime.step();
    expect(commits()).toBe(0);
    expect((await call(peer, 'POST', '/mirror/sky/commit', { 'content-type': 'application/json; charset=utf-8' })).status).toBe(202);
    peer.runtime.step();
    expect(commits()).toBe(1);
  });

  it('with http.token, refuses a request without the bearer token (401 with WWW-Authenticate) and serves one with it', async () => {
    const peer = await peerFor({ token: TOKEN });
    expect(await call(peer, 'GET', '/status')).toMatchObject({
      status: 401,
      body: { error: { code: 'UNAUTHORIZED' } },
      headers: { 'www-authenticate': expect.stringContaining('Bearer') },
    });
    expect(await call(peer, 'GET', '/status', { authorization: `Bearer ${TOKEN}x` })).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHORIZED' } } });
    expect(await call(peer, 'GET', '/status', { authorization: `Bearer ${TOKEN}` })).toMatchObject({ status: 200, body: { peer: 'earth' } });
  });

  it('cep-node inspect sends $CEP_NODE_TOKEN as the bearer token', async () => {
    const peer = await peerFor({ token: TOKEN });
    const without = fakeIo();
    expect(await runCli(['node', 'cep-node', 'inspect', '--status', '--url', peer.httpUrl!], without.deps)).toBe(5);
    expect(without.stderr()).toContain('UNAUTHORIZED');
    const withToken = fakeIo({ env: { CEP_NODE_TOKEN: TOKEN } });
    expect(await runCli(['node', 'cep-node', 'inspect', '--status', '--url', peer.httpUrl!], withToken.deps)).toBe(0);
    expect(JSON.parse(withToken.stdout())).toMatchObject({ peer: 'earth' });
  });
});

describe('bad requests are typed 4xx answers, never a 500', () => {
  it('POST /invoke with a body of null, a list, a number → 400 BAD_INVOKE', async () => {
    const peer = await peerFor();
    for (const body of ['null', '[]', '42', '"x"']) {
      expect(await call(peer, 'POST', '/invoke', JSON_TYPE, body), body).toMatchObject({ status: 400, body: { error: { code: 'BAD_INVOKE' } } });
    }
  });

  it('a malformed %-escape in /mirror/<name>/commit → 400 BAD_PATH', async () => {
    const peer = await peerFor();
    expect(await call(peer, 'POST', '/mirror/%E0%A4%A/commit', JSON_TYPE)).toMatchObject({ status: 400, body: { error: { code: 'BAD_PATH' } } });
    expect(await call(peer, 'POST', '/mirror/%/commit', JSON_TYPE)).toMatchObject({ status: 400, body: { error: { code: 'BAD_PATH' } } });
  });

  it('an arg above 2^53 sent as a JSON number is refused (it would be rounded), the same as a decimal string is taken exactly', async () => {
    const peer = await peerFor({}, { keys: { saturn: { hex: KEY_HEX } }, peers: [{ name: 'saturn', provider: 'tcp', address: '127.0.0.1:7100' }] });
    const big = '18446744073709551615';
    const refused = await call(peer, 'POST', '/invoke', JSON_TYPE, `{"peer":"saturn","handler":"add","arg":${big}}`);
    expect(refused).toMatchObject({ status: 400, body: { error: { code: 'UNSAFE_NUMBER', message: expect.stringContaining(big) } } });
    // 2^53 + 1 as a number is refused too; 2^53 - 1 is not refused for its size.
    expect((await call(peer, 'POST', '/invoke', JSON_TYPE, '{"peer":"saturn","handler":"add","arg":9007199254740993}')).body.error.code).toBe('UNSAFE_NUMBER');
    const safe = await call(peer, 'POST', '/invoke', JSON_TYPE, '{"peer":"mars","handler":"add","arg":9007199254740991}');
    expect(safe.body.error.code).toBe('UNKNOWN_PEER');
  });
});

describe('helpers', () => {
  it('finds number literals a double cannot hold, ignoring strings', () => {
    expect(unsafeNumberIn('{"a": 9007199254740991, "b": -9007199254740991, "c": 1.5, "d": 1e3}')).toBeUndefined();
    expect(unsafeNumberIn('{"a": "18446744073709551615", "b": "\\" 99999999999999999999"}')).toBeUndefined();
    expect(unsafeNumberIn('{"a": 9007199254740992}')).toBe('9007199254740992');
    expect(unsafeNumberIn('[1, -18446744073709551615]')).toBe('-18446744073709551615');
    expect(unsafeNumberIn('{"a": 1e20}')).toBe('1e20');
  });

  it('reads the host of a Host header and knows loopback names', () => {
    expect(hostnameOf('[::1]:9464')).toBe('::1');
    expect(hostnameOf('Example.ORG:80')).toBe('example.org');
    expect(hostnameOf('127.0.0.1')).toBe('127.0.0.1');
    expect(['localhost', '127.0.0.1', '127.8.9.10', '::1', '[::1]', 'app.localhost'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '10.0.0.1', 'evil.example', 'localhost.evil.example'].some(isLoopbackHost)).toBe(false);
  });
});
