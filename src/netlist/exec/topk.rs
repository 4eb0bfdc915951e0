//! topk (golden-ops.md §10): per core column of the op grid, every row of the input is sorted,
//! with the values of input 0 carrying the indices of input 1, and the first `k` entries of
//! each row become the output (`sort: max` the values, `argmax` the indices), `ceil(k/32)`
//! tiles per core, the rest 0.
//!
//! The order is golden's: an emulation of the hardware's bitonic network, kept step for step,
//! since its comparator is no total order and the indices of equal values come out where that
//! network puts them:
//! - a comparator sorting towards the larger value first swaps when the right value is larger,
//!   and also when both are negative and equal; towards the smaller first, when the right value
//!   is smaller, and also when both are equal and not negative (so -0.0 with +0.0 too). A NaN
//!   never compares, so it never moves by a comparison;
//! - with `k >= 64`, every comparison of the local sort's phases 3 and 4 in the second half of
//!   each 128 values is followed by a swap whatever it did;
//! - `kreduce` (the inputs are sorted k-sequences already) skips the local sort; for `k > 16`
//!   it re-sorts each k-sequence's bitonic merge first.
//!
//! Indices go through an int: golden converts each index value to a 32-bit integer (x86
//! truncation: NaN and values out of range become -2^31) and back to float on output.

use alloc::vec::Vec;

use crate::format::DataFormat;
use crate::netlist::{Op, TopkSort};

use super::tm::Shape;
use super::OpError;
use super::{Tensor, TILE};

/// A compiled topk.
pub struct TopkPlan {
    k: usize,
    values: bool,
    kreduce: bool,
    cores: usize,
    /// Input tile columns each core sorts (`ct / cores`, as golden divides).
    per_core: usize,
    /// Output tile columns per core (`ceil(k / 32)`).
    out_per_core: usize,
    /// One row being sorted: (value, index), `per_core * 32` entries, kept across runs.
    row: Vec<(f32, i32)>,
}

/// What x86's truncating float-to-int conversion gives (cvttss2si): the integer part, or
/// -2^31 for NaN and values out of range.
#[inline]
fn index_of(x: f32) -> i32 {
    if x > -2_147_483_904.0 && x < 2_147_483_648.0 {
        x as i32
    } else {
        i32::MIN
    }
}

/// One comparator of golden's network on entries `l < r` (see the module documentation).
#[inline]
fn compare_swap(row: &mut [(f32, i32)], larger_first: bool, l: usize, r: usize, always: bool) {
    let (a, b) = (row[l].0, row[r].0);
    let swap = if larger_first {
        b > a || (b < 0.0 && a < 0.0 && b == a)
    } else {
        b < a || (b >= 0.0 && a >= 0.0 && b == a)
    };
    if swap != always {
        row.swap(l, r);
    }
}

/// The merge steps of a bitonic sort of `len` entries from `base`: distances `2^(steps-1)`
/// down to 1, each over `len / (2*distance)` groups (golden passes `k` as `len` with
/// `steps = floor(log2 k)`, which differ when k is no power of two).
fn merge_steps(
    row: &mut [(f32, i32)],
    base: usize,
    len: usize,
    steps: u32,
    larger_first: bool,
    always: bool,
) {
    for s in (1..=steps).rev() {
        let dist = 1usize << (s - 1);
        for i in 0..len / (2 * dist) {
            for j in 0..dist {
                let l = base + i * 2 * dist + j;
                compare_swap(row, larger_first, l, l + dist, always);
            }
        }
    }
}

/// Golden's topk_sort of one row (ops/topk.cpp), in place.
fn sort_row(row: &mut [(f32, i32)], k: usize, kreduce: bool) {
    let size = row.len();
    let logk = k.ilog2();
    if !kreduce {
        for phase in 0..logk {
            let len = 1usize << (phase + 1);
            let mut larger_first = true;
            for sub in 0..size / len {
                let base = sub * len;
                let always = k >= 64 && (3..5).contains(&phase) && base % 128 >= 64;
                merge_steps(row, base, len, phase + 1, larger_first, always);
                larger_first = !larger_first;
            }
        }
    } else if k > 16 {
        let mut larger_first = true;
        for seq in 0..size / k {
            merge_steps(row, seq * k, k, logk, larger_first, false);
            larger_first = !larger_first;
        }
    }
    let mut sequences = size / k;
    for m in 0..(size / k).ilog2() {
        let dist = (1usize << m) * k;
        for i in 0..sequences / 2 {
            for j in 0..k {
                compare_swap(row, true, i * 2 * dist + j, i * 2 * dist + j + dist, false);
            }
        }
        sequences /= 2;
        let mut larger_first = true;
        for seq in 0..sequences {
            merge_steps(row, seq * 2 * dist, k, logk, larger_first, false);
            larger_first = !larger_first;
        }
    }
}

