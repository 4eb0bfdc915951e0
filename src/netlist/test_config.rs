//! `test-config` (tt-budabackend `verif/verif_test_config.*`, `verif_comparison_types.hpp`,
//! `verif_stimulus_types.hpp`): how a test fills input queues and compares outputs. See
//! golden-ops.md section 13.

use alloc::string::String;
use alloc::vec::Vec;

use super::model::Value;

/// `comparison-config` `type` (case-insensitive in the file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComparisonType {
    /// Not set: upstream refuses to compare with it.
    Invalid,
    Exact,
    AllClose,
    AllCloseHw,
}

/// How much a failed comparison prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verbosity {
    Concise,
    AllFails,
    Verbose,
}

/// Whether outputs are compared as flat vectors or per tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComparisonMethod {
    FlatTensor,
    TilizedTensor,
}

/// A comparison config, with upstream's defaults for what the file leaves out.
#[derive(Clone, Debug, PartialEq)]
pub struct ComparisonConfig {
    pub line: u32,
    pub comparison: ComparisonType,
    /// Default 1e-3.
    pub atol: f64,
    /// Default 1e-4.
    pub rtol: f64,
    /// Fraction of elements that must be close; default 1.0.
    pub check_pct: f64,
    /// Pearson correlation required by AllCloseHw; default 0.999.
    pub check_pcc: f64,
    pub verbosity: Verbosity,
    pub method: ComparisonMethod,
    /// Rows of each tile to check, 0-based inclusive (written 1-based); default [0, 31].
    pub check_tile_rows_range: [u32; 2],
    /// Columns of each tile to check, 0-based inclusive; default [0, 31].
    pub check_tile_cols_range: [u32; 2],
    pub lhs_header: Option<String>,
    pub rhs_header: Option<String>,
    /// Per-queue configs by exact name or regex, each complete on its own (not merged).
    pub overrides: Vec<(String, ComparisonConfig)>,
    /// Keys ttrt does not type.
    pub other: Vec<(String, Value)>,
}

/// `stimulus-config` `type` (case-insensitive in the file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StimulusType {
    Uniform,
    Normal,
    Constant,
    DebugTileId,
    Step,
    StepRowwise,
    StepColumnwise,
    Sparse,
    SparseEncoding,
    SparseEncodingNzCounts,
}

/// A stimulus config; parameters the file leaves out are `None` (upstream's NaN).
#[derive(Clone, Debug, PartialEq)]
pub struct StimulusConfig {
    pub line: u32,
    pub stimulus: Option<StimulusType>,
    pub uniform_lower_bound: Option<f64>,
    pub uniform_upper_bound: Option<f64>,
    pub normal_mean: Option<f64>,
    pub normal_stddev: Option<f64>,
    pub constant_value: Option<f64>,
    pub debug_tile_id_base: Option<f64>,
    pub debug_tile_id_step: Option<f64>,
    pub step_start: Option<f64>,
    pub step_increment: Option<f64>,
    /// Rows of each tile to fill, 0-based inclusive (written 1-based).
    pub set_tile_rows: Option<[u32; 2]>,
    pub set_tile_cols: Option<[u32; 2]>,
    /// Sparse-matmul parameters (zero_strip_freq, nz_tiles, enc_tile_byte_size, ...) and any
    /// other key, by name.
    pub other: Vec<(String, Value)>,
    /// Per-queue configs by exact name or regex, each complete on its own.
    pub overrides: Vec<(String, StimulusConfig)>,
}

/// `io-config`: the queues a test pushes and checks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IoConfig {
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// `test-config`.
#[derive(Clone, Debug, PartialEq)]
pub struct TestConfig {
    pub line: u32,
    /// `test-args`: test-specific values (e.g. `program_loop_count`), kept as written.
    pub test_args: Vec<(String, Value)>,
    pub io_config: Option<IoConfig>,
    pub comparison: Option<ComparisonConfig>,
    pub stimulus: Option<StimulusConfig>,
    /// Other keys, kept as written.
    pub other: Vec<(String, Value)>,
}

impl TestConfig {
    /// A test argument by name.
    pub fn test_arg(&self, key: &str) -> Option<&Value> {
        self.test_args
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}
