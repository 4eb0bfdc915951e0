//! TTI images, as PyBuda's `compile_to_image` writes them: an archive (tar, or zip) whose members
//! sit under `unzipped_tti/`, read in place from a memory map; `device.json` with the compiled
//! graph's names and shapes; the tensors of constants and parameters (`.bin`, `.tbin`).
//! See notes/buda-backend.md, "TTI archive".

pub mod archive;
pub mod device_json;
mod error;
pub mod merge;
pub mod runtime_config;
pub mod tensor_file;
mod tti;

pub(crate) use error::invalid;
pub use error::{ImageError, ImageErrorKind};
pub use tti::{Image, ImageConfig, ImageSource, ImageTensor, SOC_DESCRIPTOR_MEMBER, TTI_ROOT};
