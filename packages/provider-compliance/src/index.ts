/** The suite a CEP transport provider author runs against their provider. */
export { providerComplianceTests } from './suite.ts';
export type { ComplianceEnv, ComplianceOptions, SessionCompliance, Intruder, IntruderKind } from './types.ts';
export { streamTap, datagramTap, type Tap } from './tap.ts';
export { streamRelay, type Relay } from './relay.ts';
