//! The device_json fuzz target's case, run on stable over a seed corpus and seeded mutations of
//! it: half change the parsed JSON tree (a value of another type, a removed key, a hostile
//! number or member name) so they reach the typed reader, half change bytes. No input panics;
//! whatever parses round-trips through `to_json`. `cargo fuzz run device_json` explores
//! further on nightly.

include!("../../fuzz/device_json_case.rs");

use crate::support;

use serde_json::{json, Value};
use support::XorShift;

/// Seeds: a device.json in PyBuda's shape (both enum spellings, a Prestride input, a `.bin`,
/// a `.tbin` and a pickled tensor), a minimal one, and a runtime config.
fn seeds() -> Vec<Value> {
    let full = json!({
        "version": "1.1.0",
        "device_image_name": "tt0",
        "arch": {"__enum__": "BackendDevice.Wormhole_B0"},
        "devtype": "Silicon",
        "chip_ids": [0],
        "fp32_fallback": "Float16_b",
        "optimizer": null,
        "training": false,
        "microbatch_size": 1,
        "microbatch_count": 1,
        "grid_size": [10, 8],
        "harvested_rows": [],
        "compiled_graph_state": {
            "microbatch": 1,
            "graph_name": "fwd_0",
            "ordered_input_names": ["image", "mask"],
            "ordered_output_names": ["out"],
            "ordered_target_names": [],
            "ordered_constant_node_names": ["c"],
            "ordered_parameter_node_names": ["w", "b", "p"],
            "ordered_input_shapes": [[1, 3, 8, 8], [1, 1, 32]],
            "ordered_output_shapes": [[1, 32, 32]],
            "ordered_output_data_formats": [{"__enum__": "DataFormat.Float16_b"}],
            "ordered_input_runtime_tensor_transforms": [
                {"type": "Prestride", "original_shape": {"valid_": true, "dims_": [1, 3, 8, 8]},
                 "stride_height": 2, "stride_width": 2, "kernel_height": 3},
                {"type": "NoTransform", "stride_height": -7}
            ],
            "netlist_filename": "unzipped_tti/backend_build_binaries/net.yaml",
            "post_const_eval_constants": {
                "c": {"bin": "tensors/torch.Tensor.c.bin", "itemsize": 1, "shape": [1, 1, 1, 4],
                      "strides": [4, 4, 4, 1], "dim": 1, "format": "Int8"}
            },
            "post_const_eval_parameters": {
                "w": {"bin": "tensors/torch.Tensor.w.bin", "itemsize": 2, "shape": [1, 1, 2, 2],
                      "strides": [8, 8, 4, 2], "dim": 2, "format": "Float16_b"},
                "b": {"bin": "tensors/torch.Tensor.b.tbin", "itemsize": 2, "shape": [1, 1, 1, 2],
                      "strides": [4, 4, 4, 2], "dim": 1, "format": "Bfp8_b",
                      "num_buffers": 2, "buf_size_bytes": 8},
                "p": "tensors/torch.Tensor.p.pkl"
            },
            "consteval_trace": {}
        },
        "compiler_cfg": {"backend_output_dir": "x"},
        "pybuda_pip_version_id": "0.1",
        "pybuda_commit_hash": null,
        "budabackend_commit_hash": "abc"
    });
    let minimal = json!({
        "arch": "Grayskull",
        "compiled_graph_state": {
            "ordered_input_names": [], "ordered_output_names": [],
            "ordered_constant_node_names": [], "ordered_parameter_node_names": [],
            "netlist_filename": "n.yaml"
        }
    });
    let config = json!({"PYBUDA_ENABLE_TVM_CACHE": "1", "TT_BACKEND_TIMEOUT": 500});
    vec![full, minimal, config]
}

/// Replacement values that test each kind of check.
fn hostile(rng: &mut XorShift) -> Value {
    match rng.next() % 14 {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(u64::MAX),
        4 => json!(0),
        5 => json!(1.5),
        6 => json!("abc"),
        7 => json!("../../etc/passwd.bin"),
        8 => json!([]),
        9 => json!({}),
        10 => json!([1, 2, 3]),
        11 => json!({"__enum__": "X.Y"}),
        12 => json!("tensors/x.pkl"),
        _ => json!(rng.next() % 70_000),
    }
}

