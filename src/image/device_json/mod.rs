//! `device.json` of a TTI image: what PyBuda's `TTDeviceImage` serialised (arch, device type,
//! the compiled graph's ordered input/output/constant/parameter names and shapes, where each
//! constant's and parameter's tensor is), read into typed fields with the key path named on
//! any error. Keys ttrt does not model are kept at every level and written back by
//! [`DeviceJson::to_json`], so `ttrt pack` round-trips an image without losing them.
//! See notes/buda-backend.md, "TTI archive".

mod descriptor;
pub(crate) mod reader;

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

pub use descriptor::{TensorDescriptor, TensorEntry, TensorFileKind, TilizedBuffers};

use self::descriptor::data_format;
use self::reader::Fields;
use crate::format::{Arch, DataFormat};
use crate::image::{invalid, ImageError};

/// The TTI version PyBuda writes (`TTDeviceImage.TTI_VERSION`).
pub const TTI_VERSION: &str = "1.1.0";

/// File name used in every message about this member.
const FILE: &str = "device.json";

/// The top level of device.json.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceJson {
    pub version: String,
    pub device_image_name: String,
    pub arch: Arch,
    /// PyBuda's `BackendType` by name (`Silicon`, `Golden`, `Model`, `Versim`, ...); ttrt runs
    /// every image on its own device, so the name is informational.
    pub devtype: String,
    pub chip_ids: Vec<u32>,
    pub fp32_fallback: DataFormat,
    /// PyBuda's optimizer, as written (null for inference images).
    pub optimizer: Value,
    pub training: bool,
    pub microbatch_size: usize,
    pub microbatch_count: usize,
    /// `[rows, columns]` of the worker grid the image was compiled for.
    pub grid_size: Option<[usize; 2]>,
    /// One harvesting mask per chip id (bit `i`: NOC row `i` harvested), as PyBuda's
    /// `TTDeviceImage.harvested_rows` (`[2050]` for a Grayskull with rows 1 and 11
    /// harvested; empty for Golden images). Read from a list, null (empty) or a bare integer
    /// (one chip).
    pub harvested_rows: Vec<u32>,
    pub compiled_graph_state: CompiledGraphState,
    /// `importlib.metadata.version('pybuda')` of the exporting PyBuda (declared an int
    /// upstream, written as a version string).
    pub pybuda_pip_version_id: Option<String>,
    pub pybuda_commit_hash: Option<String>,
    pub budabackend_commit_hash: Option<String>,
    /// Keys ttrt does not model (`compiler_cfg`, `verify_cfg`, ...), as written.
    pub extra: Map<String, Value>,
}

/// `compiled_graph_state`: the lowered graph's interface.
#[derive(Clone, Debug, PartialEq)]
pub struct CompiledGraphState {
    pub microbatch: usize,
    pub graph_name: String,
    pub ordered_input_names: Vec<String>,
    pub ordered_output_names: Vec<String>,
    pub ordered_target_names: Vec<String>,
    /// In graph order (the backend's loader kept these two in a `std::set`, loading tensors
    /// in name order; ttrt keeps the file's order).
    pub ordered_constant_node_names: Vec<String>,
    pub ordered_parameter_node_names: Vec<String>,
    /// One shape per input name, in order (any rank).
    pub ordered_input_shapes: Vec<Vec<usize>>,
    /// One shape per output name.
    pub ordered_output_shapes: Vec<Vec<usize>>,
    /// One format per output name.
    pub ordered_output_data_formats: Vec<DataFormat>,
    /// One transform per input name.
    pub ordered_input_runtime_tensor_transforms: Vec<RuntimeTensorTransform>,
    /// As written; use [`CompiledGraphState::netlist_member`] to find the netlist.
    pub netlist_filename: String,
    pub post_const_eval_constants: BTreeMap<String, TensorEntry>,
    pub post_const_eval_parameters: BTreeMap<String, TensorEntry>,
    pub extra: Map<String, Value>,
}

