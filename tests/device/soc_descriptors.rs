//! Buda SoC descriptors: every descriptor upstream ships (tests/corpus/soc_descriptors) loads
//! and gives the grid, worker grid, DRAM channels and sizes and L1 size its YAML states. The
//! expected values are read here from the YAML text by line scanning, independently of the
//! library's YAML reader, and a table written from reading the files pins the worker grids.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ttrt::format::Arch;
use ttrt::hal::soc::{check_mask, SocArch, SocDescriptor};
use ttrt::hal::ChipGeometry;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/soc_descriptors")
}

fn descriptors() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    v
}

/// The text of top-level key `key`'s value: from after `key:` to the next line starting in
/// column 0 with a letter.
fn block<'a>(text: &'a str, key: &str) -> &'a str {
    let start = text
        .lines()
        .scan(0usize, |at, l| {
            let here = *at;
            *at += l.len() + 1;
            Some((here, l))
        })
        .find(|(_, l)| l.starts_with(&format!("{key}:")))
        .map(|(at, _)| at + key.len() + 1)
        .unwrap_or_else(|| panic!("no {key}"));
    let rest = &text[start..];
    let mut end = rest.len();
    let mut at = 0;
    for (i, l) in rest.split_inclusive('\n').enumerate() {
        if i > 0 && l.starts_with(|c: char| c.is_ascii_alphabetic()) {
            end = at;
            break;
        }
        at += l.len();
    }
    &rest[..end]
}

fn number(text: &str, key: &str) -> u64 {
    let b = block(text, key);
    let b = b.split('#').next().unwrap();
    b.trim().parse().unwrap_or_else(|_| panic!("{key}: {b:?}"))
}

/// `x_size` and `y_size` under top-level key `key`.
fn size(text: &str, key: &str) -> (u32, u32) {
    let b = block(text, key);
    let get = |k: &str| -> u32 {
        let l = b.lines().find(|l| l.trim_start().starts_with(k)).unwrap();
        l.split(':').nth(1).unwrap().trim().parse().unwrap()
    };
    (get("x_size"), get("y_size"))
}

/// Every `x-y` in a block.
fn cores(b: &str) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for tok in b.split(|c: char| !(c.is_ascii_digit() || c == '-')) {
        if let Some((x, y)) = tok.split_once('-') {
            if let (Ok(x), Ok(y)) = (x.parse(), y.parse()) {
                out.push((x, y));
            }
        }
    }
    out
}

/// DRAM channels: the inner `[` of the dram block (each channel is a list).
fn dram_channels(text: &str) -> u32 {
    let b = block(text, "dram");
    let mut depth = 0;
    let mut n = 0;
    for c in b.chars() {
        match c {
            '[' => {
                depth += 1;
                if depth == 2 {
                    n += 1;
                }
            }
            ']' => depth -= 1,
            _ => {}
        }
    }
    n
}

#[test]
fn every_shipped_descriptor_loads_with_the_values_its_yaml_states() {
    let files = descriptors();
    assert_eq!(files.len(), 21, "upstream ships 21 descriptors in device/");
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        let d = SocDescriptor::parse(&text, name).unwrap_or_else(|e| panic!("{e}"));
        let arch_name = text
            .lines()
            .find_map(|l| l.strip_prefix("arch_name:"))
            .unwrap()
            .trim();
        assert_eq!(d.arch.name(), arch_name, "{name}");
        assert_eq!(d.grid, size(&text, "grid"), "{name}");
        if text.contains("\nphysical:") {
            assert_eq!(d.physical_grid, size(&text, "physical"), "{name}");
        }
        assert_eq!(d.worker_l1_size, number(&text, "worker_l1_size"), "{name}");
        assert_eq!(d.dram_bank_size, number(&text, "dram_bank_size"), "{name}");
        assert_eq!(d.eth_l1_size, number(&text, "eth_l1_size"), "{name}");
        assert_eq!(d.dram.len() as u32, dram_channels(&text), "{name}");
        let workers = cores(block(&text, "functional_workers"));
        let xs: BTreeSet<u32> = workers.iter().map(|c| c.0).collect();
        let ys: BTreeSet<u32> = workers.iter().map(|c| c.1).collect();
        assert_eq!(d.workers.len(), workers.len(), "{name}");
        assert_eq!(
            d.worker_grid(),
            (xs.len() as u32, ys.len() as u32),
            "{name}"
        );
        assert_eq!(
            d.harvested_workers.len(),
            cores(block(&text, "harvested_workers")).len(),
            "{name}"
        );
        assert_eq!(d.eth.len(), cores(block(&text, "eth")).len(), "{name}");
        // The geometry of a chip it describes, unharvested.
        if let Some(arch) = d.arch.arch() {
            let g = d.geometry(0).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(g.arch, arch);
            assert_eq!(g.dram_channels, dram_channels(&text), "{name}");
            assert_eq!(
                g.dram_channel_size,
                number(&text, "dram_bank_size"),
                "{name}"
            );
            assert_eq!(g.l1_size, number(&text, "worker_l1_size"), "{name}");
            assert_eq!(g.worker_grid, (xs.len() as u32, ys.len() as u32), "{name}");
            assert_eq!(g.grid, g.worker_grid, "{name}");
        } else {
            assert_eq!(d.arch, SocArch::Wormhole, "{name}");
        }
    }
}

