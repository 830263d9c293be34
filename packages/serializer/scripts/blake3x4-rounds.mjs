// Writes the generated part of wasm/blake3x4.wat (between its "generated" marker lines): the
// transpose of four blocks into message vectors in memory; the compression function with its
// seven rounds unrolled, each message word read from memory where it is used (the schedule as
// fixed offsets), instead of sixteen locals permuted between rounds (V8 spilled them anyway, and
// the permutation was ~40 moves a round); the two-register CRC loops. WAT has no macros, and 56 G
// functions by hand would hide a typo. Run `node scripts/blake3x4-rounds.mjs`, then
// `pnpm run build:wasm`. With `--check` it writes nothing and exits 1 when the file's generated
// part is not what this script would write (a test runs it, so a hand edit cannot drift from it).
import { readFileSync, writeFileSync } from 'node:fs';
import { WAT_PATH } from './wasm.mjs';

/** Where the callers store the block's sixteen message vectors (word i of each lane at MSG + 16i). */
const MSG = 768;
/** BLAKE3's message permutation: round r + 1 reads word PERMUTATION[i] of round r's order at i. */
const PERMUTATION = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
/** The G applications of a round: columns, then diagonals (state indices a, b, c, d). */
const G = [
  [0, 4, 8, 12],
  [1, 5, 9, 13],
  [2, 6, 10, 14],
  [3, 7, 11, 15],
  [0, 5, 10, 15],
  [1, 6, 11, 12],
  [2, 7, 8, 13],
  [3, 4, 9, 14],
];
const IV = ['0x6a09e667', '0xbb67ae85', '0x3c6ef372', '0xa54ff53a'];

const v = (i) => `(local.get $v${i})`;
const msg = (w) => `(v128.load offset=${MSG + 16 * w} (i32.const 0))`;
const splat = (x) => `(v128.const i32x4 ${x} ${x} ${x} ${x})`;
/** A rotation by 16 as a shuffle (V8: two word shuffles); by 12, 8 and 7 as two shifts and an or:
 * a byte shuffle for 8 has its constant rebuilt in a register at each use (four instructions). */
const ROT16 = 'i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13';
const rotShift = (x, n) => `(v128.or (i32x4.shr_u ${x} (i32.const ${n})) (i32x4.shl ${x} (i32.const ${32 - n})))`;

/**
 * One G: a += b + mx; d = (d ^ a) >>> 16; c += d; b = (b ^ c) >>> 12; a += b + my; d = (d ^ a) >>> 8;
 * c += d; b = (b ^ c) >>> 7. The message word is added to `a` before `b`, the value just computed:
 * one add fewer on the chain of dependent steps (4% faster per compression).
 */
function g([a, b, c, d], x, y) {
  return [
    `(local.set $v${a} (i32x4.add (i32x4.add ${v(a)} ${msg(x)}) ${v(b)}))`,
    `(local.set $v${d} (${ROT16} (v128.xor ${v(d)} ${v(a)}) ${v(d)}))`,
    `(local.set $v${c} (i32x4.add ${v(c)} ${v(d)}))`,
    `(local.set $t (v128.xor ${v(b)} ${v(c)}))`,
    `(local.set $v${b} ${rotShift('(local.get $t)', 12)})`,
    `(local.set $v${a} (i32x4.add (i32x4.add ${v(a)} ${msg(y)}) ${v(b)}))`,
    `(local.set $t (v128.xor ${v(d)} ${v(a)}))`,
    `(local.set $v${d} ${rotShift('(local.get $t)', 8)})`,
    `(local.set $v${c} (i32x4.add ${v(c)} ${v(d)}))`,
    `(local.set $t (v128.xor ${v(b)} ${v(c)}))`,
    `(local.set $v${b} ${rotShift('(local.get $t)', 7)})`,
  ];
}

