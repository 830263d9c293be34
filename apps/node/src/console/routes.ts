/**
 * The web console's routes on the peer's HTTP endpoint:
 *
 *   GET /ui, /ui/          the page (index.html)
 *   GET /ui/app.js, /ui/app.css
 *   GET /ui/api/state?since=<beat>   what changed after that beat (state.ts)
 *
 * The static files carry no peer data (the same bytes on every peer) and are served to any
 * request that passes the guard's Host and cross-site checks, without the token, so a
 * browser can load the page that asks for it. `/ui/api/*` and the `/net` the tree browser
 * reads need the token like every other endpoint. Every answer carries a strict
 * Content-Security-Policy: scripts, styles and requests from this origin only, no inline
 * script or style, no frames, no forms posted anywhere.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { loadAssets, type Assets } from './assets.ts';
import { createConsoleState, type ConsoleStateSource } from './state.ts';

/** The header every console answer carries. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** True for the console's static files: the requests the guard lets through without the token. */
export function isConsoleAsset(pathname: string): boolean {
  return pathname === '/ui' || pathname === '/ui/' || pathname === '/ui/app.js' || pathname === '/ui/app.css';
}

/** A console answer: `true` when the path was the console's (and is answered). */
export type ConsoleHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean;

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8' });
  res.end(`${JSON.stringify(body)}\n`);
}

/** Builds the console's request handler for one peer. */
export function createConsoleHandler(source: ConsoleStateSource): ConsoleHandler {
  let assets: Assets | undefined | null = null;
  const stateSince = createConsoleState(source);
  return (req, res, url) => {
    const path = url.pathname;
    if (path !== '/ui' && !path.startsWith('/ui/')) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendJson(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'the console is read-only: GET only' } });
      return true;
    }
    if (path === '/ui') {
      // Relative asset URLs in the page resolve against /ui/.
      res.writeHead(308, { ...SECURITY_HEADERS, location: '/ui/' });
      res.end();
      return true;
    }
    if (path === '/ui/api/state') {
      const sinceText = url.searchParams.get('since') ?? '0';
      if (!/^\d{1,15}$/.test(sinceText)) {
        sendJson(res, 400, { error: { code: 'BAD_SINCE', message: `since must be a beat (a whole number ≥ 0), got "${sinceText}"` } });
        return true;
      }
      sendJson(res, 200, stateSince(Number(sinceText)));
      return true;
    }
    if (assets === null) assets = loadAssets();
    const asset = assets?.get(path);
    if (assets === undefined) {
      sendJson(res, 503, {
        error: { code: 'UI_NOT_BUILT', message: 'the console was not built: run `node scripts/bundle.mjs` in apps/node (or the package build)' },
      });
      return true;
    }
    if (asset === undefined) {
      sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `no console file ${path}` } });
      return true;
    }
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': asset.type, 'content-length': String(asset.body.length) });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
    return true;
  };
}
