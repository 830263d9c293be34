;; GHASH (the universal hash of AES-GCM) with 16 tables of 256 products per key, one block at a time:
;; X ← (X ⊕ block) · H = XOR over the 16 bytes of X ⊕ block of T[position][byte].
;; Assembled into src/ghash-wasm.ts by `pnpm run build:wasm` (scripts/wasm.mjs); gmac.ts uses it.
;;
;; Memory: page 0 holds the result (bytes 0–15) and the input from byte 16 (whole blocks: the
;; caller pads and appends the length block); each key's tables take a 64 KiB page of their own,
;; entry (position k, byte b) at table + k·4096 + b·16, 16 bytes in GCM's byte order. Loads are
;; little-endian i64s of memory order on both sides, so the XORs need no byte swaps: byte k of the
;; block is byte (k mod 8) of the first or second i64.
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
        ;; position 0
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (local.get $x0)) (i32.const 255)) (i32.const 4))))
        (local.set $a (i64.load (local.get $p)))
        (local.set $b (i64.load offset=8 (local.get $p)))
        ;; position 1
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x0) (i64.const 8))) (i32.const 255)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=4096 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=4104 (local.get $p))))
        ;; position 2
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x0) (i64.const 16))) (i32.const 255)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=8192 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=8200 (local.get $p))))
        ;; position 3
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x0) (i64.const 24))) (i32.const 255)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=12288 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=12296 (local.get $p))))
        ;; position 4
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x0) (i64.const 32))) (i32.const 255)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=16384 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=16392 (local.get $p))))
        ;; position 5
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x0) (i64.const 40))) (i32.const 255)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=20480 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=20488 (local.get $p))))
        ;; position 6
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x0) (i64.const 48))) (i32.const 255)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=24576 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=24584 (local.get $p))))
        ;; position 7
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x0) (i64.const 56))) (i32.const 255)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=28672 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=28680 (local.get $p))))
        ;; position 8
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (local.get $x1)) (i32.const 255)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=32768 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=32776 (local.get $p))))
        ;; position 9
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x1) (i64.const 8))) (i32.const 255)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=36864 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=36872 (local.get $p))))
        ;; position 10
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x1) (i64.const 16))) (i32.const 255)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=40960 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=40968 (local.get $p))))
        ;; position 11
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x1) (i64.const 24))) (i32.const 255)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=45056 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=45064 (local.get $p))))
        ;; position 12
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x1) (i64.const 32))) (i32.const 255)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=49152 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=49160 (local.get $p))))
        ;; position 13
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x1) (i64.const 40))) (i32.const 255)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=53248 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=53256 (local.get $p))))
        ;; position 14
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x1) (i64.const 48))) (i32.const 255)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=57344 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=57352 (local.get $p))))
        ;; position 15
        (local.set $p (i32.add (local.get $table) (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $x1) (i64.const 56))) (i32.const 255)) (i32.const 4))))
        (local.set $a (i64.xor (local.get $a) (i64.load offset=61440 (local.get $p))))
        (local.set $b (i64.xor (local.get $b) (i64.load offset=61448 (local.get $p))))
        (local.set $s0 (local.get $a))
        (local.set $s1 (local.get $b))
        (local.set $d (i32.add (local.get $d) (i32.const 16)))
        (br $next)))
    (i64.store (i32.const 0) (local.get $s0))
    (i64.store offset=8 (i32.const 0) (local.get $s1))))