/// A random path into the tree, then one change there.
fn mutate_tree(node: &mut Value, rng: &mut XorShift) {
    let len = match node {
        Value::Object(m) => m.len(),
        Value::Array(a) => a.len(),
        _ => 0,
    };
    if len > 0 && rng.next() % 4 != 0 {
        let i = (rng.next() % len as u64) as usize;
        let child = match node {
            Value::Object(m) => m.values_mut().nth(i),
            Value::Array(a) => a.get_mut(i),
            _ => None,
        };
        if let Some(child) = child {
            return mutate_tree(child, rng);
        }
    }
    match node {
        Value::Object(m) if rng.next() % 2 == 0 => {
            if m.is_empty() || rng.next() % 3 == 0 {
                m.insert("ttrt_unknown".into(), hostile(rng));
            } else {
                let i = (rng.next() % m.len() as u64) as usize;
                if let Some(k) = m.keys().nth(i).cloned() {
                    m.remove(&k);
                }
            }
        }
        Value::Array(a) if rng.next() % 2 == 0 => {
            if a.is_empty() || rng.next() % 2 == 0 {
                a.push(hostile(rng));
            } else {
                a.pop();
            }
        }
        other => *other = hostile(rng),
    }
}

fn mutate_bytes(bytes: &mut Vec<u8>, rng: &mut XorShift) {
    for _ in 0..1 + rng.next() % 4 {
        if bytes.is_empty() {
            bytes.push(b'{');
        }
        let i = (rng.next() % bytes.len() as u64) as usize;
        match rng.next() % 4 {
            0 => bytes[i] = rng.next() as u8,
            1 => {
                let end = (i + 1 + (rng.next() % 16) as usize).min(bytes.len());
                bytes.drain(i..end);
            }
            2 => {
                let tokens = b"{}[]\",:0-.e\\u";
                bytes.insert(i, tokens[(rng.next() % tokens.len() as u64) as usize]);
            }
            _ => bytes.truncate(i),
        }
    }
}

#[test]
fn every_seed_parses() {
    let seeds = seeds();
    assert!(device_json_case(seeds[0].to_string().as_bytes()));
    assert!(device_json_case(seeds[1].to_string().as_bytes()));
    // The runtime config seed is not a device.json.
    assert!(!device_json_case(seeds[2].to_string().as_bytes()));
}

#[test]
fn device_json_of_mutated_and_arbitrary_bytes_never_panics() {
    let seeds = seeds();
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let cases = 100_000;
    let (mut tree_cases, mut tree_parsed, mut byte_parsed) = (0, 0, 0);
    for case in 0..cases {
        if case % 2 == 0 {
            // Tree mutations of the device.json seeds: one change in half the cases.
            let mut v = seeds[(case / 2) % 2].clone();
            let changes = if rng.next() % 2 == 0 {
                1
            } else {
                2 + rng.next() % 2
            };
            for _ in 0..changes {
                mutate_tree(&mut v, &mut rng);
            }
            tree_cases += 1;
            let text = if case % 4 == 0 {
                serde_json::to_string_pretty(&v).unwrap_or_default()
            } else {
                v.to_string()
            };
            tree_parsed += device_json_case(text.as_bytes()) as usize;
        } else {
            let mut bytes = seeds[(case / 2) % seeds.len()].to_string().into_bytes();
            mutate_bytes(&mut bytes, &mut rng);
            byte_parsed += device_json_case(&bytes) as usize;
        }
    }
    // Tree-mutated text is valid JSON, so every such case reaches the typed reader; a share
    // must still be accepted (an added or removed unknown key, a value the reader allows),
    // since a reader that refused everything would pass a panic-only check. About 1 in 7 is
    // accepted with this seed; most changes hit a typed key and are rightly refused.
    assert!(
        tree_parsed * 16 >= tree_cases,
        "only {tree_parsed} of {tree_cases} tree-mutated cases parsed"
    );
    eprintln!(
        "{tree_parsed} of {tree_cases} tree-mutated and {byte_parsed} of {} byte-mutated cases parsed",
        cases - tree_cases
    );
}

#[test]
fn short_arbitrary_inputs_never_panic() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..4000 {
        let len = (rng.next() % 64) as usize;
        let alphabet = b"{}[]\",:0123456789-.eEtrufalsn \\u\"arch\"";
        let bytes: Vec<u8> = (0..len)
            .map(|_| alphabet[(rng.next() % alphabet.len() as u64) as usize])
            .collect();
        device_json_case(&bytes);
    }
}
