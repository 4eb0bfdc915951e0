//! Tar archives: the POSIX ustar header, PAX `x` records (what Python's `tarfile` writes by
//! default) and GNU `L` long names; and the writer `ttrt pack` uses.
//!
//! A header is a 512-byte block; a member's data follows, padded to 512 bytes; the archive ends
//! with two zero blocks. Field offsets (POSIX ustar): name 0..100, mode 100..108, uid 108..116,
//! gid 116..124, size 124..136, mtime 136..148, chksum 148..156, typeflag 156, linkname
//! 157..257, magic 257..263, version 263..265, uname 265..297, gname 297..329, devmajor
//! 329..337, devminor 337..345, prefix 345..500.

use std::fmt;
use std::io::{self, Read, Write};
use std::ops::Range;

use super::{check_name, invalid, ArchiveKind, Data, ImageError, MemberList};

const BLOCK: usize = 512;
const NAME: Range<usize> = 0..100;
const SIZE: Range<usize> = 124..136;
const CHKSUM: Range<usize> = 148..156;
const TYPEFLAG: usize = 156;
const MAGIC: Range<usize> = 257..263;
const PREFIX: Range<usize> = 345..500;

/// A valid header checksum at offset 0, or an empty archive (two zero blocks), or a file cut
/// inside its first header that still shows the ustar magic (so the error says "cut short").
pub(super) fn looks_like_tar(bytes: &[u8]) -> bool {
    match bytes.get(..BLOCK) {
        Some(block) if is_zero(block) => bytes.get(BLOCK..2 * BLOCK).is_some_and(is_zero),
        Some(block) => checksum_ok(block).is_ok(),
        None => bytes.get(MAGIC).is_some_and(|m| m.starts_with(b"ustar")),
    }
}

/// What is wrong with a numeric header field; the caller names the header and the field.
#[derive(Clone, Debug, PartialEq, Eq)]
enum FieldError {
    NegativeBase256,
    Base256Overflow,
    /// Not octal digits: the field as text.
    NotOctal(String),
    OctalOverflow,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldError::NegativeBase256 => f.write_str("is a negative base-256 number"),
            FieldError::Base256Overflow => {
                f.write_str("is a base-256 number that does not fit in 64 bits")
            }
            FieldError::NotOctal(text) => write!(f, "is not an octal number ({text:?})"),
            FieldError::OctalOverflow => {
                f.write_str("is an octal number that does not fit in 64 bits")
            }
        }
    }
}

/// A header whose checksum field cannot be read or does not match.
#[derive(Clone, Debug, PartialEq, Eq)]
enum ChecksumError {
    Field(FieldError),
    /// The stored sum against the unsigned and the signed byte sums.
    Mismatch {
        stored: u64,
        unsigned: u64,
        signed: i64,
    },
}

impl fmt::Display for ChecksumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChecksumError::Field(e) => write!(f, "checksum field {e}"),
            ChecksumError::Mismatch {
                stored,
                unsigned,
                signed,
            } => write!(
                f,
                "bad header checksum (stored {stored:#o}, computed {unsigned:#o}, or {signed} \
                 with signed bytes)"
            ),
        }
    }
}

fn is_zero(block: &[u8]) -> bool {
    block.iter().all(|&b| b == 0)
}

