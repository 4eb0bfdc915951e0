//! The names in error texts are the names a C programmer reads in `include/ttrt.h`.
//!
//! `names_in_errors_are_the_header_parameters` reads the prototypes of the header and the
//! source of `src/ffi`, and checks, for every exported function, each argument name its
//! errors can quote (`argument `x` is NULL`, `cfg->arena is NULL ...`): the names passed to
//! the boundary helpers (`arg`, `arg_mut`, `out`, `c_str`, handle lookups, and every helper of
//! src/ffi that takes a `&'static str` name), the `arg:` of `ArgError`s, and every `x->field`
//! in a string, in the function and in the helpers it calls. Each must start with a parameter
//! of the header's prototype of that function. The function name given to `call`/`guard` must
//! be the function's own. The other tests trigger some of the texts through the exports.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{CStr, CString};
use std::path::Path;

// ---------------------------------------------------------------------------------------------
// A small Rust lexer: identifiers, string literals, lifetimes and punctuation; comments dropped.

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Lifetime(String),
    Punct(char),
}

fn lex(src: &str) -> Vec<Tok> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let ident_char = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == b'"' {
            let mut s = String::new();
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                    if b[i] == b'\n' {
                        // A line continuation: the break and the next line's indent vanish.
                        i += 1;
                        while i < b.len() && b[i].is_ascii_whitespace() {
                            i += 1;
                        }
                        continue;
                    }
                    s.push('\\');
                }
                let start = i;
                i += 1;
                while i < b.len() && (b[i] & 0xC0) == 0x80 {
                    i += 1;
                }
                s.push_str(&src[start..i]);
            }
            i += 1;
            out.push(Tok::Str(s));
        } else if c == b'r' && (b.get(i + 1) == Some(&b'#') || b.get(i + 1) == Some(&b'"')) {
            let mut hashes = 0;
            let mut j = i + 1;
            while b[j] == b'#' {
                hashes += 1;
                j += 1;
            }
            if b[j] != b'"' {
                // `r#ident`
                out.push(Tok::Ident("r".into()));
                i += 1;
                continue;
            }
            let close: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let body_start = j + 1;
            let end = src[body_start..].find(&close).expect("raw string ends") + body_start;
            out.push(Tok::Str(src[body_start..end].to_string()));
            i = end + close.len();
        } else if c == b'\'' {
            // A char literal or a lifetime.
            if b.get(i + 1) == Some(&b'\\') {
                let end = src[i + 2..].find('\'').expect("char literal ends") + i + 2;
                i = end + 1;
            } else if b.get(i + 2) == Some(&b'\'') {
                i += 3;
            } else if b.get(i + 1).is_some_and(|&c| (c & 0x80) != 0) {
                let end = src[i + 1..].find('\'').expect("char literal ends") + i + 1;
                i = end + 1;
            } else {
                let start = i + 1;
                i += 1;
                while i < b.len() && ident_char(b[i]) {
                    i += 1;
                }
                out.push(Tok::Lifetime(src[start..i].to_string()));
            }
        } else if ident_char(c) {
            let start = i;
            while i < b.len() && ident_char(b[i]) {
                i += 1;
            }
            let word = &src[start..i];
            // b"..." and c"..." are strings.
            if (word == "b" || word == "c" || word == "br") && b.get(i) == Some(&b'"') {
                continue;
            }
            out.push(Tok::Ident(word.to_string()));
        } else {
            out.push(Tok::Punct(c as char));
            i += 1;
        }
    }
    out
}

fn is_punct(t: &Tok, c: char) -> bool {
    *t == Tok::Punct(c)
}

fn is_ident(t: &Tok, s: &str) -> bool {
    matches!(t, Tok::Ident(w) if w == s)
}

