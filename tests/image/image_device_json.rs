//! device.json, tensor files and compile_and_runtime_config.json of TTI images, against what
//! PyBuda writes (tt-buda `pybuda/tti/tti.py`, `archive.py`, `compiled_graph_state.py`) and
//! what the backend's loader (`tti_lib.cpp`) reads.

use serde_json::{json, Value};
use ttrt::format::{Arch, DataFormat};
use ttrt::image::device_json::{
    DeviceJson, PackedGraph, TensorDescriptor, TensorEntry, TensorFileKind, TensorTransform,
    TilizedBuffers,
};
use ttrt::image::runtime_config::RuntimeConfig;
use ttrt::image::tensor_file::{host_tensor_descriptor, tensor_member_name, TensorFile};
use ttrt::image::ImageErrorKind;

/// A device.json with the key set and value shapes PyBuda 0.1 writes for a BERT-like encoder
/// exported with PYBUDA_TTI_BACKEND_FORMAT=1 (and one tilized parameter), 4-space indented as
/// `json.dumps(indent=4)` does. Transform integers that PyBuda leaves uninitialised hold
/// garbage, as in real files.
const PYBUDA_DEVICE_JSON: &str = r#"{
    "version": "1.1.0",
    "device_image_name": "tt0",
    "arch": "Wormhole_B0",
    "devtype": "Silicon",
    "chip_ids": [0],
    "fp32_fallback": "Float16_b",
    "optimizer": null,
    "training": false,
    "microbatch_size": 2,
    "microbatch_count": 1,
    "grid_size": [10, 8],
    "harvested_rows": [11],
    "compiled_graph_state": {
        "microbatch": 2,
        "graph_name": "fwd_0_0_temporal_epoch_0",
        "ordered_input_names": ["image", "attention_mask"],
        "ordered_output_names": ["encoder.output_add_5"],
        "ordered_input_gradient_names": [],
        "ordered_output_gradient_names": [],
        "ordered_target_names": [],
        "ordered_constant_node_names": ["input_1_multiply_3"],
        "ordered_parameter_node_names": ["layer.0.weight", "layer.0/bias"],
        "ordered_intermediate_activation_names": [],
        "ordered_input_subgraph_indices": [0, 0],
        "ordered_output_subgraph_indices": [0],
        "ordered_target_subgraph_indices": [],
        "ordered_input_tile_broadcast_dims": [[], [-2]],
        "ordered_target_tile_broadcast_dims": [],
        "ordered_bw_input_tile_broadcast_dims": [],
        "ordered_input_runtime_tensor_transforms": [
            {
                "type": "Prestride",
                "original_shape": {"valid_": true, "type_": "FREE", "dims_": [1, 3, 224, 224]},
                "reinterpreted_shape": {"valid_": true, "type_": "FREE", "dims_": [1, 1, 96, 12544]},
                "unpadded_shape": {"valid_": false, "type_": "FREE", "dims_": []},
                "stride_height": 2,
                "stride_width": 2,
                "kernel_height": 7,
                "kernel_width": 7,
                "concat_group": 0,
                "concat_index": 0,
                "concat_dim": 21845
            },
            {
                "type": "NoTransform",
                "original_shape": {"valid_": false, "type_": "FREE", "dims_": []},
                "reinterpreted_shape": {"valid_": false, "type_": "FREE", "dims_": []},
                "unpadded_shape": {"valid_": false, "type_": "FREE", "dims_": []},
                "stride_height": -1094795586,
                "stride_width": 0,
                "kernel_height": 32767,
                "kernel_width": -1,
                "concat_group": 0,
                "concat_index": 0,
                "concat_dim": 0
            }
        ],
        "ordered_output_runtime_tensor_transforms": [{"type": "NoTransform"}],
        "input_to_tile_dims": {"image": [32, 32], "attention_mask": [32, 32]},
        "parameter_to_tile_dims": {"layer.0.weight": [32, 32], "layer.0/bias": [32, 32]},
        "constant_to_tile_dims": {"input_1_multiply_3": [32, 32]},
        "ordered_input_requires_grad": [false, false],
        "ordered_output_requires_grad": [false],
        "ordered_input_shapes": [[2, 3, 224, 224], [2, 1, 128]],
        "ordered_output_shapes": [[2, 128, 768]],
        "ordered_target_shapes": [],
        "ordered_intermediate_shapes": [],
        "ordered_output_data_formats": ["Float16_b"],
        "netlist_filename": "unzipped_tti/backend_build_binaries/bert_encoder_netlist.yaml",
        "output_host_tms": {},
        "consteval_trace": {"layer.0.weight": {"order": [], "nodes": {}}},
        "post_const_eval_constants": {
            "input_1_multiply_3": {
                "bin": "tensors/torch.Tensor.input_1_multiply_3.bin",
                "itemsize": 4,
                "shape": [1, 1, 1, 32],
                "strides": [128, 128, 128, 4],
                "dim": 1,
                "format": "Float32"
            }
        },
        "post_const_eval_parameters": {
            "layer.0.weight": {
                "bin": "tensors/torch.Tensor.layer.0.weight.bin",
                "itemsize": 2,
                "shape": [1, 1, 64, 32],
                "strides": [4096, 4096, 64, 2],
                "dim": 2,
                "format": "Float16_b"
            },
            "layer.0/bias": {
                "bin": "tensors/torch.Tensor.layer.0_bias.tbin",
                "itemsize": 2,
                "shape": [1, 1, 32, 32],
                "strides": [2048, 2048, 64, 2],
                "dim": 2,
                "format": "Bfp8_b",
                "num_buffers": 2,
                "buf_size_bytes": 1152
            }
        },
        "optimizer_param_info": {},
        "cpueval_outputs": null,
        "has_cache_buffers": false
    },
    "verify_cfg": null,
    "compiler_cfg": {"backend_output_dir": "unzipped_tti/backend_build_binaries", "enable_t_streaming": true},
    "loss_module": null,
    "module_name_to_metadata": {"bert": {"module": "bert_mod", "class": "Bert", "module_file_path": "bert_mod.py"}},
    "pybuda_pip_version_id": "0.1.240528+dev.ab12cd3",
    "pybuda_commit_hash": "ab12cd3",
    "budabackend_commit_hash": null
}"#;

