;; Block quantization of float32 values with SIMD: the codes and scales of quantize-kernels.ts's
;; encodeBlock4 / encodeBlock8 for whole blocks, whose arithmetic is float64, so it is here too.
(module
  (memory (export "memory") 1)

  ;; The largest |x| of the block at `src` (NaN skipped, as `m > magnitude` skips it there).
  (func $magnitude (param $src i32) (param $end i32) (result f32)
    (local $acc v128) (local $m f32)
    (loop $next
      (local.set $acc (f32x4.pmax (local.get $acc) (f32x4.abs (v128.load (local.get $src)))))
      (br_if $next (i32.lt_u (local.tee $src (i32.add (local.get $src) (i32.const 16))) (local.get $end))))
    (local.set $m (f32x4.extract_lane 0 (local.get $acc)))
    (if (f32.lt (local.get $m) (f32x4.extract_lane 1 (local.get $acc))) (then (local.set $m (f32x4.extract_lane 1 (local.get $acc)))))
    (if (f32.lt (local.get $m) (f32x4.extract_lane 2 (local.get $acc))) (then (local.set $m (f32x4.extract_lane 2 (local.get $acc)))))
    (if (f32.lt (local.get $m) (f32x4.extract_lane 3 (local.get $acc))) (then (local.set $m (f32x4.extract_lane 3 (local.get $acc)))))
    (local.get $m))

  ;; The block's first value whose |x| is `m`, its largest (0 when m is 0).
  (func $extreme (param $src i32) (param $m f32) (result f32)
    (local $x f32)
    (if (f32.eq (local.get $m) (f32.const 0)) (then (return (f32.const 0))))
    (loop $four
      (if (i32.eqz (v128.any_true (f32x4.eq (f32x4.abs (v128.load (local.get $src))) (f32x4.splat (local.get $m)))))
        (then (local.set $src (i32.add (local.get $src) (i32.const 16))) (br $four))))
    (loop $one
      (local.set $x (f32.load (local.get $src)))
      (if (f32.eq (f32.abs (local.get $x)) (local.get $m)) (then (return (local.get $x))))
      (local.set $src (i32.add (local.get $src) (i32.const 4)))
      (br $one))
    (unreachable))

  ;; `blocks` blocks of `size` values (a multiple of 8) at `src` → codes at `dst`, scales at `scales`.
  ;; bits 4: scale = extreme / −8, codes x / scale + 8, two per byte, low nibble first;
  ;; bits 8: scale = max |x| / 127, codes x / scale + 128. A code is trunc(x · (1 / scale) + offset)
  ;; clamped to [0, max], offset being the zero point + ½.
  (func (export "quantize") (param $src i32) (param $blocks i32) (param $size i32) (param $dst i32) (param $scales i32) (param $bits i32)
    (local $end i32) (local $scale f64) (local $inverse v128) (local $offset v128) (local $max v128) (local $v v128) (local $words v128)
    (local.set $offset (f64x2.splat (select (f64.const 8.5) (f64.const 128.5) (i32.eq (local.get $bits) (i32.const 4)))))
    (local.set $max (i32x4.splat (select (i32.const 15) (i32.const 255) (i32.eq (local.get $bits) (i32.const 4)))))
    (block $done
      (loop $block
        (br_if $done (i32.eqz (local.get $blocks)))
        (local.set $end (i32.add (local.get $src) (i32.shl (local.get $size) (i32.const 2))))
        (if (i32.eq (local.get $bits) (i32.const 4))
          (then (local.set $scale (f64.div (f64.promote_f32 (call $extreme (local.get $src) (call $magnitude (local.get $src) (local.get $end)))) (f64.const -8))))
          (else (local.set $scale (f64.div (f64.promote_f32 (call $magnitude (local.get $src) (local.get $end))) (f64.const 127)))))
        (f32.store (local.get $scales) (f32.demote_f64 (local.get $scale)))
        (local.set $inverse (f64x2.splat (select (f64.const 0) (f64.div (f64.const 1) (local.get $scale)) (f64.eq (local.get $scale) (f64.const 0)))))
        (loop $eight
          ;; u16 lanes: the 8 codes
          (local.set $words
            (i16x8.narrow_i32x4_u
              (i32x4.min_s
            (i32x4.max_s
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                (i32x4.trunc_sat_f64x2_s_zero (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (local.tee $v (v128.load (local.get $src)))) (local.get $inverse)) (local.get $offset)))
                (i32x4.trunc_sat_f64x2_s_zero
                  (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))) (local.get $inverse)) (local.get $offset))))
              (i32x4.splat (i32.const 0)))
            (local.get $max))
              (i32x4.min_s
            (i32x4.max_s
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                (i32x4.trunc_sat_f64x2_s_zero (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (local.tee $v (v128.load (i32.add (local.get $src) (i32.const 16))))) (local.get $inverse)) (local.get $offset)))
                (i32x4.trunc_sat_f64x2_s_zero
                  (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))) (local.get $inverse)) (local.get $offset))))
              (i32x4.splat (i32.const 0)))
            (local.get $max))))
          (if (i32.eq (local.get $bits) (i32.const 4))
            (then
              ;; as u32 lanes c[2k] | c[2k+1] << 16 → c[2k] | c[2k+1] << 4
              (local.set $words (v128.or (v128.and (local.get $words) (i32x4.splat (i32.const 0x0f))) (i32x4.shr_u (local.get $words) (i32.const 12))))
              (v128.store32_lane 0 (local.get $dst) (i8x16.narrow_i16x8_u (i16x8.narrow_i32x4_u (local.get $words) (local.get $words)) (local.get $words)))
              (local.set $dst (i32.add (local.get $dst) (i32.const 4))))
            (else
              (v128.store64_lane 0 (local.get $dst) (i8x16.narrow_i16x8_u (local.get $words) (local.get $words)))
              (local.set $dst (i32.add (local.get $dst) (i32.const 8)))))
          (br_if $eight (i32.lt_u (local.tee $src (i32.add (local.get $src) (i32.const 32))) (local.get $end))))
        (local.set $scales (i32.add (local.get $scales) (i32.const 4)))
        (local.set $blocks (i32.sub (local.get $blocks) (i32.const 1)))
        (br $block)))))
