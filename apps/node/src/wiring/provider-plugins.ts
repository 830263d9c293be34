/**
 * Provider plug-ins (`providers:` in the config): any package or file whose export is a
 * v1 provider factory, `(options) => ProviderV1`. The factory gets the entry's `options`
 * plus what every provider needs from the peer (`id`, `localPeer`, `keys`), so a
 * third-party provider is configured exactly like a built-in one.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROVIDER_SPEC_V1, type ProviderV1 } from '@cep/transport/provider';
import type { PeerConfig } from '../config/schema.ts';
import { nodeError } from '../errors.ts';
import { importModule } from '../import-module.ts';

type PluginEntry = PeerConfig['providers'][number];

/** What a plug-in factory is called with. */
export interface PluginFactoryOptions {
  readonly [option: string]: unknown;
  readonly id: string;
  readonly localPeer: string;
  readonly keys: Readonly<Record<string, Uint8Array>>;
}

/**
 * The module to import: resolved like `require` from the config's folder (a package
 * name, a file, or a package folder with a "main"), else the name as is for `import`
 * (ESM-only packages, whose exports have only an "import" condition, are not visible
 * to `require.resolve`).
 */
function specifier(entry: PluginEntry): string {
  try {
    return pathToFileURL(createRequire(join(entry.resolveFrom, 'cep-node.config')).resolve(entry.module)).href;
  } catch {
    return entry.module.startsWith('/') ? pathToFileURL(entry.module).href : entry.module;
  }
}

function describeVersion(value: unknown): string {
  return typeof value === 'string' ? `"${value}"` : 'no specificationVersion';
}

/** Imports every plug-in and makes its provider; throws PROVIDER_LOAD_FAILED or PROVIDER_INVALID naming the entry. */
export async function loadProviderPlugins(
  entries: readonly PluginEntry[],
  peer: { localPeer: string; keys: Record<string, Uint8Array> },
): Promise<ProviderV1[]> {
  const providers: ProviderV1[] = [];
  for (const [i, entry] of entries.entries()) {
    const field = `providers[${i}] (${entry.id})`;
    let mod: Record<string, unknown>;
    try {
      mod = await importModule(specifier(entry));
    } catch (error) {
      throw nodeError('PROVIDER_LOAD_FAILED', `${field}: cannot load ${entry.module}: ${(error as Error).message}`, { index: i, module: entry.module }, error);
    }
    const factory = mod[entry.export];
    if (typeof factory !== 'function') {
      throw nodeError(
        'PROVIDER_INVALID',
        `${field}: ${entry.module} has no function in export "${entry.export}"; a plug-in exports a provider factory, (options) => provider`,
        { index: i },
      );
    }
    let made: unknown;
    try {
      const options: PluginFactoryOptions = { ...entry.options, id: entry.id, localPeer: peer.localPeer, keys: peer.keys };
      made = (factory as (options: PluginFactoryOptions) => unknown)(options);
    } catch (error) {
      throw nodeError('PROVIDER_INVALID', `${field}: the factory of ${entry.module} refused its options: ${(error as Error).message}`, { index: i }, error);
    }
    const provider = made as Partial<ProviderV1> | null;
    if (typeof provider !== 'object' || provider === null || provider.specificationVersion !== PROVIDER_SPEC_V1) {
      const version = typeof provider === 'object' && provider !== null ? describeVersion(provider.specificationVersion) : 'not an object';
      throw nodeError('PROVIDER_INVALID', `${field}: ${entry.module} made a provider with ${version}; cep-node takes "${PROVIDER_SPEC_V1}" providers`, {
        index: i,
      });
    }
    if (provider.id !== entry.id || typeof provider.open !== 'function' || typeof provider.close !== 'function' || !Array.isArray(provider.caps)) {
      throw nodeError(
        'PROVIDER_INVALID',
        `${field}: ${entry.module} made a provider with id "${String(provider.id)}" (the config says "${entry.id}"), or without open/close/caps`,
        { index: i },
      );
    }
    providers.push(provider as ProviderV1);
  }
  return providers;
}