/// Checks the header checksum: the byte sum with the checksum field read as spaces. Old tars
/// summed signed chars, so both sums are accepted, as GNU tar and Python's tarfile do.
fn checksum_ok(block: &[u8]) -> Result<(), ChecksumError> {
    let field = block.get(CHKSUM).unwrap_or(&[]);
    let stored = parse_octal(field).map_err(ChecksumError::Field)?;
    let mut unsigned: u64 = 0;
    let mut signed: i64 = 0;
    for (i, &b) in block.iter().enumerate() {
        let b = if CHKSUM.contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    if stored == unsigned || i64::try_from(stored).is_ok_and(|s| s == signed) {
        Ok(())
    } else {
        Err(ChecksumError::Mismatch {
            stored,
            unsigned,
            signed,
        })
    }
}

/// A numeric field: octal digits (space or NUL padded), or GNU base-256 when the high bit of
/// the first byte is set (sizes of 8 GiB and more).
fn parse_number(field: &[u8]) -> Result<u64, FieldError> {
    match field.first() {
        Some(&first) if first & 0x80 != 0 => {
            if first == 0xff {
                return Err(FieldError::NegativeBase256);
            }
            let mut value = u64::from(first & 0x7f);
            for &b in field.get(1..).unwrap_or(&[]) {
                value = value
                    .checked_mul(256)
                    .and_then(|v| v.checked_add(u64::from(b)))
                    .ok_or(FieldError::Base256Overflow)?;
            }
            Ok(value)
        }
        _ => parse_octal(field),
    }
}

fn parse_octal(field: &[u8]) -> Result<u64, FieldError> {
    let text = field_text(field).trim_ascii();
    let mut value: u64 = 0;
    for &c in text {
        if !(b'0'..=b'7').contains(&c) {
            return Err(FieldError::NotOctal(
                String::from_utf8_lossy(field).into_owned(),
            ));
        }
        value = value
            .checked_mul(8)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .ok_or(FieldError::OctalOverflow)?;
    }
    Ok(value)
}

/// A NUL-terminated field as bytes.
fn field_text(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    field.get(..end).unwrap_or(&[])
}

/// What extended headers (`x`, `L`) said about the header that follows them.
#[derive(Default)]
struct Pending {
    path: Option<String>,
    size: Option<u64>,
    /// Offset of the first extended header, for the error when no member follows.
    from: Option<usize>,
}

/// Lists the members of a tar.
pub(super) fn list<'a>(bytes: &'a [u8], list: &mut MemberList<'a>) -> Result<(), ImageError> {
    let len = bytes.len();
    let mut pos = 0usize;
    let mut pending = Pending::default();
    loop {
        let Some(block) = pos.checked_add(BLOCK).and_then(|end| bytes.get(pos..end)) else {
            return invalid!(
                "tar: cut short: no header or end-of-archive blocks at offset {pos} (file is {len} bytes)"
            );
        };
        if is_zero(block) {
            return end_of_archive(bytes, pos, &pending);
        }
        if let Err(e) = checksum_ok(block) {
            return invalid!("tar header at offset {pos}: {e}");
        }
        let typeflag = block[TYPEFLAG];
        let header_size = parse_number(&block[SIZE]).map_err(|e| {
            ImageError::invalid(format!("tar header at offset {pos}: size field {e}"))
        })?;
        let data_start = pos + BLOCK;
        let is_extension = matches!(typeflag, b'x' | b'g' | b'L' | b'K');
        let size = match pending.size {
            Some(s) if !is_extension => s,
            _ => header_size,
        };
        let name = if is_extension {
            String::from_utf8_lossy(field_text(&block[NAME])).into_owned()
        } else {
            match pending.path.take() {
                Some(p) => p,
                None => header_name(block).map_err(|e| {
                    ImageError::invalid(format!(
                        "tar header at offset {pos}: the name is not UTF-8 ({:?})",
                        String::from_utf8_lossy(e.as_bytes())
                    ))
                })?,
            }
        };
        let Some(data) = usize::try_from(size)
            .ok()
            .and_then(|s| bytes.get(data_start..data_start.checked_add(s)?))
        else {
            return invalid!(
                "tar member {name:?}: data runs past the end of the file (offset {data_start}, \
                 {size} bytes, file is {len} bytes)"
            );
        };
        let next = data
            .len()
            .checked_next_multiple_of(BLOCK)
            .and_then(|padded| data_start.checked_add(padded));
        let Some(next) = next else {
            return invalid!("tar member {name:?}: size {size} overflows the file offset");
        };

        match typeflag {
            b'x' => {
                pending.from.get_or_insert(pos);
                read_pax(data, pos, &mut pending)?;
            }
            // Global PAX records set defaults for the whole archive (times, charset); nothing
            // ttrt reads comes from them.
            b'g' => {}
            b'L' => {
                pending.from.get_or_insert(pos);
                let raw = field_text(data);
                let path = std::str::from_utf8(raw).map_err(|_| {
                    ImageError::invalid(format!(
                        "tar header at offset {pos}: the GNU long name is not UTF-8 ({:?})",
                        String::from_utf8_lossy(raw)
                    ))
                })?;
                pending.path = Some(path.to_owned());
            }
            // A GNU long link name: only links use it, and links are rejected below.
            b'K' => {
                pending.from.get_or_insert(pos);
            }
            b'0' | 0 | b'7' | b'5' => {
                // Pre-POSIX tars mark directories by a trailing slash on a regular entry.
                let is_dir = typeflag == b'5' || name.ends_with('/');
                check_name(ArchiveKind::Tar, &name, is_dir)?;
                if !is_dir {
                    list.add(ArchiveKind::Tar, &name, size, Data::Tar(data))?;
                }
                pending = Pending::default();
            }
            other => {
                check_name(ArchiveKind::Tar, &name, false)?;
                let what = match other {
                    b'1' => "a hard link is not allowed".to_owned(),
                    b'2' => "a symbolic link is not allowed".to_owned(),
                    b'3' => "a character device is not allowed".to_owned(),
                    b'4' => "a block device is not allowed".to_owned(),
                    b'6' => "a FIFO is not allowed".to_owned(),
                    b'S' => "a GNU sparse file is not supported".to_owned(),
                    c => format!(
                        "entry type {:?} is not supported (only regular files and directories)",
                        char::from(c)
                    ),
                };
                return invalid!("tar member {name:?}: {what}");
            }
        }
        pos = next;
    }
}

