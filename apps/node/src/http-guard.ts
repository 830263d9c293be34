/**
 * Who may talk to the admin HTTP endpoint. A peer's endpoint answers on loopback by
 * default, but "loopback" does not stop a web page in a local browser: a cross-site form
 * POST reaches it, and DNS rebinding (a hostile name re-pointed at 127.0.0.1) lets a page
 * read its answers. So every request is checked, before any handler runs:
 *
 *   - `Host` must be the bound address, a loopback name when bound to loopback, an IP
 *     literal when bound to every address, or a name listed in `http.hosts`: a rebound
 *     name is none of these (`HOST_NOT_ALLOWED`, 421);
 *   - a request a browser marks as coming from another site (`Sec-Fetch-Site` other than
 *     `same-origin`/`none`, or an `Origin` whose host is not allowed or whose port is not
 *     this endpoint's) is refused
 *     (`CROSS_SITE_REQUEST`, 403);
 *   - a write (POST) must say `Content-Type: application/json`, which no HTML form can
 *     send and which a cross-site script can send only after a CORS preflight this
 *     endpoint never approves (`UNSUPPORTED_MEDIA_TYPE`, 415);
 *   - with a token configured, `Authorization: Bearer <token>` (compared in constant time;
 *     `UNAUTHORIZED`, 401).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

/** What the guard allows. */
export interface GuardOptions {
  /** The address the endpoint is bound to (`127.0.0.1`, `::1`, `0.0.0.0`, a name). */
  readonly boundHost: string;
  /** More names the endpoint may be reached by (`http.hosts`). */
  readonly hosts?: readonly string[];
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** The bound port, once listening: an `Origin` on another port is another site. */
  readonly port?: () => number | undefined;
}

/** A refused request: the status and the typed body's code and message. */
export interface Refusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** True for an address or name that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = stripBrackets(host).toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** The host part of a `Host` header value (`[::1]:9464` → `::1`, `example.org:80` → `example.org`), lower-cased. */
export function hostnameOf(hostHeader: string): string {
  const value = hostHeader.trim().toLowerCase();
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    return end < 0 ? value : value.slice(1, end);
  }
  const colon = value.lastIndexOf(':');
  return colon < 0 ? value : value.slice(0, colon);
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Builds the check run on every request; it answers `undefined` (go on) or a refusal. */
export function createGuard(options: GuardOptions): (req: IncomingMessage) => Refusal | undefined {
  const bound = stripBrackets(options.boundHost).toLowerCase();
  const wildcard = bound === '0.0.0.0' || bound === '::' || bound === '';
  const names = new Set((options.hosts ?? []).map((h) => h.toLowerCase()));
  const tokenDigest = options.token === undefined ? undefined : digest(options.token);

  const hostAllowed = (hostname: string): boolean =>
    hostname === bound ||
    names.has(hostname) ||
    (isLoopbackHost(bound) && isLoopbackHost(hostname)) ||
    // Bound to every address: any address of this machine, by number. A rebinding attack needs a name.
    (wildcard && (isIP(hostname) !== 0 || isLoopbackHost(hostname)));

  return (req) => {
    const hostHeader = req.headers.host;
    if (hostHeader === undefined || !hostAllowed(hostnameOf(hostHeader))) {
      return {
        status: 421,
        code: 'HOST_NOT_ALLOWED',
        message: `Host ${JSON.stringify(hostHeader ?? '')} is not this endpoint's address; add the name to http.hosts in the config to allow it`,
      };
    }
    const fetchSite = req.headers['sec-fetch-site'];
    if (typeof fetchSite === 'string' && fetchSite !== 'same-origin' && fetchSite !== 'none') {
      return { status: 403, code: 'CROSS_SITE_REQUEST', message: `requests from other sites are refused (Sec-Fetch-Site: ${fetchSite})` };
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !originAllowed(origin, hostAllowed, options.port?.())) {
      return { status: 403, code: 'CROSS_SITE_REQUEST', message: `requests from other sites are refused (Origin: ${origin})` };
    }
    if (tokenDigest !== undefined) {
      const auth = req.headers.authorization ?? '';
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      if (m === null || !timingSafeEqual(digest(m[1]!), tokenDigest)) {
        return {
          status: 401,
          code: 'UNAUTHORIZED',
          message: m === null ? 'this endpoint needs Authorization: Bearer <http.token>' : "the bearer token is not this endpoint's http.token",
          headers: { 'www-authenticate': 'Bearer realm="cep-node"' },
        };
      }
    }
    if (req.method === 'POST') {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json') {
        return {
          status: 415,
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: `a POST must be sent as Content-Type: application/json${type === '' ? '' : `, not ${type}`}`,
        };
      }
    }
    return undefined;
  };
}

function originAllowed(origin: string, hostAllowed: (hostname: string) => boolean, port: number | undefined): boolean {
  // `Origin: null` (a sandboxed frame, a file: page) is never this endpoint.
  try {
    const url = new URL(origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    // Another port on the same host is another site (another local web app).
    const originPort = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    if (port !== undefined && originPort !== port) return false;
    return hostAllowed(stripBrackets(url.hostname).toLowerCase());
  } catch {
    return false;
  }
}