/// Worker grids as [rows, columns], written from reading the files (their names say
/// columns x rows for Wormhole, rows x columns for Grayskull and Blackhole).
#[test]
fn worker_grids_match_the_files() {
    let table = [
        ("grayskull_10x12.yaml", [10, 12]),
        ("grayskull_120_arch.yaml", [10, 12]),
        ("grayskull_1x1_arch.yaml", [1, 1]),
        ("wormhole_b0_8x10.yaml", [10, 8]),
        ("wormhole_b0_80_arch.yaml", [10, 8]),
        ("wormhole_b0_4x6.yaml", [4, 6]),
        ("wormhole_b0_1x1.yaml", [1, 1]),
        ("wormhole_b0_9x8_harvested.yaml", [9, 8]),
        ("wormhole_b0_8x10_harvested.yaml", [10, 8]),
        ("blackhole_10x14.yaml", [10, 14]),
        ("blackhole_8x10.yaml", [10, 8]),
        ("blackhole_1x1.yaml", [1, 1]),
    ];
    for (file, [rows, cols]) in table {
        let text = std::fs::read_to_string(dir().join(file)).unwrap();
        let d = SocDescriptor::parse(&text, file).unwrap();
        assert_eq!(d.worker_grid(), (cols, rows), "{file}");
    }
}

/// The arch defaults' worker grids are those of upstream's default descriptors
/// (grayskull_10x12, wormhole_b0_8x10, blackhole_10x14_no_eth), as are their DRAM and L1
/// sizes, but for Blackhole's L1 (TT-Metal's 1536 KiB; Buda's descriptor says 1464 KiB).
#[test]
fn arch_defaults_agree_with_upstream_default_descriptors() {
    for (arch, file) in [
        (Arch::Grayskull, "grayskull_10x12.yaml"),
        (Arch::WormholeB0, "wormhole_b0_8x10.yaml"),
        (Arch::Blackhole, "blackhole_10x14_no_eth.yaml"),
    ] {
        let text = std::fs::read_to_string(dir().join(file)).unwrap();
        let d = SocDescriptor::parse(&text, file).unwrap();
        let g = ChipGeometry::of(arch);
        assert_eq!(g.worker_grid, d.worker_grid(), "{file}");
        assert_eq!(g.dram_channels as usize, d.dram.len(), "{file}");
        assert_eq!(g.dram_channel_size, d.dram_bank_size, "{file}");
        if arch != Arch::Blackhole {
            assert_eq!(g.l1_size, d.worker_l1_size, "{file}");
        }
    }
}

