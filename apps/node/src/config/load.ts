/**
 * Reads a config file (YAML or JSON), validates it and turns every problem into one
 * line `file: field: what was wrong`, so the operator can fix the file without
 * reading code. Nothing is started here.
 */
import { dirname, extname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { nodeError } from '../errors.ts';
import { BoundedReadError, readBoundedFile } from './bounded-read.ts';
import { createConfigSchema, type PeerConfig } from './schema.ts';

/** Largest config file read, in bytes: a config is a page of text, not a data set. */
export const CONFIG_MAX_BYTES = 1 << 20;

/** Aliases a YAML config may expand before it is refused (a "billion laughs" document expands without end). */
const MAX_YAML_ALIASES = 100;

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
      return issue.keys.map((key) => ({
        field: formatFieldPath([...issue.path, key]),
        message: 'unknown field (check the spelling; see the README for the fields)',
      }));
    case 'invalid_type': {
      const expected = issue.expected === 'object' || issue.expected === 'record' ? 'a mapping' : issue.expected === 'array' ? 'a list' : issue.expected;
      const message = input === undefined ? `missing (expected ${expected})` : `expected ${expected}, got ${describeInput(input)}`;
      return [{ field: formatFieldPath(issue.path), message }];
    }
    case 'invalid_value':
      return [
        {
          field: formatFieldPath(issue.path),
          message: `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(input)}`,
        },
      ];
    case 'invalid_union': {
      // A union that names its choices itself (`{ error: … }` in the schema) says it best.
      if (!/^Invalid input/.test(issue.message)) return [{ field: formatFieldPath(issue.path), message: issue.message }];
      // `http: false | {…}`: report what is wrong inside the branch the value was meant for
      // (the one that got past its root), not a bare "Invalid input".
      const branches = issue.errors.filter((branch) => branch.length > 0);
      const meant =
        branches.find((branch) => branch.some((i) => i.path.length > 0)) ?? (typeof input === 'object' && input !== null ? branches.at(-1) : undefined);
      if (meant === undefined) return [{ field: formatFieldPath(issue.path), message: `expected false or a mapping, got ${describeInput(input)}` }];
      return meant.flatMap((inner) => issueLines({ ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue));
    }
    case 'invalid_key':
      // A record key that failed its own schema: report the key's problem at the key.
      return [{ field: formatFieldPath(issue.path), message: issue.issues[0]?.message ?? issue.message }];
    case 'too_small':
      if (issue.origin === 'string') {
        // Never echo the text: it may be a secret (a token).
        return [
          {
            field: formatFieldPath(issue.path),
            message:
              issue.minimum === 1
                ? 'expected a non-empty text'
                : `expected at least ${String(issue.minimum)} characters, got ${typeof input === 'string' ? input.length : '?'}`,
          },
        ];
      }
      return [{ field: formatFieldPath(issue.path), message: `expected at least ${String(issue.minimum)}, got ${JSON.stringify(input)}` }];
    case 'too_big':
      return [{ field: formatFieldPath(issue.path), message: `expected at most ${String(issue.maximum)}, got ${JSON.stringify(input)}` }];
    default:
      return [{ field: formatFieldPath(issue.path), message: issue.message.replace(/^Invalid (input|option): /, '') }];
  }
}

/** Validates an already parsed document; `file` is how errors name the file. */
export function validateConfig(document: unknown, file: string, baseDir: string = dirname(resolve(file))): PeerConfig {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    const what = document === null || document === undefined ? 'the file is empty' : `got ${describeInput(document)}`;
    throw nodeError('CONFIG_INVALID', `${file}: (root): expected a mapping with at least peer and enclave; ${what}`, {
      file,
      problems: [{ field: '(root)', message: `expected a mapping; ${what}` }],
    });
  }
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
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw nodeError('CONFIG_PARSE_FAILED', `${file}: not valid JSON: ${(error as Error).message}`, { file });
    }
  }
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  } catch (error) {
    // A pathological document (nesting deep enough to exhaust the stack) is a parse failure too.
    throw nodeError('CONFIG_PARSE_FAILED', `${file}: (root): not a usable YAML document: ${(error as Error).message}`, { file });
  }
  const first = doc.errors[0];
  if (first !== undefined) {
    const at = first.linePos?.[0];
    const where = at ? `${file}:${at.line}:${at.col}` : file;
    throw nodeError('CONFIG_PARSE_FAILED', `${where}: not valid YAML: ${first.message.split('\n')[0]}`, { file, line: at?.line, col: at?.col });
  }
  try {
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (error) {
    // yaml refuses alias expansion past maxAliasCount (a "billion laughs" document).
    throw nodeError('CONFIG_PARSE_FAILED', `${file}: (root): not a usable YAML document: ${(error as Error).message}`, { file });
  }
}

/**
 * Loads and validates the config at `file`. Throws `CONFIG_READ_FAILED`,
 * `CONFIG_PARSE_FAILED` or `CONFIG_INVALID`; every message starts with the file name.
 */
export function loadConfig(file: string): PeerConfig {
  let text: string;
  try {
    text = readBoundedFile(file, CONFIG_MAX_BYTES).toString('utf8');
  } catch (error) {
    const why = error instanceof BoundedReadError ? error.message : String(error);
    throw nodeError('CONFIG_READ_FAILED', `${file}: cannot read the config file (${why}); pass --config <path to peer.yaml>`, { file }, error);
  }
  return validateConfig(parseConfigText(text, file), file);
}
