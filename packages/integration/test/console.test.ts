/**
 * The web console (`/ui/`) in a real browser: headless Chromium from the system's packages
 * (tooling/ensure-chromium.sh installs Debian's), driven by playwright-core with that
 * executable — nothing is downloaded. Two real `cep-node` processes: saturn (with an
 * `http.token`, so its console asks for it) serves handlers and a branch; earth links to it,
 * invokes it and mirrors the branch. Each view is saved as a PNG in a folder that outlives
 * the test (its path is printed; `CEP_CONSOLE_SCREENSHOTS=<dir>` picks it).
 *
 * Without Chromium this test FAILS, saying how to install it: it is never skipped.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { BOUNDS, cepNodeCommand, type PeerHarness, type PeerProcess } from './harness/peer-process.ts';
import { KEY, peerConfig, startEarth, until, untilActive, withPeers } from './support/federation.ts';

/** The Chromium binary: `CHROME_PATH`, else `chromium` / `chromium-browser` on PATH. */
function findChromium(): string | undefined {
  const fromEnv = process.env['CHROME_PATH'];
  if (fromEnv !== undefined && fromEnv !== '') return existsSync(fromEnv) ? fromEnv : undefined;
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    for (const name of ['chromium', 'chromium-browser']) if (dir !== '' && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

const TOKEN = 'console-test-token-4f1c9a';

// Saturn's handlers: `add` (u64 + 1) and `tick` (writes /data/sky/ticks/<k> and a count).
const HANDLERS: Record<string, string> = {
  add: `export default { run(call) {
    if (call.payload?.type !== 'u64') return { status: 'reject', note: 'add expects a u64' };
    return { status: 'ok', result: { type: 'u64', value: call.payload.value + 1n } };
  } };`,
  tick: `export default { run(call) {
    const k = call.payload?.value ?? 0n;
    call.tree.set('/data/sky/ticks/' + k, { type: 'u64', value: k * k });
    call.tree.set('/data/sky/count', { type: 'u64', value: k });
    return { status: 'ok', result: { type: 'u64', value: k } };
  } };`,
};

/** Where the screenshots go: kept after the test, like a CI artifact. */
function screenshotDir(): string {
  const chosen = process.env['CEP_CONSOLE_SCREENSHOTS'];
  if (chosen !== undefined && chosen !== '') {
    mkdirSync(chosen, { recursive: true });
    return chosen;
  }
  return mkdtempSync(join(tmpdir(), 'cep-console-screens-'));
}

/** Opens `url` and collects what would mean the page is broken: script errors and CSP refusals. */
async function openConsole(browser: Browser, url: string, problems: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
  page.setDefaultTimeout(BOUNDS.log);
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // 401 answers are how the page learns it needs the token: expected, not a problem.
    if (message.type() === 'error' && !/401/.test(message.text())) problems.push(`console error: ${message.text()}`);
  });
  await page.goto(url);
  return page;
}

/** How long a page may take to show a change (a liveness bound; the page polls every 400 ms). */
const POLL = { timeout: BOUNDS.log, interval: 50 } as const;

async function view(page: Page, name: string): Promise<void> {
  await page.click(`nav a[data-nav="${name}"]`);
  await page.waitForSelector(`section[data-view="${name}"]`);
}

/** The number in a table cell (`tr[data-key=key] td[data-col=col]`) of the open view. */
async function cellNumber(page: Page, key: string, col: string): Promise<number> {
  return Number(await page.textContent(`tr[data-key="${key}"] td[data-col="${col}"]`));
}

describe('the web console at /ui/ in headless Chromium', () => {
  it(
    "shows both peers' mounts open, a mirror's sequence advancing, an invoke outcome and a refused call's sec.* event",
    withPeers(160_000, async (harness) => {
      const executablePath = findChromium();
      if (executablePath === undefined) {
        const where = process.env['CHROME_PATH'] ? `CHROME_PATH=${process.env['CHROME_PATH']} does not exist` : 'no chromium or chromium-browser on PATH';
        throw new Error(
          `Chromium not found (${where}): run "sh tooling/ensure-chromium.sh" (Debian: apt-get install -y chromium) or set CHROME_PATH to a Chromium binary. This test needs a real browser and is not skipped.`,
        );
      }

      // The browser starts while the peers do (both are slow on a busy machine); closed whatever happens.
      const launching = chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
      launching.catch(() => undefined); // a failed launch is reported where it is awaited, not as an unhandled rejection
      try {
        await runConsoleChecks(harness, launching);
      } finally {
        await (await launching.catch(() => undefined))?.close();
      }
    }),
    170_000,
  ); // above withPeers' own bound, which fails first and with the peers' logs
});

