#!/usr/bin/env node
/**
 * Checks that every relative link in the repository's documentation points at a file or folder
 * that exists, so a user who clones the repository never meets a dead link.
 *
 * Scans README.md, docs/**\/*.md, packages/*\/README.md, packages/*\/FORMAT.md, apps/*\/README.md
 * and packages/*\/bench/*.md, apps/*\/bench/*.md (the bench histories the READMEs link to). A
 * link is relative when it has no scheme (`https:`, `mailto:` …), does not start with `/` or `#`;
 * its `#anchor` and `?query` are ignored. Links inside fenced or inline code are not links. Exits 1
 * and lists `file:line  target` for each broken one.
 *
 * Usage: node tooling/check-doc-links.mjs [repository root, default: this script's parent]
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));

/** The markdown files to check, relative to the root, in a stable order. */
function documents() {
  const found = [];
  const add = (path) => existsSync(join(root, path)) && found.push(path);
  add('README.md');
  const walk = (dir) => {
    if (!existsSync(join(root, dir))) return;
    for (const entry of readdirSync(join(root, dir)).sort()) {
      const path = join(dir, entry);
      if (statSync(join(root, path)).isDirectory()) walk(path);
      else if (entry.endsWith('.md')) found.push(path);
    }
  };
  walk('docs');
  for (const group of ['packages', 'apps']) {
    if (!existsSync(join(root, group))) continue;
    for (const pkg of readdirSync(join(root, group)).sort()) {
      for (const file of group === 'packages' ? ['README.md', 'FORMAT.md'] : ['README.md']) add(join(group, pkg, file));
      const bench = join(group, pkg, 'bench');
      if (!existsSync(join(root, bench)) || !statSync(join(root, bench)).isDirectory()) continue;
      for (const entry of readdirSync(join(root, bench)).sort()) if (entry.endsWith('.md')) found.push(join(bench, entry));
    }
  }
  return found;
}

/** Blanks out fenced code blocks and inline code spans, keeping line numbers. */
function withoutCode(text) {
  let inFence = false;
  return text.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      inFence = !inFence;
      return '';
    }
    return inFence ? '' : line.replace(/`[^`]*`/g, (span) => ' '.repeat(span.length));
  });
}

/** `[text](target)` and `[text](target "title")` links, plus `[label]: target` definitions. */
const INLINE = /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;
const DEFINITION = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/;

function isRelative(target) {
  return !/^[a-z][a-z0-9+.-]*:/i.test(target) && !target.startsWith('/') && !target.startsWith('#');
}

const broken = [];
let checked = 0;
for (const doc of documents()) {
  const lines = withoutCode(readFileSync(join(root, doc), 'utf8'));
  lines.forEach((line, index) => {
    const targets = [...line.matchAll(INLINE)].map((m) => m[1]);
    const definition = DEFINITION.exec(line);
    if (definition) targets.push(definition[1]);
    for (const target of targets) {
      if (!isRelative(target)) continue;
      checked += 1;
      const path = decodeURIComponent(target.replace(/[#?].*$/, ''));
      if (path === '') continue;
      const absolute = resolve(root, dirname(doc), path);
      const inside = !relative(root, absolute).startsWith('..');
      if (!inside || !existsSync(absolute)) broken.push(`${doc}:${index + 1}  ${target}${inside ? '' : '  (outside the repository)'}`);
    }
  });
}

if (broken.length > 0) {
  console.error(`${broken.length} broken relative link(s) of ${checked}:`);
  for (const line of broken) console.error(`  ${line}`);
  process.exit(1);
}
console.log(`all ${checked} relative links resolve`);