/// At a zero block: the archive ends with two of them and nothing may be left pending.
fn end_of_archive(bytes: &[u8], pos: usize, pending: &Pending) -> Result<(), ImageError> {
    if let Some(from) = pending.from {
        return invalid!(
            "tar: the extended header at offset {from} is not followed by a member (end of archive at offset {pos})"
        );
    }
    let second = pos
        .checked_add(BLOCK)
        .and_then(|s| bytes.get(s..s.checked_add(BLOCK)?));
    match second {
        None => invalid!(
            "tar: cut short: one zero block at offset {pos} but not the second the end of an archive needs (file is {} bytes)",
            bytes.len()
        ),
        Some(b) if !is_zero(b) => invalid!(
            "tar: a single zero block at offset {pos} is followed by a non-zero block (the end of an archive is two zero blocks)"
        ),
        Some(_) => Ok(()),
    }
}

/// The ustar name, with the prefix in front when the magic is POSIX `ustar\0` (GNU tar keeps
/// times where the prefix would be). Err holds the bytes when the name is not UTF-8.
fn header_name(block: &[u8]) -> Result<String, std::string::FromUtf8Error> {
    let name = field_text(&block[NAME]);
    let prefix = if &block[MAGIC] == b"ustar\0" {
        field_text(&block[PREFIX])
    } else {
        &[]
    };
    let mut full = Vec::with_capacity(prefix.len() + 1 + name.len());
    if !prefix.is_empty() {
        full.extend_from_slice(prefix);
        full.push(b'/');
    }
    full.extend_from_slice(name);
    String::from_utf8(full)
}

/// PAX records, `"<len> <key>=<value>\n"` where len counts the whole record.
fn read_pax(data: &[u8], pos: usize, pending: &mut Pending) -> Result<(), ImageError> {
    let mut rest = data;
    let mut at = 0usize;
    // Some writers pad the records with NULs.
    while rest.first().is_some_and(|&b| b != 0) {
        let bad =
            |what: &str| invalid!("tar header at offset {pos}: PAX record at byte {at}: {what}");
        let Some(space) = rest.iter().take(20).position(|&b| b == b' ') else {
            return bad("no length followed by a space");
        };
        let digits = &rest[..space];
        let record_len = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse::<usize>().ok());
        let Some(record_len) = record_len else {
            return bad(&format!(
                "length {:?} is not a decimal number",
                String::from_utf8_lossy(digits)
            ));
        };
        if record_len <= space + 1 || record_len > rest.len() {
            return bad(&format!(
                "length {record_len} does not fit the {} bytes left",
                rest.len()
            ));
        }
        let record = &rest[space + 1..record_len];
        let Some((&b'\n', body)) = record.split_last() else {
            return bad("does not end with a newline");
        };
        let Some(eq) = body.iter().position(|&b| b == b'=') else {
            return bad("has no '='");
        };
        let (key, value) = (&body[..eq], &body[eq + 1..]);
        match key {
            b"path" => match std::str::from_utf8(value) {
                Ok(v) => pending.path = Some(v.to_owned()),
                Err(_) => {
                    return bad(&format!(
                        "path is not UTF-8 ({:?})",
                        String::from_utf8_lossy(value)
                    ))
                }
            },
            b"size" => match std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
            {
                Some(v) => pending.size = Some(v),
                None => {
                    return bad(&format!(
                        "size {:?} is not a decimal number",
                        String::from_utf8_lossy(value)
                    ))
                }
            },
            k if k.starts_with(b"GNU.sparse.") => {
                return bad("GNU sparse files are not supported");
            }
            _ => {}
        }
        rest = &rest[record_len..];
        at += record_len;
    }
    Ok(())
}

