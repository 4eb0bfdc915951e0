//! An opened compiled model: a TTI archive (device.json, the netlist, constant and parameter
//! tensors, compile_and_runtime_config.json) or a bare netlist. The archive stays memory-mapped
//! and its members are read in place; the netlist and device.json are parsed and checked at
//! open, and every tensor member is found and size-checked then, so a broken image fails at
//! open, not halfway through initialization.

use std::borrow::Cow;
use std::path::Path;

use memmap2::Mmap;

use super::archive::Archive;
use super::device_json::{DeviceJson, TensorEntry};
use super::runtime_config::RuntimeConfig;
use super::tensor_file::TensorFile;
use super::{invalid, ImageError, ImageErrorKind};
use crate::format::Arch;
use crate::netlist::{self, Netlist};

/// Where every member of a PyBuda image lives inside the archive.
pub const TTI_ROOT: &str = "unzipped_tti/";
const DEVICE_JSON: &str = "unzipped_tti/device.json";
const RUNTIME_CONFIG: &str = "unzipped_tti/compile_and_runtime_config.json";

/// What kind of file an image came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageSource {
    /// A TTI archive written as a tar (what PyBuda writes).
    TarArchive,
    /// A TTI archive written as a zip (which the C++ loader also accepts).
    ZipArchive,
    /// A netlist on its own: no device.json, no tensors.
    Netlist,
}

/// A constant or parameter tensor the image carries.
#[derive(Clone, Debug)]
pub struct ImageTensor {
    /// The graph node's name (its queue's name in the netlist).
    pub name: String,
    /// A parameter (trainable) rather than a constant.
    pub parameter: bool,
    pub entry: TensorEntry,
}

/// How an image is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageConfig {
    /// The largest metadata member (device.json, compile_and_runtime_config.json, the
    /// netlist) or bare netlist file, in bytes; a larger one is refused from the size the zip
    /// central directory, the tar header or the file system gives, before it is read or
    /// inflated. 0: the default, 256 MiB.
    pub max_metadata_bytes: u64,
    /// The most a deflated metadata member larger than 16 MiB may expand (inflated bytes per
    /// compressed byte), decided from the sizes the zip central directory gives. 0: the
    /// default, 100. Real metadata deflates about 5-25:1; text padded to compress 1000:1 is a
    /// decompression bomb, and would cost its full size to inflate and parse.
    pub max_metadata_ratio: u32,
}

/// 256 MiB: far above the metadata of real models (a netlist of thousands of ops is a few
/// MB), far below what a machine can be made to inflate.
const DEFAULT_MAX_METADATA_BYTES: u64 = 256 << 20;

/// 100:1, the expansion past which zip readers commonly treat a member as a bomb (Apache
/// POI's default minimum inflate ratio is 0.01): four times what a generated BERT netlist, the
/// most repetitive metadata ttrt has seen, deflates to.
const DEFAULT_MAX_METADATA_RATIO: u32 = 100;

/// Metadata members up to this size may expand at any ratio: inflating and parsing them costs
/// little whatever they hold.
const RATIO_FREE_METADATA_BYTES: u64 = 16 << 20;

impl ImageConfig {
    fn max_metadata(&self) -> u64 {
        match self.max_metadata_bytes {
            0 => DEFAULT_MAX_METADATA_BYTES,
            n => n,
        }
    }

    fn max_ratio(&self) -> u32 {
        match self.max_metadata_ratio {
            0 => DEFAULT_MAX_METADATA_RATIO,
            n => n,
        }
    }

    /// Refuses metadata `what` of `size` bytes over the limit, or deflated from `compressed`
    /// bytes at more than the ratio allowed.
    fn check_metadata(
        &self,
        file: &str,
        what: &str,
        size: u64,
        compressed: Option<u64>,
    ) -> Result<(), ImageError> {
        let max = self.max_metadata();
        if size > max {
            return invalid!(
                "{file}: {what} is {size} B, over max_metadata_bytes of {max} B (the limit on \
                 metadata; raise it with ttrt_image_open_with_config if the image is trusted)"
            );
        }
        let ratio = u64::from(self.max_ratio());
        if let Some(compressed) = compressed {
            if size > RATIO_FREE_METADATA_BYTES && size > compressed.saturating_mul(ratio) {
                return invalid!(
                    "{file}: {what} inflates {compressed} B to {size} B, more than \
                     max_metadata_ratio {ratio}:1 allows for metadata over 16 MiB (a \
                     decompression bomb; raise it with ttrt_image_open_with_config if the image \
                     is trusted)"
                );
            }
        }
        Ok(())
    }
}

impl Default for ImageConfig {
    fn default() -> Self {
        ImageConfig {
            max_metadata_bytes: DEFAULT_MAX_METADATA_BYTES,
            max_metadata_ratio: DEFAULT_MAX_METADATA_RATIO,
        }
    }
}

