/**
 * The shape of a peer's config file, validated with zod.
 *
 * Field names are snake_case, like the cells the organs write (`beat_window`,
 * `max_infl`). Everything that can be checked before the peer starts is checked
 * here — names, addresses, key lengths, key files, cross references between
 * sections — so a bad file never starts half a peer.
 */
import { isAbsolute, resolve } from 'node:path';
import { explainNotWord } from '@cep/cells';
import * as z from 'zod';
import { isLoopbackHost } from '../http-guard.ts';
import { BoundedReadError, readBoundedFile } from './bounded-read.ts';
import { declaresPolicy, securitySection, type SecurityConfig } from './security.ts';
import { peerPolicySection } from './peer-policy.ts';
import { limitsSection } from './limits.ts';
import { defaultDataDir, storeSection } from './store.ts';
import { identitySection, publicKeyFields, publicKeysOf } from './identity.ts';

/** The longest invoke timeout, in beats: the invoke organ's own bound (its `maxTimeoutBeats` default). */
export const MAX_INVOKE_TIMEOUT_BEATS = 1_000_000;

/** Largest key or token file read, in bytes (a hex key with a newline is 65). */
export const SECRET_FILE_MAX_BYTES = 4096;

/**
 * Branches a peer never serves for mirroring and no mirror may write into: its policy
 * (`/sys`), its transport and organ state (`/net`), its journal and its runtime records (`/rt`).
 * A mirror into `/sys/security` would replace the declared policy with the remote's.
 */
export const RESERVED_BRANCHES = ['/sys', '/net', '/journal', '/rt'] as const;

/** The reserved branch `path` is in (or is), or undefined. */
export function reservedBranchOf(path: string): string | undefined {
  return RESERVED_BRANCHES.find((root) => path === root || path.startsWith(`${root}/`));
}

/** Shortest bearer token accepted for the HTTP endpoint. */
export const MIN_TOKEN_CHARS = 16;

/** Bytes a pre-shared key must have (256 bits: the size the AEAD ciphers take). */
export const KEY_BYTES = 32;

/** The log levels pino knows, plus `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The built-in providers a peer can listen on and dial with (plug-ins add their own ids). */
export const PROVIDER_IDS = ['tcp', 'pipe', 'udp', 'nats'] as const;

/** The built-in providers that run the identity (public key) handshake; the others use `keys.<peer>`'s pre-shared key. */
const PUBLIC_KEY_PROVIDERS: ReadonlySet<string> = new Set(['tcp', 'pipe', 'udp']);

/** A NATS subject prefix, the address syntax of the nats provider (`cep.saturn`). */
const NATS_PREFIX = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;
const NATS_PREFIX_HINT = 'expected a NATS subject prefix: dot-separated tokens of letters, digits, _ and -, e.g. cep.saturn';

/** Why `text` is not a usable CEP word (no patterns either), or undefined. */
function wordProblem(text: string): string | undefined {
  if (text.includes('*')) return 'it contains "*" (a pattern, not a name)';
  return explainNotWord(text);
}

const word = z.string().superRefine((value, ctx) => {
  const why = wordProblem(value);
  if (why !== undefined) ctx.addIssue({ code: 'custom', message: `"${value}" is not a CEP word: ${why}` });
});

const HOST_PORT = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;

function hostPort(minPort: number) {
  return z.string().superRefine((value, ctx) => {
    const m = HOST_PORT.exec(value);
    const port = m ? Number(m[3]) : NaN;
    if (!m || port < minPort || port > 65535) {
      ctx.addIssue({ code: 'custom', message: `expected host:port (port ${minPort}..65535), got "${value}"` });
    }
  });
}

const cellPath = z.string().superRefine((value, ctx) => {
  if (
    !value.startsWith('/') ||
    value.length < 2 ||
    value
      .split('/')
      .slice(1)
      .some((s) => s === '')
  ) {
    ctx.addIssue({ code: 'custom', message: `expected an absolute cell path like /data/sky, got "${value}"` });
  }
});

/** A file path, resolved against the config file's folder. */
function filePath(baseDir: string) {
  return z
    .string()
    .min(1, 'expected a non-empty path')
    .transform((p) => (isAbsolute(p) ? p : resolve(baseDir, p)));
}

