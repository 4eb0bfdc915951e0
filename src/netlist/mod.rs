//! Buda netlists: a typed model of the whole schema (queues, graphs, programs, fused ops,
//! devices, test config), read from YAML and validated. See notes/buda-backend.md, "Netlist
//! schema", and notes/golden-ops.md.

mod error;

pub use error::NetlistError;
