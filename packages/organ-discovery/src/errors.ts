/** Every code `@cep/organ-discovery` throws (record problems never throw: they become CEI facts). */
export type DiscoveryErrorCode =
  /** `/net/peers` is not a dictionary, or is already the root of another organ. */
  | 'DISCOVERY_ROOT_INVALID'
  /** An option of `installDiscovery` is out of range (severity, kind). */
  | 'DISCOVERY_OPTION_INVALID';