function compress() {
  const out = [
    ";; The compression function on four lanes: chaining values v0..v7, the chunk counter's low",
    `;; and high words v12 and v13, block lengths v14 and flags v15, the message at ${MSG} (word i`,
    `;; of every lane at ${MSG} + 16i, stored there by the caller); returns the eight output words`,
    ';; v[i] ^ v[i + 8]. Rotations by 16 and 8 are byte shuffles, by 12 and 7 shifts.',
    '(func $compress',
    '  (param $v0 v128) (param $v1 v128) (param $v2 v128) (param $v3 v128)',
    '  (param $v4 v128) (param $v5 v128) (param $v6 v128) (param $v7 v128)',
    '  (param $v12 v128) (param $v13 v128) (param $v14 v128) (param $v15 v128)',
    '  (result v128 v128 v128 v128 v128 v128 v128 v128)',
    '  (local $v8 v128) (local $v9 v128) (local $v10 v128) (local $v11 v128) (local $t v128)',
    ...IV.map((x, i) => `  (local.set $v${8 + i} ${splat(x)})`),
  ];
  let schedule = PERMUTATION.map((_, i) => i);
  for (let r = 0; r < 7; r++) {
    out.push(`  ;; Round ${r + 1}: message words ${schedule.join(' ')}.`);
    G.forEach((abcd, k) => out.push(...g(abcd, schedule[2 * k], schedule[2 * k + 1]).map((s) => '  ' + s)));
    schedule = PERMUTATION.map((p) => schedule[p]);
  }
  for (let i = 0; i < 8; i++) out.push(`  (v128.xor ${v(i)} ${v(i + 8)})${i === 7 ? ')' : ''}`);
  return out;
}

/**
 * `$message`: the four 64-byte blocks at p0..p3, one per lane, transposed into the sixteen
 * message vectors at MSG (word i of every lane at MSG + 16i), where `$compress` reads them.
 */
function message() {
  const out = [
    '(func $message (param $p0 i32) (param $p1 i32) (param $p2 i32) (param $p3 i32)',
    '  (local $ab0 v128) (local $ab1 v128) (local $cd0 v128) (local $cd1 v128)',
  ];
  const words = (offset, x, y) =>
    `(i8x16.shuffle ${offset} ${offset + 1} ${offset + 2} ${offset + 3} ${offset + 16} ${offset + 17} ${offset + 18} ${offset + 19} ${offset + 4} ${offset + 5} ${offset + 6} ${offset + 7} ${offset + 20} ${offset + 21} ${offset + 22} ${offset + 23} ${x} ${y})`;
  const halves = (offset, x, y) =>
    `(i8x16.shuffle ${[0, 1, 2, 3, 4, 5, 6, 7].map((k) => k + offset).join(' ')} ${[16, 17, 18, 19, 20, 21, 22, 23].map((k) => k + offset).join(' ')} ${x} ${y})`;
  const row = (lane, offset) => `(v128.load offset=${offset} (local.get $p${lane}))`;
  for (let r = 0; r < 4; r++) {
    // Words 4r..4r + 3 of the four lanes: interleave lanes 0 and 1, 2 and 3, then their halves.
    out.push(`  ;; Words ${4 * r}..${4 * r + 3}.`);
    out.push(`  (local.set $ab0 ${words(0, row(0, 16 * r), row(1, 16 * r))})`);
    out.push(`  (local.set $ab1 ${words(8, row(0, 16 * r), row(1, 16 * r))})`);
    out.push(`  (local.set $cd0 ${words(0, row(2, 16 * r), row(3, 16 * r))})`);
    out.push(`  (local.set $cd1 ${words(8, row(2, 16 * r), row(3, 16 * r))})`);
    out.push(`  (v128.store offset=${MSG + 64 * r} (i32.const 0) ${halves(0, '(local.get $ab0)', '(local.get $cd0)')})`);
    out.push(`  (v128.store offset=${MSG + 64 * r + 16} (i32.const 0) ${halves(8, '(local.get $ab0)', '(local.get $cd0)')})`);
    out.push(`  (v128.store offset=${MSG + 64 * r + 32} (i32.const 0) ${halves(0, '(local.get $ab1)', '(local.get $cd1)')})`);
    out.push(`  (v128.store offset=${MSG + 64 * r + 48} (i32.const 0) ${halves(8, '(local.get $ab1)', '(local.get $cd1)')})${r === 3 ? ')' : ''}`);
  }
  return out;
}

