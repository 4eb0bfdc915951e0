//! TTI images: the archive reader and tar writer, device.json and the runtime config, images
//! end to end, archives that try to inflate memory, and the archive and device.json fuzz
//! cases. One test binary, one module per file.

#[path = "../support/mod.rs"]
mod support;

mod fuzz_archive;
mod fuzz_device_json;
mod hostile_archive;
mod image;
mod image_archive;
mod image_device_json;