/// An opened image.
pub struct Image {
    file: String,
    source: ImageSource,
    /// The archive's bytes (`None` for a bare netlist).
    map: Option<Mmap>,
    netlist: Netlist,
    netlist_member: String,
    device: Option<DeviceJson>,
    runtime_config: Option<RuntimeConfig>,
    inputs: Vec<String>,
    outputs: Vec<String>,
    tensors: Vec<ImageTensor>,
    /// The text of `backend_build_binaries/device_desc.yaml`, when the archive has it.
    soc_descriptor: Option<String>,
}

/// Where PyBuda puts the SoC descriptor an image was compiled for.
pub const SOC_DESCRIPTOR_MEMBER: &str = "unzipped_tti/backend_build_binaries/device_desc.yaml";

fn io_error(file: &str, what: &str, e: std::io::Error) -> ImageError {
    ImageError::new(ImageErrorKind::Io, format!("{file}: cannot {what}: {e}"))
}

impl Image {
    /// Opens `path`: a netlist when its name ends in `.yaml` or `.yml`, else a TTI archive.
    pub fn open(path: impl AsRef<Path>) -> Result<Image, ImageError> {
        Image::open_with_config(path, &ImageConfig::default())
    }

    /// [`Image::open`] with the limits of `config`.
    pub fn open_with_config(
        path: impl AsRef<Path>,
        config: &ImageConfig,
    ) -> Result<Image, ImageError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
            return Err(ImageError::new(
                ImageErrorKind::Io,
                format!("{file} is a directory, not a .tti archive or a netlist"),
            ));
        }
        let is_netlist = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        let (image, size) = if is_netlist {
            let size = std::fs::metadata(path)
                .map_err(|e| io_error(&file, "read the netlist", e))?
                .len();
            config.check_metadata(&file, "the netlist", size, None)?;
            let text = std::fs::read(path).map_err(|e| io_error(&file, "read the netlist", e))?;
            (Image::from_netlist(&text, &file)?, text.len())
        } else {
            let f = std::fs::File::open(path).map_err(|e| io_error(&file, "open", e))?;
            // SAFETY: the mapping is read-only and private to this image. A file truncated by
            // another process while mapped would fault on access (SIGBUS), as with every reader
            // of mapped files; TTI images are written once and then only read.
            let map = unsafe { Mmap::map(&f) }.map_err(|e| io_error(&file, "map", e))?;
            let size = map.len();
            (Image::from_archive(map, file, config)?, size)
        };
        image.log_opened(size);
        Ok(image)
    }

    /// The info record of an image just opened from `size` bytes.
    fn log_opened(&self, size: usize) {
        use crate::message::count;
        let kind = match self.source {
            ImageSource::TarArchive => "tar archive",
            ImageSource::ZipArchive => "zip archive",
            ImageSource::Netlist => "netlist",
        };
        let n = &self.netlist;
        log::info!(
            "opened {} ({kind}, {}) for {}: {}, {}, {}, {}, {}, {}",
            self.file,
            count(size, "byte"),
            self.arch().name(),
            count(n.queues.len(), "queue"),
            count(n.graphs.len(), "graph"),
            count(n.programs.len(), "program"),
            count(self.inputs.len(), "input"),
            count(self.outputs.len(), "output"),
            count(self.tensors.len(), "constant or parameter tensor")
        );
    }

    /// A bare netlist (its text, and the file name for messages).
    pub fn from_netlist(text: &[u8], file: &str) -> Result<Image, ImageError> {
        let text = std::str::from_utf8(text).map_err(|e| {
            ImageError::invalid(format!("{file}: the netlist is not UTF-8 text ({e})"))
        })?;
        let netlist = netlist::parse(text, file).map_err(|e| ImageError::invalid(e.to_string()))?;
        let (inputs, outputs) = host_queues(&netlist);
        Ok(Image {
            file: file.to_string(),
            source: ImageSource::Netlist,
            map: None,
            netlist,
            netlist_member: String::new(),
            device: None,
            runtime_config: None,
            inputs,
            outputs,
            tensors: Vec::new(),
            soc_descriptor: None,
        })
    }

    fn from_archive(map: Mmap, file: String, config: &ImageConfig) -> Result<Image, ImageError> {
        let in_file = |e: ImageError| e.context(&file);
        let archive = Archive::parse(&map).map_err(in_file)?;
        let source = match archive.kind() {
            super::archive::ArchiveKind::Tar => ImageSource::TarArchive,
            super::archive::ArchiveKind::Zip => ImageSource::ZipArchive,
        };
        // Metadata members are read whole: their size is checked before they are read.
        let metadata = |m: &super::archive::Member<'_>| -> Result<(), ImageError> {
            config.check_metadata(
                &file,
                &format!("member {}", m.name()),
                m.size(),
                m.compressed_size(),
            )
        };
        let member = |name: &str| -> Result<Cow<'_, [u8]>, ImageError> {
            match archive.find(name) {
                Some(m) => {
                    metadata(m)?;
                    m.bytes().map_err(in_file)
                }
                None => invalid!("{file}: the archive has no member {name}"),
            }
        };
        if archive.find(DEVICE_JSON).is_none() {
            return invalid!(
                "{file}: the archive has no member {DEVICE_JSON}: not a PyBuda TTI image ({} \
                 members{})",
                archive.members().len(),
                archive
                    .members()
                    .first()
                    .map_or(String::new(), |m| format!(", the first is {}", m.name()))
            );
        }
        let device = DeviceJson::parse(&member(DEVICE_JSON)?)
            .map_err(|e| e.context(format_args!("{file}: {DEVICE_JSON}")))?;
        let runtime_config = match archive.find(RUNTIME_CONFIG) {
            Some(m) => Some({
                metadata(m)?;
                RuntimeConfig::parse(&m.bytes().map_err(in_file)?)
                    .map_err(|e| e.context(format_args!("{file}: {RUNTIME_CONFIG}")))?
            }),
            None => None,
        };
        let netlist_member = format!(
            "{TTI_ROOT}{}",
            device.compiled_graph_state.netlist_member()?
        );
        let Some(netlist_bytes) = archive.find(&netlist_member) else {
            return invalid!(
                "{file}: the archive has no member {netlist_member}, the netlist that \
                 device.json's compiled_graph_state.netlist_filename names"
            );
        };
        metadata(netlist_bytes)?;
        let text = netlist_bytes.bytes().map_err(in_file)?;
        let text = std::str::from_utf8(&text).map_err(|e| {
            ImageError::invalid(format!("{file}: {netlist_member}: not UTF-8 text ({e})"))
        })?;
        let netlist = netlist::parse(text, &format!("{file}: {netlist_member}"))
            .map_err(|e| ImageError::invalid(e.to_string()))?;

        let state = &device.compiled_graph_state;
        let mut tensors = Vec::new();
        for (names, entries, parameter) in [
            (
                &state.ordered_constant_node_names,
                &state.post_const_eval_constants,
                false,
            ),
            (
                &state.ordered_parameter_node_names,
                &state.post_const_eval_parameters,
                true,
            ),
        ] {
            for name in names {
                // Nodes folded away by constant evaluation have no entry: nothing to load.
                let Some(entry) = entries.get(name) else {
                    continue;
                };
                let path = format!("{TTI_ROOT}{}", entry.member());
                if let TensorEntry::Binary(_) = entry {
                    let Some(m) = archive.find(&path) else {
                        return invalid!(
                            "{file}: tensor {name:?}: the archive has no member {path}"
                        );
                    };
                    // Stored members are checked in place; a deflated one only by its size
                    // here (inflating every parameter at open would double the memory).
                    check_member_size(entry, name, m)
                        .map_err(|e| e.context(format_args!("{file}: {path}")))?;
                    if !m.is_compressed() {
                        TensorFile::check(entry, name, &m.bytes().map_err(in_file)?)
                            .map_err(|e| e.context(format_args!("{file}: {path}")))?;
                    }
                } else {
                    TensorFile::check(entry, name, &[])
                        .map_err(|e| e.context(format_args!("{file}: {path}")))?;
                }
                tensors.push(ImageTensor {
                    name: name.clone(),
                    parameter,
                    entry: entry.clone(),
                });
            }
        }
        let inputs = state.ordered_input_names.clone();
        let outputs = state.ordered_output_names.clone();
        for name in inputs.iter().chain(&outputs) {
            if netlist.queue(name).is_none() {
                return invalid!(
                    "{file}: device.json names the graph input or output {name:?}, which is not \
                     a queue of {netlist_member}"
                );
            }
        }
        let soc_descriptor = match archive.find(SOC_DESCRIPTOR_MEMBER) {
            Some(m) => {
                metadata(m)?;
                let bytes = m.bytes().map_err(in_file)?;
                match String::from_utf8(bytes.into_owned()) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        return invalid!("{file}: {SOC_DESCRIPTOR_MEMBER}: not UTF-8 text ({e})")
                    }
                }
            }
            None => None,
        };
        drop(archive);
        Ok(Image {
            soc_descriptor,
            file,
            source,
            map: Some(map),
            netlist,
            netlist_member,
            device: Some(device),
            runtime_config,
            inputs,
            outputs,
            tensors,
        })
    }

    /// The SoC descriptor the image carries (`backend_build_binaries/device_desc.yaml`,
    /// [`SOC_DESCRIPTOR_MEMBER`]): its text.
    pub fn soc_descriptor(&self) -> Option<&str> {
        self.soc_descriptor.as_deref()
    }

    /// The harvested rows mask the image was compiled for: device.json's `harvested_rows`
    /// for its first chip (PyBuda writes one mask per chip id); 0 when it names none.
    pub fn harvested_rows(&self) -> u64 {
        self.device
            .as_ref()
            .and_then(|d| d.harvested_rows.first())
            .map_or(0, |&m| u64::from(m))
    }

    /// The file as the caller named it.
    pub fn file(&self) -> &str {
        &self.file
    }

    pub fn source(&self) -> ImageSource {
        self.source
    }

    pub fn netlist(&self) -> &Netlist {
        &self.netlist
    }

    /// The archive member the netlist came from (empty for a bare netlist).
    pub fn netlist_member(&self) -> &str {
        &self.netlist_member
    }

    /// device.json (`None` for a bare netlist).
    pub fn device_json(&self) -> Option<&DeviceJson> {
        self.device.as_ref()
    }

    /// compile_and_runtime_config.json, when the archive has one.
    pub fn runtime_config(&self) -> Option<&RuntimeConfig> {
        self.runtime_config.as_ref()
    }

    /// The chip generation the image was compiled for: device.json's arch, or the first arch
    /// the netlist's `devices` names (Wormhole B0 when it names none).
    pub fn arch(&self) -> Arch {
        match &self.device {
            Some(d) => d.arch,
            None => self
                .netlist
                .devices
                .arch
                .first()
                .copied()
                .unwrap_or(Arch::WormholeB0),
        }
    }

    /// The model's inputs in order: device.json's `ordered_input_names`, or for a bare
    /// netlist its queues fed by the host, in file order.
    pub fn input_names(&self) -> &[String] {
        &self.inputs
    }

    /// The model's outputs in order: `ordered_output_names`, or for a bare netlist its queues
    /// that an op writes and no op reads, in file order.
    pub fn output_names(&self) -> &[String] {
        &self.outputs
    }

    /// The constants and parameters the image carries, constants first, each in device.json
    /// order.
    pub fn tensors(&self) -> &[ImageTensor] {
        &self.tensors
    }

    /// The bytes of a tensor the image carries, checked against its descriptor.
    pub fn tensor_bytes(&self, name: &str) -> Result<Cow<'_, [u8]>, ImageError> {
        let Some(t) = self.tensors.iter().find(|t| t.name == name) else {
            return invalid!("{}: the image carries no tensor named {name:?}", self.file);
        };
        let Some(map) = &self.map else {
            return invalid!("{}: a bare netlist carries no tensors", self.file);
        };
        let archive = Archive::parse(map).map_err(|e| e.context(&self.file))?;
        let path = format!("{TTI_ROOT}{}", t.entry.member());
        let Some(m) = archive.find(&path) else {
            return invalid!(
                "{}: tensor {name:?}: the archive has no member {path}",
                self.file
            );
        };
        // Before anything is inflated: a deflated member inflates into exactly its declared
        // size, which must be what the descriptor gives.
        check_member_size(&t.entry, name, m)
            .map_err(|e| e.context(format_args!("{}: {path}", self.file)))?;
        let bytes = m.bytes().map_err(|e| e.context(&self.file))?;
        TensorFile::check(&t.entry, name, &bytes)
            .map_err(|e| e.context(format_args!("{}: {path}", self.file)))?;
        Ok(bytes)
    }
}

/// Refuses a tensor member whose size (from the zip central directory or the tar header)
/// differs from what its descriptor gives, so a deflated member is never inflated to find out.
fn check_member_size(
    entry: &TensorEntry,
    name: &str,
    m: &super::archive::Member<'_>,
) -> Result<(), ImageError> {
    let TensorEntry::Binary(desc) = entry else {
        return Ok(());
    };
    let expected = super::tensor_file::expected_size(desc);
    if expected != Some(m.size()) {
        return invalid!(
            "tensor {name:?} ({}): the member is {} B, but its descriptor (shape {:?}, {}) \
             gives {}",
            desc.bin,
            m.size(),
            desc.shape,
            desc.format.name(),
            match expected {
                Some(n) => format!("{n} B"),
                None => "more bytes than a 64-bit size holds".into(),
            }
        );
    }
    Ok(())
}

/// A bare netlist's inputs and outputs: host-fed queues, and queues an op writes that no op
/// reads, each in file order.
fn host_queues(n: &Netlist) -> (Vec<String>, Vec<String>) {
    let inputs = n.host_fed_queues().map(|q| q.name.clone()).collect();
    let outputs = n.output_queues().map(|q| q.name.clone()).collect();
    (inputs, outputs)
}