/// A transform the host applies to an input before pushing it.
#[derive(Clone, Debug, PartialEq)]
pub struct RuntimeTensorTransform {
    pub transform: TensorTransform,
    /// The other keys of the transform object, as written. PyBuda serialises every field of
    /// its C++ struct whatever the type, and the integer fields of transforms other than the
    /// one set are uninitialised memory, so nothing is read from them.
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TensorTransform {
    NoTransform,
    /// Convolution input laid out for a strided first layer. Both strides are kept; the
    /// backend's loader asserted they were equal, which is for the consumer to decide.
    Prestride {
        /// `original_shape.dims_`: the NCHW shape before prestriding. Exactly 4 dims are
        /// required: the backend read dims 1 to 3 without checking the length.
        original_shape: [usize; 4],
        stride_height: u32,
        stride_width: u32,
        /// The other keys of `original_shape` (`valid_`, `type_`), as written.
        original_shape_extra: Map<String, Value>,
    },
    /// Any other type, by name (`ReinterpretShape`, `Unpad`, `Concatenate`, ...).
    Other(String),
}

/// What `ttrt pack` knows about a graph, from which [`DeviceJson::for_pack`] makes a
/// device.json.
#[derive(Clone, Debug)]
pub struct PackedGraph {
    pub arch: Arch,
    pub device_image_name: String,
    pub graph_name: String,
    pub microbatch: usize,
    /// Name and shape of each input, in order.
    pub inputs: Vec<(String, Vec<usize>)>,
    /// Name, shape and format of each output, in order.
    pub outputs: Vec<(String, Vec<usize>, DataFormat)>,
    /// Name and descriptor of each constant, in order.
    pub constants: Vec<(String, TensorDescriptor)>,
    /// Name and descriptor of each parameter, in order.
    pub parameters: Vec<(String, TensorDescriptor)>,
    pub netlist_filename: String,
}

impl DeviceJson {
    /// Reads device.json. Every message starts with `device.json: ` and names the key path.
    pub fn parse(bytes: &[u8]) -> Result<DeviceJson, ImageError> {
        let value = reader::document(bytes, FILE)?;
        DeviceJson::from_value(&value).map_err(|e| e.context(FILE))
    }

    fn from_value(v: &Value) -> Result<DeviceJson, ImageError> {
        let mut f = Fields::new(v, "")?;
        let arch = f.required("arch", arch)?;
        let compiled_graph_state =
            f.required("compiled_graph_state", CompiledGraphState::from_json)?;
        let d = DeviceJson {
            version: f
                .optional("version", reader::string)?
                .unwrap_or_else(|| TTI_VERSION.into()),
            device_image_name: f
                .optional("device_image_name", reader::string)?
                .unwrap_or_default(),
            arch,
            devtype: f
                .optional("devtype", reader::enum_name)?
                .unwrap_or_else(|| "Silicon".into()),
            chip_ids: f
                .optional("chip_ids", reader::uint32s)?
                .unwrap_or_else(|| vec![0]),
            fp32_fallback: f
                .optional("fp32_fallback", data_format)?
                .unwrap_or(DataFormat::Float16B),
            optimizer: f.take("optimizer").cloned().unwrap_or(Value::Null),
            training: f.optional("training", reader::boolean)?.unwrap_or(false),
            microbatch_size: f.optional("microbatch_size", reader::uint)?.unwrap_or(1),
            microbatch_count: f.optional("microbatch_count", reader::uint)?.unwrap_or(1),
            grid_size: f.optional("grid_size", reader::uint_array::<2>)?,
            harvested_rows: f
                .optional("harvested_rows", harvest_masks)?
                .unwrap_or_default(),
            compiled_graph_state,
            pybuda_pip_version_id: f.optional("pybuda_pip_version_id", version_id)?,
            pybuda_commit_hash: f.optional("pybuda_commit_hash", reader::string)?,
            budabackend_commit_hash: f.optional("budabackend_commit_hash", reader::string)?,
            extra: f.extras(),
        };
        Ok(d)
    }

    /// device.json as `ttrt pack` writes it: PyBuda's key names and value shapes (enums as the
    /// bare names PyBuda's `to_json` writes, which both PyBuda's and the backend's loaders
    /// read), 4-space indent like PyBuda's `json.dumps(indent=4)`. Keys are in sorted order.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        write_pretty(&mut out, &self.to_value(), 0);
        out.push('\n');
        out
    }