fn pybuda_value() -> Value {
    serde_json::from_str(PYBUDA_DEVICE_JSON).expect("the test's device.json is JSON")
}

fn parse_value(v: &Value) -> Result<DeviceJson, ttrt::image::ImageError> {
    DeviceJson::parse(v.to_string().as_bytes())
}

fn parse_err(v: &Value) -> String {
    let err = parse_value(v).expect_err("device.json must be rejected");
    assert_eq!(err.kind, ImageErrorKind::Invalid);
    err.message().to_string()
}

fn binary(entry: &TensorEntry) -> &TensorDescriptor {
    match entry {
        TensorEntry::Binary(d) => d,
        TensorEntry::Pickled(m) => panic!("expected a descriptor, found pickle {m}"),
    }
}

#[test]
fn a_device_json_as_pybuda_writes_it_parses_with_every_field() {
    let d = DeviceJson::parse(PYBUDA_DEVICE_JSON.as_bytes()).expect("parses");
    assert_eq!(d.version, "1.1.0");
    assert_eq!(d.device_image_name, "tt0");
    assert_eq!(d.arch, Arch::WormholeB0);
    assert_eq!(d.devtype, "Silicon");
    assert_eq!(d.chip_ids, vec![0]);
    assert_eq!(d.fp32_fallback, DataFormat::Float16B);
    assert_eq!(d.optimizer, Value::Null);
    assert!(!d.training);
    assert_eq!(d.microbatch_size, 2);
    assert_eq!(d.microbatch_count, 1);
    assert_eq!(d.grid_size, Some([10, 8]));
    assert_eq!(d.harvested_rows, vec![11]);
    assert_eq!(
        d.pybuda_pip_version_id.as_deref(),
        Some("0.1.240528+dev.ab12cd3")
    );
    assert_eq!(d.pybuda_commit_hash.as_deref(), Some("ab12cd3"));
    assert_eq!(d.budabackend_commit_hash, None);

    let s = &d.compiled_graph_state;
    assert_eq!(s.microbatch, 2);
    assert_eq!(s.graph_name, "fwd_0_0_temporal_epoch_0");
    assert_eq!(s.ordered_input_names, ["image", "attention_mask"]);
    assert_eq!(s.ordered_output_names, ["encoder.output_add_5"]);
    assert!(s.ordered_target_names.is_empty());
    assert_eq!(s.ordered_constant_node_names, ["input_1_multiply_3"]);
    assert_eq!(
        s.ordered_parameter_node_names,
        ["layer.0.weight", "layer.0/bias"]
    );
    assert_eq!(
        s.ordered_input_shapes,
        vec![vec![2, 3, 224, 224], vec![2, 1, 128]]
    );
    assert_eq!(s.ordered_output_shapes, vec![vec![2, 128, 768]]);
    assert_eq!(s.ordered_output_data_formats, vec![DataFormat::Float16B]);
    assert_eq!(
        s.netlist_filename,
        "unzipped_tti/backend_build_binaries/bert_encoder_netlist.yaml"
    );
    assert_eq!(s.netlist_member().unwrap(), "bert_encoder_netlist.yaml");

    let t = &s.ordered_input_runtime_tensor_transforms;
    assert_eq!(t.len(), 2);
    match &t[0].transform {
        TensorTransform::Prestride {
            original_shape,
            stride_height,
            stride_width,
            original_shape_extra,
        } => {
            assert_eq!(*original_shape, [1, 3, 224, 224]);
            assert_eq!((*stride_height, *stride_width), (2, 2));
            assert_eq!(original_shape_extra["type_"], json!("FREE"));
        }
        other => panic!("expected Prestride, found {other:?}"),
    }
    assert_eq!(t[0].extra["kernel_height"], json!(7));
    // The garbage integers of a NoTransform are kept, never read.
    assert_eq!(t[1].transform, TensorTransform::NoTransform);
    assert_eq!(t[1].extra["stride_height"], json!(-1094795586));

    let c = binary(&s.post_const_eval_constants["input_1_multiply_3"]);
    assert_eq!(c.bin, "tensors/torch.Tensor.input_1_multiply_3.bin");
    assert_eq!((c.itemsize, c.dim, c.format), (4, 1, DataFormat::Float32));
    assert_eq!(c.shape, [1, 1, 1, 32]);
    assert_eq!(c.strides, [128, 128, 128, 4]);
    assert_eq!(c.kind(), TensorFileKind::Host);

    let w = binary(&s.post_const_eval_parameters["layer.0.weight"]);
    assert_eq!(w.shape, [1, 1, 64, 32]);
    assert_eq!(w.strides, [4096, 4096, 64, 2]);
    assert_eq!(w.tilized, None);
    let b = binary(&s.post_const_eval_parameters["layer.0/bias"]);
    assert_eq!(b.format, DataFormat::Bfp8B);
    assert_eq!(
        b.tilized,
        Some(TilizedBuffers {
            num_buffers: 2,
            buffer_size_bytes: 1152
        })
    );
    assert_eq!(b.kind(), TensorFileKind::Tilized);

    // What ttrt does not model stays, at each level.
    assert_eq!(d.extra["compiler_cfg"]["enable_t_streaming"], json!(true));
    assert_eq!(
        d.extra["module_name_to_metadata"]["bert"]["class"],
        json!("Bert")
    );
    assert_eq!(s.extra["input_to_tile_dims"]["image"], json!([32, 32]));
    assert_eq!(
        s.extra["consteval_trace"]["layer.0.weight"]["order"],
        json!([])
    );
}

