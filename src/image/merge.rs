//! Merging several models' images into one, as PyBuda's `tti_merge` does for embedded
//! deployments: every queue, graph, op and program of model `i` is renamed `model_<i>_<name>`,
//! fused op ids are renumbered across models, device.json's names, shapes and tensors are
//! concatenated, the runtime configs must agree, and every queue is placed again: DRAM buffers
//! channel by channel from the backend-reserved base, host buffers per host channel from its
//! start, so no two queues of the merged image overlap. See notes/multi-model.md.
//!
//! The netlist is merged on its YAML tree (the reader's ordered tree, written back as block
//! YAML): renaming needs only the names, and every attribute ttrt does not model is kept as
//! written. The merged text is then read and validated like any netlist before it is placed in
//! the archive, so a merge never writes an image ttrt cannot open.

use std::collections::BTreeMap;

use serde_json::Value;

use super::archive::TarWriter;
use super::device_json::{DeviceJson, TensorEntry};
use super::{invalid, Image, ImageError, SOC_DESCRIPTOR_MEMBER, TTI_ROOT};
use crate::format::Arch;
use crate::netlist::yaml::{self, Key, Kind, Node};
use crate::netlist::{self, Netlist, QueueLocation};

/// The member name of the merged netlist, as upstream names it.
pub const MERGED_NETLIST: &str = "merged_netlist.yaml";

/// How queues are placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MergeOptions {
    /// The architecture the merged image is for; every image must be for it. `None`: the
    /// images' own (which must agree).
    pub arch: Option<Arch>,
    /// When a DRAM or host channel has no room left for a buffer, place the buffer in the
    /// first channel that has (upstream's first memory optimization, on by default). Off:
    /// the buffer stays in the channel the model's compiler chose, and the merge fails when
    /// it does not fit there.
    pub switch_channels: bool,
}

impl Default for MergeOptions {
    fn default() -> Self {
        MergeOptions {
            arch: None,
            switch_channels: true,
        }
    }
}

/// Where the memory of one architecture's queues may go (from the backend's device
/// parameters for the arch, as PyBuda's `DeviceConfig` reads them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryMap {
    /// `dram-num_channels`.
    pub dram_channels: u32,
    /// `dram-channel_capacity`: bytes of each DRAM channel.
    pub dram_channel_capacity: u64,
    /// `dram-backend_reserved_max`: the first byte of each channel queues may use.
    pub dram_reserved: u64,
    /// `sysmem-host_region_range_size_chan<i>`: bytes of each host channel.
    pub host_channel_sizes: Vec<u64>,
    /// `sysmem-host_region_range_start`: the first byte of each host channel queues may use.
    pub host_start: u64,
    /// Every buffer starts at a multiple of this (`tt::io::tile_alignment_bytes`, the NOC's
    /// address alignment).
    pub alignment: u64,
}

impl MemoryMap {
    /// The backend's figures for `arch` (its runtime parameters of `grayskull` and
    /// `wormhole_b0`); `None` for an arch the merge has no figures for.
    pub fn of(arch: Arch) -> Option<MemoryMap> {
        const GIB: u64 = 1 << 30;
        match arch {
            Arch::Grayskull => Some(MemoryMap {
                dram_channels: 8,
                dram_channel_capacity: GIB,
                dram_reserved: 83_560_448,
                host_channel_sizes: vec![GIB],
                host_start: 0,
                alignment: arch.alignment() as u64,
            }),
            Arch::WormholeB0 => Some(MemoryMap {
                dram_channels: 6,
                dram_channel_capacity: 2 * GIB,
                dram_reserved: 128_663_552,
                host_channel_sizes: vec![GIB; 4],
                host_start: 0,
                alignment: arch.alignment() as u64,
            }),
            Arch::Blackhole => None,
        }
    }
}

/// Bytes the queues of a merged image occupy: the end of the last buffer in each channel
/// (aligned), counted from the channel's address 0, so DRAM includes the backend-reserved
/// base, as upstream's report does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Footprint {
    pub arch: Arch,
    /// One per DRAM channel.
    pub dram: Vec<u64>,
    /// One per host channel.
    pub host: Vec<u64>,
}

impl Footprint {
    /// The report upstream's merge prints: MB (2^20 bytes) per channel, two decimals.
    pub fn report(&self) -> String {
        let mut s = String::from("Displaying memory footprint per DRAM channel (MB):\n");
        for (c, b) in self.dram.iter().enumerate() {
            s.push_str(&format!("{c} : {}\n", mb(*b)));
        }
        s.push_str("Displaying memory footprint per Host channel (MB):\n");
        for (c, b) in self.host.iter().enumerate() {
            s.push_str(&format!("{c} : {}\n", mb(*b)));
        }
        s
    }

