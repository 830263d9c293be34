/**
 * The peer's read-only HTTP endpoint (node:http, loopback by default):
 *
 *   GET /net?path=/net/telemetry[&depth=N]  the branch as JSON ({ path, beat, value })
 *   GET /metrics                           Prometheus text format
 *   GET /digest?path=/data/sky             { digest, cells } of a branch (digest null when absent)
 *   GET /status                            peer name, enclave, beat, beat driver counters
 *   POST /mirror/<name>/commit              applies what a manual (or batch) mirror holds, next beat
 *   POST /invoke  {"peer","handler","arg"?,"pipeline"?}  runs a remote handler, answers with its outcome
 *   GET /ui/…                              the web console (console/routes.ts)
 *
 * While the peer stops, `POST /invoke` answers 503 `SHUTTING_DOWN` (with `Retry-After`), and the
 * endpoint closes only once every response in flight has been written: a pending invoke gets
 * its outcome, or 503 when the stop gave it up, never a reset connection.
 *
 * Requests are served between beats (a beat is one synchronous step), so a
 * response never shows half a beat. Every request first passes the guard (http-guard.ts:
 * Host, cross-site, JSON on writes, the optional bearer token); every refusal is a 4xx
 * with a typed body `{ "error": { "code", "message" } }`. Numbers above 2^53 travel as
 * decimal strings both ways: a body with a larger number literal is refused, not rounded.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { digestHex, parsePath, type Cell, type Tree } from '@cep/cells';
import type { Logger } from 'pino';
import type { PipelineInput } from '@cep/organ-invoke';
import { MAX_INVOKE_TIMEOUT_BEATS } from './config/schema.ts';
import { nodeError } from './errors.ts';
import { createGuard } from './http-guard.ts';
import { parseJsonBody } from './json-body.ts';
import type { PeerMetrics } from './metrics.ts';
import { branchToJson } from './tree-json.ts';
import { createConsoleHandler, isConsoleAsset, type ConsoleHandler } from './console/routes.ts';

/** Options of {@link startHttpServer}. */
export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly tree: Tree;
  readonly beat: () => number;
  readonly metrics: PeerMetrics;
  readonly status: () => Record<string, unknown>;
  readonly log: Logger;
  /**
   * Serves `POST /invoke` when given: runs handler `handler` on `peer` with an optional u64 `arg`,
   * pipeline metadata, and the beats to wait for the reply (absent: the config's default).
   */
  readonly invoke?: (
    peer: string,
    handler: string,
    arg: bigint | undefined,
    pipeline: PipelineInput | undefined,
    timeoutBeats: number | undefined,
  ) => Promise<Record<string, unknown>>;
  /** True once the peer is stopping: `POST /invoke` is refused with 503 `SHUTTING_DOWN`. */
  readonly draining?: () => boolean;
  /** Serves `POST /mirror/<name>/commit` when given: applies the bundles a manual/batch mirror holds. */
  readonly commitMirror?: (name: string) => 'ok' | 'unknown' | 'not-ready';
  /** Names besides the bound address the endpoint may be reached by (`Host`), e.g. a proxy's. */
  readonly hosts?: readonly string[];
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** Serves the web console at `/ui/` when given: the peer's name and enclave, shown in it. */
  readonly console?: { readonly peer: string; readonly enclave: string };
}

/** A listening endpoint. */
export interface HttpEndpoint {
  /** `http://host:port`, with the bound port. */
  readonly url: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, type = 'application/json; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Readonly<Record<string, string>> = {}): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  send(res, status, JSON.stringify({ error: { code, message } }) + '\n');
}