#[test]
fn arch_devtype_and_formats_read_in_both_enum_spellings() {
    for (spelled, arch) in [
        (json!("Wormhole_B0"), Arch::WormholeB0),
        (
            json!({"__enum__": "BackendDevice.Wormhole_B0"}),
            Arch::WormholeB0,
        ),
        (json!("Grayskull"), Arch::Grayskull),
        (
            json!({"__enum__": "BackendDevice.Grayskull"}),
            Arch::Grayskull,
        ),
        (json!("Blackhole"), Arch::Blackhole),
    ] {
        let mut v = pybuda_value();
        v["arch"] = spelled.clone();
        assert_eq!(parse_value(&v).unwrap().arch, arch, "arch {spelled}");
    }
    let mut v = pybuda_value();
    v["devtype"] = json!({"__enum__": "BackendType.Golden"});
    v["fp32_fallback"] = json!({"__enum__": "DataFormat.Float16"});
    v["compiled_graph_state"]["ordered_output_data_formats"] =
        json!([{"__enum__": "DataFormat.Bfp8_b"}]);
    let d = parse_value(&v).unwrap();
    assert_eq!(d.devtype, "Golden");
    assert_eq!(d.fp32_fallback, DataFormat::Float16);
    assert_eq!(
        d.compiled_graph_state.ordered_output_data_formats,
        [DataFormat::Bfp8B]
    );
}

#[test]
fn an_unknown_arch_is_rejected_naming_the_key_and_the_value() {
    let mut v = pybuda_value();
    v["arch"] = json!({"__enum__": "BackendDevice.Quasar"});
    let msg = parse_err(&v);
    assert!(
        msg.starts_with("device.json: arch: expected Grayskull, Wormhole_B0 or Blackhole, found"),
        "{msg}"
    );
}

#[test]
fn unknown_keys_are_kept_at_every_level_and_written_back() {
    let mut v = pybuda_value();
    v["ttrt_future_key"] = json!({"a": [1, 2]});
    v["compiled_graph_state"]["new_state_key"] = json!("x");
    v["compiled_graph_state"]["post_const_eval_parameters"]["layer.0.weight"]["checksum"] =
        json!("abc");
    let d = parse_value(&v).expect("unknown keys are never fatal");
    assert_eq!(d.extra["ttrt_future_key"], json!({"a": [1, 2]}));
    assert_eq!(d.compiled_graph_state.extra["new_state_key"], json!("x"));
    let w = binary(&d.compiled_graph_state.post_const_eval_parameters["layer.0.weight"]);
    assert_eq!(w.extra["checksum"], json!("abc"));

    let written: Value = serde_json::from_str(&d.to_json()).unwrap();
    assert_eq!(written["ttrt_future_key"], json!({"a": [1, 2]}));
    assert_eq!(written["compiled_graph_state"]["new_state_key"], json!("x"));
    assert_eq!(
        written["compiled_graph_state"]["post_const_eval_parameters"]["layer.0.weight"]["checksum"],
        json!("abc")
    );
}

#[test]
fn a_missing_required_key_is_named() {
    let cases: [(&[&str], &str); 6] = [
        (&["arch"], "device.json: arch: required key is missing"),
        (
            &["compiled_graph_state"],
            "device.json: compiled_graph_state: required key is missing",
        ),
        (
            &["compiled_graph_state", "ordered_input_names"],
            "device.json: compiled_graph_state.ordered_input_names: required key is missing",
        ),
        (
            &["compiled_graph_state", "ordered_output_names"],
            "device.json: compiled_graph_state.ordered_output_names: required key is missing",
        ),
        (
            &["compiled_graph_state", "ordered_parameter_node_names"],
            "device.json: compiled_graph_state.ordered_parameter_node_names: required key is missing",
        ),
        (
            &["compiled_graph_state", "netlist_filename"],
            "device.json: compiled_graph_state.netlist_filename: required key is missing",
        ),
    ];
    for (path, expected) in cases {
        let mut v = pybuda_value();
        let (last, parents) = path.split_last().unwrap();
        let mut obj = &mut v;
        for p in parents {
            obj = &mut obj[*p];
        }
        obj.as_object_mut().unwrap().remove(*last);
        assert_eq!(parse_err(&v), expected);
    }
}

