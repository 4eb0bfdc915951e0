//! Zip archives (PKWARE APPNOTE): the end-of-central-directory record found from the end of the
//! file, its zip64 form, the central directory entries and each member's local header. Members
//! are stored (method 0) or deflated (method 8); the central directory is authoritative for
//! sizes and CRC-32 (local headers of streamed members carry zeros there).

use std::fmt;

use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

use super::crc32::crc32;
use super::{check_name, invalid, slice_at, ArchiveKind, Data, ImageError, MemberList};

const END_SIG: u32 = 0x0605_4b50;
const END_LEN: usize = 22;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const ZIP64_LOCATOR_LEN: usize = 20;
const ZIP64_END_SIG: u32 = 0x0606_4b50;
const ZIP64_END_LEN: u64 = 56;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const CENTRAL_LEN: usize = 46;
const LOCAL_SIG: u32 = 0x0403_4b50;
const LOCAL_LEN: u64 = 30;
const ZIP64_EXTRA_ID: u16 = 0x0001;
const MAX_COMMENT: usize = 0xffff;
/// A deflate stream yields at most 258 bytes per match of two 1-bit codes: about 1032 bytes per
/// compressed byte, plus a little for the first block.
const MAX_DEFLATE_RATIO: u64 = 1032;
/// Version-made-by host 3: unix, whose external attributes hold `st_mode` in the high half.
const HOST_UNIX: u16 = 3;
/// General purpose flags: bit 0 encrypted, bit 6 strong encryption.
const ENCRYPTED_FLAGS: u16 = 0x41;

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn le64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// The offset of the end-of-central-directory record: the last signature in the final 64 KiB
/// whose comment ends within the file.
pub(super) fn find_end_record(bytes: &[u8]) -> Option<usize> {
    let last = bytes.len().checked_sub(END_LEN)?;
    let first = last.saturating_sub(MAX_COMMENT);
    (first..=last).rev().find(|&at| {
        le32(bytes, at) == Some(END_SIG)
            && le16(bytes, at + 20).is_some_and(|c| at + END_LEN + usize::from(c) <= bytes.len())
    })
}

/// Where the central directory is and how many entries it holds.
struct Directory {
    entries: u64,
    offset: u64,
    size: u64,
    /// Where the end records begin: the directory must end before.
    limit: u64,
}

fn read_end_records(bytes: &[u8], end: usize) -> Result<Directory, ImageError> {
    let len = bytes.len();
    let field16 = |at| le16(bytes, end + at).unwrap_or(0);
    let field32 = |at| le32(bytes, end + at).unwrap_or(0);
    let (disk, cd_disk) = (field16(4), field16(6));
    let (disk_entries, entries) = (field16(8), field16(10));
    let (size, offset) = (field32(12), field32(16));
    if (disk != 0 && disk != 0xffff)
        || (cd_disk != 0 && cd_disk != 0xffff)
        || disk_entries != entries
    {
        return invalid!(
            "zip: a multi-disk archive is not supported (disk {disk}, central directory on disk \
             {cd_disk}, {disk_entries} of {entries} entries on this disk)"
        );
    }
    let locator = end
        .checked_sub(ZIP64_LOCATOR_LEN)
        .filter(|&at| le32(bytes, at) == Some(ZIP64_LOCATOR_SIG));
    let Some(locator) = locator else {
        if [disk, cd_disk, entries].contains(&0xffff) || [size, offset].contains(&0xffff_ffff) {
            return invalid!(
                "zip: the end-of-central-directory record at offset {end} has zip64 markers \
                 (0xFFFF/0xFFFFFFFF) but no zip64 locator precedes it"
            );
        }
        return Ok(Directory {
            entries: entries.into(),
            offset: offset.into(),
            size: size.into(),
            limit: end as u64,
        });
    };
    let z64_disk = le32(bytes, locator + 4).unwrap_or(0);
    let z64_at = le64(bytes, locator + 8).unwrap_or(0);
    let disks = le32(bytes, locator + 16).unwrap_or(0);
    if z64_disk != 0 || disks > 1 {
        return invalid!(
            "zip: a multi-disk archive is not supported (zip64 locator: {disks} disks, record on disk {z64_disk})"
        );
    }
    let z64 = slice_at(bytes, z64_at, ZIP64_END_LEN).filter(|_| z64_at <= locator as u64);
    let Some(z64) = z64 else {
        return invalid!(
            "zip: the zip64 end-of-central-directory record at offset {z64_at} is not within the \
             file before its locator at offset {locator} (file is {len} bytes)"
        );
    };
    let found = le32(z64, 0).unwrap_or(0);
    if found != ZIP64_END_SIG {
        return invalid!(
            "zip: no zip64 end-of-central-directory record at offset {z64_at} (found signature {found:#010x})"
        );
    }
    let (disk, cd_disk) = (le32(z64, 16).unwrap_or(0), le32(z64, 20).unwrap_or(0));
    let (disk_entries, entries) = (le64(z64, 24).unwrap_or(0), le64(z64, 32).unwrap_or(0));
    if disk != 0 || cd_disk != 0 || disk_entries != entries {
        return invalid!(
            "zip: a multi-disk archive is not supported (zip64: disk {disk}, central directory on \
             disk {cd_disk}, {disk_entries} of {entries} entries on this disk)"
        );
    }
    Ok(Directory {
        entries,
        size: le64(z64, 40).unwrap_or(0),
        offset: le64(z64, 48).unwrap_or(0),
        limit: z64_at,
    })
}