/// The index of the token closing the bracket opened at `open`.
fn matching(toks: &[Tok], open: usize) -> usize {
    let mut depth = 0i32;
    for (k, t) in toks.iter().enumerate().skip(open) {
        match t {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced brackets");
}

/// Splits the tokens between brackets into comma-separated parts; a closure's `|a, b|` stays
/// in one part.
fn split_args(toks: &[Tok]) -> Vec<&[Tok]> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let mut in_pipes = false;
    for (k, t) in toks.iter().enumerate() {
        match t {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => depth -= 1,
            Tok::Punct('|') if depth == 0 => {
                let first = toks[start..k]
                    .iter()
                    .all(|t| is_ident(t, "move") || is_punct(t, '|'));
                if first || in_pipes {
                    in_pipes = !in_pipes;
                }
            }
            Tok::Punct(',') if depth == 0 && !in_pipes => {
                parts.push(&toks[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    if start < toks.len() {
        parts.push(&toks[start..]);
    }
    parts
}

// ---------------------------------------------------------------------------------------------
// Functions of src/ffi.

#[derive(Clone, Copy, Debug, PartialEq)]
enum ParamRole {
    /// A `&'static str` naming an argument.
    Name,
    /// `func: &'static str`, the exported function's name.
    Func,
    Other,
}

#[derive(Debug, Default)]
struct FnInfo {
    file: String,
    exported: bool,
    has_self: bool,
    /// Roles of the parameters after `self`.
    roles: Vec<ParamRole>,
    params: Vec<String>,
    /// Argument names quoted directly in the body.
    names: Vec<String>,
    /// Function names given to `func` parameters in the body.
    funcs: Vec<String>,
    /// Functions (and methods) the body calls: (name, is a method call).
    calls: Vec<(String, bool)>,
}

fn params_of(toks: &[Tok]) -> (bool, Vec<String>, Vec<ParamRole>) {
    let mut has_self = false;
    let mut names = Vec::new();
    let mut roles = Vec::new();
    for part in split_args(toks) {
        let Some(colon) = part.iter().position(|t| is_punct(t, ':')) else {
            if part.iter().any(|t| is_ident(t, "self")) {
                has_self = true;
            }
            continue;
        };
        let name = part[..colon]
            .iter()
            .rev()
            .find_map(|t| match t {
                Tok::Ident(w) if w != "mut" => Some(w.clone()),
                _ => None,
            })
            .unwrap_or_default();
        if name == "self" {
            has_self = true;
            continue;
        }
        let ty = &part[colon + 1..];
        let static_str = ty.len() == 3
            && is_punct(&ty[0], '&')
            && ty[1] == Tok::Lifetime("static".into())
            && is_ident(&ty[2], "str");
        roles.push(match (static_str, name.as_str()) {
            (true, "func") => ParamRole::Func,
            (true, n) if n == "arg" || n.ends_with("name") => ParamRole::Name,
            _ => ParamRole::Other,
        });
        names.push(name);
    }
    (has_self, names, roles)
}

/// Every `fn` with a body in `src`, in order.
fn functions(file: &str, src: &str) -> Vec<(String, FnInfo, Vec<Tok>)> {
    let toks = lex(src);
    let mut out = Vec::new();
    let mut k = 0;
    while k + 2 < toks.len() {
        if !(is_ident(&toks[k], "fn") && matches!(toks[k + 1], Tok::Ident(_))) {
            k += 1;
            continue;
        }
        let Tok::Ident(name) = toks[k + 1].clone() else {
            unreachable!()
        };
        // `pub [unsafe] extern "C" fn`: a callback of a test (`extern "C"`, not `pub`) is
        // not an export.
        let is_pub = |at: usize| at < k && is_ident(&toks[at], "pub");
        let exported = k >= 3
            && toks[k - 1] == Tok::Str("C".into())
            && is_ident(&toks[k - 2], "extern")
            && (is_pub(k - 3) || (is_ident(&toks[k - 3], "unsafe") && k >= 4 && is_pub(k - 4)));
        // Generic parameters, then the parameter list.
        let mut open = k + 2;
        if is_punct(&toks[open], '<') {
            let mut depth = 0;
            while open < toks.len() {
                match toks[open] {
                    Tok::Punct('<') => depth += 1,
                    Tok::Punct('>') if !is_punct(&toks[open - 1], '-') => {
                        depth -= 1;
                        if depth == 0 {
                            open += 1;
                            break;
                        }
                    }
                    _ => {}
                }
                open += 1;
            }
        }
        assert!(
            is_punct(&toks[open], '('),
            "{file}: fn {name}: no parameter list"
        );
        let close = matching(&toks, open);
        let (has_self, params, roles) = params_of(&toks[open + 1..close]);
        // The body: the first `{` at bracket depth 0 after the parameters, unless a `;` ends
        // the declaration first.
        let mut j = close + 1;
        let mut depth = 0;
        let body_open = loop {
            match toks[j] {
                Tok::Punct('(' | '[') => depth += 1,
                Tok::Punct(')' | ']') => depth -= 1,
                Tok::Punct('{') if depth == 0 => break Some(j),
                Tok::Punct(';') if depth == 0 => break None,
                _ => {}
            }
            j += 1;
        };
        let Some(body_open) = body_open else {
            k = j;
            continue;
        };
        let body_close = matching(&toks, body_open);
        let body = toks[body_open..=body_close].to_vec();
        out.push((
            name,
            FnInfo {
                file: file.to_string(),
                exported,
                has_self,
                roles,
                params,
                ..FnInfo::default()
            },
            body,
        ));
        // Nested fns are scanned as their own items too.
        k = body_open + 1;
    }
    out
}

/// `root`, then `->field`, `.field` or `[index]` any number of times.
fn name_root(name: &str) -> Option<&str> {
    let b = name.as_bytes();
    let ident = |i: usize| {
        let mut j = i;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
            j += 1;
        }
        (j > i && !b[i].is_ascii_digit()).then_some(j)
    };
    let root_end = ident(0)?;
    let mut i = root_end;
    while i < b.len() {
        if name[i..].starts_with("->") {
            i = ident(i + 2)?;
        } else if b[i] == b'.' {
            i = ident(i + 1)?;
        } else if b[i] == b'[' {
            let end = name[i..].find(']')? + i;
            i = end + 1;
        } else {
            return None;
        }
    }
    Some(&name[..root_end])
}

/// The roots of every `x->` in a string.
fn arrow_roots(s: &str) -> Vec<String> {
    let mut roots = Vec::new();
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(at) = s[from..].find("->") {
        let end = from + at;
        let mut start = end;
        while start > 0 && (b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_') {
            start -= 1;
        }
        if start < end && !b[start].is_ascii_digit() {
            roots.push(s[start..end].to_string());
        }
        from = end + 2;
    }
    roots
}

struct Ffi {
    fns: Vec<(String, FnInfo)>,
}

impl Ffi {
    fn read(root: &Path) -> Ffi {
        let mut raw = Vec::new();
        let mut files: Vec<_> = std::fs::read_dir(root.join("src/ffi"))
            .expect("src/ffi")
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .collect();
        files.sort();
        for path in files {
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            let src = std::fs::read_to_string(&path).unwrap();
            raw.extend(functions(&file, &src));
        }
        // Roles of everything callable, for reading the calls.
        let roles: Vec<(String, String, bool, Vec<ParamRole>)> = raw
            .iter()
            .map(|(n, f, _)| (n.clone(), f.file.clone(), f.has_self, f.roles.clone()))
            .collect();
        let mut fns = Vec::new();
        for (name, mut info, body) in raw {
            scan_body(&mut info, &body, &roles);
            fns.push((name, info));
        }
        Ffi { fns }
    }

    /// The function `name` called from `file`: one of that file if there is one, else any.
    fn resolve(&self, name: &str, method: bool, file: &str) -> Option<&FnInfo> {
        let all: Vec<&FnInfo> = self
            .fns
            .iter()
            .filter(|(n, f)| n == name && f.has_self == method)
            .map(|(_, f)| f)
            .collect();
        all.iter()
            .find(|f| f.file == file)
            .or_else(|| all.first())
            .copied()
    }

    /// Names quoted by `f` and by everything it calls: (name, where).
    fn names_reached(&self, fname: &str, f: &FnInfo) -> Vec<(String, String)> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        let mut stack = vec![(fname.to_string(), f)];
        while let Some((n, f)) = stack.pop() {
            if !seen.insert((n.clone(), f.file.clone())) {
                continue;
            }
            for name in &f.names {
                out.push((name.clone(), format!("{} fn {n}", f.file)));
            }
            for (callee, method) in &f.calls {
                if let Some(g) = self.resolve(callee, *method, &f.file) {
                    stack.push((callee.clone(), g));
                }
            }
        }
        out
    }
}

fn scan_body(info: &mut FnInfo, body: &[Tok], roles: &[(String, String, bool, Vec<ParamRole>)]) {
    // Closures bound by `let NAME = |a, name| ...`: a parameter called `name` or `arg` is a
    // name.
    let mut closures: BTreeMap<String, Vec<ParamRole>> = BTreeMap::new();
    for k in 0..body.len().saturating_sub(4) {
        if let (true, Tok::Ident(n), true, true) = (
            is_ident(&body[k], "let"),
            &body[k + 1],
            is_punct(&body[k + 2], '='),
            is_punct(&body[k + 3], '|'),
        ) {
            let end = (k + 4..body.len())
                .find(|&j| is_punct(&body[j], '|'))
                .unwrap();
            let r = split_args(&body[k + 4..end])
                .iter()
                .map(|p| match p.first() {
                    Some(Tok::Ident(w)) if w == "name" || w == "arg" => ParamRole::Name,
                    _ => ParamRole::Other,
                })
                .collect();
            closures.insert(n.clone(), r);
        }
    }
    for k in 0..body.len() {
        match &body[k] {
            Tok::Str(s) => {
                for root in arrow_roots(s) {
                    info.names.push(format!("{root}->…"));
                }
            }
            // `arg: "name"` in an ArgError.
            Tok::Ident(w) if w == "arg" && k + 2 < body.len() && is_punct(&body[k + 1], ':') => {
                if let Tok::Str(s) = &body[k + 2] {
                    info.names.push(s.clone());
                }
            }
            _ => {}
        }
        let Tok::Ident(callee) = &body[k] else {
            continue;
        };
        if k + 1 >= body.len() || !is_punct(&body[k + 1], '(') {
            continue;
        }
        if k > 0 && is_ident(&body[k - 1], "fn") {
            continue;
        }
        // A path into another layer (`crate::message::count`) is not a helper of src/ffi.
        let mut p = k;
        let mut foreign = false;
        while p >= 3 && is_punct(&body[p - 1], ':') && is_punct(&body[p - 2], ':') {
            if let Tok::Ident(seg) = &body[p - 3] {
                if matches!(seg.as_str(), "crate" | "core" | "alloc" | "std") {
                    foreign = true;
                }
            }
            p -= 3;
        }
        if foreign {
            continue;
        }
        let method = k > 0 && is_punct(&body[k - 1], '.');
        info.calls.push((callee.clone(), method));
        let r: Option<Vec<ParamRole>> = closures.get(callee).cloned().or_else(|| {
            let all: Vec<_> = roles
                .iter()
                .filter(|(n, _, s, _)| n == callee && *s == method)
                .collect();
            all.iter()
                .find(|(_, file, _, _)| *file == info.file)
                .or_else(|| all.first())
                .map(|(_, _, _, r)| r.clone())
        });
        let Some(r) = r else { continue };
        let close = matching(body, k + 1);
        for (arg, role) in split_args(&body[k + 2..close]).iter().zip(&r) {
            if let [Tok::Str(s)] = arg {
                match role {
                    ParamRole::Name => info.names.push(s.clone()),
                    ParamRole::Func => info.funcs.push(s.clone()),
                    ParamRole::Other => {}
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The header's prototypes.

/// Each function's parameter names, and whether one of them is a pointer.
fn header_prototypes(root: &Path) -> BTreeMap<String, (Vec<String>, bool)> {
    let text = std::fs::read_to_string(root.join("include/ttrt.h")).unwrap();
    let toks = lex(&text.replace('#', "//#"));
    let mut protos = BTreeMap::new();
    for k in 0..toks.len().saturating_sub(1) {
        let Tok::Ident(name) = &toks[k] else { continue };
        if !name.starts_with("ttrt_") || !is_punct(&toks[k + 1], '(') {
            continue;
        }
        // A prototype: the name follows a type (not `typedef ... (*name)`), and `;` follows
        // the parameter list.
        if k > 0 && is_punct(&toks[k - 1], '(') {
            continue;
        }
        let close = matching(&toks, k + 1);
        if !toks.get(close + 1).is_some_and(|t| is_punct(t, ';')) {
            continue;
        }
        let parts = split_args(&toks[k + 2..close]);
        let params = parts
            .iter()
            .filter_map(|p| match p.last() {
                Some(Tok::Ident(w)) if w != "void" || p.len() > 1 => Some(w.clone()),
                _ => None,
            })
            .collect();
        let pointer = parts.iter().any(|p| p.iter().any(|t| is_punct(t, '*')));
        protos.insert(name.clone(), (params, pointer));
    }
    protos
}

#[test]
fn names_in_errors_are_the_header_parameters() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let protos = header_prototypes(root);
    assert!(
        protos.len() > 70,
        "read only {} prototypes from include/ttrt.h",
        protos.len()
    );
    assert_eq!(
        protos["ttrt_pipeline_create"].0,
        [
            "dev",
            "cfg",
            "model",
            "user",
            "l1_input",
            "dram_input",
            "dram_output",
            "out_p"
        ]
    );
    let ffi = Ffi::read(root);
    let mut problems = Vec::new();
    let mut checked = 0;
    let mut exported = 0;
    for (name, f) in ffi.fns.iter().filter(|(_, f)| f.exported) {
        exported += 1;
        let Some((params, pointer)) = protos.get(name) else {
            problems.push(format!("{name}: exported but not in include/ttrt.h"));
            continue;
        };
        assert_eq!(
            &f.params, params,
            "{name}: Rust and header parameters differ"
        );
        for func in &f.funcs {
            if func != name {
                problems.push(format!("{name}: reports its errors as `{func}`"));
            }
        }
        let reached = ffi.names_reached(name, f);
        if *pointer && reached.is_empty() {
            problems.push(format!(
                "{name}: no argument name found in its errors (the scan missed it?)"
            ));
        }
        for (quoted, place) in reached {
            checked += 1;
            let ok = name_root(quoted.trim_end_matches('…').trim_end_matches("->"))
                .is_some_and(|root| params.iter().any(|p| p == root));
            if !ok {
                problems.push(format!(
                    "{name}: error names `{quoted}` ({place}); the header's parameters are {}",
                    params.join(", ")
                ));
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(exported > 70, "found only {exported} exported functions");
    assert!(checked > 150, "checked only {checked} names");
    assert!(
        problems.is_empty(),
        "{} names in error texts are not the header's:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_scan_reads_names_helpers_and_arrows() {
    assert_eq!(name_root("cfg->arena"), Some("cfg"));
    assert_eq!(name_root("params[i].name"), Some("params"));
    assert_eq!(name_root("out_img"), Some("out_img"));
    assert_eq!(name_root("size output"), None);
    assert_eq!(name_root("tile_height x tile_width"), None);
    assert_eq!(
        arrow_roots("cfg->arena is NULL but cfg->arena_size is {n}"),
        ["cfg", "cfg"]
    );
    let src = r#"
        fn call(func: &'static str, body: impl FnOnce() -> Result<(), ArgError>) {}
        fn helper(p: *const u8, name: &'static str) -> Result<(), ArgError> { Ok(()) }
        fn fixed(h: *const u8) -> Result<(), ArgError> { helper(h, "h") }
        #[no_mangle]
        pub unsafe extern "C" fn ttrt_x(a: *const u8, out_b: *mut u8) -> ttrt_status {
            call("ttrt_y", || {
                helper(a, "a")?;
                let f = |m: *const u8, name| helper(m, name);
                f(out_b, "out");
                fixed(a)?;
                Err(ArgError::Range { arg: "a->n", found: 1, allowed: "x" })
            })
        }
    "#;
    let fns = functions("x.rs", src);
    let roles: Vec<_> = fns
        .iter()
        .map(|(n, f, _)| (n.clone(), f.file.clone(), f.has_self, f.roles.clone()))
        .collect();
    let mut ffi = Ffi { fns: Vec::new() };
    for (n, mut f, body) in fns {
        scan_body(&mut f, &body, &roles);
        ffi.fns.push((n, f));
    }
    let (_, x) = ffi.fns.iter().find(|(n, _)| n == "ttrt_x").unwrap();
    assert!(x.exported);
    assert_eq!(x.funcs, ["ttrt_y"]);
    let mut names: Vec<_> = ffi
        .names_reached("ttrt_x", x)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    names.sort();
    assert_eq!(names, ["a", "a->n", "a->…", "h", "out"]);
}

// ---------------------------------------------------------------------------------------------
// The texts themselves, through the exports.

fn last_error() -> String {
    // SAFETY: never NULL; valid until the next failure on this thread.
    unsafe { CStr::from_ptr(ttrt::ffi::error::ttrt_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn a_null_output_is_named_as_the_header_names_it() {
    use ttrt::ffi::image::ttrt_image_open;
    let path = CString::new("/nonexistent.tti").unwrap();
    // SAFETY: a valid string; the NULL output is what is tested.
    let status = unsafe { ttrt_image_open(path.as_ptr(), std::ptr::null_mut()) };
    assert_eq!(status, ttrt::ffi::ttrt_status::InvalidArgument);
    assert_eq!(last_error(), "ttrt_image_open: argument `out_img` is NULL");

    let mut dev = std::ptr::null_mut();
    // SAFETY: a NULL config means the defaults; `dev` is writable.
    let status = unsafe { ttrt::ffi::device::ttrt_device_open(std::ptr::null(), &mut dev) };
    assert_eq!(status, ttrt::ffi::ttrt_status::Success);
    let mut out = std::ptr::null_mut();
    // SAFETY: the handles are NULL or live; NULL is what is tested.
    let status = unsafe {
        ttrt::ffi::tensor::ttrt_op_unary(dev, 0, 0, std::ptr::null(), std::ptr::null(), &mut out)
    };
    assert_eq!(status, ttrt::ffi::ttrt_status::InvalidArgument);
    assert_eq!(last_error(), "ttrt_op_unary: argument `input` is NULL");
    // SAFETY: a live device.
    unsafe { ttrt::ffi::device::ttrt_device_close(dev) };
}

#[test]
fn tile_size_errors_name_the_function_called() {
    let size = ttrt::ffi::format::ttrt_tile_size_bytes_dim(3, 0, 7, 32, false);
    assert_eq!(size, 0);
    let text = last_error();
    assert!(
        text.starts_with("ttrt_tile_size_bytes_dim: argument `tile_height` is 7"),
        "{text}"
    );
}

#[test]
fn opening_a_directory_says_it_is_a_directory() {
    let dir = std::env::temp_dir().join(format!("ttrt-dir-{}.tti", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = CString::new(dir.to_str().unwrap()).unwrap();
    let mut img = std::ptr::null_mut();
    // SAFETY: a valid string and a writable output.
    let status = unsafe { ttrt::ffi::image::ttrt_image_open(path.as_ptr(), &mut img) };
    let text = last_error();
    std::fs::remove_dir(&dir).unwrap();
    assert_eq!(status, ttrt::ffi::ttrt_status::IoError);
    assert!(img.is_null());
    assert_eq!(
        text,
        format!(
            "ttrt_image_open: {} is a directory, not a .tti archive or a netlist",
            dir.display()
        )
    );
    // A directory named like a netlist is refused the same way.
    let dir = std::env::temp_dir().join(format!("ttrt-dir-{}.yaml", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = CString::new(dir.to_str().unwrap()).unwrap();
    // SAFETY: as above.
    let status = unsafe { ttrt::ffi::image::ttrt_image_open(path.as_ptr(), &mut img) };
    let text = last_error();
    std::fs::remove_dir(&dir).unwrap();
    assert_eq!(status, ttrt::ffi::ttrt_status::IoError);
    assert!(
        text.ends_with("is a directory, not a .tti archive or a netlist"),
        "{text}"
    );
}

#[test]
fn a_caller_owned_tensor_is_refused_with_one_prefix() {
    use ttrt::ffi::backend::ttrt_tensor_desc_free;
    use ttrt::ffi::format::{ttrt_tensor_desc, ttrt_tensor_owner};
    let data = [0f32; 4];
    let mut t = ttrt_tensor_desc {
        ptr: data.as_ptr().cast(),
        itemsize: 4,
        format: 0,
        shape: [1, 1, 1, 4],
        strides: [16, 16, 16, 4],
        dim: 4,
        owner: ttrt_tensor_owner::Frontend as u32,
    };
    // SAFETY: a writable descriptor.
    let status = unsafe { ttrt_tensor_desc_free(&mut t) };
    assert_eq!(status, ttrt::ffi::ttrt_status::InvalidArgument);
    assert_eq!(
        last_error(),
        "ttrt_tensor_desc_free: the tensor is owned by the caller (owner FRONTEND), not the backend"
    );
    t.owner = ttrt_tensor_owner::Backend as u32;
    // SAFETY: as above; the pointer is not backend memory, which is what is tested.
    let status = unsafe { ttrt_tensor_desc_free(&mut t) };
    assert_eq!(status, ttrt::ffi::ttrt_status::InvalidArgument);
    let text = last_error();
    assert!(
        text.starts_with("ttrt_tensor_desc_free: 0x")
            && text.ends_with(
                "is not live backend-owned memory (freed already, or its backend finished)"
            ),
        "{text}"
    );
}

/// A datacopy graph of input_count 4 from a 4-entry queue.
const FOUR_RUNS: &str = r#"
devices:
  arch: wormhole_b0
queues:
  in0: {type: queue, input: HOST, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[1, 0x10000000]]}
  out: {type: queue, input: copy, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: host, host: [0x0]}
graphs:
  g:
    target_device: 0
    input_count: 4
    copy: {type: datacopy, grid_loc: [0, 0], grid_size: [1, 1], inputs: [in0], in_df: [Float32], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi3, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}
programs:
  - run:
      - staticvar: {$lptr: 0, $gptr: 0}
      - execute: {graph_name: g, queue_settings: {in0: {prologue: false, epilogue: false, zero: false, rd_ptr_local: $lptr, rd_ptr_global: $gptr}}}
      - varinst: [$lptr, incwrap, 4, 8]
      - varinst: [$gptr, incwrap, 4, 8]
"#;

#[test]
fn running_a_graph_on_too_few_entries_says_how_many_it_needs() {
    use ttrt::backend::{Backend, BackendConfig};
    use ttrt::format::{DataFormat, HostTensor};
    let n = ttrt::netlist::parse(FOUR_RUNS, "four.yaml").unwrap();
    let be = Backend::from_netlist(
        n,
        &BackendConfig {
            arch: None,
            num_command_queues: 1,
            ..BackendConfig::default()
        },
    )
    .unwrap();
    be.initialize().unwrap();
    let data = vec![0u8; 32 * 32 * 4];
    let t = HostTensor::contiguous(&data, DataFormat::Float32, [1, 1, 32, 32]);
    be.push_input("in0", &t, true, -1, -1).unwrap();
    let e = be.run_program("run", &[]).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains(
            "graph g: reading queue in0: input_count 4 needs 4 entries of queue 'in0' from read pointer 0, and it \
             holds 1 entry: push them before run_program (run 2 of 4 found none at pointer 1)"
        ),
        "{text}"
    );
    let _ = be.finish();
}