/// Writes a tar that Python's `tarfile` (and GNU tar) read: ustar headers with mode 0644 for
/// files and 0755 for directories, uid/gid 0, empty user and group names, and a PAX `x` record
/// for a name that does not fit the ustar name and prefix fields or a size of 8 GiB or more.
pub struct TarWriter<W: Write> {
    out: W,
    mtime: u64,
}

/// Largest value of an 11-digit octal field (size, mtime).
const MAX_OCTAL_11: u64 = 0o77777777777;

impl<W: Write> TarWriter<W> {
    /// A writer stamping every member with mtime 0, so the same inputs give the same bytes.
    pub fn new(out: W) -> TarWriter<W> {
        TarWriter { out, mtime: 0 }
    }

    /// A writer stamping every member with `mtime` (seconds since 1970).
    pub fn with_mtime(out: W, mtime: u64) -> io::Result<TarWriter<W>> {
        if mtime > MAX_OCTAL_11 {
            return Err(invalid_input(format!(
                "mtime {mtime} does not fit a tar header"
            )));
        }
        Ok(TarWriter { out, mtime })
    }

    pub fn add_file(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.header(name, b'0', 0o644, bytes.len() as u64)?;
        self.out.write_all(bytes)?;
        self.pad(bytes.len() as u64)
    }

    /// A member of `size` bytes read from `source`, so a large tensor is streamed rather than
    /// held in memory. Fails when `source` ends before `size` bytes; the output is then not a
    /// usable archive.
    pub fn add_file_from(
        &mut self,
        name: &str,
        size: u64,
        source: &mut impl Read,
    ) -> io::Result<()> {
        self.header(name, b'0', 0o644, size)?;
        let copied = io::copy(&mut source.take(size), &mut self.out)?;
        if copied != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("tar member {name:?}: the source gave {copied} of {size} bytes"),
            ));
        }
        self.pad(size)
    }

    pub fn add_dir(&mut self, name: &str) -> io::Result<()> {
        let name = format!("{}/", name.trim_end_matches('/'));
        self.header(&name, b'5', 0o755, 0)
    }

    /// Writes the two zero blocks that end the archive and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[0u8; 2 * BLOCK])?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn header(&mut self, name: &str, typeflag: u8, mode: u32, size: u64) -> io::Result<()> {
        if let Err(e) = check_name(ArchiveKind::Tar, name, typeflag == b'5') {
            return Err(invalid_input(e.message().to_owned()));
        }
        let split = if name.is_ascii() {
            split_ustar_name(name)
        } else {
            None
        };
        let mut pax = Vec::new();
        if split.is_none() {
            pax_record(&mut pax, "path", name);
        }
        if size > MAX_OCTAL_11 {
            pax_record(&mut pax, "size", &size.to_string());
        }
        if !pax.is_empty() {
            let pax_size = pax.len() as u64;
            let block = ustar_block(b"././@PaxHeader", b"", b'x', 0o644, pax_size, self.mtime);
            self.out.write_all(&block)?;
            self.out.write_all(&pax)?;
            self.pad(pax_size)?;
        }
        // Without a fitting split the ustar field holds the name cut to 100 bytes; readers take
        // the PAX path instead.
        let (prefix, short): (&[u8], &[u8]) = match split {
            Some((prefix, short)) => (prefix.as_bytes(), short.as_bytes()),
            None => (b"", &name.as_bytes()[..name.len().min(100)]),
        };
        let field_size = if size > MAX_OCTAL_11 { 0 } else { size };
        let block = ustar_block(short, prefix, typeflag, mode, field_size, self.mtime);
        self.out.write_all(&block)
    }

    fn pad(&mut self, written: u64) -> io::Result<()> {
        let rem = (written % BLOCK as u64) as usize;
        if rem != 0 {
            self.out.write_all(&[0u8; BLOCK][..BLOCK - rem])?;
        }
        Ok(())
    }
}

