/**
 * Provider negotiation and the serializer downgrade, as pure functions of the catalog and a
 * mount's request (SPEC §6). Pure so they can be property-tested and replayed.
 */

/** A catalog entry as negotiation sees it. */
export interface CatalogEntry {
  readonly id: string;
  readonly caps: readonly string[];
}

/** What a mount asks for. */
export interface CapabilityRequest {
  readonly required?: readonly string[];
  readonly preferred?: readonly string[];
  /** Only unreliable providers qualify (gauges that may be dropped). */
  readonly updLatest?: boolean;
  /** A provider id to use when it qualifies. */
  readonly prefProv?: string;
}

/** The chosen provider, or why there is none. */
export type NegotiationResult =
  | { readonly ok: true; readonly provider: CatalogEntry; readonly preferredHits: number }
  | { readonly ok: false; readonly note: string };

/**
 * Every required cap must be present (and `unreliable` when `updLatest`); `prefProv` wins
 * when it qualifies; otherwise the most preferred caps wins, ties broken by id (code-unit order).
 */
export function negotiate(catalog: readonly CatalogEntry[], request: CapabilityRequest): NegotiationResult {
  const required = request.required ?? [];
  const preferred = request.preferred ?? [];
  const qualifies = (entry: CatalogEntry): boolean =>
    required.every((cap) => entry.caps.includes(cap)) && (request.updLatest !== true || entry.caps.includes('unreliable'));
  const candidates = catalog.filter(qualifies);
  if (candidates.length === 0) {
    const wanted = [...required, ...(request.updLatest === true ? ['unreliable'] : [])];
    return {
      ok: false,
      note:
        catalog.length === 0
          ? 'no provider is registered'
          : `no provider has every required cap (${wanted.join(', ') || 'none'}); registered: ${catalog.map((e) => `${e.id}[${e.caps.join(',')}]`).join(' ')}`,
    };
  }
  const hits = (entry: CatalogEntry): number => preferred.filter((cap) => entry.caps.includes(cap)).length;
  const pinned = request.prefProv === undefined ? undefined : candidates.find((entry) => entry.id === request.prefProv);
  if (pinned !== undefined) return { ok: true, provider: pinned, preferredHits: hits(pinned) };
  let best = candidates[0]!;
  for (const entry of candidates.slice(1)) {
    const delta = hits(entry) - hits(best);
    if (delta > 0 || (delta === 0 && entry.id < best.id)) best = entry;
  }
  return { ok: true, provider: best, preferredHits: hits(best) };
}

/** Serializer features a mount may allow. */
export type SerializerFeature = 'crc32c' | 'deflate' | 'aead';

/** The features that stay on, and those turned off because the provider lacks the cap. */
export interface SerializerOutcome {
  readonly on: Readonly<Record<SerializerFeature, boolean>>;
  readonly downgraded: readonly SerializerFeature[];
}

/** A feature stays on only if the mount allows it and the provider advertises the same-named cap. */
export function negotiateSerializer(allowed: Readonly<Record<SerializerFeature, boolean>>, providerCaps: readonly string[]): SerializerOutcome {
  const on = { crc32c: false, deflate: false, aead: false };
  const downgraded: SerializerFeature[] = [];
  for (const feature of ['crc32c', 'deflate', 'aead'] as const) {
    if (!allowed[feature]) continue;
    if (providerCaps.includes(feature)) on[feature] = true;
    else downgraded.push(feature);
  }
  return { on, downgraded };
}
