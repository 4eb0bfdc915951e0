//! The TTI archive reader and the tar writer: tars and zips assembled here byte by byte from the
//! POSIX ustar and PKWARE layouts (independent of ttrt's writer), written by ttrt's `TarWriter`,
//! and written by Python's `tarfile` and `zipfile` when python3 is installed, read back with the
//! exact names and bytes; and every malformed or hostile archive rejected with one line that
//! says what and names the member.

use crate::support;

use std::path::Path;
use std::process::Command;

use ttrt::image::archive::{crc32, Archive, ArchiveKind, TarWriter};

// ---------------------------------------------------------------------------------------------
// Builders independent of the code under test.

/// Member content that differs per member and per byte.
fn content(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|j| (j.wrapping_mul(7) as u8).wrapping_add(seed.wrapping_mul(31)))
        .collect()
}

/// A ustar header assembled field by field from the POSIX layout. `size` is the raw 12-byte
/// size field so tests can put hostile values there.
fn ustar_header(name: &[u8], prefix: &[u8], typeflag: u8, size: [u8; 12]) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name);
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(&size);
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = typeflag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[345..345 + prefix.len()].copy_from_slice(prefix);
    set_checksum(&mut h);
    h
}

/// The POSIX checksum: the unsigned byte sum with the checksum field counted as 8 spaces,
/// written as 6 octal digits, NUL, space.
fn set_checksum(h: &mut [u8; 512]) {
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

fn octal_size(n: u64) -> [u8; 12] {
    let mut f = [0u8; 12];
    f[..11].copy_from_slice(format!("{n:011o}").as_bytes());
    f
}

/// A tar of `(name, typeflag, data)` entries with ustar headers, data padded to 512 bytes, and
/// the two zero blocks at the end.
fn tar_by_hand(entries: &[(&[u8], u8, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(name, typeflag, data) in entries {
        out.extend_from_slice(&ustar_header(
            name,
            b"",
            typeflag,
            octal_size(data.len() as u64),
        ));
        push_padded(&mut out, data);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn push_padded(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(512), 0);
}

/// A PAX extended header (`x`) carrying `records` for the entry that follows.
fn pax_header(records: &[u8]) -> Vec<u8> {
    let mut out =
        ustar_header(b"PaxHeader/x", b"", b'x', octal_size(records.len() as u64)).to_vec();
    push_padded(&mut out, records);
    out
}

/// A bitwise CRC-32 (reflected 0xEDB88320), the textbook definition.
fn crc32_bitwise(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// One zip entry as it will be written; `data` is what the file holds (compressed or not).
#[derive(Clone)]
struct ZipEntry {
    name: Vec<u8>,
    data: Vec<u8>,
    size: u32,
    crc: u32,
    method: u16,
    flags: u16,
    made_by: u16,
    external: u32,
    /// Sizes and offset as 0xFFFFFFFF in the central directory, the real values in a zip64 extra
    /// field.
    zip64: bool,
}

fn stored(name: &str, data: &[u8]) -> ZipEntry {
    ZipEntry {
        name: name.as_bytes().to_vec(),
        data: data.to_vec(),
        size: data.len() as u32,
        crc: crc32_bitwise(data),
        method: 0,
        flags: 0,
        made_by: 20,
        external: 0,
        zip64: false,
    }
}

fn deflated(name: &str, data: &[u8]) -> ZipEntry {
    ZipEntry {
        data: miniz_oxide::deflate::compress_to_vec(data, 6),
        method: 8,
        ..stored(name, data)
    }
}

fn le16(v: u16) -> [u8; 2] {
    v.to_le_bytes()
}
fn le32(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

/// A zip laid out as APPNOTE 4.3.6: local headers and data, the central directory, (zip64 end
/// record and locator,) the end-of-central-directory record.
fn zip_by_hand(entries: &[ZipEntry], zip64_end: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for e in entries {
        offsets.push(out.len() as u32);
        out.extend_from_slice(&le32(0x0403_4b50));
        out.extend_from_slice(&le16(20));
        out.extend_from_slice(&le16(e.flags));
        out.extend_from_slice(&le16(e.method));
        out.extend_from_slice(&[0; 4]); // time, date
        out.extend_from_slice(&le32(e.crc));
        out.extend_from_slice(&le32(e.data.len() as u32));
        out.extend_from_slice(&le32(e.size));
        out.extend_from_slice(&le16(e.name.len() as u16));
        out.extend_from_slice(&le16(0));
        out.extend_from_slice(&e.name);
        out.extend_from_slice(&e.data);
    }
    let cd_offset = out.len();
    for (e, &offset) in entries.iter().zip(&offsets) {
        let mut extra = Vec::new();
        let (csize, usize_, off) = if e.zip64 {
            extra.extend_from_slice(&le16(1));
            extra.extend_from_slice(&le16(24));
            extra.extend_from_slice(&(e.size as u64).to_le_bytes());
            extra.extend_from_slice(&(e.data.len() as u64).to_le_bytes());
            extra.extend_from_slice(&(offset as u64).to_le_bytes());
            (u32::MAX, u32::MAX, u32::MAX)
        } else {
            (e.data.len() as u32, e.size, offset)
        };
        out.extend_from_slice(&le32(0x0201_4b50));
        out.extend_from_slice(&le16(e.made_by));
        out.extend_from_slice(&le16(20));
        out.extend_from_slice(&le16(e.flags));
        out.extend_from_slice(&le16(e.method));
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&le32(e.crc));
        out.extend_from_slice(&le32(csize));
        out.extend_from_slice(&le32(usize_));
        out.extend_from_slice(&le16(e.name.len() as u16));
        out.extend_from_slice(&le16(extra.len() as u16));
        out.extend_from_slice(&le16(0)); // comment
        out.extend_from_slice(&le16(0)); // disk
        out.extend_from_slice(&le16(0)); // internal attributes
        out.extend_from_slice(&le32(e.external));
        out.extend_from_slice(&le32(off));
        out.extend_from_slice(&e.name);
        out.extend_from_slice(&extra);
    }
    let cd_size = out.len() - cd_offset;
    let n = entries.len();
    if zip64_end {
        let z64_at = out.len() as u64;
        out.extend_from_slice(&le32(0x0606_4b50));
        out.extend_from_slice(&44u64.to_le_bytes());
        out.extend_from_slice(&le16(45));
        out.extend_from_slice(&le16(45));
        out.extend_from_slice(&le32(0));
        out.extend_from_slice(&le32(0));
        out.extend_from_slice(&(n as u64).to_le_bytes());
        out.extend_from_slice(&(n as u64).to_le_bytes());
        out.extend_from_slice(&(cd_size as u64).to_le_bytes());
        out.extend_from_slice(&(cd_offset as u64).to_le_bytes());
        out.extend_from_slice(&le32(0x0706_4b50));
        out.extend_from_slice(&le32(0));
        out.extend_from_slice(&z64_at.to_le_bytes());
        out.extend_from_slice(&le32(1));
    }
    out.extend_from_slice(&le32(0x0605_4b50));
    out.extend_from_slice(&le16(0));
    out.extend_from_slice(&le16(0));
    let (count, size, offset) = if zip64_end {
        (u16::MAX, u32::MAX, u32::MAX)
    } else {
        (n as u16, cd_size as u32, cd_offset as u32)
    };
    out.extend_from_slice(&le16(count));
    out.extend_from_slice(&le16(count));
    out.extend_from_slice(&le32(size));
    out.extend_from_slice(&le32(offset));
    out.extend_from_slice(&le16(0));
    out
}

/// Offset of the end-of-central-directory record of a zip built without a comment.
fn eocd(zip: &[u8]) -> usize {
    zip.len() - 22
}

fn central_dir(zip: &[u8]) -> usize {
    let e = eocd(zip);
    u32::from_le_bytes(zip[e + 16..e + 20].try_into().unwrap()) as usize
}

fn put32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put16(bytes: &mut [u8], at: usize, v: u16) {
    bytes[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

// ---------------------------------------------------------------------------------------------
// Assertions.

/// Parses, and reads every member: the first error's text, which must be one line.
fn error_of(bytes: &[u8]) -> String {
    let message = match Archive::parse(bytes) {
        Err(e) => e.message().to_owned(),
        Ok(archive) => match archive.members().iter().find_map(|m| m.bytes().err()) {
            Some(e) => e.message().to_owned(),
            None => panic!("the archive was accepted: {:?}", names(&archive)),
        },
    };
    assert!(!message.contains('\n'), "error is not one line: {message}");
    message
}

fn assert_rejected(bytes: &[u8], words: &[&str]) {
    let message = error_of(bytes);
    for w in words {
        assert!(message.contains(w), "error {message:?} does not say {w:?}");
    }
}

fn names<'a>(archive: &'a Archive<'_>) -> Vec<&'a str> {
    archive.members().iter().map(|m| m.name()).collect()
}

/// The archive holds exactly `expected`, in order, with these bytes.
fn assert_members(archive: &Archive<'_>, expected: &[(&str, Vec<u8>)]) {
    let want: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
    assert_eq!(names(archive), want);
    for (name, bytes) in expected {
        let m = archive
            .find(name)
            .unwrap_or_else(|| panic!("{name} not found"));
        assert_eq!(m.size(), bytes.len() as u64, "size of {name}");
        assert!(m.bytes().unwrap()[..] == bytes[..], "bytes of {name}");
    }
}

// ---------------------------------------------------------------------------------------------
// CRC-32.

#[test]
fn crc32_matches_the_check_value_and_the_bitwise_definition() {
    // The CRC-32/ISO-HDLC check value of "123456789".
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
    let mut rng = support::XorShift(7);
    for len in [1, 7, 8, 9, 15, 16, 17, 1000, 4099] {
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        assert_eq!(crc32(&bytes), crc32_bitwise(&bytes), "length {len}");
    }
}

// ---------------------------------------------------------------------------------------------
// Tars built by hand.

#[test]
fn a_hand_built_ustar_tar_lists_its_files_in_order_and_skips_directories() {
    let device = content(1, 700);
    let tensor = content(2, 512);
    let tar = tar_by_hand(&[
        (b"unzipped_tti/", b'5', b""),
        (b"unzipped_tti/device.json", b'0', &device),
        (b"unzipped_tti/tensors/", b'5', b""),
        (b"unzipped_tti/tensors/torch.Tensor.w.bin", b'0', &tensor),
        (b"unzipped_tti/empty", 0, b""),
    ]);
    let archive = Archive::parse(&tar).unwrap();
    assert_eq!(archive.kind(), ArchiveKind::Tar);
    assert_members(
        &archive,
        &[
            ("unzipped_tti/device.json", device),
            ("unzipped_tti/tensors/torch.Tensor.w.bin", tensor),
            ("unzipped_tti/empty", vec![]),
        ],
    );
    assert!(archive.find("unzipped_tti/tensors").is_none());
}

#[test]
fn tar_members_are_borrowed_from_the_file_not_copied() {
    let data = content(3, 1000);
    let tar = tar_by_hand(&[(b"a.bin", b'0', &data)]);
    let archive = Archive::parse(&tar).unwrap();
    let bytes = archive.find("a.bin").unwrap().bytes().unwrap();
    assert!(matches!(bytes, std::borrow::Cow::Borrowed(_)));
    // The data starts right after the 512-byte header.
    assert_eq!(bytes.as_ptr(), tar[512..].as_ptr());
}

#[test]
fn names_are_compared_without_a_leading_dot_slash() {
    let tar = tar_by_hand(&[(b"./unzipped_tti/device.json", b'0', b"{}")]);
    let archive = Archive::parse(&tar).unwrap();
    assert_eq!(names(&archive), ["unzipped_tti/device.json"]);
    assert!(archive.find("./unzipped_tti/device.json").is_some());
    assert!(archive.find("unzipped_tti/device.json").is_some());
}

#[test]
fn the_ustar_prefix_is_joined_to_the_name_with_a_slash() {
    let mut tar = ustar_header(
        b"torch.Tensor.w.bin",
        b"unzipped_tti/tensors",
        b'0',
        octal_size(3),
    )
    .to_vec();
    push_padded(&mut tar, b"abc");
    tar.extend_from_slice(&[0; 1024]);
    let archive = Archive::parse(&tar).unwrap();
    assert_members(
        &archive,
        &[("unzipped_tti/tensors/torch.Tensor.w.bin", b"abc".to_vec())],
    );
}

#[test]
fn a_pax_path_and_size_override_the_ustar_fields() {
    let long = format!("unzipped_tti/tensors/torch.Tensor.{}.bin", "w".repeat(150));
    let record_body = format!(" path={long}\n");
    let len = record_body.len() + 3; // three digits
    let mut records = format!("{len}{record_body}").into_bytes();
    records.extend_from_slice(b"12 size=600\n");
    let data = content(4, 600);
    let mut tar = pax_header(&records);
    // The ustar size field says 1: the PAX size (600) wins.
    tar.extend_from_slice(&ustar_header(b"cut-name", b"", b'0', octal_size(1)));
    push_padded(&mut tar, &data);
    tar.extend_from_slice(&[0; 1024]);
    let archive = Archive::parse(&tar).unwrap();
    assert_members(&archive, &[(long.as_str(), data)]);
}

#[test]
fn a_gnu_long_name_names_the_next_member() {
    let long = format!("unzipped_tti/{}", "n".repeat(200));
    let mut name = long.clone().into_bytes();
    name.push(0);
    let mut tar = ustar_header(b"././@LongLink", b"", b'L', octal_size(name.len() as u64)).to_vec();
    push_padded(&mut tar, &name);
    tar.extend_from_slice(&ustar_header(
        &long.as_bytes()[..100],
        b"",
        b'0',
        octal_size(2),
    ));
    push_padded(&mut tar, b"hi");
    tar.extend_from_slice(&[0; 1024]);
    let archive = Archive::parse(&tar).unwrap();
    assert_members(&archive, &[(long.as_str(), b"hi".to_vec())]);
}

#[test]
fn a_checksum_summed_over_signed_bytes_is_accepted() {
    // A name byte >= 0x80 makes the signed and unsigned sums differ; old tars wrote the signed.
    let mut h = ustar_header("é.bin".as_bytes(), b"", b'0', octal_size(1));
    h[148..156].copy_from_slice(b"        ");
    let signed: i32 = h.iter().map(|&b| b as i8 as i32).sum();
    h[148..156].copy_from_slice(format!("{signed:06o}\0 ").as_bytes());
    let mut tar = h.to_vec();
    push_padded(&mut tar, b"x");
    tar.extend_from_slice(&[0; 1024]);
    let archive = Archive::parse(&tar).unwrap();
    assert_eq!(names(&archive), ["é.bin"]);
}

#[test]
fn a_base_256_size_is_read() {
    let mut size = [0u8; 12];
    size[0] = 0x80;
    size[11] = 5;
    let mut tar = ustar_header(b"a", b"", b'0', size).to_vec();
    push_padded(&mut tar, b"12345");
    tar.extend_from_slice(&[0; 1024]);
    let archive = Archive::parse(&tar).unwrap();
    assert_members(&archive, &[("a", b"12345".to_vec())]);
}

#[test]
fn an_empty_tar_of_two_zero_blocks_has_no_members() {
    let archive = Archive::parse(&[0u8; 10240]).unwrap();
    assert_eq!(archive.kind(), ArchiveKind::Tar);
    assert!(archive.members().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Tar rejections.

#[test]
fn a_tar_cut_short_anywhere_is_rejected_saying_so() {
    let data = content(5, 1500);
    let tar = tar_by_hand(&[
        (b"unzipped_tti/a.bin", b'0', &data),
        (b"unzipped_tti/b.bin", b'0', b"b"),
    ]);
    // Inside the second header, the first member's data, and the end-of-archive blocks.
    // A file too short to show the ustar magic is not recognisably a tar.
    assert_rejected(&tar[..100], &["not a tar or zip archive (100 bytes)"]);
    assert_rejected(
        &tar[..300],
        &["tar: cut short", "offset 0", "file is 300 bytes"],
    );
    for cut in [
        300,
        512 + 1000,
        512 + 1536 + 200,
        tar.len() - 1024,
        tar.len() - 512,
        tar.len() - 1,
    ] {
        let message = error_of(&tar[..cut]);
        assert!(
            message.contains("cut short") || message.contains("runs past the end of the file"),
            "cut at {cut}: {message}"
        );
    }
    assert_rejected(
        &tar[..1000],
        &[
            "tar member \"unzipped_tti/a.bin\"",
            "data runs past the end of the file (offset 512, 1500 bytes, file is 1000 bytes)",
        ],
    );
    assert_rejected(
        &tar[..tar.len() - 1024],
        &["tar: cut short", "end-of-archive"],
    );
    assert_rejected(&tar[..tar.len() - 512], &["cut short", "zero block"]);
}

#[test]
fn a_bad_header_checksum_is_rejected() {
    let mut tar = tar_by_hand(&[(b"a", b'0', b"x"), (b"b", b'0', b"y")]);
    tar[1024 + 10] ^= 1; // the second header's name, after the checksum was set
    assert_rejected(&tar, &["tar header at offset 1024", "bad header checksum"]);
}

#[test]
fn the_largest_octal_size_is_rejected_as_running_past_the_end() {
    let mut tar = ustar_header(b"unzipped_tti/big.bin", b"", b'0', *b"77777777777\0").to_vec();
    tar.extend_from_slice(&[0; 2048]);
    assert_rejected(
        &tar,
        &[
            "tar member \"unzipped_tti/big.bin\"",
            "data runs past the end of the file (offset 512, 8589934591 bytes, file is 2560 bytes)",
        ],
    );
}

#[test]
fn a_base_256_size_of_2_pow_62_is_rejected_as_running_past_the_end() {
    let mut size = [0u8; 12];
    size[0] = 0x80;
    size[4..].copy_from_slice(&(1u64 << 62).to_be_bytes());
    let mut tar = ustar_header(b"big", b"", b'0', size).to_vec();
    tar.extend_from_slice(&[0; 2048]);
    assert_rejected(
        &tar,
        &[
            "tar member \"big\"",
            "4611686018427387904 bytes",
            "runs past the end",
        ],
    );
}

#[test]
fn a_base_256_size_over_64_bits_or_negative_is_rejected() {
    let mut size = [0xffu8; 12];
    size[0] = 0x80;
    let mut tar = ustar_header(b"big", b"", b'0', size).to_vec();
    tar.extend_from_slice(&[0; 1024]);
    assert_rejected(&tar, &["tar header at offset 0", "size field", "64 bits"]);
    let mut tar = ustar_header(b"neg", b"", b'0', [0xff; 12]).to_vec();
    tar.extend_from_slice(&[0; 1024]);
    assert_rejected(&tar, &["size field", "negative"]);
}

#[test]
fn a_size_field_that_is_not_octal_is_rejected() {
    let mut tar = ustar_header(b"a", b"", b'0', *b"0000000009x\0").to_vec();
    tar.extend_from_slice(&[0; 1024]);
    assert_rejected(
        &tar,
        &[
            "tar header at offset 0",
            "size field",
            "not an octal number",
        ],
    );
}

#[test]
fn an_absolute_tar_path_is_rejected() {
    for name in ["/etc/passwd", "C:\\x", "\\x", "c:x"] {
        let tar = tar_by_hand(&[(name.as_bytes(), b'0', b"x")]);
        assert_rejected(
            &tar,
            &[
                &format!("tar member {name:?}"),
                "an absolute path is not allowed",
            ],
        );
    }
}

#[test]
fn a_member_with_a_dot_dot_component_is_rejected() {
    let tar = tar_by_hand(&[(b"unzipped_tti/../x", b'0', b"x")]);
    assert_eq!(
        error_of(&tar),
        "tar member \"unzipped_tti/../x\": a \"..\" component is not allowed"
    );
    for name in ["..", "../x", "a/..", "a\\..\\b"] {
        let tar = tar_by_hand(&[(name.as_bytes(), b'0', b"x")]);
        assert_rejected(&tar, &["a \"..\" component is not allowed"]);
    }
    // A directory entry with `..` is rejected too, though directories are not members.
    let tar = tar_by_hand(&[(b"../d/", b'5', b"")]);
    assert_rejected(&tar, &["tar member \"../d/\"", "\"..\" component"]);
    // `..` inside a component is an ordinary name.
    let tar = tar_by_hand(&[(b"a..b/..c", b'0', b"x")]);
    assert_eq!(names(&Archive::parse(&tar).unwrap()), ["a..b/..c"]);
}

#[test]
fn tar_links_devices_and_fifos_are_rejected() {
    for (flag, words) in [
        (b'1', "a hard link is not allowed"),
        (b'2', "a symbolic link is not allowed"),
        (b'3', "a character device is not allowed"),
        (b'4', "a block device is not allowed"),
        (b'6', "a FIFO is not allowed"),
        (b'S', "sparse"),
        (b'V', "entry type 'V' is not supported"),
    ] {
        let tar = tar_by_hand(&[(b"unzipped_tti/device.json", flag, b"")]);
        assert_rejected(&tar, &["tar member \"unzipped_tti/device.json\"", words]);
    }
}

#[test]
fn a_duplicate_tar_name_is_rejected_also_behind_a_dot_slash() {
    let tar = tar_by_hand(&[(b"a/b", b'0', b"1"), (b"./a/b", b'0', b"2")]);
    assert_rejected(&tar, &["tar member \"./a/b\"", "duplicate name"]);
}

#[test]
fn an_empty_name_and_a_nul_in_a_pax_path_are_rejected() {
    let tar = tar_by_hand(&[(b"", b'0', b"x")]);
    assert_rejected(&tar, &["tar member \"\"", "an empty name is not allowed"]);
    for name in [&b"."[..], b"./."] {
        let tar = tar_by_hand(&[(name, b'0', b"x")]);
        assert_rejected(&tar, &["an empty name is not allowed"]);
    }
    let mut tar = pax_header(b"12 path=a\0b\n");
    tar.extend_from_slice(&tar_by_hand(&[(b"ab", b'0', b"x")]));
    assert_rejected(&tar, &["tar member \"a\\0b\"", "NUL"]);
}

#[test]
fn hostile_pax_records_are_rejected() {
    for (records, words) in [
        (&b"99999999 path=x\n"[..], "does not fit"),
        (b"5 path=x\n", "does not end with a newline"),
        (b"x path=y\n", "not a decimal number"),
        (b"9 pathx\n\n", "has no '='"),
        (b"12 size=1x4\n", "size \"1x4\" is not a decimal number"),
        (b"no-space-at-all-in-this-record", "no length"),
    ] {
        let mut tar = pax_header(records);
        tar.extend_from_slice(&tar_by_hand(&[(b"a", b'0', b"x")]));
        assert_rejected(
            &tar,
            &["tar header at offset 0", "PAX record at byte 0", words],
        );
    }
}

#[test]
fn an_extended_header_without_a_member_after_it_is_rejected() {
    let mut tar = pax_header(b"10 path=x\n");
    tar.extend_from_slice(&[0; 1024]);
    assert_rejected(
        &tar,
        &["extended header at offset 0", "not followed by a member"],
    );
}

#[test]
fn a_single_zero_block_followed_by_a_header_is_rejected() {
    let mut tar = ustar_header(b"a", b"", b'0', octal_size(0)).to_vec();
    tar.extend_from_slice(&[0; 512]);
    tar.extend_from_slice(&tar_by_hand(&[(b"b", b'0', b"x")]));
    assert_rejected(&tar, &["single zero block at offset 512"]);
}

#[test]
fn bytes_that_are_neither_tar_nor_zip_are_rejected() {
    assert_rejected(&[], &["not a tar or zip archive"]);
    assert_rejected(&[0x41; 4000], &["not a tar or zip archive (4000 bytes)"]);
}

// ---------------------------------------------------------------------------------------------
// TarWriter.

fn header_at(tar: &[u8], at: usize) -> &[u8] {
    &tar[at..at + 512]
}

#[test]
fn tar_writer_writes_posix_ustar_headers_and_two_zero_blocks() {
    let mut w = TarWriter::with_mtime(Vec::new(), 1_700_000_000).unwrap();
    w.add_dir("unzipped_tti").unwrap();
    w.add_file("unzipped_tti/device.json", b"{\"a\": 1}")
        .unwrap();
    let tar = w.finish().unwrap();
    assert_eq!(tar.len(), 512 + 512 + 512 + 1024);
    let dir = header_at(&tar, 0);
    assert_eq!(&dir[..13], b"unzipped_tti/");
    assert_eq!(&dir[100..108], b"0000755\0");
    assert_eq!(dir[156], b'5');
    let file = header_at(&tar, 512);
    assert_eq!(&file[..25], b"unzipped_tti/device.json\0");
    assert_eq!(&file[100..108], b"0000644\0");
    assert_eq!(&file[108..124], b"0000000\x000000000\x00");
    assert_eq!(&file[124..136], b"00000000010\0");
    assert_eq!(
        &file[136..148],
        format!("{:011o}\0", 1_700_000_000u64).as_bytes()
    );
    assert_eq!(file[156], b'0');
    assert_eq!(&file[257..265], b"ustar\x0000");
    assert!(
        file[265..329].iter().all(|&b| b == 0),
        "uname and gname are empty"
    );
    // The checksum, recomputed by the POSIX definition.
    let mut check = [0u8; 512];
    check.copy_from_slice(file);
    set_checksum(&mut check);
    assert_eq!(&file[148..156], &check[148..156]);
    assert_eq!(&tar[1024..1032], b"{\"a\": 1}");
    assert!(tar[1032..].iter().all(|&b| b == 0));
}

#[test]
fn tar_writer_output_reads_back_with_exact_names_and_bytes() {
    let long_pax = format!("unzipped_tti/tensors/torch.Tensor.{}.bin", "p".repeat(200));
    let long_split = format!("unzipped_tti/{}/{}", "d".repeat(120), "f".repeat(90));
    let files: Vec<(String, Vec<u8>)> = vec![
        ("unzipped_tti/device.json".into(), content(1, 100)),
        ("unzipped_tti/empty".into(), vec![]),
        ("unzipped_tti/block".into(), content(2, 512)),
        ("unzipped_tti/block_and_one".into(), content(3, 513)),
        (long_pax.clone(), content(4, 2000)),
        (long_split.clone(), content(5, 3)),
        ("unzipped_tti/ünïcödé.bin".into(), content(6, 10)),
    ];
    let mut w = TarWriter::new(Vec::new());
    w.add_dir("unzipped_tti/").unwrap();
    for (i, (name, bytes)) in files.iter().enumerate() {
        if i % 2 == 0 {
            w.add_file(name, bytes).unwrap();
        } else {
            w.add_file_from(name, bytes.len() as u64, &mut &bytes[..])
                .unwrap();
        }
    }
    let tar = w.finish().unwrap();
    assert_eq!(tar.len() % 512, 0);
    let archive = Archive::parse(&tar).unwrap();
    let expected: Vec<(&str, Vec<u8>)> =
        files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    assert_members(&archive, &expected);
}

#[test]
fn tar_writer_rejects_names_the_reader_would_reject() {
    for name in ["../x", "/abs", "", "a/../b", "C:\\x"] {
        let mut w = TarWriter::new(Vec::new());
        let e = w.add_file(name, b"x").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{name}");
        assert!(e.to_string().contains(&format!("{name:?}")), "{e}");
    }
}

#[test]
fn tar_writer_fails_when_a_stream_ends_before_its_declared_size() {
    let mut w = TarWriter::new(Vec::new());
    let e = w
        .add_file_from("a.bin", 10, &mut &b"12345"[..])
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
    assert!(e.to_string().contains("5 of 10 bytes"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Zips built by hand.

#[test]
fn a_hand_built_zip_of_stored_and_deflated_members_reads_back() {
    let json = content(1, 300);
    let weights = content(2, 100_000);
    let zip = zip_by_hand(
        &[
            stored("unzipped_tti/", b""),
            stored("unzipped_tti/device.json", &json),
            deflated("unzipped_tti/tensors/torch.Tensor.w.bin", &weights),
            deflated("unzipped_tti/empty", b""),
        ],
        false,
    );
    let archive = Archive::parse(&zip).unwrap();
    assert_eq!(archive.kind(), ArchiveKind::Zip);
    assert_members(
        &archive,
        &[
            ("unzipped_tti/device.json", json),
            ("unzipped_tti/tensors/torch.Tensor.w.bin", weights),
            ("unzipped_tti/empty", vec![]),
        ],
    );
    let stored = archive.find("unzipped_tti/device.json").unwrap();
    assert!(!stored.is_compressed());
    assert!(matches!(
        stored.bytes().unwrap(),
        std::borrow::Cow::Borrowed(_)
    ));
    assert!(archive
        .find("unzipped_tti/tensors/torch.Tensor.w.bin")
        .unwrap()
        .is_compressed());
}

#[test]
fn a_zip64_central_directory_and_extra_fields_are_read() {
    let a = content(1, 1000);
    let b = content(2, 5000);
    let mut ea = stored("a.bin", &a);
    ea.zip64 = true;
    let mut eb = deflated("b.bin", &b);
    eb.zip64 = true;
    let zip = zip_by_hand(&[ea, eb], true);
    let archive = Archive::parse(&zip).unwrap();
    assert_members(&archive, &[("a.bin", a), ("b.bin", b)]);
}

#[test]
fn a_zip_with_a_comment_is_found_from_the_end() {
    let mut zip = zip_by_hand(&[stored("a", b"x")], false);
    let e = eocd(&zip);
    put16(&mut zip, e + 20, 5);
    zip.extend_from_slice(b"hello");
    assert_members(&Archive::parse(&zip).unwrap(), &[("a", b"x".to_vec())]);
}

// ---------------------------------------------------------------------------------------------
// Zip rejections.

#[test]
fn zip_sizes_of_0xffffffff_without_a_zip64_extra_field_are_rejected() {
    let mut zip = zip_by_hand(&[stored("unzipped_tti/a.bin", b"abc")], false);
    let cd = central_dir(&zip);
    put32(&mut zip, cd + 20, u32::MAX);
    put32(&mut zip, cd + 24, u32::MAX);
    assert_rejected(&zip, &["central directory entry 0", "no zip64 extra field"]);
}

#[test]
fn a_deflated_size_beyond_what_deflate_can_produce_is_rejected_before_allocating() {
    let mut e = deflated("unzipped_tti/a.bin", &content(1, 100));
    e.size = u32::MAX - 1;
    let zip = zip_by_hand(&[e], false);
    assert_rejected(
        &zip,
        &[
            "zip member \"unzipped_tti/a.bin\"",
            "4294967294 bytes",
            "more than deflate can produce",
        ],
    );
}

#[test]
fn a_central_directory_past_the_end_is_rejected() {
    let mut zip = zip_by_hand(&[stored("a", b"x")], false);
    let e = eocd(&zip);
    put32(&mut zip, e + 16, 0x7000_0000);
    assert_rejected(
        &zip,
        &["zip: the central directory (offset 1879048192", "runs past"],
    );
    let mut zip = zip_by_hand(&[stored("a", b"x")], false);
    put32(&mut zip, e + 12, 1000);
    assert_rejected(
        &zip,
        &["zip: the central directory", "1000 bytes", "runs past"],
    );
}

#[test]
fn an_entry_count_larger_than_the_central_directory_can_hold_is_rejected() {
    let mut zip = zip_by_hand(&[stored("a", b"x")], false);
    let e = eocd(&zip);
    put16(&mut zip, e + 8, 60000);
    put16(&mut zip, e + 10, 60000);
    assert_rejected(
        &zip,
        &["60000 entries cannot fit in a central directory of 47 bytes"],
    );
}

#[test]
fn a_local_header_offset_past_the_end_is_rejected() {
    let mut zip = zip_by_hand(&[stored("unzipped_tti/a.bin", b"abc")], false);
    let cd = central_dir(&zip);
    put32(&mut zip, cd + 42, 0x0100_0000);
    assert_rejected(
        &zip,
        &[
            "zip member \"unzipped_tti/a.bin\"",
            "local header at offset 16777216",
            "past the end",
        ],
    );
}

#[test]
fn zip_member_data_past_the_end_is_rejected_with_offsets() {
    let mut e = stored("unzipped_tti/a.bin", &content(1, 4096));
    e.size = 4096;
    let full = zip_by_hand(&[e], false);
    // Keep the central directory and end record but cut the data.
    let cd = central_dir(&full);
    let mut zip = full[..120].to_vec();
    zip.extend_from_slice(&full[cd..]);
    let e = eocd(&zip);
    put32(&mut zip, e + 16, 120);
    let len = zip.len();
    assert_eq!(
        error_of(&zip),
        format!(
            "zip member \"unzipped_tti/a.bin\": data runs past the end of the file (offset 48, 4096 bytes, file is {len} bytes)"
        )
    );
}

#[test]
fn a_zip_cut_short_is_rejected() {
    let zip = zip_by_hand(&[stored("a", &content(1, 300)), stored("b", b"y")], false);
    for cut in [10, 200, zip.len() - 30, zip.len() - 5] {
        // Without its end record the bytes are no zip at all.
        assert_rejected(&zip[..cut], &["not a tar or zip archive"]);
    }
}

#[test]
fn unsupported_compression_methods_are_rejected_naming_the_method() {
    let mut e = stored("unzipped_tti/a.bin", b"abc");
    e.method = 12;
    assert_rejected(
        &zip_by_hand(&[e.clone()], false),
        &[
            "zip member \"unzipped_tti/a.bin\"",
            "compression method 12 (bzip2) is not supported",
        ],
    );
    e.method = 14;
    assert_rejected(&zip_by_hand(&[e], false), &["compression method 14 (lzma)"]);
}

#[test]
fn encrypted_zip_members_are_rejected() {
    let mut e = stored("unzipped_tti/a.bin", b"abc");
    e.flags = 1;
    assert_rejected(
        &zip_by_hand(&[e], false),
        &["zip member \"unzipped_tti/a.bin\"", "encrypted"],
    );
}

#[test]
fn multi_disk_zips_are_rejected() {
    let mut zip = zip_by_hand(&[stored("a", b"x")], false);
    let e = eocd(&zip);
    put16(&mut zip, e + 4, 1);
    put16(&mut zip, e + 6, 1);
    assert_rejected(&zip, &["multi-disk archive is not supported", "disk 1"]);
}

#[test]
fn a_crc_mismatch_is_rejected_when_the_member_is_read() {
    let mut e = stored("unzipped_tti/a.bin", b"abc");
    e.crc ^= 1;
    let zip = zip_by_hand(&[e], false);
    let archive = Archive::parse(&zip).unwrap();
    let err = archive.members()[0].bytes().unwrap_err();
    assert!(
        err.message()
            .starts_with("zip member \"unzipped_tti/a.bin\": CRC-32 mismatch"),
        "{err}"
    );
    let mut e = deflated("b.bin", &content(1, 5000));
    e.crc ^= 0x8000_0000;
    assert_rejected(
        &zip_by_hand(&[e], false),
        &["zip member \"b.bin\"", "CRC-32 mismatch"],
    );
}

#[test]
fn a_deflate_stream_that_inflates_to_another_size_is_rejected() {
    let data = content(1, 5000);
    let mut e = deflated("a.bin", &data);
    e.size = 4999;
    assert_rejected(
        &zip_by_hand(&[e.clone()], false),
        &[
            "zip member \"a.bin\"",
            "inflates to more than the 4999 bytes",
        ],
    );
    e.size = 5001;
    assert_rejected(
        &zip_by_hand(&[e.clone()], false),
        &["inflates to 5000 bytes, not the 5001"],
    );
    // A stream cut in the middle.
    e.size = 5000;
    e.data.truncate(e.data.len() / 2);
    assert_rejected(
        &zip_by_hand(&[e], false),
        &["zip member \"a.bin\"", "deflate stream"],
    );
}

#[test]
fn a_stored_member_whose_sizes_differ_is_rejected() {
    let mut e = stored("a", b"abc");
    e.size = 2;
    assert_rejected(
        &zip_by_hand(&[e], false),
        &["compressed size 3 differs from its size 2"],
    );
}

#[test]
fn zip_symlinks_and_devices_are_rejected_by_their_unix_mode() {
    for (mode, words) in [
        (0o120777u32, "a symbolic link is not allowed"),
        (0o020644, "a character device is not allowed"),
        (0o010644, "a FIFO is not allowed"),
    ] {
        let mut e = stored("unzipped_tti/link", b"target");
        e.made_by = 3 << 8 | 20;
        e.external = mode << 16;
        assert_rejected(
            &zip_by_hand(&[e], false),
            &["zip member \"unzipped_tti/link\"", words],
        );
    }
    // The same bits from a non-unix host are not a mode.
    let mut e = stored("a", b"x");
    e.external = 0o120777 << 16;
    assert!(Archive::parse(&zip_by_hand(&[e], false)).is_ok());
}

#[test]
fn zip_names_are_checked_like_tar_names() {
    for (name, words) in [
        ("/abs", "an absolute path is not allowed"),
        ("unzipped_tti/../x", "a \"..\" component is not allowed"),
        ("", "an empty name is not allowed"),
        ("a\0b", "NUL"),
    ] {
        assert_rejected(
            &zip_by_hand(&[stored(name, b"x")], false),
            &[&format!("zip member {name:?}"), words],
        );
    }
    let zip = zip_by_hand(&[stored("a", b"1"), stored("./a", b"2")], false);
    assert_rejected(&zip, &["zip member \"./a\"", "duplicate name"]);
}

#[test]
fn a_local_header_that_names_another_file_is_rejected() {
    let mut zip = zip_by_hand(&[stored("abc", b"x")], false);
    zip[30] = b'z';
    assert_rejected(
        &zip,
        &[
            "zip member \"abc\"",
            "local header at offset 0 names \"zbc\"",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Python's tarfile and zipfile.

fn python(script: &str, dir: &Path) -> String {
    let out = support::run(
        Command::new("python3")
            .arg("-c")
            .arg(script)
            .current_dir(dir),
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Members Python writes: (name, length, seed); the content is `bytes((j*7 + seed*31) % 256)`,
/// what `content()` computes.
const PY_MEMBERS: &str = r#"
members = [
    ("unzipped_tti/device.json", 321, 1),
    ("unzipped_tti/empty", 0, 2),
    ("unzipped_tti/tensors/torch.Tensor." + "x" * 150 + ".bin", 70000, 3),
    ("unzipped_tti/block", 512, 4),
    ("unzipped_tti/ünï.bin", 5, 5),
]
def content(seed, n):
    return bytes(((j * 7) + seed * 31) % 256 for j in range(n))
"#;

fn py_expected() -> Vec<(String, Vec<u8>)> {
    [
        ("unzipped_tti/device.json".to_owned(), 321, 1u8),
        ("unzipped_tti/empty".to_owned(), 0, 2),
        (
            format!("unzipped_tti/tensors/torch.Tensor.{}.bin", "x".repeat(150)),
            70000,
            3,
        ),
        ("unzipped_tti/block".to_owned(), 512, 4),
        ("unzipped_tti/ünï.bin".to_owned(), 5, 5),
    ]
    .into_iter()
    .map(|(n, len, seed)| (n, content(seed, len)))
    .collect()
}

fn assert_python_members(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    let archive = Archive::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let expected = py_expected();
    let expected: Vec<(&str, Vec<u8>)> = expected
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone()))
        .collect();
    assert_members(&archive, &expected);
}

#[test]
fn python_tarfile_pax_and_gnu_archives_read_back() {
    if !support::have_tool("python3", "reading archives written by Python's tarfile") {
        return;
    }
    let dir = support::scratch("archive_python_tarfile");
    let script = format!(
        "{PY_MEMBERS}
import io, tarfile
for fmt, path in [(tarfile.PAX_FORMAT, 'pax.tar'), (tarfile.GNU_FORMAT, 'gnu.tar')]:
    with tarfile.open(path, 'w', format=fmt) as t:
        d = tarfile.TarInfo('unzipped_tti'); d.type = tarfile.DIRTYPE; t.addfile(d)
        for name, n, seed in members:
            info = tarfile.TarInfo(name); info.size = n
            t.addfile(info, io.BytesIO(content(seed, n)))
"
    );
    python(&script, &dir);
    assert_python_members(&dir.join("pax.tar"));
    assert_python_members(&dir.join("gnu.tar"));
}

#[test]
fn python_zipfile_stored_and_deflated_archives_read_back() {
    if !support::have_tool("python3", "reading archives written by Python's zipfile") {
        return;
    }
    let dir = support::scratch("archive_python_zipfile");
    let script = format!(
        "{PY_MEMBERS}
import zipfile
for method, path in [(zipfile.ZIP_STORED, 'stored.zip'), (zipfile.ZIP_DEFLATED, 'deflated.zip')]:
    with zipfile.ZipFile(path, 'w', compression=method) as z:
        z.writestr('unzipped_tti/', b'')
        for name, n, seed in members:
            z.writestr(name, content(seed, n))
with zipfile.ZipFile('zip64.zip', 'w', compression=zipfile.ZIP_DEFLATED) as z:
    for name, n, seed in members:
        with z.open(name, 'w', force_zip64=True) as f:
            f.write(content(seed, n))
"
    );
    python(&script, &dir);
    for zip in ["stored.zip", "deflated.zip", "zip64.zip"] {
        assert_python_members(&dir.join(zip));
    }
}

#[test]
fn tar_writer_output_is_read_by_python_tarfile() {
    if !support::have_tool("python3", "reading TarWriter output with Python's tarfile") {
        return;
    }
    let dir = support::scratch("archive_tarwriter_python");
    let expected = py_expected();
    let mut w = TarWriter::with_mtime(Vec::new(), 1_600_000_000).unwrap();
    w.add_dir("unzipped_tti").unwrap();
    for (name, bytes) in &expected {
        w.add_file(name, bytes).unwrap();
    }
    std::fs::write(dir.join("ttrt.tar"), w.finish().unwrap()).unwrap();
    // Python lists what it reads and writes each file's bytes out by index.
    let listing = python(
        "import tarfile
with tarfile.open('ttrt.tar', 'r:', errorlevel=2) as t:
    for i, m in enumerate(t.getmembers()):
        print(repr((m.name, m.type.decode(), oct(m.mode), m.uname, m.gname, m.mtime, m.size)))
        if m.isfile():
            open(f'{i}.out', 'wb').write(t.extractfile(m).read())
",
        &dir,
    );
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(
        lines[0],
        "('unzipped_tti', '5', '0o755', '', '', 1600000000, 0)"
    );
    for (i, (name, bytes)) in expected.iter().enumerate() {
        let line = format!(
            "('{name}', '0', '0o644', '', '', 1600000000, {})",
            bytes.len()
        );
        assert_eq!(lines[i + 1], line);
        let back = std::fs::read(dir.join(format!("{}.out", i + 1))).unwrap();
        assert!(back == *bytes, "bytes of {name} as Python read them");
    }
    assert_eq!(lines.len(), expected.len() + 1);
}
