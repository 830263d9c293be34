/**
 * The client side of the HTTP endpoint, for `cep-node inspect`.
 */
import { nodeError } from './errors.ts';

/** What to ask a running peer. */
export type InspectQuery =
  | { readonly kind: 'net'; readonly path: string; readonly depth?: number }
  | { readonly kind: 'metrics' }
  | { readonly kind: 'status' };

/** The URL of `query` on the peer at `base`. */
export function inspectUrl(base: string, query: InspectQuery): string {
  const url = new URL(query.kind === 'net' ? '/net' : `/${query.kind}`, base);
  if (query.kind === 'net') {
    url.searchParams.set('path', query.path);
    if (query.depth !== undefined) url.searchParams.set('depth', String(query.depth));
  }
  return url.href;
}

/**
 * Fetches `query` from the peer at `base` and returns the body as text (JSON for
 * `net` and `status`, Prometheus text for `metrics`). Throws `INSPECT_UNREACHABLE`
 * when nothing answers, `INSPECT_FAILED` with the peer's message otherwise. `token` is sent
 * as `Authorization: Bearer` (the peer's `http.token`).
 */
export async function inspectPeer(base: string, query: InspectQuery, timeoutMs = 5000, token?: string): Promise<string> {
  const url = inspectUrl(base, query);
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), ...(token !== undefined ? { headers: { authorization: `Bearer ${token}` } } : {}) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw nodeError('INSPECT_UNREACHABLE', `no peer answers at ${base} (${cause}); is it running? pass --url or --config`, { url }, error);
  }
  const body = await response.text();
  if (!response.ok) {
    let message = body.trim();
    try {
      const parsed = JSON.parse(body) as { error?: { code?: string; message?: string } };
      if (parsed.error) message = `${parsed.error.code}: ${parsed.error.message}`;
    } catch {
      // not JSON: keep the text as it is
    }
    throw nodeError('INSPECT_FAILED', `${url} answered ${response.status}: ${message}`, { url, status: response.status });
  }
  return body;
}