/** The browser test's body: two peers, then each view checked in the page. */
async function runConsoleChecks(harness: PeerHarness, launching: Promise<Browser>): Promise<void> {
  // saturn: token on its endpoint, listens on TCP, serves add/tick and /data/sky.
  for (const [name, source] of Object.entries(HANDLERS)) writeFileSync(join(harness.dir, `${name}.mjs`), source);
  const saturnFile = harness.writeConfig(
    'saturn.json',
    peerConfig('saturn', {
      http: { host: '127.0.0.1', port: 0, token: TOKEN },
      keys: { earth: { hex: KEY } },
      peer_policy: { default_enclave: 'lab' },
      listen: { tcp: '127.0.0.1:0' },
      invoke: Object.keys(HANDLERS).map((name) => ({ name, module: `./${name}.mjs` })),
    }),
  );
  const saturn: PeerProcess = harness.spawn(saturnFile);
  const saturnUrl = String((await saturn.waitForLog((l) => l['msg'] === 'http endpoint listening', BOUNDS.start))['url']);
  const address = String((await saturn.waitForLog((l) => l['msg'] === 'listening' && l['provider'] === 'tcp', BOUNDS.start))['address']);
  const { earth } = await startEarth(harness, 'tcp', address);
  await untilActive(earth);
  // A first bundle, so the copy exists before the console opens.
  expect(await earth.invoke('saturn', 'tick', 1)).toMatchObject({ status: 'ok', result: '1' });

  // The static page needs no token (it holds no peer data) and carries a strict CSP; the data does need it.
  const page0 = await fetch(`${saturnUrl}/ui/`);
  expect(page0.status).toBe(200);
  expect(page0.headers.get('content-security-policy')).toContain("script-src 'self'");
  expect(page0.headers.get('content-security-policy')).toContain("default-src 'none'");
  expect((await fetch(`${saturnUrl}/ui/api/state?since=0`)).status).toBe(401);
  expect((await fetch(`${saturnUrl}/ui/api/state?since=0`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);

  const shots = screenshotDir();
  const problems: string[] = [];
  const browser = await launching;
  // earth (no token): straight to the views.
  const page = await openConsole(browser, `${earth.url}/ui/`, problems);
  await page.waitForSelector('section[data-view="mounts"]');
  for (const key of ['saturn/link/main', 'saturn/invoke/invoke', 'saturn/mirror/sky']) {
    await page.waitForSelector(`tr[data-key="${key}"][data-state="open"]`);
  }
  expect(await page.textContent('tr[data-key="saturn/link/main"] td[data-col="provider"]')).toBe('tcp');
  expect(await page.textContent('tr[data-key="saturn/link/main"] td[data-col="aead"]')).toBe('on');
  expect(await page.textContent('tr[data-key="saturn/link/main"] td[data-col="serializer"]')).toBe('crc32c + deflate + aead');
  expect(await page.locator('svg.graph .edge.open').count()).toBe(3);
  await page.screenshot({ path: join(shots, 'mounts.png'), fullPage: true });

  // saturn (token): the login form first, then the mounts earth opened to it, all open.
  const saturnPage = await openConsole(browser, `${saturnUrl}/ui/`, problems);
  await saturnPage.waitForSelector('form[data-view="login"]');
  await saturnPage.screenshot({ path: join(shots, 'login.png') });
  await saturnPage.fill('form[data-view="login"] input[name="token"]', TOKEN);
  await saturnPage.click('form[data-view="login"] button[type="submit"]');
  for (const key of ['earth/link/main', 'earth/invoke/invoke', 'earth/mirror/sky']) {
    await saturnPage.waitForSelector(`tr[data-key="${key}"][data-state="open"]`);
  }
  await saturnPage.screenshot({ path: join(shots, 'mounts-saturn.png'), fullPage: true });
  // The token lives in the tab's sessionStorage, never in the URL.
  expect(saturnPage.url()).not.toContain(TOKEN);
  expect(await saturnPage.evaluate("sessionStorage.getItem('cep-node-token')")).toBe(TOKEN);

  // Mirrors: the bundle sequence in the page advances when saturn's branch changes.
  await view(page, 'mirrors');
  await expect.poll(() => cellNumber(page, '1', 'bundle_seq'), POLL).toBeGreaterThan(0);
  const seqBefore = await cellNumber(page, '1', 'bundle_seq');
  for (let k = 2; k <= 4; k++) expect(await earth.invoke('saturn', 'tick', k)).toMatchObject({ status: 'ok' });
  await expect.poll(() => cellNumber(page, '1', 'bundle_seq'), POLL).toBeGreaterThan(seqBefore);
  // Once the copy caught up, the digest shown on earth's console is saturn's digest of /data/sky.
  const source = await until(
    async () => (await (await fetch(`${saturnUrl}/digest?path=/data/sky`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { digest: string },
    (d) => typeof d.digest === 'string',
    'saturn digest',
  );
  await until(
    async () => (await earth.digest('/data/saturn/sky')).digest,
    (d) => d === source.digest,
    "earth's copy to equal saturn's branch",
  );
  await page.waitForSelector(`tr[data-key="1"] td[data-col="digest_here"] code[title="${source.digest}"]`);
  await page.screenshot({ path: join(shots, 'mirrors.png'), fullPage: true });
  await view(saturnPage, 'mirrors');
  await saturnPage.waitForSelector(`tr[data-key="earth/sky"] td[data-col="digest_here"] code[title="${source.digest}"]`);
  await saturnPage.screenshot({ path: join(shots, 'mirrors-saturn.png'), fullPage: true });

  // Invokes: add 41 appears with its outcome, 42.
  await view(page, 'invokes');
  const add = await earth.invoke('saturn', 'add', 41);
  expect(add).toMatchObject({ status: 'ok', result: '42' });
  const row = `tr[data-key="saturn/${String(add['id'])}"]`;
  await page.waitForSelector(`${row}[data-state="ok"]`);
  expect(await page.textContent(`${row} td[data-col="result"]`)).toBe('42');
  expect(await page.textContent(`${row} td[data-col="signal"]`)).toBe('/sig/add');
  await page.screenshot({ path: join(shots, 'invokes.png'), fullPage: true });

  // A refused call: pipeline metadata naming a pipeline nobody approved → sec.pipeline.reject on earth.
  const refused = await fetch(`${earth.url}/invoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ peer: 'saturn', handler: 'add', arg: '1', pipeline: { pipeline_id: 'nightly', stage_id: 'fetch' } }),
  });
  expect(await refused.json()).toMatchObject({ status: 'reject' });
  await view(page, 'events');
  await page.selectOption('select[name="family"]', 'sec');
  await page.waitForSelector('tr[data-topic="sec.pipeline.reject"]');
  expect(await page.textContent('tr[data-topic="sec.pipeline.reject"] td[data-col="note"]')).toContain('nightly');
  // The filter hides the transport facts and shows them again.
  expect(await page.locator('tr[data-topic^="tp_"]').count()).toBe(0);
  await page.screenshot({ path: join(shots, 'events.png'), fullPage: true });
  await page.selectOption('select[name="family"]', 'tp');
  await page.waitForSelector('tr[data-topic^="tp_"]');
  expect(await page.locator('tr[data-topic^="sec."]').count()).toBe(0);

  // Telemetry: one row per mount name to saturn, with sparklines drawn.
  await view(page, 'telemetry');
  for (const key of ['saturn/main', 'saturn/invoke', 'saturn/sky']) await page.waitForSelector(`tr[data-key="${key}"]`);
  await page.waitForSelector('tr[data-key="saturn/invoke"] svg.spark path');
  expect(await cellNumber(page, 'saturn/invoke', 'frames')).toBeGreaterThan(0);
  await page.screenshot({ path: join(shots, 'telemetry.png'), fullPage: true });

  // Tree: /data opens one level at a time and reaches the mirrored copy's values.
  await view(page, 'tree');
  await page.click('button[data-path="/data"]');
  await page.click('button[data-path="/data/saturn"]');
  await page.click('button[data-path="/data/saturn/sky"]');
  await page.waitForSelector('li[data-path="/data/saturn/sky/count"]');
  expect(await page.textContent('li[data-path="/data/saturn/sky/count"] .leaf')).toBe('"4"');
  await page.screenshot({ path: join(shots, 'tree.png'), fullPage: true });

  expect(problems).toEqual([]);
  process.stdout.write(`console screenshots: ${shots}\n`);
}

describe('cep-node demo --keep', () => {
  it('keeps both peers running after the demo, prints their console URLs, and stops them (exit 0) on SIGTERM', async () => {
    const { args, cwd } = cepNodeCommand();
    const child = spawn(process.execPath, [...args, 'demo', '--keep', '--cells', '20', '--timeout', '40000'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => void (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => void (err += c));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const urls = await until(
        async () => /console {2}earth {3}(\S+)\n {9}saturn {2}(\S+)\n/.exec(out),
        (m) => m !== null,
        'the demo to print the console URLs',
        45_000,
      );
      const [earthUi, saturnUi] = [urls![1]!, urls![2]!];
      expect(earthUi).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/ui\/$/);
      // The peers are still running after the summary: their consoles answer, with their own names.
      for (const [ui, peer] of [
        [earthUi, 'earth'],
        [saturnUi, 'saturn'],
      ] as const) {
        expect((await fetch(ui)).status).toBe(200);
        expect(await (await fetch(new URL('api/state?since=0', ui))).json()).toMatchObject({ peer });
      }
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(err).toBe('');
      expect(out).toMatch(/stopping: signal SIGTERM/);
      expect(out).toMatch(/stopped both peers with SIGTERM \(exit codes 0, 0\)/);
      await expect(fetch(earthUi)).rejects.toThrow();
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        // Kept peers run in their own process group: a demo killed here cannot stop them.
        for (const m of out.matchAll(/(?:saturn|earth) +pid (\d+)/g)) {
          try {
            process.kill(Number(m[1]), 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
    }
  }, 60_000);
});