    fn to_value(&self) -> Value {
        let mut m = self.extra.clone();
        m.insert("version".into(), json!(self.version));
        m.insert("device_image_name".into(), json!(self.device_image_name));
        m.insert("arch".into(), json!(self.arch.name()));
        m.insert("devtype".into(), json!(self.devtype));
        m.insert("chip_ids".into(), json!(self.chip_ids));
        m.insert("fp32_fallback".into(), json!(self.fp32_fallback.name()));
        m.insert("optimizer".into(), self.optimizer.clone());
        m.insert("training".into(), json!(self.training));
        m.insert("microbatch_size".into(), json!(self.microbatch_size));
        m.insert("microbatch_count".into(), json!(self.microbatch_count));
        if let Some(g) = self.grid_size {
            m.insert("grid_size".into(), json!(g));
        }
        m.insert("harvested_rows".into(), json!(self.harvested_rows));
        m.insert(
            "compiled_graph_state".into(),
            self.compiled_graph_state.to_json(),
        );
        m.insert(
            "pybuda_pip_version_id".into(),
            json!(self.pybuda_pip_version_id),
        );
        m.insert("pybuda_commit_hash".into(), json!(self.pybuda_commit_hash));
        m.insert(
            "budabackend_commit_hash".into(),
            json!(self.budabackend_commit_hash),
        );
        Value::Object(m)
    }

