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
      // fast-check's own bound on a property that never ends (a shrink cycle): see the file.
      setupFiles: [new URL('./fast-check-guard.ts', import.meta.url).pathname],
      // Bounds that turn a hang into a failure, not speed targets: CI runs every project at
      // once on 2 cores, where a 7 s property test can take 25 s.
      testTimeout: 60_000,
      hookTimeout: 30_000,
      ...overrides,
    },
  });
}
