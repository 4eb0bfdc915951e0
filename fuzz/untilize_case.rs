// One fuzz case for untilize (and tilize back): arbitrary bytes become a queue layout, a host
// tensor description (shape, strides, format, possibly nonsensical) and source bytes. Any input
// must give Ok or an error, never a panic or an access outside the buffers. Shared by the
// cargo-fuzz target (fuzz/fuzz_targets/untilize.rs) and the stable test (tests/format/fuzz_untilize.rs).

use ttrt::format::{
    tilize, untilize, Arch, DataFormat, HostTensor, HostTensorMut, IoLayout, QueueLayout, Rounding, TileDim,
    UblockOrder,
};

/// Reads bytes off the front of the input, zero once it runs out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn small(&mut self, max: u32) -> u32 {
        self.byte() as u32 % (max + 1)
    }
}

const DIMS: [(u32, u32); 7] = [(32, 32), (16, 32), (32, 16), (8, 32), (4, 32), (2, 32), (1, 32)];

/// Largest buffer a case may allocate, so the fuzzer explores logic rather than memory.
const MAX_BYTES: usize = 1 << 22;

/// Returns whether untilize accepted the case (so a test can check the cases reach the codec).
pub fn untilize_case(data: &[u8]) -> bool {
    let mut input = Input(data);
    let format = DataFormat::ALL[input.byte() as usize % DataFormat::ALL.len()];
    let arch = [Arch::Grayskull, Arch::WormholeB0, Arch::Blackhole][input.small(2) as usize];
    let (h, w) = DIMS[input.byte() as usize % DIMS.len()];
    let layout = QueueLayout {
        format,
        arch,
        tile: TileDim { height: h, width: w },
        // 0 is out of range on purpose: validation must refuse it.
        grid_r: input.small(3),
        grid_c: input.small(3),
        mblock_m: input.small(3),
        mblock_n: input.small(3),
        ublock_rt: input.small(2),
        ublock_ct: input.small(2),
        ublock_order: if input.byte() & 1 == 0 { UblockOrder::R } else { UblockOrder::C },
        t: input.small(4),
        hstack: input.small(2),
        vstack: input.small(2),
        stack_row_major: input.byte() & 1 == 0,
        layout: if input.byte() % 4 == 0 { IoLayout::Flat } else { IoLayout::Tilized },
    };
    let host_format = match input.byte() % 4 {
        0 => DataFormat::Float32,
        1 => format.host_compatible(),
        _ => DataFormat::ALL[input.byte() as usize % DataFormat::ALL.len()],
    };
    let entries = input.small(3) as usize;
    let itemsize = host_format.host_item_size().unwrap_or(4);
    let valid = layout.validate().is_ok();
    let mut shape = if valid { layout.host_shape(entries) } else { [entries, 1, 32, 32] };
    if input.byte() % 8 == 0 {
        // A shape that does not fit the layout.
        let d = input.small(3) as usize;
        shape[d] = input.byte() as usize;
    }
    let mut strides = ttrt::format::contiguous_strides(shape, itemsize);
    if input.byte() % 4 == 0 {
        // Padded rows, or arbitrary strides (possibly overlapping or out of range).
        for s in strides.iter_mut() {
            *s = *s * (1 + input.small(2) as usize) + input.small(7) as usize;
        }
    }
    let extent = shape
        .iter()
        .zip(&strides)
        .try_fold(0usize, |acc, (&n, &s)| acc.checked_add(n.saturating_sub(1).checked_mul(s)?))
        .and_then(|v| v.checked_add(itemsize))
        .unwrap_or(usize::MAX);
    // Sometimes a buffer shorter than the tensor needs: untilize must refuse, not overrun.
    let short = input.byte() % 8 == 0;
    let dst_len = if short { extent.saturating_sub(1 + input.small(7) as usize) } else { extent };
    if dst_len > MAX_BYTES {
        return false;
    }
    let src_len = if valid && input.byte() % 4 != 0 {
        layout.tilized_size(entries)
    } else {
        input.byte() as usize * 16
    };
    if src_len > MAX_BYTES {
        return false;
    }
    // Source bytes: the rest of the input, repeated.
    let rest = input.0;
    let src: Vec<u8> = (0..src_len).map(|i| if rest.is_empty() { 0 } else { rest[i % rest.len()] }).collect();
    let mut dst = vec![0u8; dst_len];
    let mut tensor = HostTensorMut { data: &mut dst, format: host_format, shape, strides };
    let accepted = untilize(&src, &layout, &mut tensor).is_ok();
    if accepted {
        // What came out goes back in, when the host format can be pushed.
        let back = HostTensor { data: &dst, format: host_format, shape, strides };
        let mut again = vec![0u8; layout.tilized_size(entries)];
        let written = tilize(&back, &layout, Rounding::default(), &mut again);
        if host_format.is_host_input() {
            assert_eq!(written, Ok(again.len()), "tilize refused what untilize produced");
        }
    }
    accepted
}
