;; BLAKE3 four inputs at a time with WebAssembly SIMD (v128): lane i of every vector is input i.
;;
;; This file is the source of src/blake3x4-wasm.ts (regenerate with `pnpm run build:wasm`; a test
;; reassembles it and compares the bytes). It is plain WAT with no macros, so the G function is
;; written out eight times in the round below.
;;
;; Why four lanes: a frame hashes thousands of independent small inputs (one leaf per record,
;; one node per Merkle pair). One compression of four of them costs about what one costs in JS,
;; and one call per frame (or per level) replaces one JS call per input.
;;
;; Memory: bytes [0, 1024) belong to this module (a zero block at 0, one padding block per lane
;; at 64 + 64·lane, a spare output at 512), [1024, 17408) hold the checksum tables (crcs, below);
;; the caller lays out everything else.
;;
;; Exports:
;;   leaves(desc, groups)    for each of `groups` × 4 descriptors (u32 start, u32 length, u32 out,
;;                           u32 counter; 16 bytes each), BLAKE3-256 of memory[start, start +
;;                           length) into memory[out, out + 32). length ≤ 1024 (one chunk:
;;                           CHUNK_START on the first block, CHUNK_END | ROOT on the last). With
;;                           bit 31 of the counter set, the input is chunk `counter & 0x7FFFFFFF`
;;                           of a longer input instead: that counter, no ROOT, its chaining value
;;                           to out (then `reduce`). A padding descriptor is (0, 0, 512, 0).
;;   parents(in, out, pairs) for i < pairs, BLAKE3 of the 64 bytes at in + 64i into out + 32i
;;                           (a Merkle node of this format is BLAKE3(L ‖ R), one root block). May
;;                           run in place (out = in); reads up to 192 bytes past the last pair.
;;   tree(start, len, out, scratch)
;;                           BLAKE3-256 of memory[start, start + len), any length, into
;;                           memory[out, out + 32): chunks four to a compression, then BLAKE3's
;;                           parent nodes; 32 bytes of scratch per chunk and 256 more.
;;   reduce(cvs, n, out)     BLAKE3's parent nodes over n ≥ 2 chunk chaining values at cvs (in
;;                           place, reading up to 256 bytes past them), the root into out.
;;   merkle(level, count)    combines `count` ≥ 1 digests at `level` pairwise, an odd last node
;;                           paired with itself, until the root is at level[0, 32); needs
;;                           count·32 + 256 bytes of room after the level.
;;   crcs(desc, count, out, id, init, xorout)
;;                           for i < count, the CRC of memory[start, end) (descriptor i: u32 start,
;;                           u32 end, 8 bytes each) into the u32 at out + 4i, by slice-by-8 over
;;                           the eight 256-word tables of checksum `id` (reflected polynomial; id 0
;;                           CRC-32 at 1024, id 1 CRC32C at 9216, table k of each 1024k further on,
;;                           written there by the caller as src/crc-tables.ts builds them), the
;;                           register starting at `init` and xored with `xorout` at the end. Why
;;                           here: a frame's records are already in this memory for their leaves,
;;                           and one call for all of them replaces one native call per record
;;                           (~180 ns each, most of a small record's checksum). The tables sit at
;;                           fixed addresses so every lookup is a constant offset from its index,
;;                           one add fewer per byte (30% faster than a table address passed in).
(module
  (memory (export "memory") 1)

  ;; The transpose of a 4×4 matrix of words: row i of the result is word i of each argument.
  (func $t4 (param $a v128) (param $b v128) (param $c v128) (param $d v128) (result v128 v128 v128 v128)
    (local $ab0 v128) (local $ab1 v128) (local $cd0 v128) (local $cd1 v128)
    (local.set $ab0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)))
    (local.set $ab1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)))
    (local.set $cd0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c) (local.get $d)))
    (local.set $cd1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c) (local.get $d)))
    (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $ab0) (local.get $cd0))
    (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $ab0) (local.get $cd0))
    (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $ab1) (local.get $cd1))
    (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $ab1) (local.get $cd1)))

  ;; The compression function on four lanes: chaining values v0..v7, message m0..m15, the chunk
  ;; counter's low and high words v12 and v13, block lengths v14 and flags v15; returns the eight
  ;; output words v[i] ^ v[i + 8].
  (func $compress
    (param $v0 v128) (param $v1 v128) (param $v2 v128) (param $v3 v128)
    (param $v4 v128) (param $v5 v128) (param $v6 v128) (param $v7 v128)
    (param $m0 v128) (param $m1 v128) (param $m2 v128) (param $m3 v128)
    (param $m4 v128) (param $m5 v128) (param $m6 v128) (param $m7 v128)
    (param $m8 v128) (param $m9 v128) (param $m10 v128) (param $m11 v128)
    (param $m12 v128) (param $m13 v128) (param $m14 v128) (param $m15 v128)
    (param $v12 v128) (param $v13 v128) (param $v14 v128) (param $v15 v128)
    (result v128 v128 v128 v128 v128 v128 v128 v128)
    (local $v8 v128) (local $v9 v128) (local $v10 v128) (local $v11 v128)
    (local $t v128) (local $round i32)
    (local.set $v8 (v128.const i32x4 0x6a09e667 0x6a09e667 0x6a09e667 0x6a09e667))
    (local.set $v9 (v128.const i32x4 0xbb67ae85 0xbb67ae85 0xbb67ae85 0xbb67ae85))
    (local.set $v10 (v128.const i32x4 0x3c6ef372 0x3c6ef372 0x3c6ef372 0x3c6ef372))
    (local.set $v11 (v128.const i32x4 0xa54ff53a 0xa54ff53a 0xa54ff53a 0xa54ff53a))
    (local.set $round (i32.const 7))
    (loop $rounds
    ;; Columns, then diagonals; rotations by 16 and 8 are byte shuffles, by 12 and 7 shifts.
    ;; G(v0, v4, v8, v12, m0, m1)
    (local.set $v0 (i32x4.add (i32x4.add (local.get $v0) (local.get $v4)) (local.get $m0)))
    (local.set $v12 (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13 (v128.xor (local.get $v12) (local.get $v0)) (local.get $v12)))
    (local.set $v8 (i32x4.add (local.get $v8) (local.get $v12)))
    (local.set $t (v128.xor (local.get $v4) (local.get $v8)))
    (local.set $v4 (v128.or (i32x4.shr_u (local.get $t) (i32.const 12)) (i32x4.shl (local.get $t) (i32.const 20))))
    (local.set $v0 (i32x4.add (i32x4.add (local.get $v0) (local.get $v4)) (local.get $m1)))
    (local.set $v12 (i8x16.shuffle 1 2 3 0 5 6 7 4 9 10 11 8 13 14 15 12 (v128.xor (local.get $v12) (local.get $v0)) (local.get $v12)))
    (local.set $v8 (i32x4.add (local.get $v8) (local.get $v12)))
    (local.set $t (v128.xor (local.get $v4) (local.get $v8)))
    (local.set $v4 (v128.or (i32x4.shr_u (local.get $t) (i32.const 7)) (i32x4.shl (local.get $t) (i32.const 25))))
    ;; G(v1, v5, v9, v13, m2, m3)
    (local.set $v1 (i32x4.add (i32x4.add (local.get $v1) (local.get $v5)) (local.get $m2)))
    (local.set $v13 (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13 (v128.xor (local.get $v13) (local.get $v1)) (local.get $v13)))
    (local.set $v9 (i32x4.add (local.get $v9) (local.get $v13)))
    (local.set $t (v128.xor (local.get $v5) (local.get $v9)))
    (local.set $v5 (v128.or (i32x4.shr_u (local.get $t) (i32.const 12)) (i32x4.shl (local.get $t) (i32.const 20))))
    (local.set $v1 (i32x4.add (i32x4.add (local.get $v1) (local.get $v5)) (local.get $m3)))
    (local.set $v13 (i8x16.shuffle 1 2 3 0 5 6 7 4 9 10 11 8 13 14 15 12 (v128.xor (local.get $v13) (local.get $v1)) (local.get $v13)))
    (local.set $v9 (i32x4.add (local.get $v9) (local.get $v13)))
    (local.set $t (v128.xor (local.get $v5) (local.get $v9)))
    (local.set $v5 (v128.or (i32x4.shr_u (local.get $t) (i32.const 7)) (i32x4.shl (local.get $t) (i32.const 25))))
    ;; G(v2, v6, v10, v14, m4, m5)
    (local.set $v2 (i32x4.add (i32x4.add (local.get $v2) (local.get $v6)) (local.get $m4)))
    (local.set $v14 (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13 (v128.xor (local.get $v14) (local.get $v2)) (local.get $v14)))
    (local.set $v10 (i32x4.add (local.get $v10) (local.get $v14)))
    (local.set $t (v128.xor (local.get $v6) (local.get $v10)))
    (local.set $v6 (v128.or (i32x4.shr_u (local.get $t) (i32.const 12)) (i32x4.shl (local.get $t) (i32.const 20))))
    (local.set $v2 (i32x4.add (i32x4.add (local.get $v2) (local.get $v6)) (local.get $m5)))
    (local.set $v14 (i8x16.shuffle 1 2 3 0 5 6 7 4 9 10 11 8 13 14 15 12 (v128.xor (local.get $v14) (local.get $v2)) (local.get $v14)))
    (local.set $v10 (i32x4.add (local.get $v10) (local.get $v14)))
    (local.set $t (v128.xor (local.get $v6) (local.get $v10)))
    (local.set $v6 (v128.or (i32x4.shr_u (local.get $t) (i32.const 7)) (i32x4.shl (local.get $t) (i32.const 25))))
    ;; G(v3, v7, v11, v15, m6, m7)
    (local.set $v3 (i32x4.add (i32x4.add (local.get $v3) (local.get $v7)) (local.get $m6)))
    (local.set $v15 (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13 (v128.xor (local.get $v15) (local.get $v3)) (local.get $v15)))
    (local.set $v11 (i32x4.add (local.get $v11) (local.get $v15)))
    (local.set $t (v128.xor (local.get $v7) (local.get $v11)))
    (local.set $v7 (v128.or (i32x4.shr_u (local.get $t) (i32.const 12)) (i32x4.shl (local.get $t) (i32.const 20))))
    (local.set $v3 (i32x4.add (i32x4.add (local.get $v3) (local.get $v7)) (local.get $m7)))
    (local.set $v15 (i8x16.shuffle 1 2 3 0 5 6 7 4 9 10 11 8 13 14 15 12 (v128.xor (local.get $v15) (local.get $v3)) (local.get $v15)))
    (local.set $v11 (i32x4.add (local.get $v11) (local.get $v15)))
    (local.set $t (v128.xor (local.get $v7) (local.get $v11)))
    (local.set $v7 (v128.or (i32x4.shr_u (local.get $t) (i32.const 7)) (i32x4.shl (local.get $t) (i32.const 25))))
    ;; G(v0, v5, v10, v15, m8, m9)
    (local.set $v0 (i32x4.add (i32x4.add (local.get $v0) (local.get $v5)) (local.get $m8)))
    (local.set $v15 (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13 (v128.xor (local.get $v15) (local.get $v0)) (local.get $v15)))
    (local.set $v10 (i32x4.add (local.get $v10) (local.get $v15)))
    (local.set $t (v128.xor (local.get $v5) (local.get $v10)))
    (local.set $v5 (v128.or (i32x4.shr_u (local.get $t) (i32.const 12)) (i32x4.shl (local.get $t) (i32.const 20))))
    (local.set $v0 (i32x4.add (i32x4.add (local.get $v0) (local.get $v5)) (local.get $m9)))
    (local.set $v15 (i8x16.shuffle 1 2 3 0 5 6 7 4 9 10 11 8 13 14 15 12 (v128.xor (local.get $v15) (local.get $v0)) (local.get $v15)))
    (local.set $v10 (i32x4.add (local.get $v10) (local.get $v15)))
    (local.set $t (v128.xor (local.get $v5) (local.get $v10)))
    (local.set $v5 (v128.or (i32x4.shr_u (local.get $t) (i32.const 7)) (i32x4.shl (local.get $t) (i32.const 25))))
    ;; G(v1, v6, v11, v12, m10, m11)
    (local.set $v1 (i32x4.add (i32x4.add (local.get $v1) (local.get $v6)) (local.get $m10)))
    (local.set $v12 (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13 (v128.xor (local.get $v12) (local.get $v1)) (local.get $v12)))
    (local.set $v11 (i32x4.add (local.get $v11) (local.get $v12)))
    (local.set $t (v128.xor (local.get $v6) (local.get $v11)))
    (local.set $v6 (v128.or (i32x4.shr_u (local.get $t) (i32.const 12)) (i32x4.shl (local.get $t) (i32.const 20))))
    (local.set $v1 (i32x4.add (i32x4.add (local.get $v1) (local.get $v6)) (local.get $m11)))
    (local.set $v12 (i8x16.shuffle 1 2 3 0 5 6 7 4 9 10 11 8 13 14 15 12 (v128.xor (local.get $v12) (local.get $v1)) (local.get $v12)))
    (local.set $v11 (i32x4.add (local.get $v11) (local.get $v12)))
    (local.set $t (v128.xor (local.get $v6) (local.get $v11)))
    (local.set $v6 (v128.or (i32x4.shr_u (local.get $t) (i32.const 7)) (i32x4.shl (local.get $t) (i32.const 25))))
    ;; G(v2, v7, v8, v13, m12, m13)
    (local.set $v2 (i32x4.add (i32x4.add (local.get $v2) (local.get $v7)) (local.get $m12)))
    (local.set $v13 (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13 (v128.xor (local.get $v13) (local.get $v2)) (local.get $v13)))
    (local.set $v8 (i32x4.add (local.get $v8) (local.get $v13)))
    (local.set $t (v128.xor (local.get $v7) (local.get $v8)))
    (local.set $v7 (v128.or (i32x4.shr_u (local.get $t) (i32.const 12)) (i32x4.shl (local.get $t) (i32.const 20))))
    (local.set $v2 (i32x4.add (i32x4.add (local.get $v2) (local.get $v7)) (local.get $m13)))
    (local.set $v13 (i8x16.shuffle 1 2 3 0 5 6 7 4 9 10 11 8 13 14 15 12 (v128.xor (local.get $v13) (local.get $v2)) (local.get $v13)))
    (local.set $v8 (i32x4.add (local.get $v8) (local.get $v13)))
    (local.set $t (v128.xor (local.get $v7) (local.get $v8)))
    (local.set $v7 (v128.or (i32x4.shr_u (local.get $t) (i32.const 7)) (i32x4.shl (local.get $t) (i32.const 25))))
    ;; G(v3, v4, v9, v14, m14, m15)
    (local.set $v3 (i32x4.add (i32x4.add (local.get $v3) (local.get $v4)) (local.get $m14)))
    (local.set $v14 (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13 (v128.xor (local.get $v14) (local.get $v3)) (local.get $v14)))
    (local.set $v9 (i32x4.add (local.get $v9) (local.get $v14)))
    (local.set $t (v128.xor (local.get $v4) (local.get $v9)))
    (local.set $v4 (v128.or (i32x4.shr_u (local.get $t) (i32.const 12)) (i32x4.shl (local.get $t) (i32.const 20))))
    (local.set $v3 (i32x4.add (i32x4.add (local.get $v3) (local.get $v4)) (local.get $m15)))
    (local.set $v14 (i8x16.shuffle 1 2 3 0 5 6 7 4 9 10 11 8 13 14 15 12 (v128.xor (local.get $v14) (local.get $v3)) (local.get $v14)))
    (local.set $v9 (i32x4.add (local.get $v9) (local.get $v14)))
    (local.set $t (v128.xor (local.get $v4) (local.get $v9)))
    (local.set $v4 (v128.or (i32x4.shr_u (local.get $t) (i32.const 7)) (i32x4.shl (local.get $t) (i32.const 25))))
    ;; The message permutation (2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8) as its two 8-cycles.
    (local.set $t (local.get $m0))
    (local.set $m0 (local.get $m2))
    (local.set $m2 (local.get $m3))
    (local.set $m3 (local.get $m10))
    (local.set $m10 (local.get $m12))
    (local.set $m12 (local.get $m9))
    (local.set $m9 (local.get $m11))
    (local.set $m11 (local.get $m5))
    (local.set $m5 (local.get $t))
    (local.set $t (local.get $m1))
    (local.set $m1 (local.get $m6))
    (local.set $m6 (local.get $m4))
    (local.set $m4 (local.get $m7))
    (local.set $m7 (local.get $m13))
    (local.set $m13 (local.get $m14))
    (local.set $m14 (local.get $m15))
    (local.set $m15 (local.get $m8))
    (local.set $m8 (local.get $t))
    (br_if $rounds (local.tee $round (i32.sub (local.get $round) (i32.const 1)))))
    (v128.xor (local.get $v0) (local.get $v8))
    (v128.xor (local.get $v1) (local.get $v9))
    (v128.xor (local.get $v2) (local.get $v10))
    (v128.xor (local.get $v3) (local.get $v11))
    (v128.xor (local.get $v4) (local.get $v12))
    (v128.xor (local.get $v5) (local.get $v13))
    (v128.xor (local.get $v6) (local.get $v14))
    (v128.xor (local.get $v7) (local.get $v15)))

  ;; Where lane `lane` reads block `b` of an input at `start` of `len` bytes (`nb` blocks): in
  ;; place for a whole block, its padding block (zero-filled past the input) for a last partial
  ;; one, the zero block for a lane already done (its result is masked off).
  (func $src (param $lane i32) (param $start i32) (param $len i32) (param $nb i32) (param $b i32) (result i32)
    (local $off i32) (local $rem i32) (local $pad i32)
    (if (i32.ge_u (local.get $b) (local.get $nb)) (then (return (i32.const 0))))
    (local.set $off (i32.shl (local.get $b) (i32.const 6)))
    (local.set $rem (i32.sub (local.get $len) (local.get $off)))
    (if (i32.ge_u (local.get $rem) (i32.const 64)) (then (return (i32.add (local.get $start) (local.get $off)))))
    (local.set $pad (i32.add (i32.const 64) (i32.shl (local.get $lane) (i32.const 6))))
    (memory.fill (local.get $pad) (i32.const 0) (i32.const 64))
    (memory.copy (local.get $pad) (i32.add (local.get $start) (local.get $off)) (local.get $rem))
    (local.get $pad))

  ;; Blocks of an input of `len` bytes: at least one (the empty input hashes one empty block).
  (func $blocks (param $len i32) (result i32)
    (select (i32.const 1) (i32.shr_u (i32.add (local.get $len) (i32.const 63)) (i32.const 6)) (i32.eqz (local.get $len))))

  ;; Four inputs of at most one chunk each, one per lane: input i is memory[s_i, s_i + n_i), its
  ;; chaining value goes to memory[o_i, o_i + 32). `ctr` holds each lane's chunk counter (low
  ;; words; the high words are 0) and `endf` the flags of each lane's last block besides
  ;; CHUNK_START: CHUNK_END | ROOT (10) for a whole BLAKE3 of one chunk, CHUNK_END (2) for a chunk
  ;; of a longer input.
  (func $group
    (param $s0 i32) (param $s1 i32) (param $s2 i32) (param $s3 i32)
    (param $n0 i32) (param $n1 i32) (param $n2 i32) (param $n3 i32)
    (param $o0 i32) (param $o1 i32) (param $o2 i32) (param $o3 i32)
    (param $ctr v128) (param $endf v128)
    (local $nb0 i32) (local $nb1 i32) (local $nb2 i32) (local $nb3 i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
    (local $b i32) (local $maxb i32)
    (local $nbv v128) (local $lenv v128) (local $bv v128) (local $mask v128) (local $blen v128) (local $flags v128)
    (local $h0 v128) (local $h1 v128) (local $h2 v128) (local $h3 v128)
    (local $h4 v128) (local $h5 v128) (local $h6 v128) (local $h7 v128)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local $x4 v128) (local $x5 v128) (local $x6 v128) (local $x7 v128)
    (local $m0 v128) (local $m1 v128) (local $m2 v128) (local $m3 v128)
    (local $m4 v128) (local $m5 v128) (local $m6 v128) (local $m7 v128)
    (local $m8 v128) (local $m9 v128) (local $m10 v128) (local $m11 v128)
    (local $m12 v128) (local $m13 v128) (local $m14 v128) (local $m15 v128)
    (local.set $nb0 (call $blocks (local.get $n0)))
    (local.set $nb1 (call $blocks (local.get $n1)))
    (local.set $nb2 (call $blocks (local.get $n2)))
    (local.set $nb3 (call $blocks (local.get $n3)))
    (local.set $maxb (local.get $nb0))
    (if (i32.gt_u (local.get $nb1) (local.get $maxb)) (then (local.set $maxb (local.get $nb1))))
    (if (i32.gt_u (local.get $nb2) (local.get $maxb)) (then (local.set $maxb (local.get $nb2))))
    (if (i32.gt_u (local.get $nb3) (local.get $maxb)) (then (local.set $maxb (local.get $nb3))))
    (local.set $nbv (i32x4.replace_lane 3 (i32x4.replace_lane 2 (i32x4.replace_lane 1
      (i32x4.splat (local.get $nb0)) (local.get $nb1)) (local.get $nb2)) (local.get $nb3)))
    (local.set $lenv (i32x4.replace_lane 3 (i32x4.replace_lane 2 (i32x4.replace_lane 1
      (i32x4.splat (local.get $n0)) (local.get $n1)) (local.get $n2)) (local.get $n3)))
    (local.set $h0 (v128.const i32x4 0x6a09e667 0x6a09e667 0x6a09e667 0x6a09e667))
    (local.set $h1 (v128.const i32x4 0xbb67ae85 0xbb67ae85 0xbb67ae85 0xbb67ae85))
    (local.set $h2 (v128.const i32x4 0x3c6ef372 0x3c6ef372 0x3c6ef372 0x3c6ef372))
    (local.set $h3 (v128.const i32x4 0xa54ff53a 0xa54ff53a 0xa54ff53a 0xa54ff53a))
    (local.set $h4 (v128.const i32x4 0x510e527f 0x510e527f 0x510e527f 0x510e527f))
    (local.set $h5 (v128.const i32x4 0x9b05688c 0x9b05688c 0x9b05688c 0x9b05688c))
    (local.set $h6 (v128.const i32x4 0x1f83d9ab 0x1f83d9ab 0x1f83d9ab 0x1f83d9ab))
    (local.set $h7 (v128.const i32x4 0x5be0cd19 0x5be0cd19 0x5be0cd19 0x5be0cd19))
    (local.set $b (i32.const 0))
    (loop $block
      (local.set $p0 (call $src (i32.const 0) (local.get $s0) (local.get $n0) (local.get $nb0) (local.get $b)))
      (local.set $p1 (call $src (i32.const 1) (local.get $s1) (local.get $n1) (local.get $nb1) (local.get $b)))
      (local.set $p2 (call $src (i32.const 2) (local.get $s2) (local.get $n2) (local.get $nb2) (local.get $b)))
      (local.set $p3 (call $src (i32.const 3) (local.get $s3) (local.get $n3) (local.get $nb3) (local.get $b)))
      (local.set $bv (i32x4.splat (local.get $b)))
      ;; Lanes with a block left; the bytes of each lane's block (0 past its end); its flags.
      (local.set $mask (i32x4.lt_u (local.get $bv) (local.get $nbv)))
      (local.set $blen (i32x4.min_s (i32x4.max_s
        (i32x4.sub (local.get $lenv) (i32x4.shl (local.get $bv) (i32.const 6))) (v128.const i32x4 0 0 0 0))
        (v128.const i32x4 64 64 64 64)))
      (local.set $flags (v128.and (i32x4.eq (local.get $bv) (i32x4.sub (local.get $nbv) (v128.const i32x4 1 1 1 1)))
        (local.get $endf)))
      (if (i32.eqz (local.get $b)) (then
        (local.set $flags (v128.or (local.get $flags) (v128.const i32x4 1 1 1 1)))))
      (call $t4 (v128.load offset=0 (local.get $p0)) (v128.load offset=0 (local.get $p1))
        (v128.load offset=0 (local.get $p2)) (v128.load offset=0 (local.get $p3)))
      (local.set $m3) (local.set $m2) (local.set $m1) (local.set $m0)
      (call $t4 (v128.load offset=16 (local.get $p0)) (v128.load offset=16 (local.get $p1))
        (v128.load offset=16 (local.get $p2)) (v128.load offset=16 (local.get $p3)))
      (local.set $m7) (local.set $m6) (local.set $m5) (local.set $m4)
      (call $t4 (v128.load offset=32 (local.get $p0)) (v128.load offset=32 (local.get $p1))
        (v128.load offset=32 (local.get $p2)) (v128.load offset=32 (local.get $p3)))
      (local.set $m11) (local.set $m10) (local.set $m9) (local.set $m8)
      (call $t4 (v128.load offset=48 (local.get $p0)) (v128.load offset=48 (local.get $p1))
        (v128.load offset=48 (local.get $p2)) (v128.load offset=48 (local.get $p3)))
      (local.set $m15) (local.set $m14) (local.set $m13) (local.set $m12)
      (call $compress
        (local.get $h0) (local.get $h1) (local.get $h2) (local.get $h3)
        (local.get $h4) (local.get $h5) (local.get $h6) (local.get $h7)
        (local.get $m0) (local.get $m1) (local.get $m2) (local.get $m3)
        (local.get $m4) (local.get $m5) (local.get $m6) (local.get $m7)
        (local.get $m8) (local.get $m9) (local.get $m10) (local.get $m11)
        (local.get $m12) (local.get $m13) (local.get $m14) (local.get $m15)
        (local.get $ctr) (v128.const i32x4 0 0 0 0) (local.get $blen) (local.get $flags))
      (local.set $x7) (local.set $x6) (local.set $x5) (local.set $x4)
      (local.set $x3) (local.set $x2) (local.set $x1) (local.set $x0)
      ;; A lane that has finished keeps its chaining value.
      (local.set $h0 (v128.bitselect (local.get $x0) (local.get $h0) (local.get $mask)))
      (local.set $h1 (v128.bitselect (local.get $x1) (local.get $h1) (local.get $mask)))
      (local.set $h2 (v128.bitselect (local.get $x2) (local.get $h2) (local.get $mask)))
      (local.set $h3 (v128.bitselect (local.get $x3) (local.get $h3) (local.get $mask)))
      (local.set $h4 (v128.bitselect (local.get $x4) (local.get $h4) (local.get $mask)))
      (local.set $h5 (v128.bitselect (local.get $x5) (local.get $h5) (local.get $mask)))
      (local.set $h6 (v128.bitselect (local.get $x6) (local.get $h6) (local.get $mask)))
      (local.set $h7 (v128.bitselect (local.get $x7) (local.get $h7) (local.get $mask)))
      (br_if $block (i32.lt_u (local.tee $b (i32.add (local.get $b) (i32.const 1))) (local.get $maxb))))
    ;; Each lane's eight words, back to one digest per lane.
    (call $t4 (local.get $h0) (local.get $h1) (local.get $h2) (local.get $h3))
    (local.set $x3) (local.set $x2) (local.set $x1) (local.set $x0)
    (call $t4 (local.get $h4) (local.get $h5) (local.get $h6) (local.get $h7))
    (local.set $x7) (local.set $x6) (local.set $x5) (local.set $x4)
    (v128.store offset=0 (local.get $o0) (local.get $x0))
    (v128.store offset=16 (local.get $o0) (local.get $x4))
    (v128.store offset=0 (local.get $o1) (local.get $x1))
    (v128.store offset=16 (local.get $o1) (local.get $x5))
    (v128.store offset=0 (local.get $o2) (local.get $x2))
    (v128.store offset=16 (local.get $o2) (local.get $x6))
    (v128.store offset=0 (local.get $o3) (local.get $x3))
    (v128.store offset=16 (local.get $o3) (local.get $x7)))

  (func (export "leaves") (param $desc i32) (param $groups i32)
    (local $c v128)
    (if (i32.eqz (local.get $groups)) (then (return)))
    (loop $group
      ;; Each lane's counter word: bit 31 marks a chunk of a longer input (CHUNK_END, no ROOT).
      (local.set $c (i32x4.replace_lane 3 (i32x4.replace_lane 2 (i32x4.replace_lane 1
        (i32x4.splat (i32.load offset=12 (local.get $desc))) (i32.load offset=28 (local.get $desc)))
        (i32.load offset=44 (local.get $desc))) (i32.load offset=60 (local.get $desc))))
      (call $group
        (i32.load offset=0 (local.get $desc)) (i32.load offset=16 (local.get $desc))
        (i32.load offset=32 (local.get $desc)) (i32.load offset=48 (local.get $desc))
        (i32.load offset=4 (local.get $desc)) (i32.load offset=20 (local.get $desc))
        (i32.load offset=36 (local.get $desc)) (i32.load offset=52 (local.get $desc))
        (i32.load offset=8 (local.get $desc)) (i32.load offset=24 (local.get $desc))
        (i32.load offset=40 (local.get $desc)) (i32.load offset=56 (local.get $desc))
        (v128.and (local.get $c) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))
        (v128.bitselect (v128.const i32x4 2 2 2 2) (v128.const i32x4 10 10 10 10) (i32x4.shr_s (local.get $c) (i32.const 31))))
      (local.set $desc (i32.add (local.get $desc) (i32.const 64)))
      (br_if $group (local.tee $groups (i32.sub (local.get $groups) (i32.const 1))))))

  (func (export "parents") (param $in i32) (param $out i32) (param $pairs i32)
    (call $nodes (local.get $in) (local.get $out) (local.get $pairs) (v128.const i32x4 11 11 11 11)))

  ;; For i < pairs, the compression of the 64 bytes at in + 64i, from the IV, as one block with
  ;; `flags` (11 = CHUNK_START | CHUNK_END | ROOT: a Merkle node of this format; 4 = PARENT and
  ;; 12 = PARENT | ROOT: a parent node of BLAKE3's own tree), into out + 32i.
  (func $nodes (param $in i32) (param $out i32) (param $pairs i32) (param $flags v128)
    (local $m0 v128) (local $m1 v128) (local $m2 v128) (local $m3 v128)
    (local $m4 v128) (local $m5 v128) (local $m6 v128) (local $m7 v128)
    (local $m8 v128) (local $m9 v128) (local $m10 v128) (local $m11 v128)
    (local $m12 v128) (local $m13 v128) (local $m14 v128) (local $m15 v128)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local $x4 v128) (local $x5 v128) (local $x6 v128) (local $x7 v128)
    (if (i32.le_s (local.get $pairs) (i32.const 0)) (then (return)))
    (loop $group
      ;; Four pairs, 64 bytes apart; every lane is loaded before any digest is stored (in place).
      (call $t4 (v128.load offset=0 (local.get $in)) (v128.load offset=64 (local.get $in))
        (v128.load offset=128 (local.get $in)) (v128.load offset=192 (local.get $in)))
      (local.set $m3) (local.set $m2) (local.set $m1) (local.set $m0)
      (call $t4 (v128.load offset=16 (local.get $in)) (v128.load offset=80 (local.get $in))
        (v128.load offset=144 (local.get $in)) (v128.load offset=208 (local.get $in)))
      (local.set $m7) (local.set $m6) (local.set $m5) (local.set $m4)
      (call $t4 (v128.load offset=32 (local.get $in)) (v128.load offset=96 (local.get $in))
        (v128.load offset=160 (local.get $in)) (v128.load offset=224 (local.get $in)))
      (local.set $m11) (local.set $m10) (local.set $m9) (local.set $m8)
      (call $t4 (v128.load offset=48 (local.get $in)) (v128.load offset=112 (local.get $in))
        (v128.load offset=176 (local.get $in)) (v128.load offset=240 (local.get $in)))
      (local.set $m15) (local.set $m14) (local.set $m13) (local.set $m12)
      (call $compress
        (v128.const i32x4 0x6a09e667 0x6a09e667 0x6a09e667 0x6a09e667)
        (v128.const i32x4 0xbb67ae85 0xbb67ae85 0xbb67ae85 0xbb67ae85)
        (v128.const i32x4 0x3c6ef372 0x3c6ef372 0x3c6ef372 0x3c6ef372)
        (v128.const i32x4 0xa54ff53a 0xa54ff53a 0xa54ff53a 0xa54ff53a)
        (v128.const i32x4 0x510e527f 0x510e527f 0x510e527f 0x510e527f)
        (v128.const i32x4 0x9b05688c 0x9b05688c 0x9b05688c 0x9b05688c)
        (v128.const i32x4 0x1f83d9ab 0x1f83d9ab 0x1f83d9ab 0x1f83d9ab)
        (v128.const i32x4 0x5be0cd19 0x5be0cd19 0x5be0cd19 0x5be0cd19)
        (local.get $m0) (local.get $m1) (local.get $m2) (local.get $m3)
        (local.get $m4) (local.get $m5) (local.get $m6) (local.get $m7)
        (local.get $m8) (local.get $m9) (local.get $m10) (local.get $m11)
        (local.get $m12) (local.get $m13) (local.get $m14) (local.get $m15)
        ;; One 64-byte block, counter 0.
        (v128.const i32x4 0 0 0 0) (v128.const i32x4 0 0 0 0) (v128.const i32x4 64 64 64 64) (local.get $flags))
      (local.set $x7) (local.set $x6) (local.set $x5) (local.set $x4)
      (local.set $x3) (local.set $x2) (local.set $x1) (local.set $x0)
      (call $t4 (local.get $x0) (local.get $x1) (local.get $x2) (local.get $x3))
      (local.set $m3) (local.set $m2) (local.set $m1) (local.set $m0)
      (call $t4 (local.get $x4) (local.get $x5) (local.get $x6) (local.get $x7))
      (local.set $m7) (local.set $m6) (local.set $m5) (local.set $m4)
      ;; Lanes past the last pair hashed whatever followed it; only real pairs are stored.
      (v128.store offset=0 (local.get $out) (local.get $m0))
      (v128.store offset=16 (local.get $out) (local.get $m4))
      (if (i32.gt_s (local.get $pairs) (i32.const 1)) (then
        (v128.store offset=32 (local.get $out) (local.get $m1))
        (v128.store offset=48 (local.get $out) (local.get $m5))))
      (if (i32.gt_s (local.get $pairs) (i32.const 2)) (then
        (v128.store offset=64 (local.get $out) (local.get $m2))
        (v128.store offset=80 (local.get $out) (local.get $m6))))
      (if (i32.gt_s (local.get $pairs) (i32.const 3)) (then
        (v128.store offset=96 (local.get $out) (local.get $m3))
        (v128.store offset=112 (local.get $out) (local.get $m7))))
      (local.set $in (i32.add (local.get $in) (i32.const 256)))
      (local.set $out (i32.add (local.get $out) (i32.const 128)))
      (br_if $group (i32.gt_s (local.tee $pairs (i32.sub (local.get $pairs) (i32.const 4))) (i32.const 0)))))

  (func (export "merkle") (param $level i32) (param $count i32)
    (local $pairs i32)
    (block $done
      (loop $up
        (br_if $done (i32.le_u (local.get $count) (i32.const 1)))
        ;; An odd last node is paired with itself.
        (if (i32.and (local.get $count) (i32.const 1)) (then
          (memory.copy (i32.add (local.get $level) (i32.shl (local.get $count) (i32.const 5)))
            (i32.add (local.get $level) (i32.shl (i32.sub (local.get $count) (i32.const 1)) (i32.const 5)))
            (i32.const 32))))
        (local.set $pairs (i32.shr_u (i32.add (local.get $count) (i32.const 1)) (i32.const 1)))
        (call $nodes (local.get $level) (local.get $level) (local.get $pairs) (v128.const i32x4 11 11 11 11))
        (local.set $count (local.get $pairs))
        (br $up))))

  ;; BLAKE3-256 of memory[start, start + len) of any length, into memory[out, out + 32) (which may
  ;; be `scratch`); `scratch` needs 32 bytes per chunk (of 1024 bytes) and 256 more (a group of
  ;; nodes reads four pairs). Chunks four at a time, one per lane with its own counter
  ;; (CHUNK_START on the first block, CHUNK_END on the last), their
  ;; chaining values to scratch; then BLAKE3's parent nodes level by level, four per compression:
  ;; pairing neighbours and carrying an odd last value up unchanged gives BLAKE3's tree (every
  ;; left subtree a power of two chunks), the last pair hashed with PARENT | ROOT. An input of
  ;; one chunk is its own root (CHUNK_END | ROOT), as `leaves` hashes it.
  (func (export "tree") (param $start i32) (param $len i32) (param $out i32) (param $scratch i32)
    (local $n i32) (local $c i32)
    (if (i32.le_u (local.get $len) (i32.const 1024)) (then
      (call $group (local.get $start) (i32.const 0) (i32.const 0) (i32.const 0)
        (local.get $len) (i32.const 0) (i32.const 0) (i32.const 0)
        (local.get $out) (i32.const 512) (i32.const 512) (i32.const 512)
        (v128.const i32x4 0 0 0 0) (v128.const i32x4 10 10 10 10))
      (return)))
    (local.set $n (i32.shr_u (i32.add (local.get $len) (i32.const 1023)) (i32.const 10)))
    ;; Chunk c of the input starts at 1024c; a lane past the last chunk hashes nothing into the spare output.
    (loop $chunks
      (call $group
        (call $chunkAt (local.get $start) (local.get $n) (local.get $c))
        (call $chunkAt (local.get $start) (local.get $n) (i32.add (local.get $c) (i32.const 1)))
        (call $chunkAt (local.get $start) (local.get $n) (i32.add (local.get $c) (i32.const 2)))
        (call $chunkAt (local.get $start) (local.get $n) (i32.add (local.get $c) (i32.const 3)))
        (call $chunkLen (local.get $len) (local.get $n) (local.get $c))
        (call $chunkLen (local.get $len) (local.get $n) (i32.add (local.get $c) (i32.const 1)))
        (call $chunkLen (local.get $len) (local.get $n) (i32.add (local.get $c) (i32.const 2)))
        (call $chunkLen (local.get $len) (local.get $n) (i32.add (local.get $c) (i32.const 3)))
        (call $cvAt (local.get $scratch) (local.get $n) (local.get $c))
        (call $cvAt (local.get $scratch) (local.get $n) (i32.add (local.get $c) (i32.const 1)))
        (call $cvAt (local.get $scratch) (local.get $n) (i32.add (local.get $c) (i32.const 2)))
        (call $cvAt (local.get $scratch) (local.get $n) (i32.add (local.get $c) (i32.const 3)))
        (i32x4.add (i32x4.splat (local.get $c)) (v128.const i32x4 0 1 2 3))
        (v128.const i32x4 2 2 2 2))
      (br_if $chunks (i32.lt_u (local.tee $c (i32.add (local.get $c) (i32.const 4))) (local.get $n))))
    (call $reduce (local.get $scratch) (local.get $n) (local.get $out)))

  ;; BLAKE3's parent nodes over the n ≥ 2 chunk chaining values at `cvs` (in place; reads up to
  ;; 256 bytes past them), the root into memory[out, out + 32).
  (func $reduce (export "reduce") (param $cvs i32) (param $n i32) (param $out i32)
    (local $pairs i32)
    ;; Parent levels down to the last pair.
    (block $top
      (loop $up
        (br_if $top (i32.le_u (local.get $n) (i32.const 2)))
        (local.set $pairs (i32.shr_u (local.get $n) (i32.const 1)))
        (call $nodes (local.get $cvs) (local.get $cvs) (local.get $pairs) (v128.const i32x4 4 4 4 4))
        (if (i32.and (local.get $n) (i32.const 1)) (then
          (memory.copy (i32.add (local.get $cvs) (i32.shl (local.get $pairs) (i32.const 5)))
            (i32.add (local.get $cvs) (i32.shl (i32.sub (local.get $n) (i32.const 1)) (i32.const 5)))
            (i32.const 32))))
        (local.set $n (i32.add (local.get $pairs) (i32.and (local.get $n) (i32.const 1))))
        (br $up)))
    (call $nodes (local.get $cvs) (local.get $out) (i32.const 1) (v128.const i32x4 12 12 12 12)))

  ;; Where chunk c of an input at `start` of n chunks begins (0 past the last: a padding lane).
  (func $chunkAt (param $start i32) (param $n i32) (param $c i32) (result i32)
    (select (i32.add (local.get $start) (i32.shl (local.get $c) (i32.const 10))) (i32.const 0)
      (i32.lt_u (local.get $c) (local.get $n))))

  ;; The bytes of chunk c of an input of `len` bytes and n chunks (1024 but for the last; 0 past it).
  (func $chunkLen (param $len i32) (param $n i32) (param $c i32) (result i32)
    (if (result i32) (i32.lt_u (i32.add (local.get $c) (i32.const 1)) (local.get $n))
      (then (i32.const 1024))
      (else (select (i32.sub (local.get $len) (i32.shl (local.get $c) (i32.const 10))) (i32.const 0)
        (i32.lt_u (local.get $c) (local.get $n))))))

  ;; Where chunk c's chaining value goes: scratch + 32c, the spare output past the last chunk.
  (func $cvAt (param $scratch i32) (param $n i32) (param $c i32) (result i32)
    (select (i32.add (local.get $scratch) (i32.shl (local.get $c) (i32.const 5))) (i32.const 512)
      (i32.lt_u (local.get $c) (local.get $n))))

  ;; The CRC-32 (IEEE) register after memory[p, end), from `crc`, with the tables at 1024.
  (func $crc32 (param $p i32) (param $end i32) (param $crc i32) (result i32)
    (local $a i32) (local $b i32)
    ;; Eight bytes a step: the register xored into the first four, every byte one table lookup
    ;; (each byte taken out already times four, the table word's offset).
    (block $wide
      (loop $eight
        (br_if $wide (i32.gt_u (i32.add (local.get $p) (i32.const 8)) (local.get $end)))
        (local.set $a (i32.xor (local.get $crc) (i32.load (local.get $p))))
        (local.set $b (i32.load offset=4 (local.get $p)))
        (local.set $crc (i32.xor
          (i32.xor (i32.xor (i32.load offset=8192 (i32.and (i32.shl (local.get $a) (i32.const 2)) (i32.const 1020)))
                            (i32.load offset=7168 (i32.and (i32.shr_u (local.get $a) (i32.const 6)) (i32.const 1020))))
                   (i32.xor (i32.load offset=6144 (i32.and (i32.shr_u (local.get $a) (i32.const 14)) (i32.const 1020)))
                            (i32.load offset=5120 (i32.and (i32.shr_u (local.get $a) (i32.const 22)) (i32.const 1020)))))
          (i32.xor (i32.xor (i32.load offset=4096 (i32.and (i32.shl (local.get $b) (i32.const 2)) (i32.const 1020)))
                            (i32.load offset=3072 (i32.and (i32.shr_u (local.get $b) (i32.const 6)) (i32.const 1020))))
                   (i32.xor (i32.load offset=2048 (i32.and (i32.shr_u (local.get $b) (i32.const 14)) (i32.const 1020)))
                            (i32.load offset=1024 (i32.and (i32.shr_u (local.get $b) (i32.const 22)) (i32.const 1020)))))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $eight)))
    ;; The last bytes one at a time.
    (block $bytes
      (loop $one
        (br_if $bytes (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $crc (i32.xor
          (i32.load offset=1024 (i32.shl (i32.and (i32.xor (local.get $crc) (i32.load8_u (local.get $p))) (i32.const 255)) (i32.const 2)))
          (i32.shr_u (local.get $crc) (i32.const 8))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $one)))
    (local.get $crc))

  ;; The CRC32C (Castagnoli) register after memory[p, end), from `crc`, with the tables at 9216.
  (func $crc32c (param $p i32) (param $end i32) (param $crc i32) (result i32)
    (local $a i32) (local $b i32)
    ;; Eight bytes a step: the register xored into the first four, every byte one table lookup
    ;; (each byte taken out already times four, the table word's offset).
    (block $wide
      (loop $eight
        (br_if $wide (i32.gt_u (i32.add (local.get $p) (i32.const 8)) (local.get $end)))
        (local.set $a (i32.xor (local.get $crc) (i32.load (local.get $p))))
        (local.set $b (i32.load offset=4 (local.get $p)))
        (local.set $crc (i32.xor
          (i32.xor (i32.xor (i32.load offset=16384 (i32.and (i32.shl (local.get $a) (i32.const 2)) (i32.const 1020)))
                            (i32.load offset=15360 (i32.and (i32.shr_u (local.get $a) (i32.const 6)) (i32.const 1020))))
                   (i32.xor (i32.load offset=14336 (i32.and (i32.shr_u (local.get $a) (i32.const 14)) (i32.const 1020)))
                            (i32.load offset=13312 (i32.and (i32.shr_u (local.get $a) (i32.const 22)) (i32.const 1020)))))
          (i32.xor (i32.xor (i32.load offset=12288 (i32.and (i32.shl (local.get $b) (i32.const 2)) (i32.const 1020)))
                            (i32.load offset=11264 (i32.and (i32.shr_u (local.get $b) (i32.const 6)) (i32.const 1020))))
                   (i32.xor (i32.load offset=10240 (i32.and (i32.shr_u (local.get $b) (i32.const 14)) (i32.const 1020)))
                            (i32.load offset=9216 (i32.and (i32.shr_u (local.get $b) (i32.const 22)) (i32.const 1020)))))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $eight)))
    ;; The last bytes one at a time.
    (block $bytes
      (loop $one
        (br_if $bytes (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $crc (i32.xor
          (i32.load offset=9216 (i32.shl (i32.and (i32.xor (local.get $crc) (i32.load8_u (local.get $p))) (i32.const 255)) (i32.const 2)))
          (i32.shr_u (local.get $crc) (i32.const 8))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $one)))
    (local.get $crc))

  (func (export "crcs") (param $desc i32) (param $count i32) (param $out i32) (param $id i32) (param $init i32) (param $xorout i32)
    (local $crc i32)
    (block $done
      (loop $record
        (br_if $done (i32.eqz (local.get $count)))
        (if (local.get $id)
          (then (local.set $crc (call $crc32c (i32.load offset=0 (local.get $desc)) (i32.load offset=4 (local.get $desc)) (local.get $init))))
          (else (local.set $crc (call $crc32 (i32.load offset=0 (local.get $desc)) (i32.load offset=4 (local.get $desc)) (local.get $init)))))
        (i32.store (local.get $out) (i32.xor (local.get $crc) (local.get $xorout)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $desc (i32.add (local.get $desc) (i32.const 8)))
        (local.set $count (i32.sub (local.get $count) (i32.const 1)))
        (br $record))))
)
