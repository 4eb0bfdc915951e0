// One fuzz case for the TTI archive reader: arbitrary bytes are parsed as a tar or zip and every
// member's bytes are read. Any input must give Ok or an error, never a panic, an access outside
// the input or an allocation the input cannot justify; what is accepted must keep the reader's
// promises (a member's bytes are its declared size, names are safe and found by `find`).
// Shared by the cargo-fuzz target (fuzz/fuzz_targets/archive.rs) and the stable test
// (tests/image/fuzz_archive.rs).

use ttrt::image::archive::Archive;

/// Largest deflated member a case inflates, so the fuzzer explores parsing rather than memory
/// (a claim is only bounded by about 1032 times the compressed bytes).
const MAX_INFLATE: u64 = 1 << 24;

/// Returns whether the bytes parsed as an archive (so a test can check that mutated cases reach
/// the member code, not only the header checks).
pub fn archive_case(data: &[u8]) -> bool {
    let Ok(archive) = Archive::parse(data) else {
        return false;
    };
    for member in archive.members() {
        let name = member.name();
        assert!(
            !name.is_empty() && !name.starts_with('/') && !name.starts_with('\\'),
            "unsafe name accepted: {name:?}"
        );
        assert!(
            !name.split(['/', '\\']).any(|c| c == ".."),
            "name with a .. component accepted: {name:?}"
        );
        assert!(
            archive.find(name).is_some_and(|m| m.name() == name),
            "{name:?} is listed but not found"
        );
        if member.is_compressed() && member.size() > MAX_INFLATE {
            continue;
        }
        if let Ok(bytes) = member.bytes() {
            assert_eq!(bytes.len() as u64, member.size(), "bytes of {name:?}");
        }
    }
    true
}
