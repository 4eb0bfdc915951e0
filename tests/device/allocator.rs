//! The device allocator and buffer page layouts (DESIGN.md section 3, "Allocator and tensors";
//! notes/metal-dispatch.md, "Allocator"). Every expected address, offset and size below is
//! worked out by hand from the rules, not by asking the code a second way.

use crate::support;

use support::XorShift;
use ttrt::format::DataFormat;
use ttrt::hal::layout::*;
use ttrt::runtime::allocator::*;

const KIB: u64 = 1024;

/// A Wormhole-like n150: 6 DRAM banks of 2 GiB, an 8x8 grid with 1464 KiB of L1 per core.
///
/// Regions per bank, by hand:
/// - TRACE: ceil(32768 / 6) = 5462, rounded up to 32 = 5472 B at the top of DRAM:
///   [2147483648 - 5472, 2147483648) = [2147478176, 2147483648).
/// - DRAM: [1024, 2147478176).
/// - L1_SMALL: [98304, 98304 + 16384) = [98304, 114688).
/// - L1: [114688, 1499136), 1384448 B.
fn wormhole() -> AllocatorConfig {
    AllocatorConfig {
        dram_banks: 6,
        dram_bank_size: 2 << 30,
        dram_unreserved_base: 1024,
        dram_alignment: 32,
        l1_banks: 64,
        l1_bank_size: 1464 * KIB,
        l1_unreserved_base: 96 * KIB,
        l1_alignment: 16,
        l1_small_size: 16 * KIB,
        trace_region_size: 32 * KIB,
    }
}

const L1_TOP: u64 = 1_499_136;
const L1_BASE: u64 = 114_688;
const L1_SMALL_BASE: u64 = 98_304;
const DRAM_BASE: u64 = 1024;
const TRACE_BASE: u64 = 2_147_478_176;
const DRAM_TOP: u64 = 2_147_483_648;

fn geometry() -> BankGeometry {
    BankGeometry {
        dram_banks: 6,
        compute_grid: (8, 8),
        dram_alignment: 32,
        l1_alignment: 16,
    }
}

fn allocator() -> Allocator {
    Allocator::new(&wormhole()).expect("Wormhole-like config is valid")
}

fn layout(
    shape: [u32; 4],
    format: DataFormat,
    tensor: TensorLayout,
    ty: BufferType,
    mem: MemoryLayout,
    shard: Option<ShardSpec>,
) -> Result<BufferLayout, LayoutError> {
    BufferLayout::new(shape, format, tensor, ty, mem, shard, geometry())
}

fn tiles_bf16(shape: [u32; 4], ty: BufferType) -> BufferLayout {
    layout(
        shape,
        DataFormat::Float16B,
        TensorLayout::Tile,
        ty,
        MemoryLayout::Interleaved,
        None,
    )
    .unwrap()
}

fn shard(
    start: (u32, u32),
    end: (u32, u32),
    shape: [u32; 2],
    orientation: ShardOrientation,
) -> Option<ShardSpec> {
    Some(ShardSpec {
        grid: CoreRange { start, end },
        shape,
        orientation,
    })
}

fn allocate(a: &mut Allocator, l: &BufferLayout) -> Result<u64, AllocError> {
    a.allocate(
        l.buffer_type(),
        l.total_size(),
        l.size_per_bank(),
        l.banks(),
    )
}

fn locations(l: &BufferLayout) -> Vec<(u32, u64)> {
    (0..l.num_pages()).map(|p| l.page_location(p)).collect()
}

#[test]
fn dram_allocates_bottom_up() {
    let mut a = allocator();
    // Sizes are per bank; 100 rounds up to 128 (DRAM alignment 32), 0 takes one unit.
    assert_eq!(a.allocate(BufferType::Dram, 600, 100, 6), Ok(1024));
    assert_eq!(a.allocate(BufferType::Dram, 384, 64, 6), Ok(1024 + 128));
    assert_eq!(a.allocate(BufferType::Dram, 0, 0, 6), Ok(1024 + 128 + 64));
    assert_eq!(
        a.allocate(BufferType::Dram, 32, 32, 1),
        Ok(1024 + 128 + 64 + 32)
    );
    let s = a.statistics(BufferType::Dram);
    assert_eq!(s.allocated_bytes, 128 + 64 + 32 + 32);
    assert_eq!(s.live_buffers, 4);
    assert_eq!(s.total_bytes, TRACE_BASE - DRAM_BASE);
    assert_eq!(s.free_bytes, TRACE_BASE - DRAM_BASE - 256);
    assert_eq!(s.largest_free_block, TRACE_BASE - (DRAM_BASE + 256));
}

#[test]
fn l1_allocates_top_down() {
    let mut a = allocator();
    // 100 rounds up to 112 (L1 alignment 16).
    assert_eq!(a.allocate(BufferType::L1, 6400, 100, 64), Ok(L1_TOP - 112));
    assert_eq!(a.allocate(BufferType::L1, 64, 64, 1), Ok(L1_TOP - 112 - 64));
    assert_eq!(
        a.allocate(BufferType::L1, 0, 0, 64),
        Ok(L1_TOP - 112 - 64 - 16)
    );
    let s = a.statistics(BufferType::L1);
    assert_eq!(s.allocated_bytes, 192);
    assert_eq!(s.free_bytes, L1_TOP - L1_BASE - 192);
    assert_eq!(s.free_blocks, 1);
}