    /// A device.json for what `ttrt pack` knows, with PyBuda's defaults for the rest: the
    /// keys PyBuda's own loader requires but ttrt has no use for (`compiler_cfg`,
    /// `verify_cfg`, the gradient and subgraph lists, ...) are written empty, so PyBuda can
    /// load the image too.
    pub fn for_pack(g: PackedGraph) -> Result<DeviceJson, ImageError> {
        let n_in = g.inputs.len();
        let n_out = g.outputs.len();
        let mut state_extra = Map::new();
        let empty_list = || json!([]);
        for key in [
            "ordered_input_gradient_names",
            "ordered_output_gradient_names",
            "ordered_intermediate_activation_names",
            "ordered_target_subgraph_indices",
            "ordered_target_tile_broadcast_dims",
            "ordered_bw_input_tile_broadcast_dims",
            "ordered_target_shapes",
            "ordered_intermediate_shapes",
        ] {
            state_extra.insert(key.into(), empty_list());
        }
        for key in [
            "parameter_to_tile_dims",
            "constant_to_tile_dims",
            "output_host_tms",
            "consteval_trace",
            "optimizer_param_info",
        ] {
            state_extra.insert(key.into(), json!({}));
        }
        state_extra.insert(
            "ordered_input_subgraph_indices".into(),
            json!(vec![0; n_in]),
        );
        state_extra.insert(
            "ordered_output_subgraph_indices".into(),
            json!(vec![0; n_out]),
        );
        state_extra.insert(
            "ordered_input_tile_broadcast_dims".into(),
            json!(vec![Vec::<u32>::new(); n_in]),
        );
        state_extra.insert(
            "ordered_input_requires_grad".into(),
            json!(vec![false; n_in]),
        );
        state_extra.insert(
            "ordered_output_requires_grad".into(),
            json!(vec![false; n_out]),
        );
        state_extra.insert(
            "ordered_output_runtime_tensor_transforms".into(),
            Value::Array(vec![RuntimeTensorTransform::none().to_json(); n_out]),
        );
        let tile_dims: Map<String, Value> = g
            .inputs
            .iter()
            .map(|(name, _)| (name.clone(), json!([32, 32])))
            .collect();
        state_extra.insert("input_to_tile_dims".into(), Value::Object(tile_dims));
        state_extra.insert("cpueval_outputs".into(), Value::Null);
        state_extra.insert("has_cache_buffers".into(), json!(false));

        let tensors = |list: Vec<(String, TensorDescriptor)>| {
            let names: Vec<String> = list.iter().map(|(n, _)| n.clone()).collect();
            let map = list
                .into_iter()
                .map(|(n, d)| (n, TensorEntry::Binary(d)))
                .collect();
            (names, map)
        };
        let (constant_names, constants) = tensors(g.constants);
        let (parameter_names, parameters) = tensors(g.parameters);
        let state = CompiledGraphState {
            microbatch: g.microbatch,
            graph_name: g.graph_name,
            ordered_input_names: g.inputs.iter().map(|(n, _)| n.clone()).collect(),
            ordered_input_shapes: g.inputs.into_iter().map(|(_, s)| s).collect(),
            ordered_output_names: g.outputs.iter().map(|(n, _, _)| n.clone()).collect(),
            ordered_output_data_formats: g.outputs.iter().map(|(_, _, f)| *f).collect(),
            ordered_output_shapes: g.outputs.into_iter().map(|(_, s, _)| s).collect(),
            ordered_target_names: Vec::new(),
            ordered_constant_node_names: constant_names,
            ordered_parameter_node_names: parameter_names,
            ordered_input_runtime_tensor_transforms: vec![RuntimeTensorTransform::none(); n_in],
            netlist_filename: g.netlist_filename,
            post_const_eval_constants: constants,
            post_const_eval_parameters: parameters,
            extra: state_extra,
        };
        let path = "compiled_graph_state";
        let all = [
            "ordered_input_shapes",
            "ordered_output_shapes",
            "ordered_output_data_formats",
        ];
        state.check(path, &all).map_err(|e| e.context(FILE))?;
        state.netlist_member().map_err(|e| e.context(FILE))?;
        for (name, entry) in state
            .post_const_eval_constants
            .iter()
            .chain(&state.post_const_eval_parameters)
        {
            descriptor::check_member_name(entry.member(), &reader::entry(path, name))
                .map_err(|e| e.context(FILE))?;
        }

        let mut extra = Map::new();
        extra.insert("verify_cfg".into(), Value::Null);
        // PyBuda's loader joins this under the archive's directory.
        extra.insert(
            "compiler_cfg".into(),
            json!({"backend_output_dir": "unzipped_tti/backend_build_binaries"}),
        );
        extra.insert("loss_module".into(), Value::Null);
        extra.insert("module_name_to_metadata".into(), json!({}));
        Ok(DeviceJson {
            version: TTI_VERSION.into(),
            device_image_name: g.device_image_name,
            arch: g.arch,
            devtype: "Silicon".into(),
            chip_ids: vec![0],
            fp32_fallback: DataFormat::Float16B,
            optimizer: Value::Null,
            training: false,
            microbatch_size: g.microbatch,
            microbatch_count: 1,
            grid_size: Some(full_grid(g.arch)),
            harvested_rows: Vec::new(),
            compiled_graph_state: state,
            pybuda_pip_version_id: None,
            pybuda_commit_hash: None,
            budabackend_commit_hash: None,
            extra,
        })
    }
}

/// `v` as JSON with PyBuda's 4-space indent (`json.dumps(indent=4)`).
fn write_pretty(out: &mut String, v: &Value, depth: usize) {
    let indent = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("    ");
        }
    };
    match v {
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, depth + 1);
                write_pretty(out, item, depth + 1);
            }
            indent(out, depth);
            out.push(']');
        }
        Value::Object(m) if !m.is_empty() => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, depth + 1);
                out.push_str(&Value::String(k.clone()).to_string());
                out.push_str(": ");
                write_pretty(out, item, depth + 1);
            }
            indent(out, depth);
            out.push('}');
        }
        // Scalars and empty containers print on one line.
        _ => out.push_str(&v.to_string()),
    }
}

/// Rows and columns of an unharvested chip's worker grid, as PyBuda reports `grid_size`.
fn full_grid(arch: Arch) -> [usize; 2] {
    match arch {
        Arch::Grayskull => [10, 12],
        Arch::WormholeB0 => [10, 8],
        Arch::Blackhole => [10, 14],
    }
}

fn arch(v: &Value, path: &str) -> Result<Arch, ImageError> {
    let name = reader::enum_name(v, path)?;
    match Arch::from_name(&name) {
        Some(a) => Ok(a),
        None => reader::mismatch(path, "Grayskull, Wormhole_B0 or Blackhole", v),
    }
}

