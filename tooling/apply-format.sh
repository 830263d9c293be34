#!/usr/bin/env bash
# One-time formatting of the whole repository, run on main once every branch is merged:
# applies biome's formatter and its *safe* fixes only (`biome check --write`, never --unsafe),
# turns the format check on in tooling/lint-pending.json, drops the files that became clean
# from its pending list, and prints the lint findings left for a person to fix.
# Review with `git diff --stat`, run the tests, commit as one "format" commit.
set -euo pipefail
cd "$(dirname "$0")/.."
biome=node_modules/.bin/biome
"$biome" check --write --max-diagnostics=0 . || true   # exits non-zero while findings remain; they are listed below
node --input-type=module -e '
import { readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
const file = "tooling/lint-pending.json";
const pending = JSON.parse(readFileSync(file, "utf8"));
const run = spawnSync("node_modules/.bin/biome", ["lint", "--max-diagnostics=none", "--reporter=json", "."], { encoding: "utf8", maxBuffer: 1 << 28 });
const dirty = new Set(JSON.parse(run.stdout).diagnostics.filter((d) => d.severity === "error" || d.severity === "warning").map((d) => d.location?.path));
pending.formatEnforced = true;
pending.files = pending.files.filter((f) => dirty.has(f));
writeFileSync(file, JSON.stringify(pending, null, 2) + "\n");
'
"$biome" format --write tooling/lint-pending.json >/dev/null
node tooling/lint.mjs --list
