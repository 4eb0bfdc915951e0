//! ttrt: an embedded runtime for Tenstorrent accelerators, shipped as a C library.
//!
//! The layers, from the C ABI down (dependencies point down only):
//!
//! - [`ffi`]: the C ABI (`include/ttrt.h` is generated from it): status codes, last-error text,
//!   opaque handles and the boundary every exported function goes through.
//! - `backend`, `pipeline`: the Buda backend lifecycle and the TT-CNN executors.
//! - `runtime`: device, command queues, events, traces, allocator, tensors.
//! - `hal`: the chip behind one trait; `hal::sim` is the simulated chip.
//! - `compute`: the golden model's op kinds and numerics, which the simulated chip and the
//!   netlist engine share.
//! - `format`: data formats, tile layout and the tilize/untilize codecs.
//! - `image`, `netlist`: TTI archives and Buda netlists.
//!
//! `layers.rs` checks the rule over the sources.
//!
//! Features: none is `#![no_std]` without allocation (the core that bare-metal firmware links);
//! `alloc` adds what needs a heap; `std` (default) adds threads, files and the CLI.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(feature = "alloc")]
extern crate alloc;

#[cfg(feature = "std")]
pub mod affinity;
#[cfg(feature = "std")]
pub mod backend;
pub mod compute;
pub mod ffi;
pub mod format;
pub mod hal;
#[cfg(feature = "std")]
pub mod image;
pub mod message;
#[cfg(feature = "alloc")]
pub mod netlist;
#[cfg(feature = "alloc")]
pub mod pipeline;
pub mod runtime;
mod sync;
pub mod version;

// Reads the sources with std, so only where std is linked.
#[cfg(all(test, feature = "std"))]
mod layers;

// The bare-metal panic handler and heap; unit tests run on a host whose std provides both.
#[cfg(not(any(feature = "std", test)))]
mod firmware;
