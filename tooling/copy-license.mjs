#!/usr/bin/env node
// `prepack` of every publishable package: npm and pnpm pack a LICENSE only from the package's
// own folder, and the one text lives at the repository root. The copy is gitignored.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';

copyFileSync(new URL('../LICENSE', import.meta.url), join(process.cwd(), 'LICENSE'));