#[test]
fn wrong_types_are_named_with_the_key_path() {
    let mut v = pybuda_value();
    v["compiled_graph_state"]["ordered_input_shapes"][1] = json!("abc");
    assert_eq!(
        parse_err(&v),
        r#"device.json: compiled_graph_state.ordered_input_shapes[1]: expected a list of integers, found "abc""#
    );

    let mut v = pybuda_value();
    v["compiled_graph_state"]["ordered_input_shapes"][0][2] = json!(-224);
    assert_eq!(
        parse_err(&v),
        "device.json: compiled_graph_state.ordered_input_shapes[0][2]: expected a non-negative integer, found -224"
    );

    let mut v = pybuda_value();
    v["microbatch_size"] = json!("2");
    assert_eq!(
        parse_err(&v),
        r#"device.json: microbatch_size: expected a non-negative integer, found "2""#
    );

    let mut v = pybuda_value();
    v["compiled_graph_state"]["post_const_eval_parameters"]["layer.0.weight"]["shape"] =
        json!([64, 32, 1]);
    assert_eq!(
        parse_err(&v),
        r#"device.json: compiled_graph_state.post_const_eval_parameters["layer.0.weight"].shape: expected 4 integers, found a list of 3"#
    );

    let mut v = pybuda_value();
    v["compiled_graph_state"]["ordered_input_runtime_tensor_transforms"][0]["stride_width"] =
        json!(0);
    assert_eq!(
        parse_err(&v),
        "device.json: compiled_graph_state.ordered_input_runtime_tensor_transforms[0].stride_width: expected a stride of at least 1, found 0"
    );

    let v = json!([1, 2]);
    assert_eq!(
        parse_err(&v),
        "device.json: expected an object, found a list of 2"
    );
}

#[test]
fn text_that_is_not_json_is_rejected_with_line_and_column() {
    let err = DeviceJson::parse(b"{\n  \"arch\": Wormhole_B0\n}").unwrap_err();
    assert!(
        err.message()
            .starts_with("device.json: not valid JSON at line 2 column"),
        "{}",
        err.message()
    );
}

#[test]
fn each_input_and_output_name_needs_its_own_shape_format_and_transform() {
    let mut v = pybuda_value();
    v["compiled_graph_state"]["ordered_input_shapes"] = json!([[2, 3, 224, 224]]);
    assert_eq!(
        parse_err(&v),
        "device.json: compiled_graph_state.ordered_input_shapes: expected 2 entries, one per name in ordered_input_names, found 1"
    );
    let mut v = pybuda_value();
    v["compiled_graph_state"]["ordered_output_data_formats"] = json!(["Float16_b", "Float32"]);
    assert_eq!(
        parse_err(&v),
        "device.json: compiled_graph_state.ordered_output_data_formats: expected 1 entry, one per name in ordered_output_names, found 2"
    );
}

#[test]
fn lists_the_backends_loader_does_not_need_may_be_missing_or_short() {
    // The backend's loader (tti_lib.cpp) reads no shape or format list, and walks the input
    // transforms it finds: an image without them opens.
    let mut v = pybuda_value();
    let state = v["compiled_graph_state"].as_object_mut().unwrap();
    for key in [
        "ordered_input_shapes",
        "ordered_output_shapes",
        "ordered_output_data_formats",
    ] {
        state.remove(key).unwrap();
    }
    let d = parse_value(&v).unwrap();
    let s = &d.compiled_graph_state;
    assert!(s.ordered_input_shapes.is_empty() && s.ordered_output_shapes.is_empty());
    assert!(s.ordered_output_data_formats.is_empty());
    // Written back without them, and parsed again.
    let again = DeviceJson::parse(d.to_json().as_bytes()).unwrap();
    assert_eq!(
        again.compiled_graph_state.ordered_input_names,
        s.ordered_input_names
    );

    // A transform list shorter than the inputs: no transform for the rest.
    let mut v = pybuda_value();
    v["compiled_graph_state"]["ordered_input_runtime_tensor_transforms"]
        .as_array_mut()
        .unwrap()
        .pop();
    let d = parse_value(&v).unwrap();
    let t = &d
        .compiled_graph_state
        .ordered_input_runtime_tensor_transforms;
    assert_eq!(t.len(), 2);
    assert!(matches!(t[0].transform, TensorTransform::Prestride { .. }));
    assert_eq!(t[1].transform, TensorTransform::NoTransform);

    // Longer: extra entries name no input. A Prestride there is refused (the loader looks up
    // its input by index and throws); other types are ignored.
    let mut v = pybuda_value();
    let list = v["compiled_graph_state"]["ordered_input_runtime_tensor_transforms"]
        .as_array_mut()
        .unwrap();
    let prestride = list[0].clone();
    list.push(json!({"type": "NoTransform"}));
    let d = parse_value(&v).unwrap();
    assert_eq!(
        d.compiled_graph_state
            .ordered_input_runtime_tensor_transforms
            .len(),
        2
    );
    v["compiled_graph_state"]["ordered_input_runtime_tensor_transforms"]
        .as_array_mut()
        .unwrap()
        .push(prestride);
    assert_eq!(
        parse_err(&v),
        "device.json: compiled_graph_state.ordered_input_runtime_tensor_transforms[3]: a Prestride transform for input 3 of 2 in ordered_input_names"
    );

    // A malformed entry that is there is still refused.
    let mut v = pybuda_value();
    v["compiled_graph_state"]["ordered_input_runtime_tensor_transforms"][0]["stride_width"] =
        json!(0);
    assert!(parse_err(&v).contains("ordered_input_runtime_tensor_transforms[0].stride_width"));
}