#[test]
fn first_fit_picks_the_first_hole_that_fits() {
    // Bottom-up over [0, 1024): buffers at 0 (64), 64 (128), 192 (64), 256 (256), 512 (64).
    let mut b = BankAllocator::<16>::new(0, 1024, 16, Direction::BottomUp).unwrap();
    let addrs: Vec<u64> = [64, 128, 64, 256, 64]
        .iter()
        .map(|&s| b.allocate(s).unwrap())
        .collect();
    assert_eq!(addrs, [0, 64, 192, 256, 512]);
    assert_eq!(b.deallocate(64), Ok(128));
    assert_eq!(b.deallocate(256), Ok(256));
    // Holes: [64, 192) of 128, [256, 512) of 256, [576, 1024) of 448.
    assert_eq!(b.allocate(192), Ok(256), "the 128 B hole is too small");
    assert_eq!(b.allocate(96), Ok(64), "the lowest hole that fits");
    assert_eq!(
        b.allocate(48),
        Ok(448),
        "the rest of the 256 B hole: 256 + 192"
    );

    // Top-down over [0, 1024): buffers at 960 (64), 832 (128), 768 (64), 512 (256), 448 (64).
    let mut t = BankAllocator::<16>::new(0, 1024, 16, Direction::TopDown).unwrap();
    let addrs: Vec<u64> = [64, 128, 64, 256, 64]
        .iter()
        .map(|&s| t.allocate(s).unwrap())
        .collect();
    assert_eq!(addrs, [960, 832, 768, 512, 448]);
    t.deallocate(832).unwrap();
    t.deallocate(512).unwrap();
    // Holes: [0, 448) of 448, [512, 768) of 256, [832, 960) of 128.
    assert_eq!(
        t.allocate(192),
        Ok(768 - 192),
        "the highest hole that fits, its high end"
    );
    assert_eq!(t.allocate(96), Ok(960 - 96));
    assert_eq!(
        t.allocate(300),
        Ok(448 - 304),
        "only the bottom hole holds 304 B"
    );
}

#[test]
fn free_merges_adjacent_blocks() {
    let mut b = BankAllocator::<8>::new(0, 1024, 16, Direction::BottomUp).unwrap();
    for expected in [0, 256, 512, 768] {
        assert_eq!(b.allocate(256), Ok(expected));
    }
    b.deallocate(256).unwrap();
    b.deallocate(768).unwrap();
    // Two 256 B holes: 512 B fits neither.
    assert_eq!(
        b.allocate(512),
        Err(AllocError::NoFreeBlock {
            size: 512,
            largest_free: 256
        })
    );
    assert_eq!(b.statistics().free_blocks, 2);
    // Freeing the buffer between them merges all three into [256, 1024).
    b.deallocate(512).unwrap();
    let s = b.statistics();
    assert_eq!(
        (s.free_blocks, s.largest_free_block, s.free_bytes),
        (1, 768, 768)
    );
    assert_eq!(b.free_blocks().collect::<Vec<_>>(), [(256, 768)]);
    assert_eq!(b.allocate(768), Ok(256));
    assert_eq!(b.statistics().free_bytes, 0);
    // Freeing the first buffer merges nothing (its neighbour is live), then everything merges.
    b.deallocate(0).unwrap();
    b.deallocate(256).unwrap();
    assert_eq!(b.free_blocks().collect::<Vec<_>>(), [(0, 1024)]);
}

#[test]
fn freeing_an_output_then_allocating_the_same_spec_gives_the_same_address() {
    let mut a = allocator();
    let spec = shard((0, 0), (7, 0), [64, 64], ShardOrientation::RowMajor);
    let input = layout(
        [1, 1, 512, 64],
        DataFormat::Float16B,
        TensorLayout::RowMajor,
        BufferType::L1,
        MemoryLayout::HeightSharded,
        spec,
    )
    .unwrap();
    // 64 rows of 64 bf16 (128 B) per shard: 8192 B per bank, over 8 shards.
    assert_eq!((input.size_per_bank(), input.banks()), (8192, 8));
    let output = tiles_bf16([1, 1, 512, 64], BufferType::L1);
    // 32 tiles over 64 banks: one tile (2048 B) per bank.
    assert_eq!(output.size_per_bank(), 2048);

    let x = allocate(&mut a, &input).unwrap();
    assert_eq!(x, L1_TOP - 8192);
    let y = allocate(&mut a, &output).unwrap();
    assert_eq!(y, L1_TOP - 8192 - 2048);
    // The output freed and reallocated with nothing in between comes back in place.
    a.deallocate(BufferType::L1, y).unwrap();
    assert_eq!(allocate(&mut a, &output), Ok(y));
    // The trace pattern: force-free the compile-run input, then allocate the persistent one.
    a.deallocate(BufferType::L1, x).unwrap();
    assert_eq!(allocate(&mut a, &input), Ok(x));

    // Same for DRAM, bottom-up.
    let d = tiles_bf16([1, 1, 64, 64], BufferType::Dram);
    let d0 = allocate(&mut a, &d).unwrap();
    let d1 = allocate(&mut a, &d).unwrap();
    assert_eq!((d0, d1), (DRAM_BASE, DRAM_BASE + 2048));
    a.deallocate(BufferType::Dram, d1).unwrap();
    assert_eq!(allocate(&mut a, &d), Ok(d1));
    a.deallocate(BufferType::Dram, d0).unwrap();
    assert_eq!(allocate(&mut a, &d), Ok(d0));
}

#[test]
fn out_of_memory_message() {
    let mut a = allocator();
    // 64 x 680 tiles of bf16 over 64 L1 banks: 680 tiles (680 * 2048 = 1392640 B) per bank,
    // 43520 * 2048 = 89128960 B in all; the L1 region has 1384448 B per bank.
    let big = tiles_bf16([1, 1, 2048, 21760], BufferType::L1);
    assert_eq!(big.num_pages(), 43520);
    assert_eq!(big.total_size(), 89_128_960);
    assert_eq!(big.size_per_bank(), 1_392_640);
    assert_eq!(big.banks(), 64);
    let err = allocate(&mut a, &big).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Out of Memory: Not enough space to allocate 89128960 B L1 buffer across 64 banks, \
         where each bank needs to store 1392640 B"
    );
    // 676 tiles per bank (1384448 B) fill the region exactly.
    let exact = tiles_bf16([1, 1, 2048, 21632], BufferType::L1);
    assert_eq!(exact.size_per_bank(), 1_384_448);
    assert_eq!(allocate(&mut a, &exact), Ok(L1_BASE));
    assert_eq!(a.statistics(BufferType::L1).free_bytes, 0);

    // DRAM: 6 banks, 2147477152 B per bank in the DRAM region.
    let err = a
        .allocate(BufferType::Dram, 12_884_901_888, 2_147_483_648, 6)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Out of Memory: Not enough space to allocate 12884901888 B DRAM buffer across 6 banks, \
         where each bank needs to store 2147483648 B"
    );
}

