/**
 * Reads a config file (YAML or JSON), validates it and turns every problem into one
 * line `file: field: what was wrong`, so the operator can fix the file without
 * reading code. Nothing is started here.
 */
import { readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { nodeError } from '../errors.ts';
import { createConfigSchema, type PeerConfig } from './schema.ts';

/** `peers[1].address` from `['peers', 1, 'address']`; `(root)` for the file itself. */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out === '' ? '(root)' : out;
}

function describeInput(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  return typeof input === 'object' ? 'a mapping' : typeof input;
}

function issueLines(issue: z.core.$ZodIssue): { field: string; message: string }[] {
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ field: formatFieldPath([...issue.path, key]), message: 'unknown field (check the spelling; see the README for the fields)' }));
    case 'invalid_type': {
      const expected = issue.expected === 'object' || issue.expected === 'record' ? 'a mapping' : issue.expected === 'array' ? 'a list' : issue.expected;
      const message = input === undefined ? `missing (expected ${expected})` : `expected ${expected}, got ${describeInput(input)}`;
      return [{ field: formatFieldPath(issue.path), message }];
    }
    case 'invalid_value':
      return [{ field: formatFieldPath(issue.path), message: `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(input)}` }];
    case 'invalid_key':
      // A record key that failed its own schema: report the key's problem at the key.
      return [{ field: formatFieldPath(issue.path), message: issue.issues[0]?.message ?? issue.message }];
    case 'too_small':
      return [{ field: formatFieldPath(issue.path), message: issue.origin === 'string' && issue.minimum === 1 ? 'expected a non-empty text' : `expected at least ${String(issue.minimum)}, got ${JSON.stringify(input)}` }];
    case 'too_big':
      return [{ field: formatFieldPath(issue.path), message: `expected at most ${String(issue.maximum)}, got ${JSON.stringify(input)}` }];
    default:
      return [{ field: formatFieldPath(issue.path), message: issue.message.replace(/^Invalid (input|option): /, '') }];
  }
}

/** Validates an already parsed document; `file` is how errors name the file. */
export function validateConfig(document: unknown, file: string, baseDir: string = dirname(resolve(file))): PeerConfig {
  const result = createConfigSchema(baseDir).safeParse(document, { reportInput: true });
  if (result.success) return result.data;
  const problems = result.error.issues.flatMap(issueLines);
  const lines = problems.map((p) => `${file}: ${p.field}: ${p.message}`);
  throw nodeError('CONFIG_INVALID', lines.join('\n'), { file, problems });
}

/** Parses YAML (`.yaml`/`.yml`, and anything else: YAML reads JSON too) or JSON (`.json`). */
export function parseConfigText(text: string, file: string): unknown {
  if (extname(file).toLowerCase() === '.json') {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw nodeError('CONFIG_PARSE_FAILED', `${file}: not valid JSON: ${(error as Error).message}`, { file });
    }
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const first = doc.errors[0];
  if (first !== undefined) {
    const at = first.linePos?.[0];
    const where = at ? `${file}:${at.line}:${at.col}` : file;
    throw nodeError('CONFIG_PARSE_FAILED', `${where}: not valid YAML: ${first.message.split('\n')[0]}`, { file, line: at?.line, col: at?.col });
  }
  return doc.toJS();
}

/**
 * Loads and validates the config at `file`. Throws `CONFIG_READ_FAILED`,
 * `CONFIG_PARSE_FAILED` or `CONFIG_INVALID`; every message starts with the file name.
 */
export function loadConfig(file: string): PeerConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw nodeError('CONFIG_READ_FAILED', `${file}: cannot read the config file (${code}); pass --config <path to peer.yaml>`, { file }, error);
  }
  return validateConfig(parseConfigText(text, file), file);
}
