//! The untilize fuzz target's case, run on stable over seeded pseudo-random inputs (half of them
//! shaped so they reach the codecs, not only the argument checks): no input panics or touches
//! memory outside its buffers. `cargo fuzz run untilize` explores further on nightly.

include!("../../fuzz/untilize_case.rs");

use crate::support;

use support::XorShift;

#[test]
fn untilize_of_arbitrary_bytes_and_descriptors_never_panics() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;
    let cases = 6000;
    for case in 0..cases {
        let len = 16 + (rng.next() % 120) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if case % 2 == 0 {
            // Valid-looking small layouts: grid, blocks, t and stacks of 1, so most cases decode.
            for b in &mut bytes[3..13] {
                *b = 1;
            }
        }
        accepted += untilize_case(&bytes) as usize;
    }
    // The cases must reach the codecs, not only the argument checks.
    assert!(
        accepted * 20 >= cases,
        "only {accepted} of {cases} cases were accepted by untilize"
    );
    eprintln!("{accepted} of {cases} cases decoded");
}

/// The cargo-fuzz target itself keeps compiling (running it needs a nightly toolchain).
#[test]
fn fuzz_target_compiles() {
    let mut cmd = support::cargo();
    cmd.args(["check", "--quiet", "--manifest-path"])
        .arg(support::root().join("fuzz/Cargo.toml"))
        .env(
            "CARGO_TARGET_DIR",
            support::nested_target_dir().join("fuzz"),
        );
    support::run(&mut cmd);
}
