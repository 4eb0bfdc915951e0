//! Tile matmul with golden's exact FMA summation tree (golden-ops.md §8).

/// Rows and columns of a tile.
const T: usize = 32;
/// Golden's vector width: partial sums per output element of one tile product.
const LANES: usize = 8;

/// `acc += a·b` for row-major 32x32 tiles, rounded as golden's matmul (golden-ops.md §8).
///
/// Golden computes each tile product on its own and adds it to the output tile, K tile by K
/// tile, so `C[m][n] = Σ_k A[m][k]·B[k][n]` is golden's result when `acc` starts at +0 (as
/// golden's output tile does) and this is called for k = 0, 1, 2, … in order.
///
/// Within one tile product, element `(i, j)` has 8 partial sums, each starting at +0:
/// `L_l = fma(a[i][k], b[k][j], L_l)` for `k = l, l+8, l+16, l+24` in that order; then
/// `p = ((L_0 + L_4) + (L_2 + L_6)) + ((L_1 + L_5) + (L_3 + L_7))` and `acc[i][j] += p`, all
/// in fp32 (golden's AVX kernel: eight FMA lanes, then its 8-4-2-1 reduction tree).
pub fn matmul_tile_accumulate(acc: &mut [f32; 1024], a: &[f32; 1024], b: &[f32; 1024]) {
    #[cfg(target_arch = "x86_64")]
    if x86::has_fma() {
        // SAFETY: the CPU has AVX and FMA.
        unsafe { x86::matmul_tile_accumulate(acc, a, b) };
        return;
    }
    matmul_portable(acc, a, b);
}

/// `a·b + c` rounded once.
#[inline(always)]
fn fma32(a: f32, b: f32, c: f32) -> f32 {
    #[cfg(feature = "std")]
    {
        a.mul_add(b, c)
    }
    #[cfg(not(feature = "std"))]
    {
        libm::fmaf(a, b, c)
    }
}

/// The kernel in plain Rust, row by row with the 8 partial sums of a whole output row (the
/// inner loop runs over j, so it vectorizes where FMA is an instruction).
fn matmul_portable(acc: &mut [f32; 1024], a: &[f32; 1024], b: &[f32; 1024]) {
    for (acc_row, a_row) in acc.chunks_exact_mut(T).zip(a.chunks_exact(T)) {
        let mut lanes = [[0f32; T]; LANES];
        for (k, (&aik, b_row)) in a_row.iter().zip(b.chunks_exact(T)).enumerate() {
            let lane = &mut lanes[k % LANES];
            for (l, &bkj) in lane.iter_mut().zip(b_row) {
                *l = fma32(aik, bkj, *l);
            }
        }
        for (j, out) in acc_row.iter_mut().enumerate() {
            let s = [0, 1, 2, 3].map(|l| lanes[l][j] + lanes[l + 4][j]);
            *out += (s[0] + s[2]) + (s[1] + s[3]);
        }
    }
}

/// Whether [`matmul_rows4_avx512`] can run here (AVX-512F, detected at run time with `std`).
pub fn has_avx512() -> bool {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    {
        true
    }
    #[cfg(all(
        target_arch = "x86_64",
        feature = "std",
        not(target_feature = "avx512f")
    ))]
    {
        std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(any(
        all(target_arch = "x86_64", target_feature = "avx512f"),
        all(target_arch = "x86_64", feature = "std")
    )))]
    {
        false
    }
}

