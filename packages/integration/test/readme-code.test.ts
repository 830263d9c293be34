/**
 * README code is code: every ```ts block in the repository's Markdown compiles against the
 * packages' real types, and the blocks marked `<!-- readme-code: run -->` also run to a clean
 * exit. A renamed export or a changed signature then fails here, naming the README and line,
 * instead of misleading the next reader.
 *
 * Each block is written to `packages/integration/.readme-code/` (gitignored) as its own module
 * whose first line names its source, and `tsc` checks them all in one run. This package depends
 * on every publishable @cep package, so the blocks' imports resolve from here through the
 * `@cep/source` condition (no build needed).
 *
 * Markers, on the line right before a fence:
 * - `<!-- readme-code: run -->`: also run it (tsx, must exit 0 by itself within RUN_BOUND_MS);
 * - `<!-- readme-code: skip — <reason> -->`: not compiled (a type excerpt, say); the reason is required.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const root = new URL('../../..', import.meta.url).pathname.replace(/\/$/, '');
const outDir = join(root, 'packages', 'integration', '.readme-code');
/** Lines the generated module puts before the block's first line (source comment, `export {}`). */
const PREAMBLE_LINES = 2;
/** Hang guards, not speed targets: one tsc over every block on a loaded 2-core machine, one run. */
const COMPILE_BOUND_MS = 300_000;
const RUN_BOUND_MS = 60_000;
const SKIPPED_DIRS = new Set(['node_modules', '.git', 'dist', '.turbo', 'coverage', '.readme-code', '.test-results']);

interface Block {
  /** Markdown file, relative to the repository root. */
  readonly file: string;
  /** 1-based line of the block's first code line in the Markdown file. */
  readonly line: number;
  readonly code: string;
  readonly mode: 'compile' | 'run' | 'skip';
  /** The generated module's file name inside `outDir`. */
  readonly module: string;
}

interface Finding {
  readonly file: string;
  readonly message: string;
}

function markdownFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name)) found.push(...markdownFiles(join(dir, entry.name)));
    } else if (entry.name.endsWith('.md')) {
      found.push(relative(root, join(dir, entry.name)));
    }
  }
  return found.sort();
}

/** The index of the fence closing the block opened at `open`, or `lines.length` if none does. */
function closingFence(lines: readonly string[], open: number): number {
  let end = open + 1;
  while (end < lines.length && !(lines[end] ?? '').startsWith('```')) end++;
  return end;
}

/** Reads the ```ts blocks of one Markdown file; malformed markers and unclosed fences are findings. */
function extractBlocks(file: string, findings: Finding[]): Block[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const blocks: Block[] = [];
  const isTsFence = (text: string | undefined): boolean => /^```(ts|typescript)\s*$/.test(text ?? '');
  for (let i = 0; i < lines.length; i++) {
    if (/^<!--\s*readme-code:/.test(lines[i] ?? '') && !isTsFence(lines[i + 1])) {
      findings.push({ file, message: `${file}:${i + 1}: a readme-code marker must be on the line right before a \`\`\`ts fence` });
    }
    if (!isTsFence(lines[i])) {
      // Another language's block (a shell session, a Markdown sample showing a marker): skip it whole.
      if ((lines[i] ?? '').startsWith('```')) i = closingFence(lines, i);
      continue;
    }
    const marker = /^<!--\s*readme-code:\s*(.*?)\s*-->\s*$/.exec(lines[i - 1] ?? '');
    let mode: Block['mode'] = 'compile';
    if (marker) {
      const said = marker[1] ?? '';
      if (said === 'run') mode = 'run';
      else if (/^skip\s*[—–-]\s*\S/.test(said)) mode = 'skip';
      else findings.push({ file, message: `${file}:${i}: marker must be "readme-code: run" or "readme-code: skip — <reason>", got "${said}"` });
    }
    const end = closingFence(lines, i);
    if (end === lines.length) findings.push({ file, message: `${file}:${i + 1}: code fence never closed` });
    const line = i + 2;
    const module = `${file.replace(/[^A-Za-z0-9]+/g, '_')}_L${line}.ts`;
    blocks.push({ file, line, code: lines.slice(i + 1, end).join('\n'), mode, module });
    i = end;
  }
  return blocks;
}

