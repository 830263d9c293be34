import { isIP } from 'node:net';

/** Where a relay or tap connects or listens: a socket path, or a host and port (IPv6 unbracketed). */
export type Endpoint = { readonly path: string } | { readonly host: string; readonly port: number };

/** Parses `host:port` (`[::1]:7000` for IPv6) or a socket path (anything with a `/`). */
export function endpoint(address: string): Endpoint {
  if (address.includes('/')) return { path: address };
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(at + 1)) };
}

/** Formats a host and port back into a provider address, bracketing an IPv6 host. */
export function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