    /// The footprint of any netlist's queues as they are placed: per channel, the aligned end
    /// of its last buffer, and at least the DRAM reservation (what [`merge`] reports for the
    /// image it writes). Buffers in channels the arch does not have are not counted. `None`
    /// for an arch without a [`MemoryMap`].
    pub fn of(netlist: &Netlist, arch: Arch) -> Option<Footprint> {
        let map = MemoryMap::of(arch)?;
        let align = |x: u64| x.div_ceil(map.alignment).saturating_mul(map.alignment);
        let mut dram = vec![map.dram_reserved; map.dram_channels as usize];
        let mut host = vec![map.host_start; map.host_channel_sizes.len()];
        for q in &netlist.queues {
            let size = buffer_bytes(q, arch);
            let used = match q.loc {
                QueueLocation::Dram => &mut dram,
                QueueLocation::Host => &mut host,
            };
            for b in &q.buffers {
                if let Some(u) = used.get_mut(b.channel as usize) {
                    *u = (*u).max(align(b.address.saturating_add(size)));
                }
            }
        }
        Some(Footprint { arch, dram, host })
    }

    /// The same numbers as a JSON value: bytes and MB per channel.
    pub fn to_value(&self) -> Value {
        let chans = |v: &[u64]| -> Value {
            Value::Array(
                v.iter()
                    .enumerate()
                    .map(|(c, b)| serde_json::json!({"channel": c, "bytes": b, "mb": mb(*b)}))
                    .collect(),
            )
        };
        serde_json::json!({
            "arch": self.arch.name(),
            "dram": chans(&self.dram),
            "host": chans(&self.host),
        })
    }

    /// The same numbers as JSON text: bytes and MB per channel.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }
}

/// Bytes in MB rounded to two decimals, as text (`0.08`, `1024.0`).
fn mb(bytes: u64) -> String {
    let hundredths = (bytes as u128 * 100 + (1 << 19)) >> 20;
    let (whole, frac) = (hundredths / 100, hundredths % 100);
    if frac == 0 {
        format!("{whole}.0")
    } else if frac % 10 == 0 {
        format!("{whole}.{}", frac / 10)
    } else {
        format!("{whole}.{frac:02}")
    }
}

/// A merged image: the archive's bytes and where its queues went.
pub struct Merged {
    pub bytes: Vec<u8>,
    pub footprint: Footprint,
    /// The merged netlist's text (also in the archive).
    pub netlist: String,
}

/// The prefix of model `i`'s names.
pub fn prefix(i: usize) -> String {
    format!("model_{i}_")
}

/// Merges `images` (model `i` is `images[i]`) into one image.
pub fn merge(images: &[&Image], options: &MergeOptions) -> Result<Merged, ImageError> {
    if images.is_empty() {
        return invalid!("merge: no images to merge");
    }
    let mut arch = options.arch;
    for (i, image) in images.iter().enumerate() {
        if image.device_json().is_none() {
            return invalid!(
                "merge: model {i} ({}): a bare netlist; merge takes TTI images (pack it with \
                 `ttrt pack` first)",
                image.file()
            );
        }
        match arch {
            None => arch = Some(image.arch()),
            Some(a) if a != image.arch() => {
                return invalid!(
                    "merge: model {i} ({}) is for {}, not {}",
                    image.file(),
                    image.arch().name(),
                    a.name()
                )
            }
            Some(_) => {}
        }
    }
    let arch = arch.unwrap_or(Arch::Grayskull);
    let Some(map) = MemoryMap::of(arch) else {
        return invalid!("merge: no memory map of {} to place queues in", arch.name());
    };
    let runtime_config = merge_runtime_configs(images)?;
    let mut tree = merge_netlists(images)?;
    let footprint = place_queues(&mut tree, arch, &map, options)?;
    let mut text = String::new();
    write_yaml(&tree, &mut text)?;
    let merged = netlist::parse(&text, MERGED_NETLIST)
        .map_err(|e| ImageError::invalid(format!("merge: the merged netlist: {e}")))?;
    let (device, tensors) = merge_device_json(images, arch)?;
    check_names(&merged, &device)?;
    let soc = merge_soc_descriptors(images)?;

    let io = |e: std::io::Error| {
        ImageError::new(super::ImageErrorKind::Io, format!("merge: writing: {e}"))
    };
    let mut tar = TarWriter::new(Vec::new());
    tar.add_dir(TTI_ROOT).map_err(io)?;
    tar.add_file(
        &format!("{TTI_ROOT}device.json"),
        device.to_json().as_bytes(),
    )
    .map_err(io)?;
    tar.add_file(
        &format!("{TTI_ROOT}compile_and_runtime_config.json"),
        runtime_config.as_bytes(),
    )
    .map_err(io)?;
    tar.add_file(&format!("{TTI_ROOT}{MERGED_NETLIST}"), text.as_bytes())
        .map_err(io)?;
    if let Some(soc) = soc {
        tar.add_dir(&format!("{TTI_ROOT}backend_build_binaries"))
            .map_err(io)?;
        tar.add_file(SOC_DESCRIPTOR_MEMBER, soc.as_bytes())
            .map_err(io)?;
    }
    if !tensors.is_empty() {
        tar.add_dir(&format!("{TTI_ROOT}tensors")).map_err(io)?;
    }
    for (member, model, name) in &tensors {
        let bytes = images[*model].tensor_bytes(name)?;
        tar.add_file(&format!("{TTI_ROOT}{member}"), &bytes)
            .map_err(io)?;
    }
    let bytes = tar.finish().map_err(io)?;
    Ok(Merged {
        bytes,
        footprint,
        netlist: text,
    })
}

