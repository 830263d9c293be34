import { cepProject } from '../../tooling/vitest.shared.ts';

export default cepProject('provider-spec');