/// Lists the members of a zip whose end record is at `end`.
pub(super) fn list<'a>(
    bytes: &'a [u8],
    end: usize,
    list: &mut MemberList<'a>,
) -> Result<(), ImageError> {
    let len = bytes.len();
    let dir = read_end_records(bytes, end)?;
    let cd = match dir.offset.checked_add(dir.size) {
        Some(cd_end) if cd_end <= dir.limit => slice_at(bytes, dir.offset, dir.size),
        _ => None,
    };
    let Some(cd) = cd else {
        return invalid!(
            "zip: the central directory (offset {}, {} bytes) runs past the end records at offset \
             {} (file is {len} bytes)",
            dir.offset,
            dir.size,
            dir.limit
        );
    };
    let fits = dir
        .entries
        .checked_mul(CENTRAL_LEN as u64)
        .is_some_and(|need| need <= dir.size);
    if !fits {
        return invalid!(
            "zip: {} entries cannot fit in a central directory of {} bytes (each takes at least {CENTRAL_LEN})",
            dir.entries,
            dir.size
        );
    }
    let mut at = 0usize;
    for i in 0..dir.entries {
        let entry_at = dir.offset + at as u64;
        let entry = read_central_entry(cd, at).map_err(|what| {
            ImageError::invalid(format!(
                "zip: central directory entry {i} at offset {entry_at}: {what}"
            ))
        })?;
        at = entry.next;
        let name = std::str::from_utf8(entry.name).map_err(|_| ImageError::invalid(format!(
                "zip: central directory entry {i} at offset {entry_at}: the name is not UTF-8 ({:?})",
                String::from_utf8_lossy(entry.name)
            )))?;
        add_member(bytes, name, &entry, list)?;
    }
    Ok(())
}

struct CentralEntry<'a> {
    made_by: u16,
    flags: u16,
    method: u16,
    crc32: u32,
    compressed: u64,
    size: u64,
    disk: u32,
    external: u32,
    local_at: u64,
    name: &'a [u8],
    /// Offset of the next entry within the central directory.
    next: usize,
}

/// What is wrong with a central directory entry; the caller names the entry.
#[derive(Clone, Debug, PartialEq, Eq)]
enum EntryError {
    CutShort,
    Signature(u32),
    NamePastEnd {
        name_len: usize,
        extra_len: usize,
    },
    CommentPastEnd {
        comment_len: usize,
    },
    ExtraPastEnd {
        id: u16,
        size: u16,
    },
    NoZip64,
    /// The zip64 extra field ends before `what` (a size, an offset, the disk number).
    Zip64Short {
        what: &'static str,
    },
}

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntryError::CutShort => f.write_str("cut short by the end of the central directory"),
            EntryError::Signature(sig) => write!(f, "bad signature {sig:#010x}"),
            EntryError::NamePastEnd {
                name_len,
                extra_len,
            } => write!(
                f,
                "name ({name_len} bytes) and extra field ({extra_len} bytes) run past the \
                 central directory"
            ),
            EntryError::CommentPastEnd { comment_len } => write!(
                f,
                "comment ({comment_len} bytes) runs past the central directory"
            ),
            EntryError::ExtraPastEnd { id, size } => write!(
                f,
                "extra field {id:#06x} ({size} bytes) runs past the extra fields"
            ),
            EntryError::NoZip64 => {
                f.write_str("sizes or offset are 0xFFFFFFFF but there is no zip64 extra field")
            }
            EntryError::Zip64Short { what } => {
                write!(f, "the zip64 extra field is too short for the {what}")
            }
        }
    }
}