function writeModules(blocks: readonly Block[]): void {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  for (const block of blocks) {
    // `export {}` makes every block its own module: top-level await works and names never clash.
    writeFileSync(join(outDir, block.module), `// ${block.file}:${block.line}\nexport {};\n${block.code}\n`);
  }
  const tsconfig = {
    extends: '../../../tooling/tsconfig.base.json',
    compilerOptions: { noEmit: true, declaration: false, declarationMap: false, sourceMap: false },
    files: blocks.filter((block) => block.mode !== 'skip').map((block) => `./${block.module}`),
  };
  writeFileSync(join(outDir, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`);
}

interface Outcome {
  readonly code: number | null;
  readonly output: string;
  readonly timedOut: boolean;
}

function runNode(args: readonly string[], cwd: string, timeout: number): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, timeout, killSignal: 'SIGKILL', maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const failed = error as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
      resolve({
        code: failed ? (typeof failed.code === 'number' ? failed.code : null) : 0,
        output: `${stdout}${stderr}`,
        timedOut: failed?.killed === true,
      });
    });
  });
}

/** Maps `tsc --pretty false` output back to Markdown lines; continuation lines stay with their error. */
function mapDiagnostics(output: string, byModule: ReadonlyMap<string, Block>): { perFile: Map<string, string[]>; unmapped: string[] } {
  const perFile = new Map<string, string[]>();
  const unmapped: string[] = [];
  let last: string[] | undefined;
  for (const raw of output.split('\n')) {
    if (raw.trim() === '') continue;
    const at = /^(?:.*[\\/])?([^\\/()]+\.ts)\((\d+),(\d+)\): (.*)$/.exec(raw);
    const block = at ? byModule.get(at[1] ?? '') : undefined;
    if (at && block) {
      const mdLine = block.line + Number(at[2]) - 1 - PREAMBLE_LINES;
      const list = perFile.get(block.file) ?? [];
      list.push(`${block.file}:${mdLine}:${at[3]} ${at[4]}`);
      perFile.set(block.file, list);
      last = list;
    } else if (/^\s/.test(raw) && last) {
      last[last.length - 1] += `\n  ${raw.trim()}`;
    } else {
      unmapped.push(raw);
      last = undefined;
    }
  }
  return { perFile, unmapped };
}

const findings: Finding[] = [];
const files = markdownFiles(root);
const blocks = files.flatMap((file) => extractBlocks(file, findings));
const filesWithBlocks = [...new Set([...blocks.map((block) => block.file), ...findings.map((finding) => finding.file)])].sort();
const byModule = new Map(blocks.map((block) => [block.module, block]));
let compiled: { perFile: Map<string, string[]>; unmapped: string[]; code: number | null; timedOut: boolean } | undefined;

describe('README code blocks', () => {
  beforeAll(async () => {
    writeModules(blocks);
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const outcome = await runNode([tsc, '-p', join(outDir, 'tsconfig.json'), '--pretty', 'false'], root, COMPILE_BOUND_MS);
    compiled = { ...mapDiagnostics(outcome.output, byModule), code: outcome.code, timedOut: outcome.timedOut };
  }, COMPILE_BOUND_MS + 10_000);

  it('finds the ```ts blocks of the repository Markdown', () => {
    expect(filesWithBlocks).toContain('packages/transport/README.md');
    expect(blocks.filter((block) => block.mode !== 'skip').length).toBeGreaterThan(20);
  });

  it('ran tsc to the end, and every diagnostic belongs to a block', () => {
    expect(compiled?.timedOut).toBe(false);
    expect(compiled?.unmapped).toEqual([]);
    // tsc exits 0 (clean) or 2 (errors, listed per file below); anything else means it broke.
    expect([0, 2]).toContain(compiled?.code);
  });

  for (const file of filesWithBlocks) {
    it(`${file}: every ts block compiles`, () => {
      const problems = [...findings.filter((finding) => finding.file === file).map((finding) => finding.message), ...(compiled?.perFile.get(file) ?? [])];
      expect(problems, problems.join('\n')).toEqual([]);
    });
  }

  for (const block of blocks.filter((candidate) => candidate.mode === 'run')) {
    it(
      `${block.file}:${block.line}: runs to a clean exit`,
      async () => {
        const tsx = join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');
        expect(existsSync(tsx)).toBe(true);
        const outcome = await runNode([tsx, '--conditions=@cep/source', join(outDir, block.module)], outDir, RUN_BOUND_MS);
        expect(outcome.timedOut, `still running after ${RUN_BOUND_MS} ms:\n${outcome.output}`).toBe(false);
        expect(outcome.code, outcome.output).toBe(0);
      },
      RUN_BOUND_MS + 10_000,
    );
  }
});
