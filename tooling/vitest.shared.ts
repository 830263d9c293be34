import { defineProject, type UserWorkspaceConfig } from 'vitest/config';

/**
 * The vitest preset every package uses: tests run against `src/` through the
 * `@cep/source` export condition, so nothing has to be built first.
 */
export const sourceConditions = ['@cep/source', 'node', 'import', 'module', 'default'];

export function cepProject(name: string, overrides: UserWorkspaceConfig['test'] = {}): UserWorkspaceConfig {
  return defineProject({
    resolve: { conditions: sourceConditions },
    ssr: { resolve: { conditions: sourceConditions, externalConditions: ['@cep/source'] } },
    test: {
      name,
      environment: 'node',
      include: ['test/**/*.test.ts'],
      testTimeout: 20_000,
      hookTimeout: 20_000,
      ...overrides,
    },
  });
}