/// The merged compile_and_runtime_config.json: the `TT_BACKEND_*` variables of every model,
/// which must agree, except the overlay blob size (the largest wins) and the harvesting mask
/// (the same number of rows harvested).
fn merge_runtime_configs(images: &[&Image]) -> Result<String, ImageError> {
    let mut merged: Vec<(String, String, usize)> = Vec::new();
    for (i, image) in images.iter().enumerate() {
        let Some(config) = image.runtime_config() else {
            continue;
        };
        for (name, value) in config.entries() {
            if !name.starts_with("TT_BACKEND_") {
                continue;
            }
            let Some(slot) = merged.iter_mut().find(|(n, _, _)| n == name) else {
                merged.push((name.clone(), value.clone(), i));
                continue;
            };
            let number = |v: &str, model: usize| -> Result<u64, ImageError> {
                v.trim().parse::<u64>().map_err(|_| {
                    ImageError::invalid(format!(
                        "merge: model {model}: runtime config {name}: expected a number, found \
                         {v:?}"
                    ))
                })
            };
            match name.as_str() {
                "TT_BACKEND_OVERLAY_MAX_EXTRA_BLOB_SIZE" => {
                    let (a, b) = (number(&slot.1, slot.2)?, number(value, i)?);
                    if b > a {
                        slot.1 = value.clone();
                    }
                }
                "TT_BACKEND_HARVESTED_ROWS" => {
                    let (a, b) = (number(&slot.1, slot.2)?, number(value, i)?);
                    if a.count_ones() != b.count_ones() {
                        return invalid!(
                            "merge: model {i}: runtime config TT_BACKEND_HARVESTED_ROWS {b:#x} \
                             harvests {} rows, model {} harvests {} ({a:#x}): the grids differ",
                            b.count_ones(),
                            slot.2,
                            a.count_ones()
                        );
                    }
                }
                _ if slot.1 != *value => {
                    return invalid!(
                        "merge: model {i}: runtime config {name} is {value:?}, model {} has {:?}",
                        slot.2,
                        slot.1
                    );
                }
                _ => {}
            }
        }
    }
    let object: serde_json::Map<String, Value> = merged
        .into_iter()
        .map(|(n, v, _)| (n, Value::String(v)))
        .collect();
    Ok(serde_json::to_string_pretty(&Value::Object(object)).unwrap_or_else(|_| "{}".into()))
}

/// The SoC descriptor of the first image that has one; every image that has one must have the
/// same.
fn merge_soc_descriptors(images: &[&Image]) -> Result<Option<String>, ImageError> {
    let mut found: Option<(usize, &str)> = None;
    for (i, image) in images.iter().enumerate() {
        let Some(soc) = image.soc_descriptor() else {
            continue;
        };
        match found {
            None => found = Some((i, soc)),
            Some((j, s)) if s != soc => {
                return invalid!(
                    "merge: model {i}: its SoC descriptor ({SOC_DESCRIPTOR_MEMBER}) differs from \
                     model {j}'s"
                )
            }
            Some(_) => {}
        }
    }
    Ok(found.map(|(_, s)| s.to_string()))
}

// ---- the netlist ----

fn scalar(text: &str) -> Node {
    Node {
        line: 0,
        kind: Kind::Scalar {
            text: text.to_string(),
            plain: true,
        },
    }
}

fn key(text: String) -> Key {
    Key { text, line: 0 }
}

fn entries_mut<'a>(
    node: &'a mut Node,
    what: &dyn Fn() -> String,
) -> Result<&'a mut Vec<(Key, Node)>, ImageError> {
    let found = match &node.kind {
        Kind::Map(_) => String::new(),
        _ => node.describe(),
    };
    match &mut node.kind {
        Kind::Map(e) => Ok(e),
        _ => invalid!("merge: {}: expected a map, found {found}", what()),
    }
}

fn get_mut<'a>(entries: &'a mut [(Key, Node)], name: &str) -> Option<&'a mut Node> {
    entries
        .iter_mut()
        .find(|(k, _)| k.text == name)
        .map(|(_, v)| v)
}

fn scalar_text(node: &Node) -> Option<&str> {
    match &node.kind {
        Kind::Scalar { text, .. } => Some(text),
        _ => None,
    }
}

