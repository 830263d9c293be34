/**
 * A provider author's first day: a new provider package in a scratch folder outside the
 * workspace, with only `@cep/provider-spec` and `@cep/provider-compliance` from CEP (as packed
 * tarballs: what the registry would serve) plus vitest and typescript. The provider in
 * packages/provider-compliance/test/scratch-provider/ is written against those two packages
 * alone; it must typecheck against the packed types and pass the whole compliance suite.
 *
 * The tarballs are unpacked into the scratch node_modules the way a package manager lays them
 * out (`@cep/errors` comes along as provider-spec's one dependency), and vitest and typescript
 * are linked from the workspace, so the test needs no network. Needs the packages built (the
 * integration step builds first).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('../../..', import.meta.url).pathname;
const fixture = join(root, 'packages', 'provider-compliance', 'test', 'scratch-provider');
const scratch = mkdtempSync(join(tmpdir(), 'cep-provider-scratch-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Packs a workspace package as publishing would (workspace ranges rewritten) and unpacks it into the scratch node_modules. */
function install(pkg: string): Record<string, Record<string, string> | undefined> {
  const tarballs = join(scratch, 'tarballs');
  mkdirSync(tarballs, { recursive: true });
  const before = new Set(readdirSync(tarballs));
  execFileSync('npx', ['--yes', 'pnpm@10.34.8', 'pack', '--pack-destination', tarballs], { cwd: join(root, 'packages', pkg), stdio: 'pipe' });
  const tarball = readdirSync(tarballs).find((name) => !before.has(name));
  if (tarball === undefined) throw new Error(`pnpm pack of ${pkg} made no tarball`);
  const into = join(scratch, 'node_modules', '@cep', pkg);
  mkdirSync(into, { recursive: true });
  execFileSync('tar', ['xzf', join(tarballs, tarball), '-C', into, '--strip-components=1']);
  return JSON.parse(readFileSync(join(into, 'package.json'), 'utf8'));
}

describe('a new provider package in a scratch folder', () => {
  it('needs only @cep/provider-spec and @cep/provider-compliance: it typechecks against their packed types and passes the suite', () => {
    const spec = install('provider-spec');
    const compliance = install('provider-compliance');
    // What the two packages bring in at run time: provider-spec the error brand, the suite nothing.
    expect(Object.keys(spec['dependencies'] ?? {})).toEqual(['@cep/errors']);
    expect(Object.keys(compliance['dependencies'] ?? {})).toEqual([]);
    const required = Object.entries(compliance['peerDependencies'] ?? {})
      .filter(([name]) => (compliance['peerDependenciesMeta'] as Record<string, { optional?: boolean }> | undefined)?.[name]?.optional !== true)
      .map(([name]) => name)
      .sort();
    expect(required).toEqual(['@cep/provider-spec', 'vitest']);
    install('errors');
    for (const tool of ['vitest', 'typescript']) symlinkSync(realpathSync(join(root, 'node_modules', tool)), join(scratch, 'node_modules', tool));

    writeFileSync(
      join(scratch, 'package.json'),
      `${JSON.stringify({ name: 'cep-provider-loop', private: true, type: 'module', devDependencies: { '@cep/provider-compliance': '^0.1.0', '@cep/provider-spec': '^0.1.0', typescript: '*', vitest: '*' } }, null, 2)}\n`,
    );
    writeFileSync(
      join(scratch, 'tsconfig.json'),
      `${JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, allowImportingTsExtensions: true, types: [] }, include: ['*.ts'] }, null, 2)}\n`,
    );
    copyFileSync(join(fixture, 'loop.ts.txt'), join(scratch, 'loop.ts'));
    copyFileSync(join(fixture, 'compliance.test.ts.txt'), join(scratch, 'compliance.test.ts'));

    const run = (args: string[]): string => {
      try {
        return execFileSync(process.execPath, args, { cwd: scratch, encoding: 'utf8', stdio: 'pipe', env: { ...process.env, NODE_OPTIONS: '' } });
      } catch (error) {
        const failed = error as { stdout?: string; stderr?: string };
        throw new Error(`${args.join(' ')} failed in ${scratch}:\n${failed.stdout ?? ''}${failed.stderr ?? ''}`);
      }
    };
    run([join('node_modules', 'typescript', 'bin', 'tsc'), '-p', '.']);
    const out = run([join('node_modules', 'vitest', 'vitest.mjs'), 'run', '--root', scratch, '--reporter', 'json']);
    const report = JSON.parse(out.slice(out.indexOf('{'))) as { numPassedTests: number; numFailedTests: number; numTotalTests: number };
    expect(report.numFailedTests).toBe(0);
    // Every check of the reliable profile ran (none left out but tap and sessions, which this provider does not offer).
    expect(report.numPassedTests).toBe(report.numTotalTests);
    expect(report.numPassedTests).toBeGreaterThanOrEqual(18);
  });
});