/// `harvested_rows`: a list of per-chip masks, null, or one mask.
fn harvest_masks(v: &Value, path: &str) -> Result<Vec<u32>, ImageError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Number(_) => reader::uint32(v, path).map(|m| vec![m]),
        _ => reader::uint32s(v, path),
    }
}

/// A version id: a string, or an integer as the upstream type annotation says.
fn version_id(v: &Value, path: &str) -> Result<String, ImageError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Ok(n.to_string()),
        _ => reader::mismatch(path, "a version string", v),
    }
}

fn tensor_entries(v: &Value, path: &str) -> Result<BTreeMap<String, TensorEntry>, ImageError> {
    reader::object(v, path)?
        .iter()
        .map(|(name, entry)| {
            Ok((
                name.clone(),
                TensorEntry::from_json(entry, &reader::entry(path, name))?,
            ))
        })
        .collect()
}

fn shapes(v: &Value, path: &str) -> Result<Vec<Vec<usize>>, ImageError> {
    reader::list(v, path, "a list of shapes", reader::uints)
}

fn data_formats(v: &Value, path: &str) -> Result<Vec<DataFormat>, ImageError> {
    reader::list(v, path, "a list of data formats", data_format)
}

fn transforms(v: &Value, path: &str) -> Result<Vec<RuntimeTensorTransform>, ImageError> {
    reader::list(
        v,
        path,
        "a list of transforms",
        RuntimeTensorTransform::from_json,
    )
}

/// `ordered_input_runtime_tensor_transforms` as the backend's loader reads it: missing, no
/// transforms; a list shorter than the inputs, no transform for the rest (padded with
/// NoTransform, so there is one per input). A longer list is refused where an entry past the
/// inputs is a Prestride (the loader looks up its input name and throws); other extra
/// entries name no input and are dropped.
fn input_transforms(
    f: &mut Fields,
    n_in: usize,
    path: &str,
) -> Result<Vec<RuntimeTensorTransform>, ImageError> {
    let key = "ordered_input_runtime_tensor_transforms";
    let mut list = f.optional(key, transforms)?.unwrap_or_default();
    if let Some(i) = list
        .iter()
        .skip(n_in)
        .position(|t| matches!(t.transform, TensorTransform::Prestride { .. }))
    {
        return invalid!(
            "{}: a Prestride transform for input {} of {n_in} in ordered_input_names",
            reader::element(&reader::child(path, key), n_in + i),
            n_in + i
        );
    }
    list.truncate(n_in);
    list.resize(n_in, RuntimeTensorTransform::none());
    Ok(list)
}

impl CompiledGraphState {
    fn from_json(v: &Value, path: &str) -> Result<CompiledGraphState, ImageError> {
        let mut f = Fields::new(v, path)?;
        let ordered_input_names = f.required("ordered_input_names", reader::strings)?;
        let n_in = ordered_input_names.len();
        // The shape and format lists the file has: the backend's loader reads none of them,
        // so a missing one is accepted, and one that is there is checked.
        let mut present = Vec::new();
        let state = CompiledGraphState {
            microbatch: f.optional("microbatch", reader::uint)?.unwrap_or(1),
            graph_name: f
                .optional("graph_name", reader::string)?
                .unwrap_or_default(),
            ordered_output_names: f.required("ordered_output_names", reader::strings)?,
            ordered_target_names: f
                .optional("ordered_target_names", reader::strings)?
                .unwrap_or_default(),
            ordered_constant_node_names: f
                .required("ordered_constant_node_names", reader::strings)?,
            ordered_parameter_node_names: f
                .required("ordered_parameter_node_names", reader::strings)?,
            ordered_input_shapes: f
                .optional("ordered_input_shapes", shapes)?
                .inspect(|_| present.push("ordered_input_shapes"))
                .unwrap_or_default(),
            ordered_output_shapes: f
                .optional("ordered_output_shapes", shapes)?
                .inspect(|_| present.push("ordered_output_shapes"))
                .unwrap_or_default(),
            ordered_output_data_formats: f
                .optional("ordered_output_data_formats", data_formats)?
                .inspect(|_| present.push("ordered_output_data_formats"))
                .unwrap_or_default(),
            // Missing means no input is transformed; a shorter list, none for the rest.
            ordered_input_runtime_tensor_transforms: input_transforms(&mut f, n_in, path)?,
            netlist_filename: f.required("netlist_filename", reader::string)?,
            post_const_eval_constants: f
                .optional("post_const_eval_constants", tensor_entries)?
                .unwrap_or_default(),
            post_const_eval_parameters: f
                .optional("post_const_eval_parameters", tensor_entries)?
                .unwrap_or_default(),
            ordered_input_names,
            extra: f.extras(),
        };
        state.check(path, &present)?;
        state.netlist_member()?;
        Ok(state)
    }