type Guard = ReturnType<typeof createGuard>;

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  options: HttpServerOptions,
  guard: Guard,
  web?: { assetGuard: Guard; handler: ConsoleHandler },
): Promise<void> {
  // The console's static files need no token (they hold no peer data), only Host and cross-site checks.
  const asset = web !== undefined && isConsoleAsset((req.url ?? '').split('?')[0]!);
  const refusal = (asset ? web.assetGuard : guard)(req);
  if (refusal !== undefined) {
    sendError(res, refusal.status, refusal.code, refusal.message, refusal.headers);
    return;
  }
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://localhost');
  } catch {
    sendError(res, 400, 'BAD_URL', `the request target ${JSON.stringify(req.url)} is not a valid path`);
    return;
  }
  if (web?.handler(req, res, url) === true) return;
  if (req.method === 'POST' && url.pathname === '/invoke' && options.invoke !== undefined) {
    if (options.draining?.() === true) {
      sendError(res, 503, 'SHUTTING_DOWN', 'this peer is shutting down and takes no new invokes; try another peer or again after it restarts', {
        'retry-after': '1',
        connection: 'close',
      });
      return;
    }
    await handleInvoke(req, res, options.invoke);
    return;
  }
  const commit = /^\/mirror\/([^/]+)\/commit$/.exec(url.pathname);
  if (req.method === 'POST' && commit !== null && options.commitMirror !== undefined) {
    let name: string;
    try {
      name = decodeURIComponent(commit[1]!);
    } catch {
      sendError(res, 400, 'BAD_PATH', `the mirror name in ${url.pathname} has a malformed %-escape`);
      return;
    }
    const answer = options.commitMirror(name);
    if (answer === 'ok') send(res, 202, JSON.stringify({ mirror: name, commit: 'at the next beat' }) + '\n');
    else if (answer === 'unknown') sendError(res, 404, 'UNKNOWN_MIRROR', `no mirror named "${name}" in the config`);
    else sendError(res, 409, 'MIRROR_NOT_READY', `mirror "${name}" has not been validated yet; try again after the first beat`);
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    sendError(res, 405, 'METHOD_NOT_ALLOWED', 'only GET is served (and POST /invoke)');
    return;
  }
  switch (url.pathname) {
    case '/net': {
      const path = url.searchParams.get('path') ?? '/net';
      const depthText = url.searchParams.get('depth');
      const depth = depthText === null ? Infinity : Number(depthText);
      if (!Number.isInteger(depth) && depth !== Infinity) {
        sendError(res, 400, 'BAD_DEPTH', `depth must be a whole number, got "${depthText}"`);
        return;
      }
      const cell = lookup(res, options.tree, path);
      if (cell === null) return;
      if (cell === undefined) {
        sendError(res, 404, 'PATH_NOT_FOUND', `no live cell at ${path}`);
        return;
      }
      send(res, 200, JSON.stringify({ path, beat: options.beat(), value: branchToJson(cell, depth) }) + '\n');
      return;
    }
    case '/digest': {
      // The deterministic digest of a branch (and its cell count): what two peers compare
      // to know a mirror has caught up, without shipping the branch.
      const path = url.searchParams.get('path') ?? '/';
      const cell = lookup(res, options.tree, path);
      if (cell === null) return;
      if (cell === undefined) {
        send(res, 200, JSON.stringify({ path, beat: options.beat(), digest: null, cells: 0 }) + '\n');
        return;
      }
      send(res, 200, JSON.stringify({ path, beat: options.beat(), digest: digestHex(cell), cells: countCells(cell) }) + '\n');
      return;
    }
    case '/metrics':
      send(res, 200, await options.metrics.text(), options.metrics.contentType);
      return;
    case '/status':
      send(res, 200, JSON.stringify(options.status()) + '\n');
      return;
    case '/':
      send(
        res,
        200,
        JSON.stringify({ endpoints: ['/net?path=/net', '/digest?path=/data', '/metrics', '/status', 'POST /invoke', ...(web !== undefined ? ['/ui/'] : [])] }) +
          '\n',
      );
      return;
    default:
      sendError(res, 404, 'NOT_FOUND', `no endpoint ${url.pathname}; try /net?path=/net, /metrics or /status`);
  }
}

/** The live cell at `path`, `undefined` when there is none, or `null` after answering 400 for a bad path. */
function lookup(res: ServerResponse, tree: Tree, path: string): Cell | undefined | null {
  if (!path.startsWith('/')) {
    sendError(res, 400, 'BAD_PATH', `path must be absolute (start with /), got "${path}"`);
    return null;
  }
  try {
    return path === '/' ? tree.root : tree.get(parsePath(path));
  } catch (error) {
    sendError(res, 400, 'BAD_PATH', `${path}: ${(error as Error).message}`);
    return null;
  }
}

function countCells(cell: Cell): number {
  let n = 1;
  for (const child of cell.children()) if (!child.isDeleted) n += countCells(child);
  return n;
}

const MAX_INVOKE_BODY = 4096;

/** Longest the endpoint waits for responses in flight when it closes (they were answered by then; this only bounds a stuck client). */
const CLOSE_GRACE_MS = 2000;

