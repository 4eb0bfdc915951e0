//! The archive fuzz target's case, run on stable over a seed corpus (a ustar tar, a PAX tar, a
//! GNU long-name tar, a stored zip, a deflated zip, a zip64 zip) and seeded mutations of it: bit
//! flips, truncations, splices and overwrites of size, offset and count fields, with tar header
//! checksums repaired in half the cases so the mutations reach past the checksum. No input may
//! panic. `cargo fuzz run archive` explores further on nightly.

include!("../../fuzz/archive_case.rs");

use crate::support;

use support::XorShift;
use ttrt::image::archive::TarWriter;

fn content(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|j| ((j / 13) as u8).wrapping_mul(seed).wrapping_add(seed))
        .collect()
}

fn tar_seed(long_names: bool) -> Vec<u8> {
    let mut w = TarWriter::new(Vec::new());
    w.add_dir("unzipped_tti").unwrap();
    w.add_file("unzipped_tti/device.json", &content(1, 300))
        .unwrap();
    let tensor = if long_names {
        format!("unzipped_tti/tensors/torch.Tensor.{}.bin", "w".repeat(120))
    } else {
        "unzipped_tti/tensors/torch.Tensor.w.bin".to_owned()
    };
    w.add_file(&tensor, &content(2, 700)).unwrap();
    w.add_file("unzipped_tti/empty", b"").unwrap();
    w.finish().unwrap()
}

/// A tar whose second member is named by a GNU `L` record, from the POSIX layout.
fn gnu_long_name_seed() -> Vec<u8> {
    let mut tar = tar_seed(false);
    tar.truncate(tar.len() - 1024);
    let long = format!("unzipped_tti/{}\0", "n".repeat(130));
    let mut header = [0u8; 512];
    header[..13].copy_from_slice(b"././@LongLink");
    header[100..108].copy_from_slice(b"0000644\0");
    header[124..136].copy_from_slice(format!("{:011o}\0", long.len()).as_bytes());
    header[156] = b'L';
    header[257..263].copy_from_slice(b"ustar\0");
    fix_checksum(&mut header);
    tar.extend_from_slice(&header);
    tar.extend_from_slice(long.as_bytes());
    tar.resize(tar.len().next_multiple_of(512), 0);
    let mut member = header;
    member[..100].copy_from_slice(&long.as_bytes()[..100]);
    member[124..136].copy_from_slice(b"00000000005\0");
    member[156] = b'0';
    fix_checksum(&mut member);
    tar.extend_from_slice(&member);
    tar.extend_from_slice(b"hello");
    tar.resize(tar.len().next_multiple_of(512) + 1024, 0);
    tar
}