/// `acc += a·b` for four rows of a 32x32 tile product, rounded as
/// [`matmul_tile_accumulate`]: rows `r` < 4 of the accumulator are the 32 values at
/// `acc + r·acc_stride` (bytes), rows of the left tile the 32 values at `a + r·a_stride`
/// (bytes), and `b` is a row-major 32x32 tile. Each of the 128 elements gets golden's eight
/// FMA lanes from +0 (`L_l`, k = l, l+8, l+16, l+24) and golden's additions
/// `acc + (((L0 + L4) + (L2 + L6)) + ((L1 + L5) + (L3 + L7)))`, each with golden's first
/// operand; the elements are computed 16 at a time in AVX-512 registers.
///
/// # Safety
/// The CPU must support AVX-512F ([`has_avx512`]); the four accumulator rows must be valid
/// for reads and writes of 32 `f32`, the four left rows for reads of 32 `f32`, and `b` for
/// reads of 1024 `f32`; no other thread may access the accumulator rows during the call.
#[cfg(target_arch = "x86_64")]
pub unsafe fn matmul_rows4_avx512(
    acc: *mut f32,
    acc_stride: usize,
    a: *const f32,
    a_stride: usize,
    b: *const f32,
) {
    // SAFETY: the caller's promises; the block only uses zmm0-zmm15 (declared clobbered by
    // their ymm halves, and vzeroupper leaves their upper halves zero as AVX code expects)
    // and the stack buffer `t`.
    unsafe { x86::matmul_rows4_avx512(acc, acc_stride, a, a_stride, b) }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::T;
    use core::arch::x86_64::{
        _mm256_add_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_setzero_ps,
        _mm256_storeu_ps,
    };

    /// Whether the AVX + FMA kernel can run here.
    #[inline]
    pub(super) fn has_fma() -> bool {
        #[cfg(all(target_feature = "avx", target_feature = "fma"))]
        {
            true
        }
        #[cfg(all(
            feature = "std",
            not(all(target_feature = "avx", target_feature = "fma"))
        ))]
        {
            std::is_x86_feature_detected!("avx") && std::is_x86_feature_detected!("fma")
        }
        #[cfg(not(any(feature = "std", all(target_feature = "avx", target_feature = "fma"))))]
        {
            false
        }
    }

    /// The kernel two rows by 16 columns at a time: for each lane pair `(l, l + 4)` (l = 0..3)
    /// `s_l = L_l + L_{l+4}` with eight independent FMA chains (four operand loads per four
    /// FMAs), then `acc += (s_0 + s_2) + (s_1 + s_3)`. Each element gets golden's FMAs and adds
    /// in golden's order; only the elements computed together differ from golden's loop.
    ///
    /// # Safety
    /// The CPU must support AVX and FMA.
    #[target_feature(enable = "avx,fma")]
    pub(super) unsafe fn matmul_tile_accumulate(
        acc: &mut [f32; 1024],
        a: &[f32; 1024],
        b: &[f32; 1024],
    ) {
        let (ap, bp, out) = (a.as_ptr(), b.as_ptr(), acc.as_mut_ptr());
        // s_l of one 2x16 block: four 8-wide vectors per lane pair.
        let mut sums = [[_mm256_setzero_ps(); 4]; 4];
        for i in (0..T).step_by(2) {
            for j in [0, 16] {
                for (l, s) in sums.iter_mut().enumerate() {
                    // SAFETY: AVX and FMA (the caller's promise); rows i, i + 1 < 32 and
                    // columns j..j + 16 <= 32 of 32x32 tiles; k < 32.
                    unsafe {
                        let mut lo = [_mm256_setzero_ps(); 4];
                        let mut hi = [_mm256_setzero_ps(); 4];
                        for step in 0..4 {
                            for (k, lane) in [(l + 8 * step, &mut lo), (l + 4 + 8 * step, &mut hi)]
                            {
                                let b0 = _mm256_loadu_ps(bp.add(k * T + j));
                                let b1 = _mm256_loadu_ps(bp.add(k * T + j + 8));
                                let a0 = _mm256_set1_ps(*ap.add(i * T + k));
                                let a1 = _mm256_set1_ps(*ap.add((i + 1) * T + k));
                                lane[0] = _mm256_fmadd_ps(a0, b0, lane[0]);
                                lane[1] = _mm256_fmadd_ps(a0, b1, lane[1]);
                                lane[2] = _mm256_fmadd_ps(a1, b0, lane[2]);
                                lane[3] = _mm256_fmadd_ps(a1, b1, lane[3]);
                            }
                        }
                        *s = [0, 1, 2, 3].map(|v| _mm256_add_ps(lo[v], hi[v]));
                    }
                }
                for v in 0..4 {
                    // SAFETY: AVX (the caller's promise); row i + v / 2 < 32, columns up to
                    // j + 16 <= 32.
                    unsafe {
                        let p = _mm256_add_ps(
                            _mm256_add_ps(sums[0][v], sums[2][v]),
                            _mm256_add_ps(sums[1][v], sums[3][v]),
                        );
                        let o = out.add((i + v / 2) * T + j + (v % 2) * 8);
                        _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), p));
                    }
                }
            }
        }
    }
    /// zmm0..zmm7 = lane `$l` (the 4-FMA chain over k = l, l+8, l+16, l+24 from +0) of a
    /// 4x32 block: register 2r + h holds row r, columns 16h..16h+16. zmm8/9 hold a row of b,
    /// zmm10..13 the broadcast values of the left rows (row r's pointer: `a` + r·stride,
    /// registers `{a0}`..`{a3}`).
    macro_rules! lane {
        ($l:tt) => {
            concat!(
                "vxorps xmm0, xmm0, xmm0\n",
                "vxorps xmm1, xmm1, xmm1\n",
                "vxorps xmm2, xmm2, xmm2\n",
                "vxorps xmm3, xmm3, xmm3\n",
                "vxorps xmm4, xmm4, xmm4\n",
                "vxorps xmm5, xmm5, xmm5\n",
                "vxorps xmm6, xmm6, xmm6\n",
                "vxorps xmm7, xmm7, xmm7\n",
                step!($l, 0),
                step!($l, 1),
                step!($l, 2),
                step!($l, 3),
            )
        };
    }

    /// One FMA step of lane `$l`: k = l + 8·s.
    macro_rules! step {
        ($l:tt, $s:tt) => {
            concat!(
                "vmovups zmm8, [{b} + ",
                k!($l, $s),
                "*128]\n",
                "vmovups zmm9, [{b} + ",
                k!($l, $s),
                "*128 + 64]\n",
                broadcast!(10, a0, $l, $s),
                broadcast!(11, a1, $l, $s),
                broadcast!(12, a2, $l, $s),
                broadcast!(13, a3, $l, $s),
                "vfmadd231ps zmm0, zmm10, zmm8\n",
                "vfmadd231ps zmm1, zmm10, zmm9\n",
                "vfmadd231ps zmm2, zmm11, zmm8\n",
                "vfmadd231ps zmm3, zmm11, zmm9\n",
                "vfmadd231ps zmm4, zmm12, zmm8\n",
                "vfmadd231ps zmm5, zmm12, zmm9\n",
                "vfmadd231ps zmm6, zmm13, zmm8\n",
                "vfmadd231ps zmm7, zmm13, zmm9\n",
            )
        };
    }
    /// `(l + 8*s)`: the k of step `$s` of lane `$l`.
    macro_rules! k {
        ($l:tt, $s:tt) => {
            concat!("(", stringify!($l), " + 8*", stringify!($s), ")")
        };
    }
    /// zmm `$v` = a[row][k] in every element (row pointer `{$row}`).
    macro_rules! broadcast {
        ($v:tt, $row:tt, $l:tt, $s:tt) => {
            concat!(
                "vbroadcastss zmm",
                stringify!($v),
                ", dword ptr [{",
                stringify!($row),
                "} + ",
                k!($l, $s),
                "*4]\n"
            )
        };
    }

    /// Applies `$op` (a macro taking a slot, a register number and its offset in the slot)
    /// to the eight registers.
    macro_rules! each {
        ($op:ident, $slot:tt) => {
            concat!(
                $op!($slot, 0, 0),
                $op!($slot, 1, 64),
                $op!($slot, 2, 128),
                $op!($slot, 3, 192),
                $op!($slot, 4, 256),
                $op!($slot, 5, 320),
                $op!($slot, 6, 384),
                $op!($slot, 7, 448),
            )
        };
    }
    /// The temp slots A, B and C of eight vectors each, at `{t}` + 0, 512 and 1024 bytes.
    macro_rules! slot {
        (A) => {
            "{t} + "
        };
        (B) => {
            "{t} + 512 + "
        };
        (C) => {
            "{t} + 1024 + "
        };
    }
    /// Stores zmm v at offset o of a slot.
    macro_rules! store {
        ($slot:tt, $v:tt, $o:tt) => {
            concat!(
                "vmovups [",
                slot!($slot),
                stringify!($o),
                "], zmm",
                stringify!($v),
                "\n"
            )
        };
    }
    /// zmm v = slot · zmm v (the slot's value as the first operand).
    macro_rules! add {
        ($slot:tt, $v:tt, $o:tt) => {
            concat!(
                "vmovups zmm14, [",
                slot!($slot),
                stringify!($o),
                "]\n",
                "vaddps zmm",
                stringify!($v),
                ", zmm14, zmm",
                stringify!($v),
                "\n"
            )
        };
    }
    /// The accumulator row of register v: row v / 2 at `{c0}`..`{c3}`, columns 16·(v % 2)...
    macro_rules! add_acc {
        (acc, $v:tt, $o:tt) => {
            concat!(
                "vmovups zmm14, [",
                acc_row!($v),
                "]\n",
                "vaddps zmm",
                stringify!($v),
                ", zmm14, zmm",
                stringify!($v),
                "\n",
                "vmovups [",
                acc_row!($v),
                "], zmm",
                stringify!($v),
                "\n",
            )
        };
    }
    macro_rules! acc_row {
        (0) => {
            "{c0}"
        };
        (1) => {
            "{c0} + 64"
        };
        (2) => {
            "{c1}"
        };
        (3) => {
            "{c1} + 64"
        };
        (4) => {
            "{c2}"
        };
        (5) => {
            "{c2} + 64"
        };
        (6) => {
            "{c3}"
        };
        (7) => {
            "{c3} + 64"
        };
    }

    /// See [`super::matmul_rows4_avx512`].
    ///
    /// # Safety
    /// As there.
    #[target_feature(enable = "avx,fma")]
    pub(super) unsafe fn matmul_rows4_avx512(
        acc: *mut f32,
        acc_stride: usize,
        a: *const f32,
        a_stride: usize,
        b: *const f32,
    ) {
        // Slots A, B, C of eight 16-float vectors each: the partial sums between lanes.
        let mut t = [0f32; 3 * 8 * 16];
        let row = |p: *const f32, stride: usize, r: usize| p.cast::<u8>().wrapping_add(r * stride);
        // SAFETY: the caller's promises (see `super::matmul_rows4_avx512`): every address
        // read or written is inside the rows and tile described there, or `t`.
        unsafe {
            core::arch::asm!(
                // Lanes in the order of golden's tree: s0 = L0 + L4, s2 = L2 + L6,
                // t = s0 + s2 (slot A); s1 = L1 + L5 (slot B); s3 = L3 + L7, u = s1 + s3,
                // p = t + u; acc = acc + p.
                lane!(0), each!(store, A),
                lane!(4), each!(add, A), each!(store, A),
                lane!(2), each!(store, B),
                lane!(6), each!(add, B), each!(add, A), each!(store, A),
                lane!(1), each!(store, B),
                lane!(5), each!(add, B), each!(store, B),
                lane!(3), each!(store, C),
                lane!(7), each!(add, C), each!(add, B), each!(add, A), each!(add_acc, acc),
                "vzeroupper",
                b = in(reg) b,
                a0 = in(reg) row(a, a_stride, 0),
                a1 = in(reg) row(a, a_stride, 1),
                a2 = in(reg) row(a, a_stride, 2),
                a3 = in(reg) row(a, a_stride, 3),
                c0 = in(reg) row(acc, acc_stride, 0),
                c1 = in(reg) row(acc, acc_stride, 1),
                c2 = in(reg) row(acc, acc_stride, 2),
                c3 = in(reg) row(acc, acc_stride, 3),
                t = in(reg) t.as_mut_ptr(),
                out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _,
                out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _,
                out("ymm8") _, out("ymm9") _, out("ymm10") _, out("ymm11") _,
                out("ymm12") _, out("ymm13") _, out("ymm14") _, out("ymm15") _,
                options(nostack, preserves_flags),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random tiles with every kind of value golden can meet, signed zeros and infinities too.
    fn tile(seed: &mut u64, specials: bool) -> [f32; 1024] {
        core::array::from_fn(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            let r = *seed;
            match r % 64 {
                0 if specials => 0.0,
                1 if specials => -0.0,
                2 if specials => f32::INFINITY,
                3 if specials => f32::from_bits(0x0000_0003),
                _ => {
                    let e = 100 + (r >> 20) as u32 % 54;
                    f32::from_bits(
                        (((r >> 63) as u32) << 31) | (e << 23) | ((r >> 32) as u32 & 0x7f_ffff),
                    )
                }
            }
        })
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx512_row_kernel_equals_portable_kernel_bit_for_bit() {
        if !has_avx512() {
            return;
        }
        let mut seed = 0x0fed_cba9_8765_4321;
        for round in 0..20 {
            let specials = round % 2 == 1;
            let (a, b) = (tile(&mut seed, specials), tile(&mut seed, specials));
            let start = tile(&mut seed, false);
            let mut plain = start;
            matmul_portable(&mut plain, &a, &b);
            // The left tile and the accumulator inside wider row-major matrices, as the
            // kernel meets them: 3 tiles wide (left) and 5 tiles wide (accumulator).
            let (aw, cw) = (3 * 32, 5 * 32);
            let mut wide_a = alloc::vec![f32::NAN; 32 * aw];
            let mut wide_c = alloc::vec![f32::NAN; 32 * cw];
            for r in 0..32 {
                wide_a[r * aw + 32..r * aw + 64].copy_from_slice(&a[r * 32..(r + 1) * 32]);
                wide_c[r * cw + 64..r * cw + 96].copy_from_slice(&start[r * 32..(r + 1) * 32]);
            }
            for r in (0..32).step_by(4) {
                // SAFETY: AVX-512F (checked); rows r..r + 4 of both matrices are in bounds.
                unsafe {
                    matmul_rows4_avx512(
                        wide_c.as_mut_ptr().add(r * cw + 64),
                        cw * 4,
                        wide_a.as_ptr().add(r * aw + 32),
                        aw * 4,
                        b.as_ptr(),
                    )
                };
            }
            for r in 0..32 {
                for c in 0..cw {
                    let got = wide_c[r * cw + c];
                    if (64..96).contains(&c) {
                        let want = plain[r * 32 + c - 64];
                        assert!(
                            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                            "round {round}, ({r}, {}): {got:?} != {want:?}",
                            c - 64
                        );
                    } else {
                        assert!(got.is_nan(), "({r}, {c}) outside the tile was written");
                    }
                }
            }
        }
    }

    #[test]
    fn vector_kernel_equals_portable_kernel_bit_for_bit() {
        let mut seed = 0x0123_4567_89ab_cdef;
        for round in 0..20 {
            let specials = round % 2 == 1;
            let (a, b) = (tile(&mut seed, specials), tile(&mut seed, specials));
            let start = tile(&mut seed, false);
            let (mut fast, mut plain) = (start, start);
            matmul_tile_accumulate(&mut fast, &a, &b);
            matmul_portable(&mut plain, &a, &b);
            for (x, y) in fast.iter().zip(&plain) {
                assert!(
                    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                    "{x:?} != {y:?}"
                );
            }
        }
    }
}