fn read_central_entry(cd: &[u8], at: usize) -> Result<CentralEntry<'_>, EntryError> {
    let Some(fixed) = at.checked_add(CENTRAL_LEN).and_then(|e| cd.get(at..e)) else {
        return Err(EntryError::CutShort);
    };
    let f16 = |o| le16(fixed, o).unwrap_or(0);
    let f32 = |o| le32(fixed, o).unwrap_or(0);
    if f32(0) != CENTRAL_SIG {
        return Err(EntryError::Signature(f32(0)));
    }
    let name_len = usize::from(f16(28));
    let extra_len = usize::from(f16(30));
    let comment_len = usize::from(f16(32));
    let name_at = at + CENTRAL_LEN;
    let extra_at = name_at.checked_add(name_len);
    let extra_end = extra_at.and_then(|e| e.checked_add(extra_len));
    let (Some(name), Some(extra)) = (
        extra_at.and_then(|e| cd.get(name_at..e)),
        extra_at.zip(extra_end).and_then(|(a, e)| cd.get(a..e)),
    ) else {
        return Err(EntryError::NamePastEnd {
            name_len,
            extra_len,
        });
    };
    let next = extra_end
        .and_then(|e| e.checked_add(comment_len))
        .filter(|&n| n <= cd.len());
    let Some(next) = next else {
        return Err(EntryError::CommentPastEnd { comment_len });
    };
    let mut entry = CentralEntry {
        made_by: f16(4),
        flags: f16(8),
        method: f16(10),
        crc32: f32(16),
        compressed: f32(20).into(),
        size: f32(24).into(),
        disk: f16(34).into(),
        external: f32(38),
        local_at: f32(42).into(),
        name,
        next,
    };
    read_zip64_extra(extra, &mut entry)?;
    Ok(entry)
}

/// Replaces the 32-bit fields saturated at 0xFFFFFFFF (0xFFFF for the disk) by the 64-bit
/// values of the zip64 extra field, which holds only those, in this order.
fn read_zip64_extra(extra: &[u8], entry: &mut CentralEntry<'_>) -> Result<(), EntryError> {
    let wants = [entry.size, entry.compressed, entry.local_at].contains(&0xffff_ffff)
        || entry.disk == 0xffff;
    if !wants {
        return Ok(());
    }
    let mut rest = extra;
    let mut field = None;
    while let (Some(id), Some(size)) = (le16(rest, 0), le16(rest, 2)) {
        let end = 4 + usize::from(size);
        let Some(data) = rest.get(4..end) else {
            return Err(EntryError::ExtraPastEnd { id, size });
        };
        if id == ZIP64_EXTRA_ID {
            field = Some(data);
            break;
        }
        rest = rest.get(end..).unwrap_or(&[]);
    }
    let Some(mut data) = field else {
        return Err(EntryError::NoZip64);
    };
    let mut take64 = |v: &mut u64, what: &'static str| -> Result<(), EntryError> {
        if *v == 0xffff_ffff {
            let (Some(x), Some(rest)) = (le64(data, 0), data.get(8..)) else {
                return Err(EntryError::Zip64Short { what });
            };
            *v = x;
            data = rest;
        }
        Ok(())
    };
    take64(&mut entry.size, "size")?;
    take64(&mut entry.compressed, "compressed size")?;
    take64(&mut entry.local_at, "local header offset")?;
    if entry.disk == 0xffff {
        entry.disk = le32(data, 0).ok_or(EntryError::Zip64Short {
            what: "disk number",
        })?;
    }
    Ok(())
}

