/**
 * A cached green typecheck must be a real green: a package's typecheck reads its workspace
 * dependencies' sources, so turbo must fold their typecheck into its cache key. turbo does so
 * for the tasks named in `dependsOn` (a task's hash includes the hashes of the tasks it depends
 * on); this checks, from turbo's own task graph, that every package's typecheck depends on the
 * typecheck of every @cep package it imports — remove `^typecheck` from turbo.json and it fails.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../../..', import.meta.url).pathname;

interface DryTask {
  readonly taskId: string;
  readonly package: string;
  readonly directory: string;
  readonly dependencies: readonly string[];
}

describe('turbo typecheck cache keys', () => {
  it('include the typecheck of every workspace dependency, so a changed export re-checks its users', () => {
    const dry = JSON.parse(
      execFileSync(join(root, 'node_modules', '.bin', 'turbo'), ['run', 'typecheck', '--dry=json'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 }),
    ) as { tasks: DryTask[] };
    const typechecks = dry.tasks.filter((task) => task.taskId.endsWith('#typecheck'));
    expect(typechecks.length).toBeGreaterThan(15);
    let edges = 0;
    for (const task of typechecks) {
      const manifest = JSON.parse(readFileSync(join(root, task.directory, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
      const workspaceDeps = Object.entries({ ...manifest['dependencies'], ...manifest['devDependencies'], ...manifest['peerDependencies'] })
        .filter(([, range]) => range.startsWith('workspace:'))
        .map(([name]) => name);
      for (const dep of workspaceDeps) {
        expect(task.dependencies, `${task.taskId} must depend on ${dep}#typecheck`).toContain(`${dep}#typecheck`);
        edges += 1;
      }
    }
    expect(edges).toBeGreaterThan(30);
  });
});