#[test]
fn a_parameter_without_a_tensor_is_rejected_naming_it() {
    let mut v = pybuda_value();
    v["compiled_graph_state"]["post_const_eval_parameters"]
        .as_object_mut()
        .unwrap()
        .remove("layer.0/bias");
    assert_eq!(
        parse_err(&v),
        r#"device.json: compiled_graph_state.post_const_eval_parameters: no tensor for "layer.0/bias" named in compiled_graph_state.ordered_parameter_node_names[1]"#
    );
}

#[test]
fn missing_optional_keys_get_pybuda_defaults() {
    let v = json!({
        "arch": "Grayskull",
        "compiled_graph_state": {
            "ordered_input_names": [],
            "ordered_output_names": [],
            "ordered_constant_node_names": [],
            "ordered_parameter_node_names": [],
            "netlist_filename": "n.yaml"
        }
    });
    let d = parse_value(&v).unwrap();
    assert_eq!(d.version, "1.1.0");
    assert_eq!(d.devtype, "Silicon");
    assert_eq!(d.chip_ids, vec![0]);
    assert_eq!(d.fp32_fallback, DataFormat::Float16B);
    assert_eq!((d.microbatch_size, d.microbatch_count), (1, 1));
    assert!(!d.training);
    assert_eq!(d.grid_size, None);
    assert!(d.harvested_rows.is_empty());
    assert_eq!(d.compiled_graph_state.microbatch, 1);
    assert!(d.compiled_graph_state.post_const_eval_parameters.is_empty());
    assert!(d.extra.is_empty());

    // null is PyBuda's "unset" for optional fields.
    let mut v = pybuda_value();
    v["harvested_rows"] = Value::Null;
    assert!(parse_value(&v).unwrap().harvested_rows.is_empty());

    // No transforms listed: no input is transformed.
    let mut v = pybuda_value();
    v["compiled_graph_state"]
        .as_object_mut()
        .unwrap()
        .remove("ordered_input_runtime_tensor_transforms");
    let d = parse_value(&v).unwrap();
    assert!(d
        .compiled_graph_state
        .ordered_input_runtime_tensor_transforms
        .iter()
        .all(|t| t.transform == TensorTransform::NoTransform));
}

#[test]
fn the_netlist_member_is_the_basename_of_netlist_filename() {
    let mut v = pybuda_value();
    v["compiled_graph_state"]["netlist_filename"] = json!("/home/user/tt_build/abc/net.yaml");
    let d = parse_value(&v).unwrap();
    assert_eq!(d.compiled_graph_state.netlist_member().unwrap(), "net.yaml");
    v["compiled_graph_state"]["netlist_filename"] = json!("tt_build/abc/..");
    assert!(parse_err(&v)
        .contains("compiled_graph_state.netlist_filename: expected a path ending in a file name"));
}