    /// The lists that run parallel to the input and output names have one entry per name
    /// (those of them named in `present`, and the transforms), and every constant and
    /// parameter has a tensor.
    fn check(&self, path: &str, present: &[&str]) -> Result<(), ImageError> {
        let parallel = [
            (
                "ordered_input_shapes",
                self.ordered_input_shapes.len(),
                "ordered_input_names",
                self.ordered_input_names.len(),
            ),
            (
                "ordered_input_runtime_tensor_transforms",
                self.ordered_input_runtime_tensor_transforms.len(),
                "ordered_input_names",
                self.ordered_input_names.len(),
            ),
            (
                "ordered_output_shapes",
                self.ordered_output_shapes.len(),
                "ordered_output_names",
                self.ordered_output_names.len(),
            ),
            (
                "ordered_output_data_formats",
                self.ordered_output_data_formats.len(),
                "ordered_output_names",
                self.ordered_output_names.len(),
            ),
        ];
        for (key, n, names, expected) in parallel {
            let listed = present.contains(&key) || key == "ordered_input_runtime_tensor_transforms";
            if listed && n != expected {
                return invalid!(
                    "{}: expected {}, one per name in {names}, found {n}",
                    reader::child(path, key),
                    crate::message::count(expected, "entry")
                );
            }
        }
        let tensors = [
            (
                "ordered_constant_node_names",
                &self.ordered_constant_node_names,
                "post_const_eval_constants",
                &self.post_const_eval_constants,
            ),
            (
                "ordered_parameter_node_names",
                &self.ordered_parameter_node_names,
                "post_const_eval_parameters",
                &self.post_const_eval_parameters,
            ),
        ];
        for (names_key, names, map_key, map) in tensors {
            if let Some((i, name)) = names
                .iter()
                .enumerate()
                .find(|(_, n)| !map.contains_key(*n))
            {
                return invalid!(
                    "{}: no tensor for {} named in {}",
                    reader::child(path, map_key),
                    reader::found(&Value::String(name.clone())),
                    reader::element(&reader::child(path, names_key), i)
                );
            }
        }
        Ok(())
    }

    /// The archive member holding the netlist: the basename of `netlist_filename`. PyBuda
    /// writes the path the netlist had in its build directory
    /// (`unzipped_tti/backend_build_binaries/<name>.yaml`, an absolute path in older images)
    /// but copies the netlist itself to the archive's top level, and both upstream loaders
    /// join only the basename.
    pub fn netlist_member(&self) -> Result<&str, ImageError> {
        let name = self
            .netlist_filename
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(&self.netlist_filename);
        if name.is_empty() || name == "." || name == ".." || name.contains('\0') {
            return invalid!(
                "compiled_graph_state.netlist_filename: expected a path ending in a file name, found {}",
                reader::found(&Value::String(self.netlist_filename.clone()))
            );
        }
        Ok(name)
    }