function decodeKey(text: string, encoding: 'hex' | 'base64', ctx: z.RefinementCtx): Uint8Array | undefined {
  const t = text.trim();
  const ok = encoding === 'hex' ? /^(?:[0-9a-fA-F]{2})*$/.test(t) : /^[A-Za-z0-9+/]*={0,2}$/.test(t) && t.length % 4 === 0;
  if (!ok) {
    ctx.addIssue({ code: 'custom', message: `expected ${encoding === 'hex' ? 'hex digits' : 'base64'}` });
    return undefined;
  }
  return new Uint8Array(Buffer.from(t, encoding));
}

/** A pre-shared key: exactly one of hex, base64 or file (with its encoding). */
function pskSpec(baseDir: string) {
  return z
    .strictObject({
      hex: z.string().optional(),
      base64: z.string().optional(),
      file: filePath(baseDir).optional(),
      encoding: z.enum(['hex', 'base64', 'raw']).optional(),
    })
    .transform((spec, ctx): Uint8Array => {
      const given = (['hex', 'base64', 'file'] as const).filter((k) => spec[k] !== undefined);
      if (given.length !== 1) {
        ctx.addIssue({ code: 'custom', message: `expected exactly one of hex, base64 or file, got ${given.length === 0 ? 'none' : given.join(' and ')}` });
        return z.NEVER;
      }
      let key: Uint8Array | undefined;
      const which = given[0]!;
      if (which === 'file') {
        let content: Buffer;
        try {
          content = readBoundedFile(spec.file!, SECRET_FILE_MAX_BYTES);
        } catch (error) {
          const why = error instanceof BoundedReadError ? error.message : String(error);
          ctx.addIssue({ code: 'custom', path: ['file'], message: `cannot read key file ${spec.file}: ${why}` });
          return z.NEVER;
        }
        const encoding = spec.encoding ?? 'hex';
        key =
          encoding === 'raw'
            ? new Uint8Array(content)
            : decodeKey(content.toString('utf8'), encoding, {
                ...ctx,
                addIssue: (i) => ctx.addIssue({ ...(i as object), path: ['file'] } as never),
              } as z.RefinementCtx);
      } else {
        if (spec.encoding !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['encoding'], message: 'encoding applies to key files only' });
          return z.NEVER;
        }
        key = decodeKey(spec[which]!, which, { ...ctx, addIssue: (i) => ctx.addIssue({ ...(i as object), path: [which] } as never) } as z.RefinementCtx);
      }
      if (key === undefined) return z.NEVER;
      if (key.length !== KEY_BYTES) {
        ctx.addIssue({ code: 'custom', path: [which], message: `expected a ${KEY_BYTES}-byte key, got ${key.length} bytes` });
        return z.NEVER;
      }
      return key;
    });
}

/**
 * One `keys.<peer>` entry: the peer's public key(s) (`public_key`, or `public_keys` during a
 * roll-over) and/or a pre-shared key (`hex`, `base64` or `file`). With both, the PSK is mixed
 * into the Noise handshake; with only a PSK, the peer uses the legacy PSK handshake.
 */
function peerKeySpec(baseDir: string) {
  return z
    .strictObject({
      hex: z.string().optional(),
      base64: z.string().optional(),
      file: z.string().optional(),
      encoding: z.enum(['hex', 'base64', 'raw']).optional(),
      ...publicKeyFields,
    })
    .transform((spec, ctx): PeerKeys => {
      const publicKeys = publicKeysOf(spec, ctx);
      if (publicKeys === undefined) return z.NEVER;
      const { public_key: _one, public_keys: _many, ...psk } = spec;
      const givesPsk = Object.values(psk).some((v) => v !== undefined);
      if (!givesPsk) {
        if (publicKeys.length > 0) return { publicKeys };
        ctx.addIssue({ code: 'custom', message: 'expected a public_key (or public_keys) and/or exactly one of hex, base64 or file' });
        return z.NEVER;
      }
      const parsed = pskSpec(baseDir).safeParse(psk);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: issue.path as (string | number)[], message: issue.message });
        return z.NEVER;
      }
      return { psk: parsed.data, publicKeys };
    });
}