#[test]
fn harvesting_rules_and_their_messages() {
    // Grayskull: rows 1-5 and 7-11 only.
    let e = check_mask(Arch::Grayskull, 1 << 6 | 1 << 2).unwrap_err();
    assert_eq!(
        e.to_string(),
        "harvested rows mask 68 (0x44): Grayskull can harvest only rows 1-5 and 7-11, not row 6"
    );
    let e = check_mask(Arch::Grayskull, 1 | 1 << 12).unwrap_err();
    assert!(e.to_string().ends_with("not row 0, 12"), "{e}");
    for row in (1..=5).chain(7..=11) {
        check_mask(Arch::Grayskull, 1 << row).unwrap();
        check_mask(Arch::WormholeB0, 1 << row).unwrap();
    }
    let e = check_mask(Arch::WormholeB0, 1 << 6).unwrap_err();
    assert!(e
        .to_string()
        .contains("Wormhole_B0 can harvest only rows 1-5 and 7-11, not row 6"));
    // Blackhole: no rows mask at all.
    let e = check_mask(Arch::Blackhole, 2).unwrap_err();
    assert_eq!(
        e.to_string(),
        "harvested rows mask 2 (0x2, rows 1): Blackhole harvests Tensix columns, not rows; no rows mask applies to it"
    );
    check_mask(Arch::Blackhole, 0).unwrap();

    // The grid shrinks by the harvested rows: PyBuda's Grayskull 10x12 with rows 1 and 11.
    let g = ChipGeometry::of(Arch::Grayskull).harvested(2050).unwrap();
    assert_eq!((g.worker_grid, g.harvested_rows), ((12, 8), 2050));
    assert_eq!(
        g.grid,
        (12, 7),
        "TT-Metal's 12x9 compute grid loses the same rows"
    );
    let text = std::fs::read_to_string(dir().join("grayskull_10x12.yaml")).unwrap();
    let d = SocDescriptor::parse(&text, "gs").unwrap();
    assert_eq!(d.geometry(2050).unwrap().worker_grid, (12, 8));
    // Every worker row harvested leaves nothing.
    let all = 0b1111_1011_1110;
    let e = ChipGeometry::of(Arch::Grayskull)
        .harvested(all)
        .unwrap_err();
    assert!(e.to_string().contains("harvests all 10 worker rows"), "{e}");
    // A Grayskull descriptor whose row 2 holds no worker.
    let text = std::fs::read_to_string(dir().join("grayskull_1x1_arch.yaml")).unwrap();
    let d = SocDescriptor::parse(&text, "gs1").unwrap();
    let e = d.geometry(1 << 2).unwrap_err();
    assert_eq!(
        e.to_string(),
        "harvested rows mask 4 (0x4): row 2 holds no worker in this descriptor"
    );
    // Wormhole: a descriptor already harvested by one row takes a one-row mask as done.
    let text = std::fs::read_to_string(dir().join("wormhole_b0_9x8_harvested.yaml")).unwrap();
    let d = SocDescriptor::parse(&text, "wh").unwrap();
    assert_eq!(d.geometry(1 << 3).unwrap().worker_grid, (8, 9));
    assert_eq!(d.geometry(1 << 3 | 1 << 4).unwrap().worker_grid, (8, 8));
}

#[test]
fn hostile_descriptors_are_refused_in_one_line() {
    let text = std::fs::read_to_string(dir().join("grayskull_10x12.yaml")).unwrap();
    for (bad, says) in [
        (
            text.replace("arch_name: GRAYSKULL", "arch_name: QUASAR"),
            ":52: arch_name: `QUASAR`",
        ),
        (
            text.replace("12-11\n", "12-\n"),
            "functional_workers: expected a core `x-y`, found `12-`",
        ),
        (
            text.replace("x_size: 13", "x_size: 0"),
            "grid.x_size: 0 is not 1 to 1024",
        ),
        (text.replace("dram:", "drum:"), "no `dram` key"),
        (text.replace("[[1-0]", "[[1-0"), "YAML syntax error"),
        ("a".repeat(300 * 1024), "too large for a SoC descriptor"),
        ("- 1\n- 2\n".into(), "a SoC descriptor is a map of keys"),
        (
            format!("{}{}", "[".repeat(20), "]".repeat(20)),
            "nested deeper than 8 levels",
        ),
    ] {
        let e = SocDescriptor::parse(&bad, "d.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("d.yaml"), "{e}");
        assert!(e.contains(says), "{e} (wanted {says})");
        assert!(!e.contains('\n'), "{e}");
    }
}