fn rename_scalar(node: &mut Node, pre: &str, what: &dyn Fn() -> String) -> Result<(), ImageError> {
    match &mut node.kind {
        Kind::Scalar { text, .. } => {
            *text = format!("{pre}{text}");
            Ok(())
        }
        _ => invalid!(
            "merge: {}: expected a name, found {}",
            what(),
            node.describe()
        ),
    }
}

/// A fused op id as written (`0`, `"3"`), as a number.
fn fused_id(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// The netlists of `images`, renamed and concatenated (queues still at their old addresses).
fn merge_netlists(images: &[&Image]) -> Result<Node, ImageError> {
    let mut devices: Option<Node> = None;
    let mut queues = Vec::new();
    let mut graphs = Vec::new();
    let mut programs = Vec::new();
    let mut fused_ops = Vec::new();
    let mut next_fused_id = 0u64;
    for (i, image) in images.iter().enumerate() {
        let pre = prefix(i);
        let file = format!("model {i} ({})", image.file());
        let root = yaml::parse_tree(&image.netlist().source, &file)
            .map_err(|e| ImageError::invalid(format!("merge: {e}")))?;
        let Some(Node {
            kind: Kind::Map(top),
            ..
        }) = root
        else {
            return invalid!("merge: {file}: the netlist is not a map");
        };
        // Fused op ids of this model -> merged ids, in order of first use by an op.
        let mut fused_map: BTreeMap<u64, u64> = BTreeMap::new();
        let mut model_fused = Vec::new();
        for (k, mut v) in top {
            let at = |what: &str| format!("{file}: {what}");
            match k.text.as_str() {
                "devices" => {
                    if devices.is_none() {
                        devices = Some(v);
                    }
                }
                "queues" => {
                    for (qk, mut q) in core::mem::take(entries_mut(&mut v, &|| at("queues"))?) {
                        let name = qk.text.clone();
                        let e = entries_mut(&mut q, &|| at(&format!("queue {name}")))?;
                        for field in ["input", "alias"] {
                            if let Some(n) = get_mut(e, field) {
                                let host = field == "input"
                                    && scalar_text(n)
                                        .is_some_and(|t| t.eq_ignore_ascii_case("host"));
                                if !host {
                                    rename_scalar(n, &pre, &|| {
                                        at(&format!("queue {name}: {field}"))
                                    })?;
                                }
                            }
                        }
                        queues.push((key(format!("{pre}{name}")), q));
                    }
                }
                "graphs" => {
                    for (gk, mut g) in core::mem::take(entries_mut(&mut v, &|| at("graphs"))?) {
                        let gname = gk.text.clone();
                        let ops = entries_mut(&mut g, &|| at(&format!("graph {gname}")))?;
                        for (ok, op) in ops.iter_mut() {
                            if ok.text == "target_device" || ok.text == "input_count" {
                                continue;
                            }
                            let oname = ok.text.clone();
                            let where_ = || at(&format!("graph {gname}: op {oname}"));
                            let fields = entries_mut(op, &where_)?;
                            if let Some(Node {
                                kind: Kind::Seq(inputs),
                                ..
                            }) = get_mut(fields, "inputs")
                            {
                                for input in inputs {
                                    rename_scalar(input, &pre, &where_)?;
                                }
                            }
                            let fused = get_mut(fields, "type")
                                .and_then(|t| scalar_text(t))
                                .is_some_and(|t| t == "fused_op");
                            if fused {
                                let id_node =
                                    get_mut(fields, "attributes").and_then(|a| match &mut a.kind {
                                        Kind::Map(e) => get_mut(e, "fused_op_id"),
                                        _ => None,
                                    });
                                let Some(id_node) = id_node else {
                                    return invalid!(
                                        "merge: {}: a fused_op without attributes.fused_op_id",
                                        where_()
                                    );
                                };
                                let Some(id) = scalar_text(id_node).and_then(fused_id) else {
                                    return invalid!(
                                        "merge: {}: fused_op_id is {}, not a number",
                                        where_(),
                                        id_node.describe()
                                    );
                                };
                                let new = *fused_map.entry(id).or_insert_with(|| {
                                    next_fused_id += 1;
                                    next_fused_id - 1
                                });
                                *id_node = scalar(&new.to_string());
                            }
                            ok.text = format!("{pre}{oname}");
                        }
                        graphs.push((key(format!("{pre}{gname}")), g));
                    }
                }
                "programs" => {
                    let Kind::Seq(list) = v.kind else {
                        return invalid!(
                            "merge: {}: expected a list, found something else",
                            at("programs")
                        );
                    };
                    for mut p in list {
                        rename_program(&mut p, &pre, &file)?;
                        programs.push(p);
                    }
                }
                "fused_ops" => {
                    model_fused = core::mem::take(entries_mut(&mut v, &|| at("fused_ops"))?);
                }
                // test-config and anything else refers to one model's names and runs; a merged
                // image has no use for it.
                _ => {}
            }
        }
        for (fk, mut f) in model_fused {
            let Some(id) = fused_id(&fk.text) else {
                return invalid!(
                    "merge: {file}: fused_ops: key {:?} is not a number",
                    fk.text
                );
            };
            let new = *fused_map.entry(id).or_insert_with(|| {
                next_fused_id += 1;
                next_fused_id - 1
            });
            let where_ = || format!("{file}: fused_ops: {id}");
            let e = entries_mut(&mut f, &where_)?;
            if let Some(Node {
                kind: Kind::Seq(schedules),
                ..
            }) = get_mut(e, "schedules")
            {
                for s in schedules {
                    if let Kind::Seq(ops) = &mut s.kind {
                        for op in ops {
                            for (ok, _) in entries_mut(op, &where_)?.iter_mut() {
                                ok.text = format!("{pre}{}", ok.text);
                            }
                        }
                    }
                }
            }
            fused_ops.push((key(new.to_string()), f));
        }
    }
    let map = |e: Vec<(Key, Node)>| Node {
        line: 0,
        kind: Kind::Map(e),
    };
    let mut top = Vec::new();
    if let Some(d) = devices {
        top.push((key("devices".into()), d));
    }
    top.push((key("queues".into()), map(queues)));
    top.push((key("graphs".into()), map(graphs)));
    top.push((
        key("programs".into()),
        Node {
            line: 0,
            kind: Kind::Seq(programs),
        },
    ));
    if !fused_ops.is_empty() {
        fused_ops.sort_by_key(|(k, _)| fused_id(&k.text));
        top.push((key("fused_ops".into()), map(fused_ops)));
    }
    Ok(map(top))
}

/// Renames a program (`{name: [instructions]}`) and the graphs and queues its instructions
/// name.
fn rename_program(p: &mut Node, pre: &str, file: &str) -> Result<(), ImageError> {
    let at = || format!("{file}: programs");
    let e = entries_mut(p, &at)?;
    for (pk, body) in e.iter_mut() {
        let pname = pk.text.clone();
        let at = || format!("{file}: program {pname}");
        if let Kind::Seq(instructions) = &mut body.kind {
            for ins in instructions {
                let Kind::Map(fields) = &mut ins.kind else {
                    continue;
                };
                for (code, arg) in fields.iter_mut() {
                    match code.text.as_str() {
                        "execute" => {
                            let e = entries_mut(arg, &at)?;
                            if let Some(g) = get_mut(e, "graph_name") {
                                rename_scalar(g, pre, &at)?;
                            }
                            if let Some(qs) = get_mut(e, "queue_settings") {
                                if let Kind::Map(settings) = &mut qs.kind {
                                    for (qk, _) in settings.iter_mut() {
                                        qk.text = format!("{pre}{}", qk.text);
                                    }
                                }
                            }
                        }
                        "allocate_queue" | "deallocate_queue" => {
                            if let Kind::Seq(list) = &mut arg.kind {
                                for q in list {
                                    rename_scalar(q, pre, &at)?;
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        pk.text = format!("{pre}{pname}");
    }
    Ok(())
}

// ---- placing queues ----

/// Places every queue of the merged `tree` again, in declaration order: DRAM buffers one after
/// another from the reserved base of their channel, host buffers from the start of theirs,
/// each aligned. A queue aliasing another shares its buffers.
fn place_queues(
    tree: &mut Node,
    arch: Arch,
    map: &MemoryMap,
    options: &MergeOptions,
) -> Result<Footprint, ImageError> {
    // The typed reading of the tree as it is gives every queue's size with the reader's
    // defaults (layout, tile_dim, ublock order).
    let mut text = String::new();
    write_yaml(tree, &mut text)?;
    let typed = netlist::parse(&text, MERGED_NETLIST)
        .map_err(|e| ImageError::invalid(format!("merge: the merged netlist: {e}")))?;
    place_typed(tree, &typed, arch, map, options)
}

/// The bytes of one buffer of `q` on `arch`, header included (upstream's
/// `get_io_size_in_bytes`).
pub fn buffer_bytes(q: &netlist::Queue, arch: Arch) -> u64 {
    q.layout(arch).io_size(q.entries) as u64
}

fn place_typed(
    tree: &mut Node,
    typed: &Netlist,
    arch: Arch,
    map: &MemoryMap,
    options: &MergeOptions,
) -> Result<Footprint, ImageError> {
    let align = |x: u64| x.div_ceil(map.alignment).saturating_mul(map.alignment);
    let mut dram = vec![map.dram_reserved; map.dram_channels as usize];
    let mut host = vec![map.host_start; map.host_channel_sizes.len()];
    // New buffers of each queue by name.
    let mut placed: BTreeMap<&str, Vec<(u32, u64)>> = BTreeMap::new();
    for q in &typed.queues {
        if q.alias.is_some() {
            continue;
        }
        let size = buffer_bytes(q, arch);
        let mut list = Vec::with_capacity(q.buffers.len());
        for b in &q.buffers {
            let (used, capacity, kind): (&mut Vec<u64>, Vec<u64>, &str) = match q.loc {
                QueueLocation::Dram => (
                    &mut dram,
                    vec![map.dram_channel_capacity; map.dram_channels as usize],
                    "DRAM",
                ),
                QueueLocation::Host => (&mut host, map.host_channel_sizes.clone(), "host"),
            };
            let mut chan = b.channel as usize;
            if chan >= used.len() {
                return invalid!(
                    "merge: queue {}: {kind} channel {chan}, but {} has {} {kind} channels",
                    q.name,
                    arch.name(),
                    used.len()
                );
            }
            let fits = |c: usize, used: &[u64]| {
                used[c].checked_add(size).is_some_and(|e| e <= capacity[c])
            };
            if !fits(chan, used) && options.switch_channels {
                if let Some(c) = (0..used.len()).find(|&c| fits(c, used)) {
                    chan = c;
                }
            }
            if !fits(chan, used) {
                return invalid!(
                    "merge: {kind} channel {chan} is full: queue {} needs {size} B at {} B, over \
                     the channel's {} B",
                    q.name,
                    used[chan],
                    capacity[chan]
                );
            }
            list.push((chan as u32, used[chan]));
            used[chan] = align(used[chan] + size);
        }
        placed.insert(&q.name, list);
    }
    for q in &typed.queues {
        if let Some(target) = &q.alias {
            let Some(list) = placed.get(target.as_str()).cloned() else {
                return invalid!(
                    "merge: queue {}: alias {target} is not a placed queue",
                    q.name
                );
            };
            placed.insert(&q.name, list);
        }
    }
    // Write the addresses into the tree.
    let Kind::Map(top) = &mut tree.kind else {
        return invalid!("merge: the merged netlist is not a map");
    };
    let Some(Node {
        kind: Kind::Map(queues),
        ..
    }) = get_mut(top, "queues")
    else {
        return invalid!("merge: the merged netlist has no queues");
    };
    for (qk, q) in queues.iter_mut() {
        let Some(list) = placed.get(qk.text.as_str()) else {
            continue;
        };
        let Kind::Map(fields) = &mut q.kind else {
            continue;
        };
        for field in ["dram", "host"] {
            let Some(node) = get_mut(fields, field) else {
                continue;
            };
            let Kind::Seq(items) = &mut node.kind else {
                continue;
            };
            // A host list of bare addresses (the single-channel layout) stays one.
            let legacy =
                field == "host" && items.iter().all(|n| matches!(n.kind, Kind::Scalar { .. }));
            *items = list
                .iter()
                .map(|&(c, a)| {
                    if legacy {
                        scalar(&format!("{a:#x}"))
                    } else {
                        Node {
                            line: 0,
                            kind: Kind::Seq(vec![
                                scalar(&c.to_string()),
                                scalar(&format!("{a:#x}")),
                            ]),
                        }
                    }
                })
                .collect();
        }
    }
    Ok(Footprint { arch, dram, host })
}

// ---- device.json ----

/// Tensor members of the merged image: (member under `unzipped_tti/`, model, node name).
type TensorMembers = Vec<(String, usize, String)>;

fn merge_device_json(
    images: &[&Image],
    arch: Arch,
) -> Result<(DeviceJson, TensorMembers), ImageError> {
    let no_device = |i: usize| ImageError::invalid(format!("merge: model {i} has no device.json"));
    let first = images[0].device_json().ok_or_else(|| no_device(0))?;
    let mut out = first.clone();
    out.arch = arch;
    out.device_image_name = "merged".into();
    let s = &mut out.compiled_graph_state;
    s.graph_name = format!("{}{}", prefix(0), first.compiled_graph_state.graph_name);
    s.netlist_filename = MERGED_NETLIST.into();
    s.ordered_input_names.clear();
    s.ordered_output_names.clear();
    s.ordered_target_names.clear();
    s.ordered_constant_node_names.clear();
    s.ordered_parameter_node_names.clear();
    s.ordered_input_shapes.clear();
    s.ordered_output_shapes.clear();
    s.ordered_output_data_formats.clear();
    s.ordered_input_runtime_tensor_transforms.clear();
    s.post_const_eval_constants.clear();
    s.post_const_eval_parameters.clear();
    s.extra.clear();
    let mut tensors: TensorMembers = Vec::new();
    // Members already listed (several names may share one file).
    let mut copied = std::collections::BTreeSet::new();
    for (i, image) in images.iter().enumerate() {
        let pre = prefix(i);
        let d = image.device_json().ok_or_else(|| no_device(i))?;
        let g = &d.compiled_graph_state;
        let p = |names: &[String]| {
            names
                .iter()
                .map(|n| format!("{pre}{n}"))
                .collect::<Vec<_>>()
        };
        s.ordered_input_names.extend(p(&g.ordered_input_names));
        s.ordered_output_names.extend(p(&g.ordered_output_names));
        s.ordered_target_names.extend(p(&g.ordered_target_names));
        s.ordered_constant_node_names
            .extend(p(&g.ordered_constant_node_names));
        s.ordered_parameter_node_names
            .extend(p(&g.ordered_parameter_node_names));
        s.ordered_input_shapes
            .extend(g.ordered_input_shapes.iter().cloned());
        s.ordered_output_shapes
            .extend(g.ordered_output_shapes.iter().cloned());
        s.ordered_output_data_formats
            .extend(g.ordered_output_data_formats.iter().copied());
        s.ordered_input_runtime_tensor_transforms
            .extend(g.ordered_input_runtime_tensor_transforms.iter().cloned());
        for (from, to) in [
            (
                &g.post_const_eval_constants,
                &mut s.post_const_eval_constants,
            ),
            (
                &g.post_const_eval_parameters,
                &mut s.post_const_eval_parameters,
            ),
        ] {
            for (name, entry) in from {
                let mut entry = entry.clone();
                let old = entry.member().to_string();
                let base = old.rsplit('/').next().unwrap_or(&old);
                let member = format!("tensors/{pre}{base}");
                match &mut entry {
                    TensorEntry::Binary(desc) => {
                        desc.bin = member.clone();
                        if copied.insert(member.clone()) {
                            tensors.push((member, i, name.clone()));
                        }
                    }
                    // Pickles cannot be loaded by ttrt; the name is kept so the merged image
                    // says which tensor it was, and opening it fails as the original would.
                    TensorEntry::Pickled(m) => *m = member,
                }
                to.insert(format!("{pre}{name}"), entry);
            }
        }
        // Keys ttrt does not model: per-name lists are concatenated, per-name maps merged
        // with the names prefixed, anything else is the first model's.
        for (k, v) in &g.extra {
            match (s.extra.get_mut(k), v) {
                (None, Value::Object(m)) => {
                    let m = m
                        .iter()
                        .map(|(n, x)| (format!("{pre}{n}"), x.clone()))
                        .collect();
                    s.extra.insert(k.clone(), Value::Object(m));
                }
                (None, _) => {
                    s.extra.insert(k.clone(), v.clone());
                }
                (Some(Value::Array(a)), Value::Array(b)) => a.extend(b.iter().cloned()),
                (Some(Value::Object(a)), Value::Object(b)) => {
                    for (n, x) in b {
                        a.insert(format!("{pre}{n}"), x.clone());
                    }
                }
                _ => {}
            }
        }
    }
    Ok((out, tensors))
}

/// Every input, output, constant and parameter device.json names is a queue of the merged
/// netlist.
fn check_names(netlist: &Netlist, device: &DeviceJson) -> Result<(), ImageError> {
    let s = &device.compiled_graph_state;
    let queues: std::collections::BTreeSet<&str> =
        netlist.queues.iter().map(|q| q.name.as_str()).collect();
    for name in s
        .ordered_input_names
        .iter()
        .chain(&s.ordered_output_names)
        .chain(s.post_const_eval_constants.keys())
        .chain(s.post_const_eval_parameters.keys())
    {
        if !queues.contains(name.as_str()) {
            return invalid!(
                "merge: device.json names {name}, which is no queue of the merged netlist"
            );
        }
    }
    Ok(())
}

// ---- writing YAML ----

/// Writes `node` as block YAML that [`yaml::parse_tree`] reads back to the same tree (lines
/// aside).
fn write_yaml(node: &Node, out: &mut String) -> Result<(), ImageError> {
    match &node.kind {
        Kind::Map(entries) => {
            for (k, v) in entries {
                write_key(&k.text, out);
                out.push(':');
                write_value(v, 2, out)?;
            }
            Ok(())
        }
        _ => invalid!("merge: the netlist's top level is not a map"),
    }
}

fn write_value(node: &Node, indent: usize, out: &mut String) -> Result<(), ImageError> {
    match &node.kind {
        // An empty plain scalar (null) is written as nothing after the key or dash.
        Kind::Scalar { text, plain: true } if text.is_empty() => out.push('\n'),
        Kind::Scalar { text, plain } => {
            out.push(' ');
            if *plain {
                if plain_ok(text) {
                    out.push_str(text);
                } else {
                    return invalid!("merge: cannot write the plain scalar {:?} back", text);
                }
            } else {
                quote(text, out);
            }
            out.push('\n');
        }
        Kind::Seq(items) if items.is_empty() => out.push_str(" []\n"),
        Kind::Map(entries) if entries.is_empty() => out.push_str(" {}\n"),
        Kind::Seq(items) => {
            out.push('\n');
            for item in items {
                pad(indent, out);
                out.push('-');
                write_value(item, indent + 2, out)?;
            }
        }
        Kind::Map(entries) => {
            out.push('\n');
            for (k, v) in entries {
                pad(indent, out);
                write_key(&k.text, out);
                out.push(':');
                write_value(v, indent + 2, out)?;
            }
        }
    }
    Ok(())
}

fn pad(n: usize, out: &mut String) {
    out.extend(core::iter::repeat_n(' ', n));
}

/// Whether a plain scalar read from a netlist can be written plain in block context.
fn plain_ok(t: &str) -> bool {
    let first = t.chars().next().unwrap_or(' ');
    !t.contains(": ")
        && !t.contains(" #")
        && !t.ends_with(':')
        && !t.contains('\n')
        && !t.starts_with(' ')
        && !t.ends_with(' ')
        && !"-?:,[]{}#&*!|>'\"%@`".contains(first)
        || (first == '-'
            && t.len() > 1
            && !t.starts_with("- ")
            && !t.contains(": ")
            && !t.contains(" #")
            && !t.contains('\n'))
}

fn write_key(k: &str, out: &mut String) {
    let safe = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.$+-/".contains(c))
        && !k.starts_with('-');
    if safe && !matches!(k, "~" | "null" | "Null" | "NULL") {
        out.push_str(k);
    } else {
        quote(k, out);
    }
}

fn quote(t: &str, out: &mut String) {
    out.push('"');
    for c in t.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree with every line number zeroed, to compare trees read from different texts.
    fn without_lines(n: &Node) -> Node {
        let kind = match &n.kind {
            Kind::Scalar { text, plain } => Kind::Scalar {
                text: text.clone(),
                plain: *plain,
            },
            Kind::Seq(items) => Kind::Seq(items.iter().map(without_lines).collect()),
            Kind::Map(e) => Kind::Map(
                e.iter()
                    .map(|(k, v)| (key(k.text.clone()), without_lines(v)))
                    .collect(),
            ),
        };
        Node { line: 0, kind }
    }

    fn corpus(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                corpus(&p, out);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                out.push(p);
            }
        }
    }

    /// Every corpus netlist whose top level is a map, written back by the merge's YAML writer,
    /// reads to the same tree, and the netlists that validate validate again to the same
    /// queues, graphs, programs and fused ops.
    #[test]
    fn the_yaml_writer_gives_back_the_tree_it_was_given() {
        let mut files = Vec::new();
        corpus(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/netlists"),
            &mut files,
        );
        assert!(files.len() > 100, "{} corpus netlists", files.len());
        let (mut trees, mut netlists) = (0, 0);
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            let name = f.display().to_string();
            let Ok(Some(tree)) = yaml::parse_tree(&text, &name) else {
                continue;
            };
            if !matches!(tree.kind, Kind::Map(_)) {
                continue;
            }
            let mut out = String::new();
            write_yaml(&tree, &mut out).unwrap_or_else(|e| panic!("{name}: {e}"));
            let back = yaml::parse_tree(&out, &name)
                .unwrap_or_else(|e| panic!("{name}: {e}\n{out}"))
                .unwrap();
            assert!(
                without_lines(&back) == without_lines(&tree),
                "{name}: the tree read back differs"
            );
            trees += 1;
            if let Ok(a) = netlist::parse(&text, &name) {
                let b = netlist::parse(&out, &name).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(a.queues.len(), b.queues.len(), "{name}");
                for (x, y) in a.queues.iter().zip(&b.queues) {
                    assert_eq!(
                        (&x.name, &x.buffers, x.entries),
                        (&y.name, &y.buffers, y.entries)
                    );
                }
                assert_eq!(a.graphs.len(), b.graphs.len(), "{name}");
                assert_eq!(a.programs.len(), b.programs.len(), "{name}");
                assert_eq!(
                    a.fused_ops,
                    {
                        let mut f = b.fused_ops.clone();
                        for (x, y) in f.iter_mut().zip(&a.fused_ops) {
                            x.line = y.line;
                            for (s, t) in x.schedules.iter_mut().zip(&y.schedules) {
                                for (o, p) in s.ops.iter_mut().zip(&t.ops) {
                                    o.line = p.line;
                                }
                            }
                        }
                        f
                    },
                    "{name}"
                );
                netlists += 1;
            }
        }
        assert!(
            trees > 100 && netlists > 50,
            "{trees} trees, {netlists} netlists"
        );
    }

    #[test]
    fn megabytes_are_rounded_to_two_decimals() {
        assert_eq!(mb(0), "0.0");
        assert_eq!(mb(83_560_448), "79.69");
        assert_eq!(mb(1 << 30), "1024.0");
        assert_eq!(mb(3 << 19), "1.5");
        assert_eq!(mb(94_371), "0.09");
    }
}
