//! The device: the runtime's command queues, events, traces and allocator on the simulated
//! chip, byte transfers and kernels, device pages and the chip's numerics, and the chip in a
//! device process. One test binary, one module per file.
//!
//! `device::allocating_while_a_trace_lives_warns_once` installs the process's `log` logger,
//! so nothing here may install ttrt's C log callback (tests/ffi, tests/logging do).

#[path = "../support/mod.rs"]
mod support;

mod allocator;
mod device;
mod device_raw;
mod harvested_device;
mod metal_pages;
mod sim_compute;
mod sim_device;
mod soc_descriptors;