fn fix_checksum(h: &mut [u8]) {
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// A zip of `(name, bytes, deflate)` members, laid out as APPNOTE 4.3.6; with `zip64` the
/// central directory carries zip64 extra fields and a zip64 end record.
fn zip_seed(members: &[(&str, Vec<u8>, bool)], zip64: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, bytes, deflate) in members {
        let data = if *deflate {
            miniz_oxide::deflate::compress_to_vec(bytes, 6)
        } else {
            bytes.clone()
        };
        let crc = ttrt::image::archive::crc32(bytes);
        let (method, offset) = (if *deflate { 8u16 } else { 0 }, out.len() as u32);
        let fixed = |sig: u32, sizes: (u32, u32)| {
            let mut h = sig.to_le_bytes().to_vec();
            h.extend_from_slice(&20u16.to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes());
            h.extend_from_slice(&method.to_le_bytes());
            h.extend_from_slice(&[0; 4]);
            h.extend_from_slice(&crc.to_le_bytes());
            h.extend_from_slice(&sizes.0.to_le_bytes());
            h.extend_from_slice(&sizes.1.to_le_bytes());
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h
        };
        out.extend(fixed(0x0403_4b50, (data.len() as u32, bytes.len() as u32)));
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&data);

        let mut extra = Vec::new();
        let (sizes, offset) = if zip64 {
            extra.extend_from_slice(&1u16.to_le_bytes());
            extra.extend_from_slice(&24u16.to_le_bytes());
            for v in [bytes.len() as u64, data.len() as u64, offset as u64] {
                extra.extend_from_slice(&v.to_le_bytes());
            }
            ((u32::MAX, u32::MAX), u32::MAX)
        } else {
            ((data.len() as u32, bytes.len() as u32), offset)
        };
        let mut c = vec![0x50, 0x4b, 0x01, 0x02, 20, 3];
        c.extend_from_slice(&fixed(0, sizes)[4..]);
        c.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        c.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        c.extend_from_slice(&((0o100644u32) << 16).to_le_bytes());
        c.extend_from_slice(&offset.to_le_bytes());
        c.extend_from_slice(name.as_bytes());
        c.extend_from_slice(&extra);
        central.extend(c);
    }
    let (cd_offset, cd_size, n) = (out.len(), central.len(), members.len());
    out.extend(central);
    if zip64 {
        let at = out.len() as u64;
        out.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
        out.extend_from_slice(&44u64.to_le_bytes());
        out.extend_from_slice(&[45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        for v in [n as u64, n as u64, cd_size as u64, cd_offset as u64] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&at.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
    }
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(n as u16).to_le_bytes());
    out.extend_from_slice(&(n as u16).to_le_bytes());
    out.extend_from_slice(&(cd_size as u32).to_le_bytes());
    out.extend_from_slice(&(cd_offset as u32).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn seeds() -> Vec<Vec<u8>> {
    let members = |deflate: bool| {
        vec![
            ("unzipped_tti/device.json", content(1, 300), deflate),
            (
                "unzipped_tti/tensors/torch.Tensor.w.bin",
                content(2, 3000),
                deflate,
            ),
            ("unzipped_tti/empty", vec![], false),
        ]
    };
    vec![
        tar_seed(false),
        tar_seed(true),
        gnu_long_name_seed(),
        zip_seed(&members(false), false),
        zip_seed(&members(true), false),
        zip_seed(&members(true), true),
    ]
}

#[test]
fn every_seed_parses_and_reads_back() {
    for (i, seed) in seeds().iter().enumerate() {
        assert!(archive_case(seed), "seed {i} does not parse");
        let archive = ttrt::image::archive::Archive::parse(seed).unwrap();
        assert!(archive.members().len() >= 3, "seed {i}");
        for m in archive.members() {
            m.bytes().unwrap_or_else(|e| panic!("seed {i}: {e}"));
        }
    }
}

/// Values that hit the edges of size, offset and count fields.
const INTERESTING: [u64; 10] = [
    0,
    1,
    511,
    512,
    0x7fff_ffff,
    0xffff_ffff,
    0xffff_fffe,
    u64::MAX,
    1 << 62,
    0o77777777777,
];

fn mutate(rng: &mut XorShift, bytes: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    let len = bytes.len().max(1);
    match rng.next() % 6 {
        0 => {
            let at = rng.next() as usize % len;
            if let Some(b) = bytes.get_mut(at) {
                *b ^= 1 << (rng.next() % 8);
            }
        }
        1 => {
            let keep = rng.next() as usize % len;
            bytes.truncate(keep);
        }
        2 => {
            // Splice: a range of another seed over a range of this one.
            let other = &seeds[rng.next() as usize % seeds.len()];
            let from = rng.next() as usize % other.len();
            let n = (rng.next() as usize % 600).min(other.len() - from);
            let at = rng.next() as usize % len;
            let end = (at + n).min(bytes.len());
            if at < end {
                bytes[at..end].copy_from_slice(&other[from..from + (end - at)]);
            }
        }
        3 => {
            // A tar size field: octal or base-256.
            let header = (rng.next() as usize % (len / 512).max(1)) * 512;
            let v = INTERESTING[rng.next() as usize % INTERESTING.len()];
            if let Some(field) = bytes.get_mut(header + 124..header + 136) {
                if rng.next() % 2 == 0 {
                    let text = format!("{:011o}", v & 0o77777777777);
                    field[..11].copy_from_slice(text.as_bytes());
                } else {
                    field.fill(0);
                    field[0] = 0x80;
                    field[4..].copy_from_slice(&v.to_be_bytes());
                }
            }
        }
        4 => {
            // A little-endian zip field (size, offset, count) next to a zip signature.
            let sigs: Vec<usize> = bytes
                .windows(2)
                .enumerate()
                .filter(|(_, w)| w == b"PK")
                .map(|(i, _)| i)
                .collect();
            if let Some(&at) = sigs.get(rng.next() as usize % sigs.len().max(1)) {
                let field = at + 4 + 2 * (rng.next() as usize % 22);
                let v = INTERESTING[rng.next() as usize % INTERESTING.len()];
                let width = [2usize, 4, 8][rng.next() as usize % 3];
                if let Some(dst) = bytes.get_mut(field..field + width) {
                    dst.copy_from_slice(&v.to_le_bytes()[..width]);
                }
            }
        }
        _ => {
            // Random bytes over a short run.
            let at = rng.next() as usize % len;
            for b in bytes.iter_mut().skip(at).take(1 + rng.next() as usize % 8) {
                *b = rng.next() as u8;
            }
        }
    }
}

/// Recomputes the checksum of every block that looks like a ustar header, so mutations of tar
/// fields are judged by the code behind the checksum.
fn repair_tar_checksums(bytes: &mut [u8]) {
    for block in bytes.chunks_exact_mut(512) {
        if &block[257..262] == b"ustar" {
            fix_checksum(block);
        }
    }
}

#[test]
fn archive_reading_of_mutated_archives_never_panics() {
    let seeds = seeds();
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let cases = 3_500_000;
    let mut parsed = 0usize;
    for case in 0..cases {
        let mut bytes = seeds[case % seeds.len()].clone();
        for _ in 0..1 + rng.next() % 3 {
            mutate(&mut rng, &mut bytes, &seeds);
        }
        if rng.next() % 2 == 0 {
            repair_tar_checksums(&mut bytes);
        }
        parsed += archive_case(&bytes) as usize;
    }
    // The mutations must reach the member code, not only stop at the first header.
    assert!(
        parsed * 5 >= cases,
        "only {parsed} of {cases} mutated cases parsed"
    );
    eprintln!("{parsed} of {cases} mutated cases parsed");
}

#[test]
fn archive_reading_of_random_bytes_never_panics() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let len = rng.next() as usize % 3000;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        archive_case(&bytes);
    }
}
