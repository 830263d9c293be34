/** The suite a CEP transport provider author runs against their provider. */
export { providerComplianceTests } from './suite.ts';
export type { ComplianceEnv, ComplianceOptions, SessionCompliance } from './types.ts';
export { streamRelay, type Relay } from './relay.ts';