#[test]
fn l1_small_region_is_separate() {
    let mut a = allocator();
    assert_eq!(
        (a.base(BufferType::L1Small), a.end(BufferType::L1Small)),
        (L1_SMALL_BASE, L1_BASE)
    );
    assert_eq!(
        (a.base(BufferType::L1), a.end(BufferType::L1)),
        (L1_BASE, L1_TOP)
    );
    assert_eq!(a.num_banks(BufferType::L1Small), 64);
    assert_eq!(a.alignment(BufferType::L1Small), 16);
    // Fill L1 completely: L1_SMALL still allocates, top-down from its own top.
    assert_eq!(a.allocate(BufferType::L1, 0, 1_384_448, 64), Ok(L1_BASE));
    assert_eq!(
        a.allocate(BufferType::L1Small, 64 * 1024, 1024, 64),
        Ok(L1_BASE - 1024)
    );
    assert_eq!(
        a.allocate(BufferType::L1Small, 64 * 1024, 1024, 64),
        Ok(L1_BASE - 2048)
    );
    assert_eq!(
        a.allocate(BufferType::L1, 1024, 16, 64)
            .unwrap_err()
            .to_string(),
        "Out of Memory: Not enough space to allocate 1024 B L1 buffer across 64 banks, where \
         each bank needs to store 16 B"
    );
    // 16384 - 2048 = 14336 B left in L1_SMALL; 14352 does not fit.
    assert_eq!(a.statistics(BufferType::L1Small).free_bytes, 14_336);
    assert_eq!(
        a.allocate(BufferType::L1Small, 14_352, 14_352, 1)
            .unwrap_err()
            .to_string(),
        "Out of Memory: Not enough space to allocate 14352 B L1_SMALL buffer across 1 banks, \
         where each bank needs to store 14352 B"
    );
    assert_eq!(
        a.allocate(BufferType::L1Small, 14_336, 14_336, 1),
        Ok(L1_SMALL_BASE)
    );
    // Without l1_small_size the region is empty and L1 starts at the unreserved base.
    let b = Allocator::new(&AllocatorConfig {
        l1_small_size: 0,
        ..wormhole()
    })
    .unwrap();
    assert_eq!(b.base(BufferType::L1Small), b.end(BufferType::L1Small));
    assert_eq!(b.base(BufferType::L1), L1_SMALL_BASE);
}