/** What a `keys.<peer>` entry gives: an optional pre-shared key and the peer's public keys (possibly none). */
export interface PeerKeys {
  readonly psk?: Uint8Array;
  readonly publicKeys: readonly Uint8Array[];
}

/**
 * The admin endpoint: where it listens, the other names it may be reached by (`hosts`), and
 * an optional bearer token (`token`, or `token_file` read bounded), required when `host` is
 * not a loopback address. Validated to `{ host, port, hosts, token? }`.
 */
function httpSection(baseDir: string) {
  return z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(9464),
      hosts: z
        .array(
          z
            .string()
            .min(1)
            .regex(/^[A-Za-z0-9.:[\]-]+$/, 'expected a host name or address'),
        )
        .default([]),
      token: z
        .string()
        .min(MIN_TOKEN_CHARS, `expected a token of at least ${MIN_TOKEN_CHARS} characters`)
        .regex(/^\S+$/, 'expected a token without spaces')
        .optional(),
      token_file: filePath(baseDir).optional(),
    })
    .transform((http, ctx) => {
      let token = http.token;
      if (http.token_file !== undefined) {
        if (token !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['token_file'], message: 'give token or token_file, not both' });
          return z.NEVER;
        }
        try {
          token = readBoundedFile(http.token_file, SECRET_FILE_MAX_BYTES).toString('utf8').trim();
        } catch (error) {
          ctx.addIssue({
            code: 'custom',
            path: ['token_file'],
            message: `cannot read token file ${http.token_file}: ${error instanceof BoundedReadError ? error.message : String(error)}`,
          });
          return z.NEVER;
        }
        if (token.length < MIN_TOKEN_CHARS || /\s/.test(token)) {
          ctx.addIssue({
            code: 'custom',
            path: ['token_file'],
            message: `expected a token of at least ${MIN_TOKEN_CHARS} characters without spaces in ${http.token_file}`,
          });
          return z.NEVER;
        }
      }
      if (token === undefined && !isLoopbackHost(http.host)) {
        ctx.addIssue({
          code: 'custom',
          path: ['token'],
          message: `required when http.host is not a loopback address ("${http.host}"): anyone who reaches the endpoint could read the tree and invoke handlers; set http.token or http.token_file`,
        });
        return z.NEVER;
      }
      return { host: http.host, port: http.port, hosts: http.hosts, ...(token !== undefined ? { token } : {}) };
    });
}

