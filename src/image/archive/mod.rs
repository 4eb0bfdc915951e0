//! Tar and zip archives read in place: the caller maps the whole file and hands over its bytes;
//! tar members and stored zip members are slices of them, only deflated zip members are inflated
//! (into exactly their declared size). Parameter files of large models reach gigabytes, so
//! nothing is copied that need not be and nothing is ever written to disk.
//!
//! PyBuda's `compile_to_image` writes a tar with Python's `tarfile` (PAX format); the C++ loader
//! also accepts zip. Every offset, size and count read from the file is checked against the file
//! length before use, and member names are checked when the archive is listed (no absolute
//! paths, `..`, links, devices or duplicates), so a hostile archive fails with one line naming
//! the member instead of reaching outside the members or allocating what the file cannot hold.

mod crc32;
mod tar;
mod zip;

use std::borrow::Cow;
use std::collections::HashMap;

use super::{invalid, ImageError};

pub use crc32::crc32;
pub use tar::TarWriter;

/// Which container format an archive is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchiveKind {
    Tar,
    Zip,
}

impl ArchiveKind {
    fn word(self) -> &'static str {
        match self {
            ArchiveKind::Tar => "tar",
            ArchiveKind::Zip => "zip",
        }
    }
}

/// A tar or zip archive listed from the bytes of the whole file.
#[derive(Debug)]
pub struct Archive<'a> {
    kind: ArchiveKind,
    members: Vec<Member<'a>>,
    index: HashMap<String, usize>,
}

/// One regular file of an archive. Directories are not members.
#[derive(Clone, Debug)]
pub struct Member<'a> {
    name: String,
    size: u64,
    data: Data<'a>,
}

#[derive(Clone, Copy, Debug)]
enum Data<'a> {
    /// A tar member's bytes, used as they are.
    Tar(&'a [u8]),
    /// A zip member stored without compression, checked against its CRC-32 when read.
    Stored { bytes: &'a [u8], crc32: u32 },
    /// A deflated zip member; the member's size is what it must inflate to.
    Deflated { compressed: &'a [u8], crc32: u32 },
}

impl<'a> Archive<'a> {
    /// Detects whether `bytes` (a whole file) is a tar or a zip and lists its members, checking
    /// every header and name on the way.
    pub fn parse(bytes: &'a [u8]) -> Result<Archive<'a>, ImageError> {
        let mut list = MemberList::default();
        let kind = if tar::looks_like_tar(bytes) {
            tar::list(bytes, &mut list)?;
            ArchiveKind::Tar
        } else if let Some(end) = zip::find_end_record(bytes) {
            zip::list(bytes, end, &mut list)?;
            ArchiveKind::Zip
        } else {
            return invalid!(
                "not a tar or zip archive ({} bytes): no valid tar header checksum at offset 0 \
                 and no zip end-of-central-directory record",
                bytes.len()
            );
        };
        Ok(Archive {
            kind,
            members: list.members,
            index: list.index,
        })
    }

    pub fn kind(&self) -> ArchiveKind {
        self.kind
    }

    /// The regular files, in archive order.
    pub fn members(&self) -> &[Member<'a>] {
        &self.members
    }

    /// The member called `name` (a leading `./` on either side is ignored).
    pub fn find(&self, name: &str) -> Option<&Member<'a>> {
        let i = *self.index.get(strip_dot_slash(name))?;
        self.members.get(i)
    }
}

impl<'a> Member<'a> {
    /// The name, without a leading `./`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The uncompressed size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether reading the bytes inflates them (so `bytes()` allocates `size()` bytes).
    pub fn is_compressed(&self) -> bool {
        matches!(self.data, Data::Deflated { .. })
    }

    /// The bytes of the deflate stream of a compressed member (`None` when stored).
    pub fn compressed_size(&self) -> Option<u64> {
        match self.data {
            Data::Deflated { compressed, .. } => Some(compressed.len() as u64),
            Data::Tar(_) | Data::Stored { .. } => None,
        }
    }

    /// The member's bytes: borrowed from the file for tar and stored zip members, inflated for
    /// deflated zip members. Zip members are checked against their CRC-32.
    pub fn bytes(&self) -> Result<Cow<'a, [u8]>, ImageError> {
        match self.data {
            Data::Tar(bytes) => Ok(Cow::Borrowed(bytes)),
            Data::Stored { bytes, crc32 } => {
                zip::check_crc(&self.name, bytes, crc32)?;
                Ok(Cow::Borrowed(bytes))
            }
            Data::Deflated { compressed, crc32 } => {
                let bytes = zip::inflate(&self.name, compressed, self.size)?;
                zip::check_crc(&self.name, &bytes, crc32)?;
                Ok(Cow::Owned(bytes))
            }
        }
    }
}

/// Members collected while listing, with the duplicate check.
#[derive(Default)]
struct MemberList<'a> {
    members: Vec<Member<'a>>,
    index: HashMap<String, usize>,
}

impl<'a> MemberList<'a> {
    /// Adds a regular file whose name `raw` was already checked by [`check_name`].
    fn add(
        &mut self,
        kind: ArchiveKind,
        raw: &str,
        size: u64,
        data: Data<'a>,
    ) -> Result<(), ImageError> {
        let name = strip_dot_slash(raw);
        if self.index.contains_key(name) {
            return invalid!(
                "{} member {raw:?}: a duplicate name (another member is also called {name:?})",
                kind.word()
            );
        }
        self.index.insert(name.to_owned(), self.members.len());
        self.members.push(Member {
            name: name.to_owned(),
            size,
            data,
        });
        Ok(())
    }
}

fn strip_dot_slash(mut name: &str) -> &str {
    while let Some(rest) = name.strip_prefix("./") {
        name = rest;
    }
    name
}

/// Rejects names that could reach outside the directory an archive is read into, or that two
/// readers would see differently. A directory may be `./` alone; a file needs a name.
fn check_name(kind: ArchiveKind, raw: &str, is_dir: bool) -> Result<(), ImageError> {
    let bare = strip_dot_slash(raw);
    let problem = if raw.is_empty() || (!is_dir && (bare.is_empty() || bare == ".")) {
        "an empty name is not allowed"
    } else if raw.contains('\0') {
        "a NUL byte in the name is not allowed"
    } else if raw.starts_with('/') || raw.starts_with('\\') || has_drive_letter(raw) {
        "an absolute path is not allowed"
    } else if raw.split(['/', '\\']).any(|c| c == "..") {
        "a \"..\" component is not allowed"
    } else {
        return Ok(());
    };
    invalid!("{} member {raw:?}: {problem}", kind.word())
}

/// `C:` in front of a name: a Windows drive, absolute or drive-relative; both leave the directory.
fn has_drive_letter(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// `bytes[at..at + len]`, or None when that runs past the end (or the sum overflows).
fn slice_at(bytes: &[u8], at: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(at).ok()?;
    let len = usize::try_from(len).ok()?;
    bytes.get(start..start.checked_add(len)?)
}