    fn to_json(&self) -> Value {
        let entries = |map: &BTreeMap<String, TensorEntry>| -> Value {
            Value::Object(map.iter().map(|(k, e)| (k.clone(), e.to_json())).collect())
        };
        let mut m = self.extra.clone();
        m.insert("microbatch".into(), json!(self.microbatch));
        m.insert("graph_name".into(), json!(self.graph_name));
        m.insert(
            "ordered_input_names".into(),
            json!(self.ordered_input_names),
        );
        m.insert(
            "ordered_output_names".into(),
            json!(self.ordered_output_names),
        );
        m.insert(
            "ordered_target_names".into(),
            json!(self.ordered_target_names),
        );
        m.insert(
            "ordered_constant_node_names".into(),
            json!(self.ordered_constant_node_names),
        );
        m.insert(
            "ordered_parameter_node_names".into(),
            json!(self.ordered_parameter_node_names),
        );
        // A list the file did not have (empty while there are names) is left out again.
        let (n_in, n_out) = (
            self.ordered_input_names.len(),
            self.ordered_output_names.len(),
        );
        if !self.ordered_input_shapes.is_empty() || n_in == 0 {
            m.insert(
                "ordered_input_shapes".into(),
                json!(self.ordered_input_shapes),
            );
        }
        if !self.ordered_output_shapes.is_empty() || n_out == 0 {
            m.insert(
                "ordered_output_shapes".into(),
                json!(self.ordered_output_shapes),
            );
        }
        let formats: Vec<&str> = self
            .ordered_output_data_formats
            .iter()
            .map(|f| f.name())
            .collect();
        if !formats.is_empty() || n_out == 0 {
            m.insert("ordered_output_data_formats".into(), json!(formats));
        }
        m.insert(
            "ordered_input_runtime_tensor_transforms".into(),
            Value::Array(
                self.ordered_input_runtime_tensor_transforms
                    .iter()
                    .map(|t| t.to_json())
                    .collect(),
            ),
        );
        m.insert("netlist_filename".into(), json!(self.netlist_filename));
        m.insert(
            "post_const_eval_constants".into(),
            entries(&self.post_const_eval_constants),
        );
        m.insert(
            "post_const_eval_parameters".into(),
            entries(&self.post_const_eval_parameters),
        );
        Value::Object(m)
    }
}

impl RuntimeTensorTransform {
    /// `{"type": "NoTransform"}`.
    pub fn none() -> RuntimeTensorTransform {
        RuntimeTensorTransform {
            transform: TensorTransform::NoTransform,
            extra: Map::new(),
        }
    }

    fn from_json(v: &Value, path: &str) -> Result<RuntimeTensorTransform, ImageError> {
        let mut f = Fields::new(v, path)?;
        let type_name = f.required("type", reader::enum_name)?;
        let transform = match type_name.as_str() {
            "NoTransform" => TensorTransform::NoTransform,
            "Prestride" => {
                let shape_path = f.path("original_shape");
                let Some(shape_value) = f.take("original_shape") else {
                    return invalid!("{shape_path}: required key is missing");
                };
                let mut shape = Fields::new(shape_value, &shape_path)?;
                let original_shape = shape.required("dims_", reader::uint_array::<4>)?;
                let positive = |v: &Value, p: &str| match reader::uint32(v, p)? {
                    0 => reader::mismatch(p, "a stride of at least 1", v),
                    s => Ok(s),
                };
                TensorTransform::Prestride {
                    original_shape,
                    stride_height: f.required("stride_height", positive)?,
                    stride_width: f.required("stride_width", positive)?,
                    original_shape_extra: shape.extras(),
                }
            }
            _ => TensorTransform::Other(type_name),
        };
        Ok(RuntimeTensorTransform {
            transform,
            extra: f.extras(),
        })
    }

    fn to_json(&self) -> Value {
        let mut m = self.extra.clone();
        match &self.transform {
            TensorTransform::NoTransform => {
                m.insert("type".into(), json!("NoTransform"));
            }
            TensorTransform::Prestride {
                original_shape,
                stride_height,
                stride_width,
                original_shape_extra,
            } => {
                let mut shape = original_shape_extra.clone();
                shape.insert("dims_".into(), json!(original_shape));
                m.insert("type".into(), json!("Prestride"));
                m.insert("original_shape".into(), Value::Object(shape));
                m.insert("stride_height".into(), json!(stride_height));
                m.insert("stride_width".into(), json!(stride_width));
            }
            TensorTransform::Other(name) => {
                m.insert("type".into(), json!(name));
            }
        }
        Value::Object(m)
    }
}