async function handleInvoke(req: IncomingMessage, res: ServerResponse, invoke: NonNullable<HttpServerOptions['invoke']>): Promise<void> {
  let body = '';
  req.setEncoding('utf8');
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > MAX_INVOKE_BODY) {
      sendError(res, 413, 'BODY_TOO_LARGE', `an invoke request is at most ${MAX_INVOKE_BODY} bytes`);
      return;
    }
  }
  const json = parseJsonBody(body);
  if (!json.ok) {
    sendError(
      res,
      400,
      json.code,
      json.code === 'BAD_JSON' ? `the body must be JSON: {"peer": "saturn", "handler": "add", "arg": "41"} (${json.message})` : json.message,
    );
    return;
  }
  if (typeof json.value !== 'object' || json.value === null || Array.isArray(json.value)) {
    sendError(res, 400, 'BAD_INVOKE', 'the body must be a JSON object: {"peer": "saturn", "handler": "add", "arg": "41"}');
    return;
  }
  const parsed = json.value as { peer?: unknown; handler?: unknown; arg?: unknown; pipeline?: unknown; timeout_beats?: unknown };
  if (typeof parsed.peer !== 'string' || typeof parsed.handler !== 'string') {
    sendError(res, 400, 'BAD_INVOKE', 'peer and handler are required strings');
    return;
  }
  let arg: bigint | undefined;
  if (parsed.arg !== undefined) {
    if ((typeof parsed.arg !== 'string' && typeof parsed.arg !== 'number') || !/^\d+$/.test(String(parsed.arg))) {
      sendError(res, 400, 'BAD_INVOKE', 'arg must be a whole number ≥ 0 (as a string for 64-bit values)');
      return;
    }
    arg = BigInt(parsed.arg);
  }
  let pipeline: PipelineInput | undefined;
  if (parsed.pipeline !== undefined) {
    pipeline = pipelineOf(parsed.pipeline);
    if (pipeline === undefined) {
      sendError(
        res,
        400,
        'BAD_INVOKE',
        'pipeline must be {"pipeline_id": text, "stage_id": text, "dag_run_id"?: whole number (default 0), "hop_index"?: whole number (default 0)}',
      );
      return;
    }
  }
  let timeoutBeats: number | undefined;
  if (parsed.timeout_beats !== undefined) {
    // A whole number of beats, as a JSON number or a decimal string, within the organ's bound.
    const t = parsed.timeout_beats;
    const n = (typeof t === 'number' || typeof t === 'string') && /^\d+$/.test(String(t)) ? Number(t) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < 1 || n > MAX_INVOKE_TIMEOUT_BEATS) {
      sendError(res, 400, 'BAD_INVOKE', `timeout_beats must be a whole number of beats in 1..${MAX_INVOKE_TIMEOUT_BEATS}, got ${JSON.stringify(t)}`);
      return;
    }
    timeoutBeats = n;
  }
  try {
    send(res, 200, JSON.stringify(await invoke(parsed.peer, parsed.handler, arg, pipeline, timeoutBeats)) + '\n');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'SHUTTING_DOWN') sendError(res, 503, code, (error as Error).message, { 'retry-after': '1', connection: 'close' });
    else sendError(res, 400, typeof code === 'string' ? code : 'INVOKE_FAILED', (error as Error).message);
  }
}

/**
 * The body's pipeline metadata in the wire's field names, or `undefined` when its shape is wrong.
 * Values (id lengths, ranges) are checked by @cep/security when the call is submitted.
 */
function pipelineOf(input: unknown): PipelineInput | undefined {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return undefined;
  const p = input as Record<string, unknown>;
  const whole = (v: unknown): bigint | undefined =>
    v === undefined ? 0n : (typeof v === 'string' || typeof v === 'number') && /^\d+$/.test(String(v)) ? BigInt(v) : undefined;
  const dagRunId = whole(p['dag_run_id']);
  const hopIndex = whole(p['hop_index']);
  if (typeof p['pipeline_id'] !== 'string' || typeof p['stage_id'] !== 'string' || dagRunId === undefined || hopIndex === undefined) return undefined;
  if (Object.keys(p).some((k) => !['pipeline_id', 'stage_id', 'dag_run_id', 'hop_index'].includes(k))) return undefined;
  return { pipelineId: p['pipeline_id'], stageId: p['stage_id'], dagRunId, hopIndex: Number(hopIndex) };
}

/** Starts listening; rejects with `HTTP_LISTEN_FAILED` when the address cannot be bound. */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpEndpoint> {
  let boundPort: number | undefined;
  const guard = createGuard({
    boundHost: options.host,
    ...(options.hosts !== undefined ? { hosts: options.hosts } : {}),
    ...(options.token !== undefined ? { token: options.token } : {}),
    port: () => boundPort,
  });
  const web =
    options.console === undefined
      ? undefined
      : {
          assetGuard: createGuard({ boundHost: options.host, ...(options.hosts !== undefined ? { hosts: options.hosts } : {}), port: () => boundPort }),
          handler: createConsoleHandler({ tree: options.tree, beat: options.beat, ...options.console }),
        };
  // Responses not finished yet: the endpoint closes after them, so none is cut off.
  const inFlight = new Set<Promise<void>>();
  const server = createServer((req, res) => {
    const finished = new Promise<void>((resolve) => {
      res.once('close', resolve);
    });
    inFlight.add(finished);
    void finished.then(() => inFlight.delete(finished));
    handle(req, res, options, guard, web).catch((error: unknown) => {
      options.log.error({ err: error, url: req.url }, 'http request failed');
      if (!res.headersSent) sendError(res, 500, 'INTERNAL', 'the request failed; see the peer log');
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        nodeError(
          'HTTP_LISTEN_FAILED',
          `cannot listen for HTTP on ${options.host}:${options.port} (${error.code ?? error.message}); set http.port in the config to a free port, or 0 for any`,
          { host: options.host, port: options.port },
          error,
        ),
      );
    };
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  boundPort = address.port;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // No new connections; idle keep-alive ones go now, busy ones once their response is written.
      server.closeIdleConnections();
      await Promise.race([Promise.all([...inFlight]), new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref())]);
      server.closeAllConnections();
      await closed;
    },
  };
}