/**
 * One slice-by-8 step of the CRC register `crc` (a local's name) over memory[p, p + 8), the
 * eight tables of the checksum at `base` (table k at base + 1024k; each byte taken out already
 * times four, its word's offset), with `lo` and `hi` for scratch.
 */
function crcStep(crc, p, lo, hi, base) {
  const byte = (x, shift) =>
    `(i32.and ${shift === 0 ? `(i32.shl (local.get $${x}) (i32.const 2))` : `(i32.shr_u (local.get $${x}) (i32.const ${shift - 2}))`} (i32.const 1020))`;
  const look = (table, x, shift) => `(i32.load offset=${base + 1024 * table} ${byte(x, shift)})`;
  return [
    `(local.set $${lo} (i32.xor (local.get $${crc}) (i32.load (local.get $${p}))))`,
    `(local.set $${hi} (i32.load offset=4 (local.get $${p})))`,
    `(local.set $${crc} (i32.xor`,
    `  (i32.xor (i32.xor ${look(7, lo, 0)} ${look(6, lo, 8)})`,
    `           (i32.xor ${look(5, lo, 16)} ${look(4, lo, 24)}))`,
    `  (i32.xor (i32.xor ${look(3, hi, 0)} ${look(2, hi, 8)})`,
    `           (i32.xor ${look(1, hi, 16)} ${look(0, hi, 24)}))))`,
  ];
}

/**
 * `$name`: `steps` ≥ 1 slice-by-8 steps of two CRC registers at once, `c` over memory from p
 * and `d` from q, with the tables at `base`; returns both. One register's step is a chain of
 * dependent loads (~15 cycles for 8 bytes); two independent ones overlap.
 */
function crcPair(name, base) {
  return [
    `(func $${name} (param $p i32) (param $q i32) (param $steps i32) (param $c i32) (param $d i32) (result i32 i32)`,
    '  (local $a i32) (local $b i32) (local $e i32) (local $f i32)',
    '  (loop $eight',
    ...crcStep('c', 'p', 'a', 'b', base).map((line) => '    ' + line),
    ...crcStep('d', 'q', 'e', 'f', base).map((line) => '    ' + line),
    '    (local.set $p (i32.add (local.get $p) (i32.const 8)))',
    '    (local.set $q (i32.add (local.get $q) (i32.const 8)))',
    '    (br_if $eight (local.tee $steps (i32.sub (local.get $steps) (i32.const 1)))))',
    '  (local.get $c) (local.get $d))',
  ];
}

const BEGIN = ';; BEGIN generated by scripts/blake3x4-rounds.mjs (do not edit by hand)';
const END = ';; END generated';
const text = readFileSync(WAT_PATH, 'utf8');
const from = text.indexOf(BEGIN);
const to = text.indexOf(END);
if (from < 0 || to < from) throw new Error('wasm/blake3x4.wat: generated markers not found');
const indent = '  ';
const parts = [
  message(),
  compress(),
  [';; Two CRC-32 (IEEE) registers at once, the tables at 1024 (see crcPair in the script).'],
  crcPair('crc32Pair', 1024),
  [';; Two CRC32C (Castagnoli) registers at once, the tables at 9216.'],
  crcPair('crc32cPair', 9216),
];
const body = parts
  .flat()
  .map((line) => indent + line)
  .join('\n');
const generated = text.slice(0, from) + BEGIN + '\n' + body + '\n' + indent + text.slice(to);
if (process.argv.includes('--check')) {
  if (generated !== text) {
    process.stderr.write('wasm/blake3x4.wat: its generated part differs from what scripts/blake3x4-rounds.mjs writes; run it\n');
    process.exit(1);
  }
  process.stdout.write('wasm/blake3x4.wat: generated part up to date\n');
} else {
  writeFileSync(WAT_PATH, generated);
  process.stdout.write('wasm/blake3x4.wat: compression function written\n');
}