/** Builds the schema; relative paths in the file resolve against `baseDir` (the file's folder). */
export function createConfigSchema(baseDir: string) {
  const pipePath = z
    .string()
    .min(1, 'expected a socket path')
    .transform((p) => (isAbsolute(p) || p.startsWith('\\\\') ? p : resolve(baseDir, p)));

  const peerLink = z
    .strictObject({
      name: word,
      /** A built-in provider id or a plug-in's `id` (checked against `providers` below). */
      provider: word,
      address: z.string(),
      mount: word.default('main'),
      /** The peer's security enclave; absent = this peer's own `enclave`. */
      enclave: word.optional(),
    })
    .superRefine((peer, ctx) => {
      if (peer.provider === 'udp') {
        // Link, invoke and mirror requests need a reliable, ordered mount; UDP only carries gauges.
        ctx.addIssue({
          code: 'custom',
          path: ['provider'],
          message: 'udp carries only droppable gauges (upd_latest); links, invokes and mirrors need tcp or pipe',
        });
      }
      if (peer.provider === 'pipe') {
        if (peer.address.length === 0) ctx.addIssue({ code: 'custom', path: ['address'], message: 'expected a socket path' });
      } else if (peer.provider === 'nats') {
        if (!NATS_PREFIX.test(peer.address)) ctx.addIssue({ code: 'custom', path: ['address'], message: NATS_PREFIX_HINT });
      } else if (!(PROVIDER_IDS as readonly string[]).includes(peer.provider)) {
        // A plug-in's address syntax is its own; the provider checks it when dialling.
        if (peer.address.length === 0) ctx.addIssue({ code: 'custom', path: ['address'], message: 'expected an address' });
      } else {
        const r = hostPort(1).safeParse(peer.address);
        if (!r.success) ctx.addIssue({ code: 'custom', path: ['address'], message: r.error.issues[0]!.message });
      }
    })
    .transform((peer) => (peer.provider === 'pipe' ? { ...peer, address: pipePath.parse(peer.address) } : peer));

  const mirror = z.strictObject({
    name: word,
    source: z.strictObject({ peer: word, path: cellPath }),
    target: cellPath.superRefine((value, ctx) => {
      const reserved = reservedBranchOf(value);
      if (reserved !== undefined)
        ctx.addIssue({ code: 'custom', message: `"${value}" is inside ${reserved}, which this peer keeps for itself; mirror into a branch such as /data/...` });
    }),
    bundle: z
      .strictObject({
        beat_window: z.number().int().min(1).max(1_000_000).default(1),
        max_infl: z.number().int().min(1).max(65_536).default(8),
        commit_mode: z.enum(['stream', 'batch', 'manual']).default('stream'),
        resume_tok: z.string().optional(),
      })
      .default({ beat_window: 1, max_infl: 8, commit_mode: 'stream' }),
  });

  const natsPrefix = z.string().regex(NATS_PREFIX, NATS_PREFIX_HINT);
  const natsServer = z.string().regex(/^(?:(?:nats|tls|ws|wss):\/\/)?[^\s/]+(?::\d{1,5})?$/, 'expected a NATS server URL, e.g. nats://10.0.0.5:4222');
  /** How cep-node reaches NATS (`provider: nats`): servers and the credentials the server asks for. */
  const natsSection = z.strictObject({
    servers: z.union([natsServer.transform((s) => [s]), z.array(natsServer).min(1, 'expected at least one server')]),
    credentials: z
      .union(
        [
          z.strictObject({ token: z.string().min(1) }),
          z.strictObject({ user: z.string().min(1), pass: z.string().min(1) }),
          z.strictObject({ nkey_seed_file: filePath(baseDir) }),
          z.strictObject({ creds_file: filePath(baseDir) }),
        ],
        { error: 'expected one of { token }, { user, pass }, { nkey_seed_file } or { creds_file }' },
      )
      .optional(),
  });
  /** A provider plug-in: a package (resolved from the config's folder) or a file exporting a v1 provider factory. */
  const providerPlugin = z
    .strictObject({
      id: word,
      module: z.string().min(1, 'expected a package name or a path'),
      export: z.string().min(1).default('default'),
      options: z.record(z.string(), z.unknown()).default({}),
    })
    .transform((plugin) => ({
      ...plugin,
      // Paths resolve against the config's folder; a bare name is a package looked up from there.
      module: plugin.module.startsWith('.') || isAbsolute(plugin.module) ? resolve(baseDir, plugin.module) : plugin.module,
      resolveFrom: baseDir,
    }));

  const handler = z.strictObject({
    name: word,
    module: filePath(baseDir),
    export: z.string().min(1).default('default'),
  });

  return (
    z
      .strictObject({
        peer: word,
        enclave: word,
        log_level: z.enum(LOG_LEVELS).default('info'),
        beat_ms: z.number().int().min(1).max(60_000).default(10),
        /** An arriving frame or submission starts a beat when none runs (at most one early beat per slot). */
        early_beats: z.boolean().default(true),
        /** Young-generation KiB in use after a beat past which a minor GC runs before the next beat; 0: V8 collects as it likes. */
        young_gc_kib: z.number().int().min(0).max(1_048_576).default(2048),
        /** Beats a graceful stop (SIGTERM) waits for calls in flight before it gives them up. */
        drain_beats: z.number().int().min(0).max(1_000_000).default(300),
        /** How far this peer's and its peers' wall clocks may disagree, in ms: call expiries are that much earlier. */
        clock_skew_ms: z.number().int().min(0).max(3_600_000).default(250),
        /** Beats `POST /invoke` waits for a reply when the request names no `timeout_beats` (the organ's bound is 1,000,000). */
        invoke_timeout_beats: z.number().int().min(1).max(MAX_INVOKE_TIMEOUT_BEATS).default(200),
        http: z.union([z.literal(false), httpSection(baseDir)]).default({ host: '127.0.0.1', port: 9464, hosts: [] }),
        keys: z.record(word, peerKeySpec(baseDir)).default({}),
        /**
         * tcp and pipe channels with a pre-shared key tag records from GHASH tables (fast; memory
         * access depends on the key). false: every tag from OpenSSL's constant-time AES-GCM.
         */
        table_ghash: z.boolean().default(true),
        /** This node's static key pair (from `cep-node keygen`): needed once any peer is listed by public key. */
        identity: identitySection(baseDir).optional(),
        listen: z
          .object({ tcp: hostPort(0).optional(), pipe: pipePath.optional(), udp: hostPort(0).optional(), nats: natsPrefix.optional() })
          // Plug-ins listen under their id; any other key is refused in the cross-section checks.
          .catchall(z.string().min(1, 'expected an address'))
          .default({}),
        nats: natsSection.optional(),
        providers: z.array(providerPlugin).default([]),
        peers: z.array(peerLink).default([]),
        /** Branches this peer serves to peers that mirror from it (absent: every branch outside RESERVED_BRANCHES). */
        exports: z
          .array(
            cellPath.superRefine((value, ctx) => {
              const reserved = reservedBranchOf(value);
              if (reserved !== undefined) ctx.addIssue({ code: 'custom', message: `"${value}" is inside ${reserved}, which a peer never serves` });
            }),
          )
          .optional(),
        mirrors: z.array(mirror).default([]),
        invoke: z.array(handler).default([]),
        security: securitySection.prefault({}),
        peer_policy: peerPolicySection,
        /** Resource bounds for authenticated peers (see limits.ts): every field has a safe default. */
        limits: limitsSection.prefault({}),
        /** Where the peer's store lives (absent: `<peer>.data` beside the config file); unused with `--ephemeral`. */
        data_dir: filePath(baseDir).optional(),
        /** Durability of the store in `data_dir`. */
        store: storeSection.prefault({}),
      })
      // Cross-section checks. `when: () => true` runs them even when a field above has
      // failed, so one run reports every problem; hence the defensive reads of a value
      // that may be only partly valid.
      .superRefine(
        (config, ctx) => {
          const doc = config as unknown as Record<string, unknown>;
          const list = (key: string): Record<string, unknown>[] =>
            Array.isArray(doc[key]) ? (doc[key] as unknown[]).map((x) => (typeof x === 'object' && x !== null ? (x as Record<string, unknown>) : {})) : [];
          const keys = typeof doc['keys'] === 'object' && doc['keys'] !== null ? (doc['keys'] as Record<string, unknown>) : {};
          const peers = list('peers');
          const seen = new Set<string>();
          peers.forEach((peer, i) => {
            if (typeof peer['name'] !== 'string') return;
            const peerName = peer['name'];
            if (peerName === doc['peer']) {
              ctx.addIssue({ code: 'custom', path: ['peers', i, 'name'], message: `"${peerName}" is this peer's own name` });
            }
            const key = `${peerName}/${typeof peer['mount'] === 'string' ? peer['mount'] : 'main'}`;
            if (seen.has(key))
              ctx.addIssue({ code: 'custom', path: ['peers', i, 'name'], message: `"${peerName}" mount "${key.split('/')[1]}" is listed twice` });
            seen.add(key);
            if (keys[peerName] === undefined) {
              ctx.addIssue({ code: 'custom', path: ['peers', i, 'name'], message: `no key for peer "${peerName}": add keys.${peerName}` });
            } else if (typeof peer['provider'] === 'string' && !PUBLIC_KEY_PROVIDERS.has(peer['provider']) && pskOf(keys[peerName]) === undefined) {
              // nats and plug-in providers authenticate with the pre-shared key only: a peer keyed by
              // its public key alone could never open a channel there (refused at start, not at dial).
              ctx.addIssue({
                code: 'custom',
                path: ['keys', peerName],
                message: `peer "${peerName}" is reached over ${peer['provider']}, which authenticates with a pre-shared key: add hex, base64 or file to keys.${peerName} (public keys are used on ${[...PUBLIC_KEY_PROVIDERS].join(', ')})`,
              });
            }
          });
          checkProviders(doc, peers, ctx);
          checkPublicKeys(doc, keys, ctx);
          const linked = new Set(peers.map((p) => p['name']));
          list('mirrors').forEach((m, i) => {
            const source = typeof m['source'] === 'object' && m['source'] !== null ? (m['source'] as Record<string, unknown>) : {};
            if (typeof source['peer'] === 'string' && !linked.has(source['peer'])) {
              ctx.addIssue({ code: 'custom', path: ['mirrors', i, 'source', 'peer'], message: `"${source['peer']}" is not listed under peers` });
            }
          });
          // Enclaves named outside the security section must be ones it declares (when it declares
          // any): an undeclared enclave is denied every cross-enclave call, almost surely a typo.
          const security = doc['security'] as Partial<SecurityConfig> | undefined;
          const enclaves: unknown = typeof security === 'object' && security !== null ? security.enclaves : undefined;
          const declared = typeof enclaves === 'object' && enclaves !== null && !Array.isArray(enclaves) ? new Set(Object.keys(enclaves)) : undefined;
          if (declared !== undefined && typeof doc['enclave'] === 'string' && !declared.has(doc['enclave'])) {
            ctx.addIssue({ code: 'custom', path: ['enclave'], message: `"${doc['enclave']}" is not declared under security.enclaves` });
          }
          const enclaveOf = new Map<string, unknown>();
          peers.forEach((peer, i) => {
            const peerEnclave = peer['enclave'] ?? doc['enclave'];
            if (typeof peer['name'] !== 'string') return;
            if (enclaveOf.has(peer['name']) && enclaveOf.get(peer['name']) !== peerEnclave) {
              ctx.addIssue({
                code: 'custom',
                path: ['peers', i, 'enclave'],
                message: `"${peer['name']}" is listed before in enclave "${String(enclaveOf.get(peer['name']))}"; a peer has one enclave`,
              });
            }
            enclaveOf.set(peer['name'], peerEnclave);
            if (declared !== undefined && typeof peer['enclave'] === 'string' && !declared.has(peer['enclave'])) {
              ctx.addIssue({ code: 'custom', path: ['peers', i, 'enclave'], message: `"${peer['enclave']}" is not declared under security.enclaves` });
            }
          });
          // peer_policy: its default enclave must be declared (when any are), and aead modes name keyed peers.
          const peerPolicy = typeof doc['peer_policy'] === 'object' && doc['peer_policy'] !== null ? (doc['peer_policy'] as Record<string, unknown>) : {};
          const defaultEnclave = peerPolicy['default_enclave'];
          if (declared !== undefined && typeof defaultEnclave === 'string' && !declared.has(defaultEnclave)) {
            ctx.addIssue({ code: 'custom', path: ['peer_policy', 'default_enclave'], message: `"${defaultEnclave}" is not declared under security.enclaves` });
          }
          const aeadModes = typeof peerPolicy['aead'] === 'object' && peerPolicy['aead'] !== null ? Object.keys(peerPolicy['aead']) : [];
          for (const peerName of aeadModes) {
            if (keys[peerName] === undefined)
              ctx.addIssue({
                code: 'custom',
                path: ['peer_policy', 'aead', peerName],
                message: `no key for peer "${peerName}": AEAD applies only to keyed peers`,
              });
            else if (pskOf(keys[peerName]) === undefined)
              ctx.addIssue({
                code: 'custom',
                path: ['peer_policy', 'aead', peerName],
                message: `peer "${peerName}" has only a public key: mount AEAD needs a pre-shared key (add hex, base64 or file to keys.${peerName})`,
              });
          }
          for (const section of ['mirrors', 'invoke'] as const) {
            const names = new Set<unknown>();
            list(section).forEach((item, i) => {
              if (typeof item['name'] !== 'string') return;
              if (names.has(item['name'])) ctx.addIssue({ code: 'custom', path: [section, i, 'name'], message: `"${item['name']}" is used twice` });
              names.add(item['name']);
            });
          }
        },
        { when: () => true },
      )
      .transform((config) => {
        // `keys` stays what it always was, peer → pre-shared key (the mounts' AEAD key too);
        // the public keys go to `public_keys`.
        const keys: Record<string, Uint8Array> = {};
        const publicKeys: Record<string, readonly Uint8Array[]> = {};
        for (const [peer, entry] of Object.entries(config.keys)) {
          if (entry.psk !== undefined) keys[peer] = entry.psk;
          if (entry.publicKeys.length > 0) publicKeys[peer] = entry.publicKeys;
        }
        return { ...config, keys, public_keys: publicKeys, data_dir: config.data_dir ?? defaultDataDir(baseDir, config.peer) };
      })
  );
}