fn add_member<'a>(
    bytes: &'a [u8],
    name: &str,
    e: &CentralEntry<'_>,
    list: &mut MemberList<'a>,
) -> Result<(), ImageError> {
    let len = bytes.len();
    let mode = if e.made_by >> 8 == HOST_UNIX {
        e.external >> 16
    } else {
        0
    };
    let is_dir = name.ends_with('/') || mode & 0o170000 == 0o040000;
    check_name(ArchiveKind::Zip, name, is_dir)?;
    let refused = match mode & 0o170000 {
        0o120000 => Some("a symbolic link is not allowed"),
        0o020000 => Some("a character device is not allowed"),
        0o060000 => Some("a block device is not allowed"),
        0o010000 => Some("a FIFO is not allowed"),
        0o140000 => Some("a socket is not allowed"),
        _ => None,
    };
    if let Some(what) = refused {
        return invalid!("zip member {name:?}: {what} (unix mode {mode:o})");
    }
    if e.disk != 0 {
        return invalid!(
            "zip member {name:?}: a multi-disk archive is not supported (member starts on disk {})",
            e.disk
        );
    }
    if is_dir {
        return Ok(());
    }
    if e.flags & ENCRYPTED_FLAGS != 0 {
        return invalid!(
            "zip member {name:?}: encrypted members are not supported (general purpose flags {:#06x})",
            e.flags
        );
    }
    match e.method {
        0 if e.compressed != e.size => {
            return invalid!(
                "zip member {name:?}: stored without compression but its compressed size {} differs from its size {}",
                e.compressed,
                e.size
            );
        }
        0 => {}
        8 => check_deflate_ratio(name, e.compressed, e.size)?,
        m => {
            return invalid!(
                "zip member {name:?}: compression method {m} ({}) is not supported; only stored (0) and deflate (8)",
                method_name(m)
            );
        }
    }
    let Some(local) = slice_at(bytes, e.local_at, LOCAL_LEN) else {
        return invalid!(
            "zip member {name:?}: the local header at offset {} runs past the end of the file (file is {len} bytes)",
            e.local_at
        );
    };
    let found = le32(local, 0).unwrap_or(0);
    if found != LOCAL_SIG {
        return invalid!(
            "zip member {name:?}: no local header at offset {} (found signature {found:#010x})",
            e.local_at
        );
    }
    let name_len = le16(local, 26).unwrap_or(0);
    let extra_len = le16(local, 28).unwrap_or(0);
    // The local header lies within the file and both lengths are 16-bit: no overflow.
    let name_at = e.local_at + LOCAL_LEN;
    let Some(local_name) = slice_at(bytes, name_at, name_len.into()) else {
        return invalid!(
            "zip member {name:?}: the local header's name (offset {name_at}, {name_len} bytes) runs past the end of the file"
        );
    };
    if local_name != e.name {
        return invalid!(
            "zip member {name:?}: the local header at offset {} names {:?}",
            e.local_at,
            String::from_utf8_lossy(local_name)
        );
    }
    let data_at = name_at + u64::from(name_len) + u64::from(extra_len);
    let Some(data) = slice_at(bytes, data_at, e.compressed) else {
        return invalid!(
            "zip member {name:?}: data runs past the end of the file (offset {data_at}, {} bytes, file is {len} bytes)",
            e.compressed
        );
    };
    let data = match e.method {
        0 => Data::Stored {
            bytes: data,
            crc32: e.crc32,
        },
        _ => Data::Deflated {
            compressed: data,
            crc32: e.crc32,
        },
    };
    list.add(ArchiveKind::Zip, name, e.size, data)
}

fn method_name(method: u16) -> &'static str {
    match method {
        1 => "shrink",
        2..=5 => "reduce",
        6 => "implode",
        9 => "deflate64",
        12 => "bzip2",
        14 => "lzma",
        93 => "zstandard",
        95 => "xz",
        98 => "ppmd",
        99 => "AES encryption",
        _ => "unknown",
    }
}

/// Rejects a size claim that no deflate stream of `compressed` bytes can meet, before anything
/// of that size is allocated.
fn check_deflate_ratio(name: &str, compressed: u64, size: u64) -> Result<(), ImageError> {
    let most = compressed
        .saturating_mul(MAX_DEFLATE_RATIO)
        .saturating_add(MAX_DEFLATE_RATIO);
    if size > most {
        return invalid!(
            "zip member {name:?}: declares {size} bytes from {compressed} deflated bytes, more than \
             deflate can produce (at most about {MAX_DEFLATE_RATIO}:1)"
        );
    }
    Ok(())
}

