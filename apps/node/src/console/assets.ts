/**
 * The console's static files: `dist/ui/` (index.html, app.js, app.css), written by
 * scripts/bundle.mjs at build time. Read once, on the first request, and served from memory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One static file, ready to send. */
export interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

/** The console's files by URL path (`/ui/`, `/ui/app.js`, `/ui/app.css`). */
export type Assets = ReadonlyMap<string, Asset>;

const FILES: readonly (readonly [urlPath: string, file: string, type: string])[] = [
  ['/ui/', 'index.html', 'text/html; charset=utf-8'],
  ['/ui/app.js', 'app.js', 'text/javascript; charset=utf-8'],
  ['/ui/app.css', 'app.css', 'text/css; charset=utf-8'],
];

/**
 * Where the built files are. The bundled peer (dist/cep-node.cjs) finds them beside it in
 * `ui/`; the tsc output (dist/console/) and the sources (src/console/) two levels up in `dist/ui/`.
 */
function uiFolder(): string | undefined {
  const candidates = [new URL('./ui/', import.meta.url), new URL('../../dist/ui/', import.meta.url)];
  for (const url of candidates) {
    const dir = fileURLToPath(url);
    if (existsSync(`${dir}index.html`)) return dir;
  }
  return undefined;
}

/** Loads the files, or `undefined` when the UI was not built. */
export function loadAssets(): Assets | undefined {
  const dir = uiFolder();
  if (dir === undefined) return undefined;
  const out = new Map<string, Asset>();
  for (const [urlPath, file, type] of FILES) out.set(urlPath, { type, body: readFileSync(`${dir}${file}`) });
  return out;
}