function pskOf(entry: unknown): Uint8Array | undefined {
  return typeof entry === 'object' && entry !== null && (entry as PeerKeys).psk instanceof Uint8Array ? (entry as PeerKeys).psk : undefined;
}

/** Public keys need this node's own key pair, and one public key names one peer. */
function checkPublicKeys(doc: Record<string, unknown>, keys: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const owner = new Map<string, string>();
  for (const [peer, entry] of Object.entries(keys)) {
    const list = typeof entry === 'object' && entry !== null && Array.isArray((entry as PeerKeys).publicKeys) ? (entry as PeerKeys).publicKeys : [];
    if (list.length === 0) continue;
    if (doc['identity'] === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['keys', peer],
        message: `a public key for "${peer}" needs this node's own key pair: add identity: { file: <file from cep-node keygen> }`,
      });
    }
    for (const key of list) {
      const text = Buffer.from(key).toString('base64');
      const other = owner.get(text);
      if (other !== undefined)
        ctx.addIssue({ code: 'custom', path: ['keys', peer], message: `this public key is already "${other}"'s; one key identifies one peer` });
      else owner.set(text, peer);
    }
  }
}

/**
 * Provider ids must be known: built-in or a plug-in's; plug-in ids unique and not
 * built-in; NATS used (by a peer or a listener) only with a `nats` section.
 */
