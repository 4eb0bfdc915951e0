//! The netlist fuzz target's case, run on stable: every corpus netlist, then seeded mutations
//! of each (line drops and duplications, byte flips, truncations, token swaps, extreme
//! numbers, stray brackets). No input may panic, and some mutated netlists must still parse, so
//! the mutations reach validation and not only the YAML scanner. `cargo fuzz run netlist`
//! explores further on nightly.

include!("../../fuzz/netlist_case.rs");

use crate::support;

use std::path::{Path, PathBuf};

use support::XorShift;

fn corpus_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read corpus dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "yaml") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/netlists"),
        &mut out,
    );
    out.sort();
    out
}

/// One mutation of `text`, picked and placed by `rng`.
fn mutate(text: &[u8], rng: &mut XorShift) -> Vec<u8> {
    let lines: Vec<&[u8]> = text.split_inclusive(|b| *b == b'\n').collect();
    let pick = |rng: &mut XorShift, n: usize| {
        if n == 0 {
            0
        } else {
            (rng.next() % n as u64) as usize
        }
    };
    match rng.next() % 8 {
        0 => {
            let drop = pick(rng, lines.len());
            lines
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != drop)
                .flat_map(|(_, l)| l.iter().copied())
                .collect()
        }
        1 => {
            let dup = pick(rng, lines.len());
            let mut out = Vec::with_capacity(text.len() + 128);
            for (i, l) in lines.iter().enumerate() {
                out.extend_from_slice(l);
                if i == dup {
                    out.extend_from_slice(l);
                }
            }
            out
        }
        2 => {
            let mut out = text.to_vec();
            for _ in 0..1 + rng.next() % 4 {
                let at = pick(rng, out.len());
                if let Some(b) = out.get_mut(at) {
                    *b ^= 1 << (rng.next() % 8);
                }
            }
            out
        }
        3 => text[..pick(rng, text.len() + 1).min(text.len())].to_vec(),
        4 => {
            // Swap two whitespace-separated tokens.
            let mut tokens: Vec<&[u8]> =
                text.split_inclusive(|b| b.is_ascii_whitespace()).collect();
            let (a, b) = (pick(rng, tokens.len()), pick(rng, tokens.len()));
            if a < tokens.len() && b < tokens.len() {
                tokens.swap(a, b);
            }
            tokens.concat()
        }
        5 => {
            // Replace one number with an extreme one.
            let extremes: [&[u8]; 6] = [
                b"0",
                b"-1",
                b"4294967296",
                b"99999999999999999999",
                b"0xffffffffffffffff",
                b"1e309",
            ];
            let digits: Vec<usize> = text
                .iter()
                .enumerate()
                .filter(|(_, b)| b.is_ascii_digit())
                .map(|(i, _)| i)
                .collect();
            let at = match digits.get(pick(rng, digits.len())) {
                Some(at) => *at,
                None => return text.to_vec(),
            };
            let end = text[at..]
                .iter()
                .position(|b| !b.is_ascii_alphanumeric())
                .map_or(text.len(), |n| at + n);
            let mut out = text[..at].to_vec();
            out.extend_from_slice(extremes[pick(rng, extremes.len())]);
            out.extend_from_slice(&text[end..]);
            out
        }
        6 => {
            let mut out = text.to_vec();
            let at = pick(rng, out.len() + 1).min(out.len());
            let junk: [&[u8]; 6] = [b"[", b"{", b"]", b": ", b"&a ", b"*a"];
            let j = junk[pick(rng, junk.len())];
            out.splice(at..at, j.iter().copied());
            out
        }
        _ => {
            // Swap two lines.
            let mut ls = lines.clone();
            let (a, b) = (pick(rng, ls.len()), pick(rng, ls.len()));
            if a < ls.len() && b < ls.len() {
                ls.swap(a, b);
            }
            ls.concat()
        }
    }
}

#[test]
fn corpus_netlists_and_their_mutations_never_panic() {
    let files = corpus_files();
    assert!(files.len() > 90, "corpus not found");
    let texts: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).expect("read"))
        .collect();
    let mut valid = 0;
    for t in &texts {
        valid += netlist_case(t) as usize;
    }
    assert!(valid > 90, "only {valid} corpus netlists parse");

    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut parsed = 0usize;
    let rounds = 1000;
    let mut cases = 0usize;
    for _ in 0..rounds {
        for t in &texts {
            let mut m = mutate(t, &mut rng);
            if rng.next() % 4 == 0 {
                m = mutate(&m, &mut rng);
            }
            parsed += netlist_case(&m) as usize;
            cases += 1;
        }
    }
    // Mutations that leave a netlist valid (a dropped comment, a swapped queue line) show the
    // cases reach the schema reader and validation.
    assert!(
        parsed * 50 >= cases,
        "only {parsed} of {cases} mutated netlists parsed"
    );
    eprintln!("{parsed} of {cases} mutated netlists parsed");
}

#[test]
fn pathological_inputs_are_refused_without_panicking() {
    let cases: Vec<Vec<u8>> = vec![
        "[".repeat(100_000).into_bytes(),
        "{".repeat(100_000).into_bytes(),
        "- ".repeat(50_000).into_bytes(),
        (0..2000)
            .map(|i| format!("{}a:\n", " ".repeat(i)))
            .collect::<String>()
            .into_bytes(),
        b"a: &x [1, 2]\nb: [*x, *x, *x]\n".to_vec(),
        (0..40)
            .map(|i| {
                format!(
                    "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}]\n",
                    prev = i.max(1) - 1
                )
            })
            .collect::<String>()
            .into_bytes(),
        vec![0xff, 0xfe, b'\n', 0],
        b"devices: {arch: grayskull}\nqueues: {q: {dram: [[0, 0x]]}}\n".to_vec(),
    ];
    for c in &cases {
        assert!(!netlist_case(c));
    }
}