#[test]
fn trace_region_is_carved_from_the_top_of_dram() {
    let mut a = allocator();
    assert_eq!(
        (a.base(BufferType::Trace), a.end(BufferType::Trace)),
        (TRACE_BASE, DRAM_TOP)
    );
    assert_eq!(
        (a.base(BufferType::Dram), a.end(BufferType::Dram)),
        (DRAM_BASE, TRACE_BASE)
    );
    assert_eq!(a.statistics(BufferType::Trace).total_bytes, 5472);
    // Trace buffers go bottom-up inside the region.
    assert_eq!(
        a.allocate(BufferType::Trace, 12_000, 2000, 6),
        Ok(TRACE_BASE)
    );
    assert_eq!(
        a.allocate(BufferType::Trace, 6_000, 1000, 6),
        Ok(TRACE_BASE + 2016)
    );
    // 5472 - 2016 - 1024 = 2432 B left.
    assert_eq!(
        a.allocate(BufferType::Trace, 14_784, 2464, 6)
            .unwrap_err()
            .to_string(),
        "Out of Memory: Not enough space to allocate 14784 B TRACE buffer across 6 banks, where \
         each bank needs to store 2464 B"
    );
    // DRAM buffers never reach into the trace region.
    assert_eq!(
        a.allocate(BufferType::Dram, 0, TRACE_BASE - DRAM_BASE, 6),
        Ok(DRAM_BASE)
    );
    assert!(a.allocate(BufferType::Dram, 0, 32, 6).is_err());

    // No trace region: TRACE is empty at the top of the bank and DRAM reaches it.
    let b = Allocator::new(&AllocatorConfig {
        trace_region_size: 0,
        ..wormhole()
    })
    .unwrap();
    assert_eq!(
        (b.base(BufferType::Trace), b.end(BufferType::Trace)),
        (DRAM_TOP, DRAM_TOP)
    );
    assert_eq!(b.end(BufferType::Dram), DRAM_TOP);
    // A trace region that does not fit is rejected with the sizes.
    let err = Allocator::new(&AllocatorConfig {
        dram_bank_size: 4096,
        trace_region_size: 6 * 4096,
        ..wormhole()
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "TRACE region of 4096 B per bank does not fit: a 4096 B bank has 3072 B above its \
         reserved 1024 B"
    );
}

#[test]
fn bad_allocator_configs_are_rejected() {
    let cases = [
        (
            AllocatorConfig {
                l1_small_size: 2 << 20,
                ..wormhole()
            },
            "L1_SMALL region of 2097152 B per bank does not fit: a 1499136 B bank has 1400832 B \
             above its reserved 98304 B",
        ),
        (
            AllocatorConfig {
                l1_unreserved_base: 2 << 20,
                ..wormhole()
            },
            "L1 unreserved base 0x200000 is beyond the bank size of 1499136 B",
        ),
        (
            AllocatorConfig {
                dram_alignment: 48,
                ..wormhole()
            },
            "dram_alignment must be a power of two, found 48",
        ),
        (
            AllocatorConfig {
                dram_banks: 0,
                ..wormhole()
            },
            "dram_banks must be at least 1, found 0",
        ),
        (
            AllocatorConfig {
                l1_unreserved_base: 100,
                ..wormhole()
            },
            "l1_unreserved_base 0x64 is not a multiple of the alignment 16",
        ),
    ];
    for (config, message) in cases {
        assert_eq!(Allocator::new(&config).unwrap_err().to_string(), message);
    }
}

#[test]
fn deallocating_an_unknown_address_is_an_error() {
    let mut a = allocator();
    assert_eq!(
        a.deallocate(BufferType::Dram, 0x1234)
            .unwrap_err()
            .to_string(),
        "no DRAM buffer is allocated at address 0x1234"
    );
    let x = a.allocate(BufferType::L1, 0, 4096, 64).unwrap();
    // Inside the buffer, not at its start.
    assert_eq!(
        a.deallocate(BufferType::L1, x + 16),
        Err(AllocError::NotAllocated {
            region: Some(BufferType::L1),
            addr: x + 16
        })
    );
    // In the wrong region.
    assert!(a.deallocate(BufferType::L1Small, x).is_err());
    assert_eq!(a.deallocate(BufferType::L1, x), Ok(()));
    // Twice.
    assert_eq!(
        a.deallocate(BufferType::L1, x).unwrap_err().to_string(),
        format!("no L1 buffer is allocated at address {x:#x}")
    );
    // Below the region and far past it.
    assert!(a.deallocate(BufferType::L1, 0).is_err());
    assert!(a.deallocate(BufferType::Dram, u64::MAX).is_err());
}

#[test]
fn a_buffer_spans_one_to_all_banks_of_its_type() {
    let mut a = allocator();
    assert_eq!(
        a.allocate(BufferType::Dram, 64, 64, 7)
            .unwrap_err()
            .to_string(),
        "a DRAM buffer spans 1 to 6 banks, found 7"
    );
    assert!(a.allocate(BufferType::L1, 64, 64, 0).is_err());
    assert!(a.allocate(BufferType::L1, 64, 64, 64).is_ok());
}

#[test]
fn running_out_of_block_list_capacity_is_an_error() {
    // Four blocks: three buffers and the free rest.
    let mut b = BankAllocator::<4>::new(0, 1024, 16, Direction::BottomUp).unwrap();
    for expected in [0, 16, 32] {
        assert_eq!(b.allocate(16), Ok(expected));
    }
    let err = b.allocate(16).unwrap_err();
    assert_eq!(
        err,
        AllocError::BlockListFull {
            region: None,
            capacity: 4
        }
    );
    assert_eq!(
        err.to_string(),
        "allocator block list is full: 4 blocks (live buffers and free holes) are in use; free \
         some buffers"
    );
    // Taking the whole free rest splits nothing, so it still works.
    assert_eq!(b.allocate(1024 - 48), Ok(48));
    assert_eq!(b.statistics().free_bytes, 0);
    // Freeing never needs a block.
    for addr in [16, 48, 0, 32] {
        b.deallocate(addr).unwrap();
    }
    assert_eq!(b.free_blocks().collect::<Vec<_>>(), [(0, 1024)]);
}

#[test]
fn the_allocator_is_a_few_kib() {
    let size = core::mem::size_of::<Allocator>();
    assert!(size <= 9 * 1024, "Allocator is {size} B");
    assert_eq!(MAX_BLOCKS, 512);
}

#[test]
fn random_allocate_free_never_overlaps_and_freeing_everything_restores_one_block() {
    fn round_up(size: u64, alignment: u64) -> u64 {
        size.div_ceil(alignment).max(1) * alignment
    }
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut a = allocator();
    // Small DRAM and TRACE buffers, L1 buffers up to ~24 KiB so L1 fills up and frees.
    let max_size = |ty: BufferType| match ty {
        // About 128 average buffers fill the 2 GiB, well inside the 512-block list.
        BufferType::Dram => 32 << 20,
        BufferType::L1 => 24 * 1024,
        BufferType::L1Small => 1024,
        BufferType::Trace => 600,
    };
    let mut live: Vec<(BufferType, u64, u64)> = Vec::new();
    let (mut allocations, mut failures) = (0, 0);
    for _ in 0..20_000 {
        let ty = BufferType::ALL[(rng.next() % 4) as usize];
        let free_one = !live.is_empty() && rng.next() % 100 < 45;
        if free_one {
            let i = (rng.next() % live.len() as u64) as usize;
            let (ty, addr, size) = live.swap_remove(i);
            assert_eq!(a.region(ty).clone().deallocate(addr), Ok(size));
            a.deallocate(ty, addr).unwrap();
            continue;
        }
        let size = rng.next() % max_size(ty);
        let rounded = round_up(size, a.alignment(ty));
        let before = a.statistics(ty);
        match a.allocate(ty, size, size, 1) {
            Ok(addr) => {
                allocations += 1;
                assert!(addr >= a.base(ty) && addr + rounded <= a.end(ty));
                assert_eq!(addr % a.alignment(ty), 0);
                for &(t, other, other_size) in &live {
                    assert!(
                        t != ty || addr + rounded <= other || other + other_size <= addr,
                        "{ty} [{addr}, +{rounded}) overlaps [{other}, +{other_size})"
                    );
                }
                live.push((ty, addr, rounded));
            }
            Err(AllocError::OutOfMemory { .. }) => {
                failures += 1;
                assert!(before.largest_free_block < rounded);
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
        let s = a.statistics(ty);
        let in_use: u64 = live.iter().filter(|b| b.0 == ty).map(|b| b.2).sum();
        assert_eq!(s.allocated_bytes, in_use);
        assert_eq!(s.allocated_bytes + s.free_bytes, s.total_bytes);
    }
    assert!(
        allocations > 5000 && failures > 100,
        "{allocations} {failures}"
    );
    while let Some((ty, addr, _)) = live.pop() {
        a.deallocate(ty, addr).unwrap();
    }
    for ty in BufferType::ALL {
        let s = a.statistics(ty);
        assert_eq!((s.free_blocks, s.live_buffers), (1, 0), "{ty}");
        assert_eq!(s.free_bytes, a.end(ty) - a.base(ty), "{ty}");
        assert_eq!(s.largest_free_block, s.free_bytes, "{ty}");
    }
}

#[test]
fn interleaved_page_i_in_bank_i_mod_banks() {
    // 2 x 4 tiles of bf16 over 6 DRAM banks: page i in bank i % 6 at (i / 6) * 2048.
    let d = tiles_bf16([1, 1, 64, 128], BufferType::Dram);
    assert_eq!(
        (d.page_size(), d.aligned_page_size(), d.num_pages()),
        (2048, 2048, 8)
    );
    assert_eq!(
        (d.banks(), d.size_per_bank(), d.total_size()),
        (6, 4096, 16384)
    );
    assert_eq!(
        locations(&d),
        [
            (0, 0),
            (1, 0),
            (2, 0),
            (3, 0),
            (4, 0),
            (5, 0),
            (0, 2048),
            (1, 2048)
        ]
    );
    // [2, 3, 64, 96]: H = 384 (12 tile rows), W = 96 (3 tile columns), 36 tiles of Float32
    // (4096 B) over 64 L1 banks; page 35 in bank 35 at 0.
    let l = layout(
        [2, 3, 64, 96],
        DataFormat::Float32,
        TensorLayout::Tile,
        BufferType::L1,
        MemoryLayout::Interleaved,
        None,
    )
    .unwrap();
    assert_eq!(
        (l.num_pages(), l.banks(), l.size_per_bank()),
        (36, 64, 4096)
    );
    assert_eq!(l.page_location(35), (35, 0));
    // 200 tiles over 64 banks: 4 per bank at most; page 199 = 3 * 64 + 7.
    let l = layout(
        [1, 1, 320, 640],
        DataFormat::Bfp8B,
        TensorLayout::Tile,
        BufferType::L1,
        MemoryLayout::Interleaved,
        None,
    )
    .unwrap();
    assert_eq!(
        (l.page_size(), l.num_pages(), l.size_per_bank()),
        (1088, 200, 4 * 1088)
    );
    assert_eq!(l.page_location(199), (7, 3 * 1088));
    assert_eq!(l.page_location(64), (0, 1088));
    assert_eq!(l.checked_page_location(200), None);
    assert_eq!(l.checked_page_location(199), Some((7, 3264)));
}

#[test]
fn height_sharded_pages_go_to_consecutive_cores() {
    // 4 x 2 tiles, shards of 2 x 2 tiles: shard 0 (tile rows 0-1) on core (1, 1) = L1 bank 9,
    // shard 1 on core (2, 1) = bank 10; in a shard, tiles row-major.
    let l = layout(
        [1, 1, 128, 64],
        DataFormat::Float16B,
        TensorLayout::Tile,
        BufferType::L1,
        MemoryLayout::HeightSharded,
        shard((1, 1), (2, 1), [64, 64], ShardOrientation::RowMajor),
    )
    .unwrap();
    assert_eq!((l.banks(), l.size_per_bank(), l.num_pages()), (2, 8192, 8));
    assert_eq!(
        locations(&l),
        [
            (9, 0),
            (9, 2048),
            (9, 4096),
            (9, 6144),
            (10, 0),
            (10, 2048),
            (10, 4096),
            (10, 6144)
        ]
    );
    // COL_MAJOR over (1, 1)-(2, 2): shard 1 goes down y first, to core (1, 2) = bank 17.
    let l = layout(
        [1, 1, 128, 64],
        DataFormat::Float16B,
        TensorLayout::Tile,
        BufferType::L1,
        MemoryLayout::HeightSharded,
        shard((1, 1), (2, 2), [64, 64], ShardOrientation::ColMajor),
    )
    .unwrap();
    assert_eq!(l.page_location(4), (17, 0));
    assert_eq!(l.page_location(7), (17, 6144));
    // DRAM: the grid's x is the DRAM bank.
    let d = layout(
        [1, 1, 64, 64],
        DataFormat::Float16B,
        TensorLayout::Tile,
        BufferType::Dram,
        MemoryLayout::HeightSharded,
        shard((3, 0), (4, 0), [32, 64], ShardOrientation::RowMajor),
    )
    .unwrap();
    assert_eq!(locations(&d), [(3, 0), (3, 2048), (4, 0), (4, 2048)]);
}

#[test]
fn width_sharded_pages_go_to_consecutive_cores() {
    // 2 x 4 tiles, shards of 2 x 2 tiles (tile columns 0-1, 2-3), COL_MAJOR over (0, 0)-(0, 1):
    // shard 0 on core (0, 0) = bank 0, shard 1 on core (0, 1) = bank 8.
    let l = layout(
        [1, 1, 64, 128],
        DataFormat::Float16B,
        TensorLayout::Tile,
        BufferType::L1,
        MemoryLayout::WidthSharded,
        shard((0, 0), (0, 1), [64, 64], ShardOrientation::ColMajor),
    )
    .unwrap();
    assert_eq!((l.banks(), l.size_per_bank()), (2, 8192));
    assert_eq!(
        locations(&l),
        [
            (0, 0),
            (0, 2048),
            (8, 0),
            (8, 2048),
            (0, 4096),
            (0, 6144),
            (8, 4096),
            (8, 6144)
        ]
    );
}

#[test]
fn block_sharded_shard_i_j_goes_to_core_j_i() {
    // 2 x 4 tiles, shards of 1 x 2 tiles: 2 x 2 shards on (2, 3)-(3, 4).
    // ROW_MAJOR: shard (i, j) on core (2 + j, 3 + i): (0,0) bank 26, (0,1) 27, (1,0) 34,
    // (1,1) 35.
    let row = layout(
        [1, 1, 64, 128],
        DataFormat::Float16B,
        TensorLayout::Tile,
        BufferType::L1,
        MemoryLayout::BlockSharded,
        shard((2, 3), (3, 4), [32, 64], ShardOrientation::RowMajor),
    )
    .unwrap();
    assert_eq!((row.banks(), row.size_per_bank()), (4, 4096));
    assert_eq!(
        locations(&row),
        [
            (26, 0),
            (26, 2048),
            (27, 0),
            (27, 2048),
            (34, 0),
            (34, 2048),
            (35, 0),
            (35, 2048)
        ]
    );
    // COL_MAJOR: shard (i, j) on core (2 + i, 3 + j): (0,1) bank 34, (1,0) bank 27.
    let col = layout(
        [1, 1, 64, 128],
        DataFormat::Float16B,
        TensorLayout::Tile,
        BufferType::L1,
        MemoryLayout::BlockSharded,
        shard((2, 3), (3, 4), [32, 64], ShardOrientation::ColMajor),
    )
    .unwrap();
    let banks: Vec<u32> = locations(&col).iter().map(|l| l.0).collect();
    assert_eq!(banks, [26, 26, 34, 34, 27, 27, 35, 35]);
}

#[test]
fn uneven_last_shard_is_partial() {
    // 3 tile rows in shards of 2: shard 1 holds one tile; size per bank is a full shard.
    let l = layout(
        [1, 1, 96, 32],
        DataFormat::Float16B,
        TensorLayout::Tile,
        BufferType::L1,
        MemoryLayout::HeightSharded,
        shard((0, 0), (1, 0), [64, 32], ShardOrientation::RowMajor),
    )
    .unwrap();
    assert_eq!((l.num_pages(), l.banks(), l.size_per_bank()), (3, 2, 4096));
    assert_eq!(locations(&l), [(0, 0), (0, 2048), (1, 0)]);
    // ROW_MAJOR width sharding of 10 Float32 columns in shards 4 wide: pieces of 4, 4 and 2
    // columns; every page is one 16 B shard row. Page (row r, piece c) = shard c, row r.
    let l = layout(
        [1, 1, 2, 10],
        DataFormat::Float32,
        TensorLayout::RowMajor,
        BufferType::L1,
        MemoryLayout::WidthSharded,
        shard((0, 0), (2, 0), [2, 4], ShardOrientation::RowMajor),
    )
    .unwrap();
    assert_eq!(
        (l.page_size(), l.aligned_page_size(), l.num_pages()),
        (16, 16, 6)
    );
    assert_eq!((l.banks(), l.size_per_bank(), l.total_size()), (3, 32, 96));
    assert_eq!(
        locations(&l),
        [(0, 0), (1, 0), (2, 0), (0, 16), (1, 16), (2, 16)]
    );
    // Uneven block sharding: 3 x 3 tiles in 2 x 2 tile shards on a 2 x 2 grid.
    let l = layout(
        [1, 1, 96, 96],
        DataFormat::Float16B,
        TensorLayout::Tile,
        BufferType::L1,
        MemoryLayout::BlockSharded,
        shard((0, 0), (1, 1), [64, 64], ShardOrientation::RowMajor),
    )
    .unwrap();
    assert_eq!((l.num_pages(), l.banks(), l.size_per_bank()), (9, 4, 8192));
    // Tile (2, 2): shard (1, 1) on core (1, 1) = bank 9, index 0 in its shard.
    assert_eq!(l.page_location(8), (9, 0));
    // Tile (1, 2): shard (0, 1) on core (1, 0) = bank 1, index (1 * 2 + 0) = 2.
    assert_eq!(l.page_location(5), (1, 4096));
}

#[test]
fn row_major_pages_are_rows() {
    // H = 1 * 2 * 5 = 10 rows of 10 bf16: 20 B pages, 32 B apart in DRAM; row 7 in bank 1.
    let d = layout(
        [1, 2, 5, 10],
        DataFormat::Float16B,
        TensorLayout::RowMajor,
        BufferType::Dram,
        MemoryLayout::Interleaved,
        None,
    )
    .unwrap();
    assert_eq!(
        (d.page_size(), d.aligned_page_size(), d.num_pages()),
        (20, 32, 10)
    );
    assert_eq!((d.banks(), d.size_per_bank(), d.total_size()), (6, 64, 200));
    assert_eq!(d.page_location(7), (1, 32));
    assert_eq!(d.page_location(5), (5, 0));
    // Height sharded in L1: rows of 3 UInt8 (3 B, 16 B apart), 4 rows a shard.
    let l = layout(
        [1, 1, 8, 3],
        DataFormat::UInt8,
        TensorLayout::RowMajor,
        BufferType::L1,
        MemoryLayout::HeightSharded,
        shard((0, 2), (1, 2), [4, 3], ShardOrientation::RowMajor),
    )
    .unwrap();
    assert_eq!(
        (l.page_size(), l.aligned_page_size(), l.size_per_bank()),
        (3, 16, 64)
    );
    assert_eq!(l.page_location(3), (16, 48));
    assert_eq!(l.page_location(4), (17, 0));
    // Shapes need not be tile-aligned in ROW_MAJOR.
    assert!(layout(
        [1, 1, 3, 5],
        DataFormat::Float32,
        TensorLayout::RowMajor,
        BufferType::L1,
        MemoryLayout::Interleaved,
        None
    )
    .is_ok());
}

#[test]
fn bad_layouts_are_rejected() {
    let f = DataFormat::Float16B;
    let (tile, rm) = (TensorLayout::Tile, TensorLayout::RowMajor);
    let (l1, dram) = (BufferType::L1, BufferType::Dram);
    let row = ShardOrientation::RowMajor;
    let cases: Vec<(Result<BufferLayout, LayoutError>, &str)> =
        vec![
        (
            layout([1, 1, 30, 64], f, tile, l1, MemoryLayout::Interleaved, None),
            "TILE layout needs a height and width that are multiples of 32: shape [1, 1, 30, 64] \
             is 30 x 64",
        ),
        (
            layout([1, 3, 32, 48], f, tile, l1, MemoryLayout::Interleaved, None),
            "TILE layout needs a height and width that are multiples of 32: shape [1, 3, 32, 48] \
             is 96 x 48",
        ),
        (
            layout(
                [1, 1, 32, 32],
                DataFormat::Bfp8B,
                rm,
                l1,
                MemoryLayout::Interleaved,
                None,
            ),
            "Bfp8_b is a block-float format and has no ROW_MAJOR layout: expected TILE",
        ),
        (
            layout([1, 0, 32, 32], f, rm, l1, MemoryLayout::Interleaved, None),
            "tensor shape [1, 0, 32, 32] has a zero dimension",
        ),
        (
            layout(
                [1, 1, 64, 32],
                f,
                tile,
                l1,
                MemoryLayout::HeightSharded,
                shard((7, 0), (8, 0), [32, 32], row),
            ),
            "L1 shard grid (7, 0)-(8, 0) lies outside the 8 x 8 compute grid",
        ),
        (
            layout(
                [1, 1, 128, 32],
                f,
                tile,
                l1,
                MemoryLayout::HeightSharded,
                shard((0, 0), (2, 0), [32, 32], row),
            ),
            "4 shards do not fit the 3 cores of the shard grid",
        ),
        (
            layout(
                [1, 1, 96, 64],
                f,
                tile,
                l1,
                MemoryLayout::BlockSharded,
                shard((0, 0), (1, 1), [32, 32], row),
            ),
            "3 x 2 block shards (rows x columns) do not fit the 2 x 2 shard grid with ROW_MAJOR \
             orientation",
        ),
        (
            layout(
                [1, 1, 64, 64],
                f,
                tile,
                dram,
                MemoryLayout::HeightSharded,
                shard((5, 0), (6, 0), [32, 64], row),
            ),
            "DRAM shard grid (5, 0)-(6, 0) must have y = 0 and x below the 6 DRAM banks",
        ),
        (
            layout(
                [1, 1, 64, 64],
                f,
                tile,
                dram,
                MemoryLayout::HeightSharded,
                shard((0, 0), (1, 1), [32, 64], row),
            ),
            "DRAM shard grid (0, 0)-(1, 1) must have y = 0 and x below the 6 DRAM banks",
        ),
        (
            layout(
                [1, 1, 64, 64],
                f,
                tile,
                l1,
                MemoryLayout::HeightSharded,
                shard((0, 0), (1, 0), [48, 64], row),
            ),
            "shard shape [48, 64] is not a multiple of the page shape [32, 32]",
        ),
        (
            layout(
                [1, 1, 64, 64],
                f,
                tile,
                l1,
                MemoryLayout::HeightSharded,
                shard((0, 0), (1, 0), [32, 32], row),
            ),
            "HEIGHT_SHARDED shard width must be the tensor's width 64, found 32",
        ),
        (
            layout(
                [1, 2, 32, 64],
                f,
                tile,
                l1,
                MemoryLayout::WidthSharded,
                shard((0, 0), (1, 0), [32, 32], row),
            ),
            "WIDTH_SHARDED shard height must be the tensor's height 64, found 32",
        ),
        (
            layout([1, 1, 64, 64], f, tile, l1, MemoryLayout::BlockSharded, None),
            "a BLOCK_SHARDED buffer needs a shard spec, found none",
        ),
        (
            layout(
                [1, 1, 64, 64],
                f,
                tile,
                l1,
                MemoryLayout::Interleaved,
                shard((0, 0), (1, 0), [32, 64], row),
            ),
            "an INTERLEAVED buffer takes no shard spec: expected none, found one",
        ),
        (
            layout(
                [1, 1, 64, 64],
                f,
                tile,
                l1,
                MemoryLayout::HeightSharded,
                shard((1, 0), (0, 0), [32, 64], row),
            ),
            "shard grid (1, 0)-(0, 0) has its start past its end",
        ),
        (
            layout(
                [1, 1, 64, 64],
                f,
                tile,
                l1,
                MemoryLayout::HeightSharded,
                shard((0, 0), (1, 0), [0, 64], row),
            ),
            "shard shape [0, 64] has a zero dimension",
        ),
    ];
    for (result, message) in cases {
        assert_eq!(result.unwrap_err().to_string(), message);
    }
    let no_banks = BankGeometry {
        dram_banks: 0,
        ..geometry()
    };
    let err = BufferLayout::new(
        [1, 1, 32, 32],
        f,
        tile,
        dram,
        MemoryLayout::Interleaved,
        None,
        no_banks,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "bank geometry field `dram_banks` must be at least 1, found 0"
    );
    // 2^33 - 2 tile rows: more pages than a u32 counts.
    let huge = layout(
        [u32::MAX, 2, 32, 32],
        f,
        tile,
        l1,
        MemoryLayout::Interleaved,
        None,
    );
    assert_eq!(
        huge,
        Err(LayoutError::TooLarge {
            what: "number of pages"
        })
    );
    let huge = layout(
        [u32::MAX, u32::MAX, u32::MAX, 32],
        f,
        rm,
        l1,
        MemoryLayout::Interleaved,
        None,
    );
    assert_eq!(huge.unwrap_err().to_string(), "tensor height is too large");
}

#[test]
fn page_location_past_the_end_does_not_panic() {
    let wide = BankGeometry {
        // 65535 * 65537 = u32::MAX L1 banks.
        compute_grid: (65535, 65537),
        l1_alignment: 1 << 40,
        ..geometry()
    };
    let specs = [
        (MemoryLayout::Interleaved, None),
        (
            MemoryLayout::HeightSharded,
            shard((9, 65535), (9, 65536), [32, 32], ShardOrientation::RowMajor),
        ),
        (
            MemoryLayout::WidthSharded,
            shard((65533, 7), (65534, 7), [64, 32], ShardOrientation::ColMajor),
        ),
        (
            MemoryLayout::BlockSharded,
            shard((65533, 5), (65534, 6), [32, 32], ShardOrientation::ColMajor),
        ),
    ];
    for (mem, spec) in specs {
        let width = if mem == MemoryLayout::HeightSharded {
            32
        } else {
            64
        };
        let l = BufferLayout::new(
            [1, 1, 64, width],
            DataFormat::Float16B,
            TensorLayout::Tile,
            BufferType::L1,
            mem,
            spec,
            wide,
        )
        .unwrap();
        for page in [l.num_pages(), u32::MAX / 2, u32::MAX] {
            let _ = l.page_location(page);
            assert_eq!(l.checked_page_location(page), None);
        }
    }
}

#[test]
fn persistent_dram_memory_config_splits_evenly_over_a_dram_row() {
    let grid = |x0, x1| CoreRange {
        start: (x0, 0),
        end: (x1, 0),
    };
    // Upstream's test: DRAM grid (2, 1), a 64 x 64 tensor.
    let (mem, spec) =
        persistent_dram_memory_config([1, 1, 64, 64], MemoryLayout::WidthSharded, (2, 1)).unwrap();
    assert_eq!(mem, MemoryLayout::WidthSharded);
    assert_eq!(spec.shape, [64, 32]);
    assert_eq!(spec.grid, grid(0, 1));
    assert_eq!(spec.orientation, ShardOrientation::RowMajor);
    let (mem, spec) =
        persistent_dram_memory_config([1, 1, 64, 64], MemoryLayout::HeightSharded, (2, 1)).unwrap();
    assert_eq!(
        (mem, spec.shape, spec.grid),
        (MemoryLayout::HeightSharded, [32, 64], grid(0, 1))
    );
    // A 2D DRAM grid is an error.
    let err = persistent_dram_memory_config([1, 1, 64, 64], MemoryLayout::WidthSharded, (2, 2))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "only a 1D DRAM grid is supported (dram_grid_y must be 1): expected 2 x 1, found 2 x 2"
    );
    // Six banks: 512 rows split over 4 (the largest count <= 6 dividing 512), 64 columns too.
    let (_, spec) =
        persistent_dram_memory_config([1, 1, 512, 64], MemoryLayout::HeightSharded, (6, 1))
            .unwrap();
    assert_eq!((spec.shape, spec.grid), ([128, 64], grid(0, 3)));
    let (_, spec) =
        persistent_dram_memory_config([1, 1, 512, 64], MemoryLayout::WidthSharded, (6, 1)).unwrap();
    assert_eq!((spec.shape, spec.grid), ([512, 16], grid(0, 3)));
    // 96 rows: 6 divides.
    let (_, spec) =
        persistent_dram_memory_config([1, 1, 96, 32], MemoryLayout::HeightSharded, (6, 1)).unwrap();
    assert_eq!((spec.shape, spec.grid), ([16, 32], grid(0, 5)));
    // The outer dimensions count in the height: [2, 1, 32, 32] is 64 rows.
    let (_, spec) =
        persistent_dram_memory_config([2, 1, 32, 32], MemoryLayout::HeightSharded, (2, 1)).unwrap();
    assert_eq!(spec.shape, [32, 32]);
    // Other strategies are errors.
    assert_eq!(
        persistent_dram_memory_config([1, 1, 64, 64], MemoryLayout::BlockSharded, (2, 1))
            .unwrap_err()
            .to_string(),
        "persistent DRAM tensors are WIDTH_SHARDED or HEIGHT_SHARDED, found BLOCK_SHARDED"
    );
    assert!(
        persistent_dram_memory_config([1, 1, 64, 64], MemoryLayout::Interleaved, (2, 1)).is_err()
    );
    // The spec makes a valid ROW_MAJOR DRAM buffer: 512 rows of 64 bf16 on 4 banks.
    let (mem, spec) =
        persistent_dram_memory_config([1, 1, 512, 64], MemoryLayout::HeightSharded, (6, 1))
            .unwrap();
    let l = layout(
        [1, 1, 512, 64],
        DataFormat::Float16B,
        TensorLayout::RowMajor,
        BufferType::Dram,
        mem,
        Some(spec),
    )
    .unwrap();
    assert_eq!((l.banks(), l.size_per_bank()), (4, 128 * 128));
    assert_eq!(l.page_location(128), (1, 0));
}

#[test]
fn enums_have_the_c_values() {
    assert_eq!(
        [
            BufferType::Dram as u32,
            BufferType::L1 as u32,
            BufferType::L1Small as u32,
            BufferType::Trace as u32
        ],
        [0, 1, 2, 3]
    );
    assert_eq!(
        [
            BufferType::Dram.name(),
            BufferType::L1.name(),
            BufferType::L1Small.name(),
            BufferType::Trace.name()
        ],
        ["DRAM", "L1", "L1_SMALL", "TRACE"]
    );
    assert_eq!(
        [TensorLayout::Tile as u32, TensorLayout::RowMajor as u32],
        [0, 1]
    );
    assert_eq!(
        [
            MemoryLayout::Interleaved as u32,
            MemoryLayout::HeightSharded as u32,
            MemoryLayout::WidthSharded as u32,
            MemoryLayout::BlockSharded as u32
        ],
        [0, 1, 2, 3]
    );
    assert_eq!(
        [
            ShardOrientation::RowMajor as u32,
            ShardOrientation::ColMajor as u32
        ],
        [0, 1]
    );
    assert_eq!(MemoryLayout::from_u32(2), Some(MemoryLayout::WidthSharded));
    assert_eq!(BufferType::from_u32(4), None);
}