impl TopkPlan {
    /// Checks the op against its inputs' shapes (after their TMs) and gives the plan and the
    /// output shape: the inputs' rt and t, `ceil(k/32)` tiles per core column.
    pub fn new(op: &Op, shapes: &[Shape]) -> Result<(TopkPlan, Shape), OpError> {
        let a = &op.attributes;
        let (s0, s1) = (shapes[0], shapes[1]);
        if s0 != s1 {
            return Err(OpError::TopkShapes {
                values: s0,
                indices: s1,
            });
        }
        let k = a.k.unwrap_or(0) as usize;
        let cores = op.grid_size.c as usize;
        let per_core = s0.ct as usize / cores.max(1);
        let size = per_core * TILE;
        if k == 0 || k > size {
            return Err(OpError::TopkK {
                k,
                size,
                per_core,
                ct: s0.ct,
                cores,
            });
        }
        let mut row = Vec::new();
        row.try_reserve_exact(size)
            .map_err(|_| OpError::TopkRowMemory { size })?;
        row.resize(size, (0.0, 0));
        let out_per_core = k.div_ceil(TILE);
        let ct = u32::try_from(cores * out_per_core).map_err(|_| OpError::TopkOutput {
            cores,
            per_core: out_per_core,
        })?;
        let plan = TopkPlan {
            k,
            // Golden outputs indices unless sort is max.
            values: a.sort == Some(TopkSort::Max),
            kreduce: a.kreduce,
            cores,
            per_core,
            out_per_core,
            row,
        };
        Ok((plan, Shape::new(s0.z, s0.rt, ct)))
    }

    /// The format tag of the output: input 0's for values, input 1's for indices.
    pub fn tag(&self, values: DataFormat, indices: DataFormat) -> DataFormat {
        if self.values {
            values
        } else {
            indices
        }
    }

    /// Sorts every row of `values` with `indices` into `dst` (already shaped as the output).
    pub fn run(&mut self, values: &Tensor, indices: &Tensor, dst: &mut Tensor) {
        dst.tag = self.tag(values.tag, indices.tag);
        let (cols, ocols) = (values.cols(), dst.cols());
        let width = self.per_core * TILE;
        let out_width = self.out_per_core * TILE;
        for z in 0..values.z as usize {
            for r in 0..values.rows() {
                let from = (z * values.rows() + r) * cols;
                let to = (z * dst.rows() + r) * ocols;
                for core in 0..self.cores {
                    let at = from + core * width;
                    let v = &values.data[at..at + width];
                    let ix = &indices.data[at..at + width];
                    for (e, (&x, &i)) in self.row.iter_mut().zip(v.iter().zip(ix)) {
                        *e = (x, index_of(i));
                    }
                    sort_row(&mut self.row, self.k, self.kreduce);
                    let out = &mut dst.data[to + core * out_width..to + (core + 1) * out_width];
                    for (c, o) in out.iter_mut().enumerate() {
                        *o = match self.row.get(c) {
                            Some(&(x, i)) if c < self.k => {
                                if self.values {
                                    x
                                } else {
                                    i as f32
                                }
                            }
                            _ => 0.0,
                        };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(values: &[f32], k: usize, kreduce: bool) -> Vec<(f32, i32)> {
        let mut row: Vec<(f32, i32)> = values.iter().zip(0..).map(|(&v, i)| (v, i)).collect();
        sort_row(&mut row, k, kreduce);
        row.truncate(k);
        row
    }

    #[test]
    fn distinct_values_come_out_largest_first() {
        for k in [1, 2, 4, 8, 16, 32, 64] {
            let values: Vec<f32> = (0..128).map(|i| ((i * 37) % 128) as f32 - 60.0).collect();
            let got = sorted(&values, k, false);
            let mut want: Vec<(f32, i32)> = values.iter().zip(0..).map(|(&v, i)| (v, i)).collect();
            want.sort_by(|a, b| b.0.total_cmp(&a.0));
            assert_eq!(got, want[..k], "k {k}");
        }
    }

    #[test]
    fn index_conversion_truncates_like_x86() {
        assert_eq!(index_of(3.9), 3);
        assert_eq!(index_of(-3.9), -3);
        assert_eq!(index_of(f32::NAN), i32::MIN);
        assert_eq!(index_of(3.0e9), i32::MIN);
        assert_eq!(index_of(-2_147_483_648.0), i32::MIN);
    }
}