#[test]
fn a_member_named_dot_dot_is_rejected() {
    for bad in [
        "../tensors/torch.Tensor.w.bin",
        "tensors/../../w.bin",
        "/etc/w.bin",
        "tensors//w.bin",
    ] {
        let mut v = pybuda_value();
        v["compiled_graph_state"]["post_const_eval_parameters"]["layer.0.weight"]["bin"] =
            json!(bad);
        let msg = parse_err(&v);
        assert!(
            msg.starts_with(r#"device.json: compiled_graph_state.post_const_eval_parameters["layer.0.weight"].bin: member name"#)
                && msg.contains("is not a relative path inside the archive"),
            "{bad}: {msg}"
        );
    }
    let mut v = pybuda_value();
    v["compiled_graph_state"]["post_const_eval_constants"]["input_1_multiply_3"] =
        json!("../torch.Tensor.input_1_multiply_3.pkl");
    assert!(parse_err(&v).contains("it has a '..' component"));
}

#[test]
fn a_descriptor_member_must_be_bin_or_tbin() {
    let mut v = pybuda_value();
    v["compiled_graph_state"]["post_const_eval_parameters"]["layer.0.weight"]["bin"] =
        json!("tensors/torch.Tensor.w.npy");
    assert_eq!(
        parse_err(&v),
        r#"device.json: compiled_graph_state.post_const_eval_parameters["layer.0.weight"].bin: expected a .bin or .tbin member, found "tensors/torch.Tensor.w.npy""#
    );
}

#[test]
fn tbin_buffer_size_is_read_under_either_key_and_must_agree() {
    fn bias(v: &mut Value) -> &mut serde_json::Map<String, Value> {
        v["compiled_graph_state"]["post_const_eval_parameters"]["layer.0/bias"]
            .as_object_mut()
            .unwrap()
    }
    let buffers = |v: &Value| {
        let d = parse_value(v).unwrap();
        binary(&d.compiled_graph_state.post_const_eval_parameters["layer.0/bias"]).tilized
    };
    let mut v = pybuda_value();
    let b = bias(&mut v);
    b.remove("buf_size_bytes");
    b.insert("buffer_size_bytes".into(), json!(1152));
    assert_eq!(buffers(&v).unwrap().buffer_size_bytes, 1152);

    bias(&mut v).insert("buf_size_bytes".into(), json!(1152));
    assert_eq!(buffers(&v).unwrap().buffer_size_bytes, 1152);

    bias(&mut v).insert("buf_size_bytes".into(), json!(2048));
    assert!(parse_err(&v).ends_with(
        r#"["layer.0/bias"].buf_size_bytes: 2048 disagrees with compiled_graph_state.post_const_eval_parameters["layer.0/bias"].buffer_size_bytes: 1152"#
    ));

    let b = bias(&mut v);
    b.remove("buf_size_bytes");
    b.remove("buffer_size_bytes");
    assert!(parse_err(&v).contains(r#"["layer.0/bias"].buf_size_bytes: required key is missing"#));
}

#[test]
fn to_json_then_parse_gives_back_the_same_device_json() {
    let d = DeviceJson::parse(PYBUDA_DEVICE_JSON.as_bytes()).unwrap();
    let text = d.to_json();
    let again = DeviceJson::parse(text.as_bytes()).unwrap();
    assert_eq!(again, d);
    // The same JSON, not only the same typed view: nothing was dropped or renamed.
    let mut original = pybuda_value();
    let written: Value = serde_json::from_str(&text).unwrap();
    // The one addition: tilized sizes are written under both upstream spellings.
    original["compiled_graph_state"]["post_const_eval_parameters"]["layer.0/bias"]
        ["buffer_size_bytes"] = json!(1152);
    assert_eq!(written, original);
    assert!(
        text.contains("\n    \"arch\": \"Wormhole_B0\""),
        "4-space indent like PyBuda"
    );
}

/// The fields of PyBuda's `TTDeviceImage` and `CompiledGraphState` dataclasses without
/// defaults: its loader (`from_dict`) fails unless each is present.
const TTDEVICEIMAGE_FIELDS: [&str; 19] = [
    "version",
    "device_image_name",
    "arch",
    "devtype",
    "chip_ids",
    "fp32_fallback",
    "optimizer",
    "training",
    "microbatch_size",
    "microbatch_count",
    "grid_size",
    "harvested_rows",
    "compiled_graph_state",
    "verify_cfg",
    "compiler_cfg",
    "loss_module",
    "pybuda_pip_version_id",
    "pybuda_commit_hash",
    "budabackend_commit_hash",
];
const COMPILED_GRAPH_STATE_FIELDS: [&str; 37] = [
    "microbatch",
    "graph_name",
    "ordered_input_names",
    "ordered_output_names",
    "ordered_input_gradient_names",
    "ordered_output_gradient_names",
    "ordered_target_names",
    "ordered_constant_node_names",
    "ordered_parameter_node_names",
    "ordered_intermediate_activation_names",
    "ordered_input_subgraph_indices",
    "ordered_output_subgraph_indices",
    "ordered_target_subgraph_indices",
    "ordered_input_tile_broadcast_dims",
    "ordered_target_tile_broadcast_dims",
    "ordered_bw_input_tile_broadcast_dims",
    "ordered_input_runtime_tensor_transforms",
    "ordered_output_runtime_tensor_transforms",
    "input_to_tile_dims",
    "parameter_to_tile_dims",
    "constant_to_tile_dims",
    "ordered_input_requires_grad",
    "ordered_output_requires_grad",
    "ordered_input_shapes",
    "ordered_output_shapes",
    "ordered_target_shapes",
    "ordered_intermediate_shapes",
    "ordered_output_data_formats",
    "netlist_filename",
    "output_host_tms",
    "consteval_trace",
    "post_const_eval_constants",
    "post_const_eval_parameters",
    "optimizer_param_info",
    "cpueval_outputs",
    "has_cache_buffers",
    "module_name_to_metadata",
];

fn packed() -> PackedGraph {
    let w = host_tensor_descriptor("enc/w", DataFormat::Float16B, [1, 1, 64, 32], 2).unwrap();
    let k = host_tensor_descriptor("k", DataFormat::Float32, [1, 1, 1, 32], 1).unwrap();
    PackedGraph {
        arch: Arch::WormholeB0,
        device_image_name: "tt0".into(),
        graph_name: "fwd_0".into(),
        microbatch: 2,
        inputs: vec![("x".into(), vec![2, 1, 32, 64])],
        outputs: vec![("y".into(), vec![2, 1, 32, 32], DataFormat::Float16B)],
        constants: vec![("k".into(), k)],
        parameters: vec![("enc/w".into(), w)],
        netlist_filename: "net.yaml".into(),
    }
}

#[test]
fn a_packed_device_json_has_every_key_pybudas_loader_requires_and_parses_back() {
    let d = DeviceJson::for_pack(packed()).unwrap();
    let text = d.to_json();
    let written: Value = serde_json::from_str(&text).unwrap();
    for key in TTDEVICEIMAGE_FIELDS {
        assert!(written.get(key).is_some(), "top-level {key} missing");
    }
    // module_name_to_metadata sits at the top level, not in the graph state.
    for key in &COMPILED_GRAPH_STATE_FIELDS[..36] {
        assert!(
            written["compiled_graph_state"].get(key).is_some(),
            "compiled_graph_state.{key} missing"
        );
    }
    assert!(written.get(COMPILED_GRAPH_STATE_FIELDS[36]).is_some());
    assert_eq!(written["arch"], json!("Wormhole_B0"));
    assert_eq!(
        written["compiled_graph_state"]["ordered_output_data_formats"],
        json!(["Float16_b"])
    );
    assert_eq!(
        written["compiled_graph_state"]["post_const_eval_parameters"]["enc/w"],
        json!({
            "bin": "tensors/torch.Tensor.enc_w.bin",
            "itemsize": 2,
            "shape": [1, 1, 64, 32],
            "strides": [4096, 4096, 64, 2],
            "dim": 2,
            "format": "Float16_b"
        })
    );
    assert_eq!(
        written["compiled_graph_state"]["ordered_input_subgraph_indices"],
        json!([0])
    );
    assert_eq!(
        written["compiled_graph_state"]["ordered_input_runtime_tensor_transforms"],
        json!([{"type": "NoTransform"}])
    );
    let again = DeviceJson::parse(text.as_bytes()).unwrap();
    assert_eq!(again, d);
    assert_eq!(
        again.compiled_graph_state.ordered_parameter_node_names,
        ["enc/w"]
    );
}

#[test]
fn packing_mismatched_lists_is_refused() {
    let mut g = packed();
    g.netlist_filename = "dir/".into();
    let err = DeviceJson::for_pack(g).unwrap_err();
    assert!(
        err.message().contains("netlist_filename"),
        "{}",
        err.message()
    );
}

// ---- tensor files ----

fn weight_entry() -> TensorEntry {
    let d = DeviceJson::parse(PYBUDA_DEVICE_JSON.as_bytes()).unwrap();
    d.compiled_graph_state.post_const_eval_parameters["layer.0.weight"].clone()
}

#[test]
fn a_bin_of_the_right_length_gives_a_row_major_host_tensor() {
    // 64 x 32 bfloat16 = 4096 bytes.
    let bytes = vec![0x3fu8; 64 * 32 * 2];
    match TensorFile::check(&weight_entry(), "layer.0.weight", &bytes).unwrap() {
        TensorFile::Host(t) => {
            assert_eq!(t.format, DataFormat::Float16B);
            assert_eq!(t.shape, [1, 1, 64, 32]);
            assert_eq!(t.strides, [4096, 4096, 64, 2]);
            assert_eq!(t.data.len(), 4096);
        }
        TensorFile::Tilized(_) => panic!("a .bin is a host tensor"),
    }
}

#[test]
fn a_bin_of_the_wrong_length_is_rejected() {
    let bytes = vec![0u8; 4094];
    let err = TensorFile::check(&weight_entry(), "layer.0.weight", &bytes).unwrap_err();
    assert_eq!(
        err.message(),
        r#"tensor "layer.0.weight" (tensors/torch.Tensor.layer.0.weight.bin): expected 4096 bytes for shape [1, 1, 64, 32] of Float16_b, found 4094"#
    );
}

#[test]
fn a_bin_with_strides_that_are_not_row_major_is_rejected() {
    let TensorEntry::Binary(mut d) = weight_entry() else {
        unreachable!()
    };
    // Transposed: columns contiguous.
    d.strides = [4096, 4096, 2, 128];
    let err = TensorFile::check(&TensorEntry::Binary(d), "w", &[0u8; 4096]).unwrap_err();
    assert!(
        err.message()
            .contains("are not contiguous for shape [1, 1, 64, 32]"),
        "{}",
        err.message()
    );
}

#[test]
fn a_bin_whose_itemsize_contradicts_its_format_is_rejected() {
    let TensorEntry::Binary(mut d) = weight_entry() else {
        unreachable!()
    };
    d.itemsize = 4;
    let err = TensorFile::check(&TensorEntry::Binary(d.clone()), "w", &[0u8; 4096]).unwrap_err();
    assert!(err
        .message()
        .contains("itemsize 4 does not match format Float16_b (2 bytes)"));
    d.itemsize = 1;
    d.format = DataFormat::Bfp8B;
    let err = TensorFile::check(&TensorEntry::Binary(d), "w", &[0u8; 2048]).unwrap_err();
    assert!(err.message().contains("format Bfp8_b has no host layout"));
}

#[test]
fn a_bin_with_a_huge_shape_is_rejected_without_overflow() {
    let TensorEntry::Binary(mut d) = weight_entry() else {
        unreachable!()
    };
    d.shape = [0, usize::MAX / 2, usize::MAX / 2, 3];
    let err = TensorFile::check(&TensorEntry::Binary(d), "w", &[]).unwrap_err();
    assert!(err.message().ends_with("is too large"), "{}", err.message());
}

#[test]
fn a_tbin_holds_num_buffers_times_the_buffer_size() {
    let d = DeviceJson::parse(PYBUDA_DEVICE_JSON.as_bytes()).unwrap();
    let entry = &d.compiled_graph_state.post_const_eval_parameters["layer.0/bias"];
    let mut bytes = vec![1u8; 2 * 1152];
    bytes[1152..].fill(2);
    match TensorFile::check(entry, "layer.0/bias", &bytes).unwrap() {
        TensorFile::Tilized(t) => {
            assert_eq!((t.num_buffers, t.buffer_size_bytes), (2, 1152));
            assert_eq!(t.format, DataFormat::Bfp8B);
            assert!(t.buffer(1).unwrap().iter().all(|&b| b == 2));
            assert!(t.buffer(2).is_none());
        }
        TensorFile::Host(_) => panic!("a .tbin is tilized"),
    }
    let err = TensorFile::check(entry, "layer.0/bias", &bytes[..2303]).unwrap_err();
    assert_eq!(
        err.message(),
        r#"tensor "layer.0/bias" (tensors/torch.Tensor.layer.0_bias.tbin): expected 2304 bytes (2 buffers of 1152 bytes), found 2303"#
    );
}

#[test]
fn a_pickled_tensor_is_rejected_with_how_to_re_export() {
    let mut v = pybuda_value();
    v["compiled_graph_state"]["post_const_eval_constants"]["input_1_multiply_3"] =
        json!("tensors/torch.Tensor.input_1_multiply_3.pkl");
    let d = parse_value(&v).expect("an image with pickles still parses");
    let entry = &d.compiled_graph_state.post_const_eval_constants["input_1_multiply_3"];
    assert_eq!(
        entry,
        &TensorEntry::Pickled("tensors/torch.Tensor.input_1_multiply_3.pkl".into())
    );
    let err = TensorFile::check(entry, "input_1_multiply_3", b"\x80\x04").unwrap_err();
    assert_eq!(err.kind, ImageErrorKind::Invalid);
    assert!(err
        .message()
        .contains("tensors/torch.Tensor.input_1_multiply_3.pkl is a pickled torch tensor"));
    assert!(err
        .message()
        .contains("re-export the image with PYBUDA_TTI_BACKEND_FORMAT=1"));
}

#[test]
fn pack_names_tensor_members_as_pybuda_does() {
    assert_eq!(
        tensor_member_name("layer.0.weight"),
        "tensors/torch.Tensor.layer.0.weight.bin"
    );
    assert_eq!(
        tensor_member_name("enc/attn/w"),
        "tensors/torch.Tensor.enc_attn_w.bin"
    );
    let d = host_tensor_descriptor("b", DataFormat::Int8, [2, 3, 5, 7], 4).unwrap();
    // Row-major strides of 1-byte items, computed by hand.
    assert_eq!(d.strides, [105, 35, 7, 1]);
    assert_eq!((d.itemsize, d.dim, d.kind()), (1, 4, TensorFileKind::Host));
    assert!(host_tensor_descriptor("b", DataFormat::Bfp8, [1, 1, 32, 32], 2).is_err());
    assert!(host_tensor_descriptor("b", DataFormat::Float32, [1, usize::MAX, 2, 2], 4).is_err());
}

// ---- compile_and_runtime_config.json ----

#[test]
fn runtime_config_entries_are_sorted_and_non_strings_rendered() {
    let c = RuntimeConfig::parse(
        br#"{"TT_BACKEND_TIMEOUT": 500, "PYBUDA_ENABLE_TVM_CACHE": true, "PYBUDA_DF": "Float16_b", "PYBUDA_X": false}"#,
    )
    .unwrap();
    let names: Vec<&str> = c.entries().iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "PYBUDA_DF",
            "PYBUDA_ENABLE_TVM_CACHE",
            "PYBUDA_X",
            "TT_BACKEND_TIMEOUT"
        ]
    );
    assert_eq!(c.get("TT_BACKEND_TIMEOUT"), Some("500"));
    assert_eq!(c.get("PYBUDA_ENABLE_TVM_CACHE"), Some("1"));
    assert_eq!(c.get("PYBUDA_X"), Some("0"));
    assert_eq!(c.get("PYBUDA_DF"), Some("Float16_b"));
}

#[test]
fn runtime_config_values_that_are_not_scalars_are_rejected_naming_the_variable() {
    let err = RuntimeConfig::parse(br#"{"PYBUDA_A": "1", "PYBUDA_B": [1]}"#).unwrap_err();
    assert_eq!(
        err.message(),
        "compile_and_runtime_config.json: PYBUDA_B: expected a string, found a list"
    );
    let err = RuntimeConfig::parse(br#"{"PYBUDA_A": null}"#).unwrap_err();
    assert_eq!(
        err.message(),
        "compile_and_runtime_config.json: PYBUDA_A: expected a string, found null"
    );
    let err = RuntimeConfig::parse(br#"{"A=B": "1"}"#).unwrap_err();
    assert!(err
        .message()
        .contains("not a valid environment variable name"));
    let err = RuntimeConfig::parse(br#"{"PYBUDA_A": "x\u0000y"}"#).unwrap_err();
    assert!(err
        .message()
        .contains("PYBUDA_A: the value holds a NUL byte"));
    assert!(RuntimeConfig::parse(b"[]").is_err());
    assert!(RuntimeConfig::parse(b"{")
        .unwrap_err()
        .message()
        .contains("not valid JSON"));
}

#[test]
fn runtime_config_never_overrides_a_variable_already_set() {
    // Names unique to this test: tests run in parallel in one process.
    let already = "PYBUDA_TTRT_TEST_DEVJSON_ALREADY";
    let fresh = "TT_BACKEND_TTRT_TEST_DEVJSON_FRESH";
    let foreign = "TTRT_TEST_DEVJSON_NOT_PYBUDA";
    std::env::set_var(already, "user");
    std::env::remove_var(fresh);
    std::env::remove_var(foreign);
    let c = RuntimeConfig::parse(
        format!(r#"{{"{already}": "image", "{fresh}": "image", "{foreign}": "image"}}"#).as_bytes(),
    )
    .unwrap();
    let set = c.apply_to_environment();
    assert_eq!(set, [fresh.to_string()]);
    assert_eq!(std::env::var(already).unwrap(), "user");
    assert_eq!(std::env::var(fresh).unwrap(), "image");
    assert!(
        std::env::var_os(foreign).is_none(),
        "only PYBUDA_* and TT_BACKEND_* are applied"
    );
    // Applying again sets nothing: the variable is now set.
    assert!(c.apply_to_environment().is_empty());
}

#[test]
fn a_required_key_set_to_null_is_named() {
    let mut v = pybuda_value();
    v["compiled_graph_state"]["ordered_input_names"] = Value::Null;
    assert_eq!(
        parse_err(&v),
        "device.json: compiled_graph_state.ordered_input_names: required, found null"
    );
}
