;; GHASH (the universal hash of AES-GCM) with 32 tables of 16 products per key (8 KiB, so a key's
;; tables stay in the L1 cache between records), one block at a time:
;; X ← (X ⊕ block) · H = XOR over the 32 nibbles of X ⊕ block of T[position][nibble].
;; Assembled into src/ghash-wasm.ts by `pnpm run build:wasm` (scripts/wasm.mjs); gmac.ts uses it.
;;
;; Memory: page 0 holds the result (bytes 0–15) and the input from byte 16 (whole blocks: the
;; caller pads and appends the length block); each key's tables take 8 KiB further on, entry
;; (position n, nibble v) at table + n·256 + v·16, 16 bytes in GCM's byte order. Loads are
;; little-endian i64s of memory order on both sides, so the XORs need no byte swaps: nibble n of
;; the block is in byte n/2 (the high half for even n) of the first or second i64.
(module
  (memory (export "memory") 1)
  ;; GHASH of the blocks at [16, end) with the tables at `table`; the 16-byte result goes to 0.
  (func (export "ghash") (param $table i32) (param $end i32)
    (local $d i32) (local $s0 i64) (local $s1 i64) (local $x0 i64) (local $x1 i64) (local $a i64) (local $b i64) (local $p i32)
    (local.set $d (i32.const 16))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $d) (local.get $end)))
        (local.set $x0 (i64.xor (local.get $s0) (i64.load (local.get $d))))
        (local.set $x1 (i64.xor (local.get $s1) (i64.load offset=8 (local.get $d))))
        ;; nibble 0
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x0) (i64.const 4))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.load (local.get $p)))
        (local.set $b (i64.load offset=8 (local.get $p)))
        ;; nibble 1
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (local.get $x0)) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=256 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=264 (local.get $p))))
        ;; nibble 2
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x0) (i64.const 12))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=512 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=520 (local.get $p))))
        ;; nibble 3
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x0) (i64.const 8))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=768 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=776 (local.get $p))))
        ;; nibble 4
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x0) (i64.const 20))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=1024 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=1032 (local.get $p))))
        ;; nibble 5
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x0) (i64.const 16))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=1280 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=1288 (local.get $p))))
        ;; nibble 6
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x0) (i64.const 28))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=1536 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=1544 (local.get $p))))
        ;; nibble 7
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x0) (i64.const 24))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=1792 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=1800 (local.get $p))))
        ;; nibble 8
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x0) (i64.const 36))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=2048 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=2056 (local.get $p))))
        ;; nibble 9
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x0) (i64.const 32))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=2304 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=2312 (local.get $p))))
        ;; nibble 10
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x0) (i64.const 44))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=2560 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=2568 (local.get $p))))
        ;; nibble 11
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x0) (i64.const 40))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=2816 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=2824 (local.get $p))))
        ;; nibble 12
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x0) (i64.const 52))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=3072 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=3080 (local.get $p))))
        ;; nibble 13
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x0) (i64.const 48))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=3328 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=3336 (local.get $p))))
        ;; nibble 14
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x0) (i64.const 60))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=3584 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=3592 (local.get $p))))
        ;; nibble 15
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x0) (i64.const 56))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=3840 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=3848 (local.get $p))))
        ;; nibble 16
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x1) (i64.const 4))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=4096 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=4104 (local.get $p))))
        ;; nibble 17
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (local.get $x1)) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=4352 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=4360 (local.get $p))))
        ;; nibble 18
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x1) (i64.const 12))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=4608 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=4616 (local.get $p))))
        ;; nibble 19
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x1) (i64.const 8))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=4864 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=4872 (local.get $p))))
        ;; nibble 20
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x1) (i64.const 20))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=5120 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=5128 (local.get $p))))
        ;; nibble 21
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x1) (i64.const 16))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=5376 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=5384 (local.get $p))))
        ;; nibble 22
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x1) (i64.const 28))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=5632 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=5640 (local.get $p))))
        ;; nibble 23
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x1) (i64.const 24))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=5888 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=5896 (local.get $p))))
        ;; nibble 24
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x1) (i64.const 36))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=6144 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=6152 (local.get $p))))
        ;; nibble 25
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x1) (i64.const 32))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=6400 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=6408 (local.get $p))))
        ;; nibble 26
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x1) (i64.const 44))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=6656 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=6664 (local.get $p))))
        ;; nibble 27
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x1) (i64.const 40))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=6912 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=6920 (local.get $p))))
        ;; nibble 28
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x1) (i64.const 52))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=7168 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=7176 (local.get $p))))
        ;; nibble 29
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x1) (i64.const 48))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=7424 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=7432 (local.get $p))))
        ;; nibble 30
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x1) (i64.const 60))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=7680 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=7688 (local.get $p))))
        ;; nibble 31
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x1) (i64.const 56))) (i32.const 15)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=7936 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=7944 (local.get $p))))
        (local.set $s0 (local.get $a))
        (local.set $s1 (local.get $b))
        (local.set $d (i32.add (local.get $d) (i32.const 16)))
        (br $next)))
    (i64.store (i32.const 0) (local.get $s0))
    (i64.store offset=8 (i32.const 0) (local.get $s1))))