fn invalid_input(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// Splits a name into ustar (prefix, name): the name alone when it fits 100 bytes, else at a
/// '/' leaving at most 155 bytes of prefix and 1..=100 of name.
fn split_ustar_name(name: &str) -> Option<(&str, &str)> {
    if name.len() <= 100 {
        return Some(("", name));
    }
    name.match_indices('/')
        .map(|(i, _)| (&name[..i], &name[i + 1..]))
        .find(|(prefix, rest)| prefix.len() <= 155 && !rest.is_empty() && rest.len() <= 100)
}

fn pax_record(out: &mut Vec<u8>, key: &str, value: &str) {
    // The length counts its own digits: grow the guess until it is stable.
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while body + len.to_string().len() != len {
        len = body + len.to_string().len();
    }
    out.extend_from_slice(format!("{len} {key}={value}\n").as_bytes());
}

fn ustar_block(
    name: &[u8],
    prefix: &[u8],
    typeflag: u8,
    mode: u32,
    size: u64,
    mtime: u64,
) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    let put = |b: &mut [u8; BLOCK], at: usize, bytes: &[u8]| {
        b[at..at + bytes.len()].copy_from_slice(bytes)
    };
    put(&mut b, 0, &name[..name.len().min(100)]);
    put(&mut b, 100, format!("{mode:07o}\0").as_bytes());
    put(&mut b, 108, b"0000000\0");
    put(&mut b, 116, b"0000000\0");
    put(&mut b, 124, format!("{size:011o}\0").as_bytes());
    put(&mut b, 136, format!("{mtime:011o}\0").as_bytes());
    b[TYPEFLAG] = typeflag;
    put(&mut b, 257, b"ustar\0");
    put(&mut b, 263, b"00");
    put(&mut b, 329, b"0000000\0");
    put(&mut b, 337, b"0000000\0");
    put(&mut b, 345, &prefix[..prefix.len().min(155)]);
    put(&mut b, 148, b"        ");
    let sum: u32 = b.iter().map(|&x| u32::from(x)).sum();
    put(&mut b, 148, format!("{sum:06o}\0 ").as_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::{checksum_ok, parse_number, parse_octal, ChecksumError, FieldError, BLOCK};

    #[test]
    fn bad_number_fields_say_what_they_hold() {
        let mut negative = [0xffu8; 12];
        assert_eq!(parse_number(&negative), Err(FieldError::NegativeBase256));
        negative[0] = 0x80;
        let e = parse_number(&negative).unwrap_err();
        assert_eq!(e, FieldError::Base256Overflow);
        assert_eq!(
            e.to_string(),
            "is a base-256 number that does not fit in 64 bits"
        );
        let e = parse_octal(b"12x\0").unwrap_err();
        assert_eq!(e.to_string(), "is not an octal number (\"12x\\0\")");
        let e = parse_octal(b"7777777777777777777777 ").unwrap_err();
        assert_eq!(
            e.to_string(),
            "is an octal number that does not fit in 64 bits"
        );
        assert_eq!(parse_number(b"0000644\0"), Ok(0o644));
    }

    #[test]
    fn a_bad_checksum_gives_both_sums() {
        let mut block = [0u8; BLOCK];
        block[148] = b'0';
        let e = checksum_ok(&block).unwrap_err();
        assert_eq!(
            e,
            ChecksumError::Mismatch {
                stored: 0,
                unsigned: 256,
                signed: 256
            }
        );
        assert_eq!(
            e.to_string(),
            "bad header checksum (stored 0o0, computed 0o400, or 256 with signed bytes)"
        );
        block[148] = b'9';
        assert_eq!(
            checksum_ok(&block).unwrap_err().to_string(),
            "checksum field is not an octal number (\"9\\0\\0\\0\\0\\0\\0\\0\")"
        );
    }
}