/// Inflates a raw deflate stream into exactly `size` bytes.
pub(super) fn inflate(name: &str, compressed: &[u8], size: u64) -> Result<Vec<u8>, ImageError> {
    check_deflate_ratio(name, compressed.len() as u64, size)?;
    let Ok(n) = usize::try_from(size) else {
        return invalid!("zip member {name:?}: {size} bytes do not fit in memory on this host");
    };
    let mut out = Vec::new();
    if out.try_reserve_exact(n).is_err() {
        return invalid!("zip member {name:?}: cannot allocate {size} bytes to inflate it into");
    }
    out.resize(n, 0);
    // The decompressor's tables are about 11 KiB: kept off the stack of the caller's thread.
    let mut state = Box::new(DecompressorOxide::new());
    let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    let (status, _, written) = decompress(&mut state, compressed, &mut out, 0, flags);
    match status {
        TINFLStatus::Done if written == n => Ok(out),
        TINFLStatus::Done => invalid!(
            "zip member {name:?}: the deflate stream inflates to {written} bytes, not the {size} the central directory declares"
        ),
        TINFLStatus::HasMoreOutput => invalid!(
            "zip member {name:?}: the deflate stream inflates to more than the {size} bytes the central directory declares"
        ),
        TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress => invalid!(
            "zip member {name:?}: the deflate stream is cut short ({} compressed bytes gave {written} of {size} bytes)",
            compressed.len()
        ),
        other => invalid!(
            "zip member {name:?}: the deflate stream is corrupt ({other:?} after {written} of {size} bytes)"
        ),
    }
}

pub(super) fn check_crc(name: &str, bytes: &[u8], stored: u32) -> Result<(), ImageError> {
    let computed = crc32(bytes);
    if computed != stored {
        return invalid!(
            "zip member {name:?}: CRC-32 mismatch (stored {stored:#010x}, computed {computed:#010x})"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{read_central_entry, EntryError, CENTRAL_LEN, CENTRAL_SIG};

    /// A central directory entry with `name`, no extra field and no comment.
    fn entry(name: &[u8]) -> Vec<u8> {
        let mut e = vec![0u8; CENTRAL_LEN];
        e[..4].copy_from_slice(&CENTRAL_SIG.to_le_bytes());
        e[28..30].copy_from_slice(&(name.len() as u16).to_le_bytes());
        e.extend_from_slice(name);
        e
    }

    #[test]
    fn a_bad_central_entry_says_what_runs_where() {
        let err = |cd: &[u8]| read_central_entry(cd, 0).err().map(|e| (e.to_string(), e));
        let (text, e) = err(&[0u8; 10]).unwrap();
        assert_eq!(e, EntryError::CutShort);
        assert_eq!(text, "cut short by the end of the central directory");
        let (text, _) = err(&[0u8; CENTRAL_LEN]).unwrap();
        assert_eq!(text, "bad signature 0x00000000");
        let mut e = entry(b"a.bin");
        e.truncate(CENTRAL_LEN + 2);
        assert_eq!(
            err(&e).unwrap().0,
            "name (5 bytes) and extra field (0 bytes) run past the central directory"
        );
        let mut e = entry(b"a.bin");
        e[32..34].copy_from_slice(&3u16.to_le_bytes());
        assert_eq!(
            err(&e).unwrap().0,
            "comment (3 bytes) runs past the central directory"
        );
        let mut e = entry(b"a.bin");
        e[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            err(&e).unwrap().0,
            "sizes or offset are 0xFFFFFFFF but there is no zip64 extra field"
        );
        assert_eq!(
            EntryError::ExtraPastEnd { id: 1, size: 8 }.to_string(),
            "extra field 0x0001 (8 bytes) runs past the extra fields"
        );
        assert_eq!(
            EntryError::Zip64Short {
                what: "disk number"
            }
            .to_string(),
            "the zip64 extra field is too short for the disk number"
        );
        assert!(read_central_entry(&entry(b"a.bin"), 0).is_ok());
    }
}