function checkProviders(doc: Record<string, unknown>, peers: Record<string, unknown>[], ctx: z.RefinementCtx): void {
  const plugins = Array.isArray(doc['providers']) ? (doc['providers'] as unknown[]) : [];
  const pluginIds = new Set<string>();
  plugins.forEach((plugin, i) => {
    const id = typeof plugin === 'object' && plugin !== null ? (plugin as Record<string, unknown>)['id'] : undefined;
    if (typeof id !== 'string') return;
    if ((PROVIDER_IDS as readonly string[]).includes(id))
      ctx.addIssue({ code: 'custom', path: ['providers', i, 'id'], message: `"${id}" is a built-in provider; give the plug-in its own id` });
    else if (pluginIds.has(id)) ctx.addIssue({ code: 'custom', path: ['providers', i, 'id'], message: `"${id}" is used twice` });
    pluginIds.add(id);
  });
  const known = (id: string): boolean => (PROVIDER_IDS as readonly string[]).includes(id) || pluginIds.has(id);
  const choices = [...PROVIDER_IDS, ...pluginIds].join(', ');
  let usesNats = false;
  peers.forEach((peer, i) => {
    if (typeof peer['provider'] !== 'string') return;
    if (peer['provider'] === 'nats') usesNats = true;
    if (!known(peer['provider']))
      ctx.addIssue({
        code: 'custom',
        path: ['peers', i, 'provider'],
        message: `"${peer['provider']}" is not a provider: use one of ${choices} (plug-ins are listed under providers)`,
      });
  });
  const listen = typeof doc['listen'] === 'object' && doc['listen'] !== null ? (doc['listen'] as Record<string, unknown>) : {};
  for (const id of Object.keys(listen)) {
    if (id === 'nats') usesNats = true;
    if (!known(id))
      ctx.addIssue({
        code: 'custom',
        path: ['listen', id],
        message: `unknown field: "${id}" is not a provider (use one of ${choices}; plug-ins are listed under providers)`,
      });
  }
  if (usesNats && doc['nats'] === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['nats'],
      message: 'missing: provider nats needs a nats section with servers (e.g. nats: { servers: [nats://10.0.0.5:4222] })',
    });
  }
}

/** A validated config: what the file said, defaults filled in, paths absolute, keys decoded. */
export type PeerConfig = z.output<ReturnType<typeof createConfigSchema>>;

export { declaresPolicy, type SecurityConfig };
