//! From the YAML tree to the typed model: every key checked against upstream's parser
//! (tt-budabackend `netlist/netlist_parser.cpp`), values converted, defaults filled in. Rules
//! between parts of the netlist (references, sizes, fused-op buffer use) are checked afterwards
//! in `validate.rs`.

use alloc::borrow::ToOwned;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::format::{Arch, DataFormat, IoLayout, TileDim, UblockOrder};

use super::error::NetlistError;
use super::fused_op::{
    FusedOp, FusedOperand, FusedOutput, Schedule, ScheduledOp, ScheduledOpAttributes,
};
use super::model::{
    Devices, Dim, Graph, InputPad, InputUnpad, IoType, KernelBroadcast, MathFidelity, Netlist, Op,
    OpAttributes, Queue, QueueBuffer, QueueLocation, ReduceFunc, ReluMode, SpliceInput, SpliceMode,
    Tm, TopkSort,
};
use super::op_type::{OpType, OpTypeName};
use super::program::{
    Execute, Instruction, Operand, Program, QueueSetting, Step, VarDecl, VarInstOp,
};
use super::scalar::{parse_bool, parse_float, parse_int, value_of};
use super::test_config::{
    ComparisonConfig, ComparisonMethod, ComparisonType, IoConfig, StimulusConfig, StimulusType,
    TestConfig, Verbosity,
};
use super::yaml::{Key, Kind, Node};

type R<T> = Result<T, NetlistError>;
type Entries = [(Key, Node)];

/// `parent.key`, the way error messages show where a value sits.
fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn item(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// Joins names for "expected one of" lists.
fn one_of(names: &[&str]) -> String {
    names.join(", ")
}

/// Reads one netlist; carries the file name into every error.
pub struct Reader<'a> {
    pub file: &'a str,
}

impl Reader<'_> {
    pub fn err(&self, line: u32, path: &str, message: impl Into<String>) -> NetlistError {
        NetlistError {
            file: self.file.to_string(),
            line: Some(line),
            path: path.to_string(),
            message: message.into(),
        }
    }

    fn expected(&self, node: &Node, path: &str, what: &str) -> NetlistError {
        self.err(
            node.line,
            path,
            format!("expected {what}, found {}", node.describe()),
        )
    }

    fn map<'n>(&self, node: &'n Node, path: &str) -> R<&'n Entries> {
        match &node.kind {
            Kind::Map(entries) => Ok(entries),
            _ => Err(self.expected(node, path, "a map")),
        }
    }

    /// A map, or nothing (`key:` with no value) read as an empty map.
    fn map_or_null<'n>(&self, node: &'n Node, path: &str) -> R<&'n Entries> {
        if node.is_null() {
            return Ok(&[]);
        }
        self.map(node, path)
    }

    fn seq<'n>(&self, node: &'n Node, path: &str) -> R<&'n [Node]> {
        match &node.kind {
            Kind::Seq(items) => Ok(items),
            _ => Err(self.expected(node, path, "a list")),
        }
    }

    fn seq_or_null<'n>(&self, node: &'n Node, path: &str) -> R<&'n [Node]> {
        if node.is_null() {
            return Ok(&[]);
        }
        self.seq(node, path)
    }

    fn text<'n>(&self, node: &'n Node, path: &str) -> R<&'n str> {
        match &node.kind {
            Kind::Scalar { text, .. } if !node.is_null() => Ok(text),
            _ => Err(self.expected(node, path, "a name or value")),
        }
    }

    fn string(&self, node: &Node, path: &str) -> R<String> {
        self.text(node, path).map(str::to_owned)
    }

    fn int(&self, node: &Node, path: &str) -> R<i64> {
        match &node.kind {
            Kind::Scalar { text, .. } => {
                parse_int(text).ok_or_else(|| self.expected(node, path, "an integer"))
            }
            _ => Err(self.expected(node, path, "an integer")),
        }
    }

    /// An integer that fits in `T`, else "expected `what`, found" the integer.
    fn int_as<T: TryFrom<i64>>(&self, node: &Node, path: &str, what: &str) -> R<T> {
        let v = self.int(node, path)?;
        T::try_from(v).map_err(|_| self.err(node.line, path, format!("expected {what}, found {v}")))
    }

    /// A non-negative integer that fits in 32 bits.
    fn uint(&self, node: &Node, path: &str) -> R<u32> {
        self.int_as(node, path, "a non-negative 32-bit integer")
    }

    fn address(&self, node: &Node, path: &str) -> R<u64> {
        self.int_as(node, path, "an address (>= 0)")
    }

    fn float(&self, node: &Node, path: &str) -> R<f64> {
        match &node.kind {
            Kind::Scalar { text, .. } => {
                parse_float(text).ok_or_else(|| self.expected(node, path, "a number"))
            }
            _ => Err(self.expected(node, path, "a number")),
        }
    }

    fn boolean(&self, node: &Node, path: &str) -> R<bool> {
        match &node.kind {
            Kind::Scalar { text, .. } => {
                parse_bool(text).ok_or_else(|| self.expected(node, path, "true or false"))
            }
            _ => Err(self.expected(node, path, "true or false")),
        }
    }

    /// `[a, b]` of non-negative integers.
    fn pair(&self, node: &Node, path: &str) -> R<[u32; 2]> {
        let items = self.seq(node, path)?;
        match items {
            [a, b] => Ok([self.uint(a, &item(path, 0))?, self.uint(b, &item(path, 1))?]),
            _ => Err(self.err(
                node.line,
                path,
                format!("expected 2 values, found {}", items.len()),
            )),
        }
    }

    /// A list whose items `read` reads, each at its own path (`key[i]`).
    fn list<T>(
        &self,
        node: &Node,
        path: &str,
        read: impl Fn(&Self, &Node, &str) -> R<T>,
    ) -> R<Vec<T>> {
        let items = self.seq(node, path)?;
        items
            .iter()
            .enumerate()
            .map(|(i, n)| read(self, n, &item(path, i)))
            .collect()
    }

    fn uint_list(&self, node: &Node, path: &str) -> R<Vec<u32>> {
        self.list(node, path, Self::uint)
    }

    fn int_list(&self, node: &Node, path: &str) -> R<Vec<i64>> {
        self.list(node, path, Self::int)
    }

    fn string_list(&self, node: &Node, path: &str) -> R<Vec<String>> {
        self.list(node, path, Self::string)
    }

    /// A single name or a list of them (`target_device: 0` or `[0, 1]`).
    fn one_or_many_uint(&self, node: &Node, path: &str) -> R<Vec<u32>> {
        match &node.kind {
            Kind::Seq(_) => {
                let list = self.uint_list(node, path)?;
                if list.is_empty() {
                    return Err(self.err(
                        node.line,
                        path,
                        "expected at least one device, found none",
                    ));
                }
                Ok(list)
            }
            _ => Ok(alloc::vec![self.uint(node, path)?]),
        }
    }

    fn data_format(&self, node: &Node, path: &str) -> R<DataFormat> {
        let name = self.text(node, path)?;
        DataFormat::from_name(name).ok_or_else(|| {
            let names: Vec<&str> = DataFormat::ALL.iter().map(|f| f.name()).collect();
            self.err(
                node.line,
                path,
                format!(
                    "unknown data format `{name}` (expected one of {})",
                    names.join(", ")
                ),
            )
        })
    }

    /// The value of the first of `choices` spelled as the node, else "expected `what`, found"
    /// the text.
    fn keyword<T: Copy>(&self, node: &Node, path: &str, what: &str, choices: &[(&str, T)]) -> R<T> {
        let text = self.text(node, path)?;
        match choices.iter().find(|(name, _)| *name == text) {
            Some(&(_, value)) => Ok(value),
            None => Err(self.err(node.line, path, format!("expected {what}, found `{text}`"))),
        }
    }

    fn ublock_order(&self, node: &Node, path: &str) -> R<UblockOrder> {
        let (r, c) = (UblockOrder::R, UblockOrder::C);
        self.keyword(
            node,
            path,
            "ublock order r or c",
            &[("r", r), ("R", r), ("c", c), ("C", c)],
        )
    }

    fn dim(&self, node: &Node, path: &str, allowed: &[Dim]) -> R<Dim> {
        let text = self.text(node, path)?;
        let dim = match text.to_ascii_lowercase().as_str() {
            "r" => Some(Dim::R),
            "c" => Some(Dim::C),
            "z" => Some(Dim::Z),
            "rc" => Some(Dim::Rc),
            _ => None,
        };
        match dim {
            Some(d) if allowed.contains(&d) => Ok(d),
            _ => {
                let names: Vec<&str> = allowed.iter().map(|d| d.name()).collect();
                Err(self.err(
                    node.line,
                    path,
                    format!("expected one of {}, found `{text}`", names.join(", ")),
                ))
            }
        }
    }

    fn tile_dim(&self, node: &Node, path: &str) -> R<TileDim> {
        let [h, w] = self.pair(node, path)?;
        TileDim::new(h, w).ok_or_else(|| {
            self.err(
                node.line,
                path,
                format!(
                    "invalid tile dim [{h}, {w}] (expected 32x32, 16x32, 32x16, 8x32, 4x32, 2x32 or 1x32)"
                ),
            )
        })
    }

    fn missing(&self, line: u32, path: &str, key: &str) -> NetlistError {
        self.err(line, path, format!("missing required key `{key}`"))
    }

    fn unknown_key(&self, key: &Key, path: &str, what: &str, known: &[&str]) -> NetlistError {
        self.err(
            key.line,
            &child(path, &key.text),
            format!(
                "unknown {what} key `{}` (expected one of {})",
                key.text,
                one_of(known)
            ),
        )
    }
}

fn need<T>(value: Option<T>, reader: &Reader, line: u32, path: &str, key: &str) -> R<T> {
    value.ok_or_else(|| reader.missing(line, path, key))
}

/// Reads the whole document (a map) into a netlist. Sections are read in dependency order
/// (queues before programs, whose queue settings take their defaults from the queue type),
/// whatever their order in the file.
pub fn read_netlist(reader: &Reader, root: &Node) -> R<Netlist> {
    let top = reader.map(root, "")?;
    let find = |name: &str| top.iter().find(|(k, _)| k.text == name);
    let devices = match find("devices") {
        Some((_, node)) => read_devices(reader, node)?,
        None => return Err(reader.missing(root.line, "", "devices")),
    };
    let queues = match find("queues") {
        Some((_, node)) => read_queues(reader, node)?,
        None => return Err(reader.missing(root.line, "", "queues")),
    };
    let graphs = match find("graphs") {
        Some((_, node)) => read_graphs(reader, node)?,
        None => return Err(reader.missing(root.line, "", "graphs")),
    };
    let fused_ops = match find("fused_ops") {
        Some((_, node)) => read_fused_ops(reader, node)?,
        None => Vec::new(),
    };
    // Indexed: every execute's queue settings look their queues up (a large model has tens of
    // thousands of both). The first of duplicate names wins, as `Netlist::queue` finds it.
    let mut types: BTreeMap<&str, IoType> = BTreeMap::new();
    for q in &queues {
        types.entry(q.name.as_str()).or_insert(q.io_type);
    }
    let queue_type = |name: &str| types.get(name).copied();
    let programs = match find("programs") {
        Some((_, node)) => read_programs(reader, node, &queue_type)?,
        None => return Err(reader.missing(root.line, "", "programs")),
    };
    let test_config = match find("test-config") {
        Some((_, node)) if !node.is_null() => Some(read_test_config(reader, node)?),
        _ => None,
    };
    let performance_check = find("performance-check").map(|(_, node)| value_of(node));
    // Upstream ignores other top-level keys; so does ttrt.
    Ok(Netlist {
        file: reader.file.to_string(),
        source: String::new(),
        devices,
        queues,
        graphs,
        programs,
        fused_ops,
        test_config,
        performance_check,
    })
}

fn read_devices(reader: &Reader, node: &Node) -> R<Devices> {
    let path = "devices";
    let entries = reader.map(node, path)?;
    let mut arch = Vec::new();
    let mut seen = false;
    for (key, value) in entries {
        let p = child(path, &key.text);
        if key.text != "arch" {
            return Err(reader.unknown_key(key, path, "devices", &["arch"]));
        }
        seen = true;
        let names: Vec<(&Node, String)> = match &value.kind {
            Kind::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, n)| (n, item(&p, i)))
                .collect(),
            _ => alloc::vec![(value, p.clone())],
        };
        for (n, np) in names {
            let name = reader.text(n, &np)?;
            let a = Arch::from_name(name).ok_or_else(|| {
                reader.err(
                    n.line,
                    &np,
                    format!(
                        "unknown arch `{name}` (expected grayskull, wormhole, wormhole_b0 or blackhole)"
                    ),
                )
            })?;
            if !arch.contains(&a) {
                arch.push(a);
            }
        }
        if arch.is_empty() {
            return Err(reader.err(value.line, &p, "expected at least one arch, found none"));
        }
    }
    if !seen {
        return Err(reader.missing(node.line, path, "arch"));
    }
    Ok(Devices {
        arch,
        line: node.line,
    })
}

const QUEUE_KEYS: &[&str] = &[
    "input",
    "input_tms",
    "type",
    "entries",
    "grid_size",
    "t",
    "mblock",
    "ublock",
    "ublock_order",
    "df",
    "target_device",
    "loc",
    "dram",
    "host",
    "read_ports",
    "write_ports",
    "layout",
    "alias",
    "tile_dim",
];

fn read_queues(reader: &Reader, node: &Node) -> R<Vec<Queue>> {
    let entries = reader.map(node, "queues")?;
    let mut queues = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        queues.push(read_queue(reader, key, value)?);
    }
    Ok(queues)
}

fn read_queue(reader: &Reader, name: &Key, node: &Node) -> R<Queue> {
    let path = child("queues", &name.text);
    let fields = reader.map(node, &path)?;
    let mut input = None;
    let mut input_tms = Vec::new();
    let mut io_type = None;
    let mut entries = None;
    let mut grid_size = None;
    let mut t = None;
    let mut mblock = None;
    let mut ublock = None;
    let mut ublock_order = UblockOrder::R;
    let mut df = None;
    let mut target_device = alloc::vec![0];
    let mut loc = None;
    let mut dram = None;
    let mut host = None;
    let mut read_ports = Vec::new();
    let mut write_ports = Vec::new();
    let mut layout = IoLayout::Tilized;
    let mut alias = None;
    let mut tile_dim = TileDim::FULL;
    for (key, value) in fields {
        let p = child(&path, &key.text);
        match key.text.as_str() {
            "input" => input = Some(reader.string(value, &p)?),
            "input_tms" => input_tms = read_tms(reader, value, &p, TmContext::Queue)?,
            "type" => {
                io_type = Some(reader.keyword(
                    value,
                    &p,
                    "queue or ram",
                    &[("queue", IoType::Queue), ("ram", IoType::Ram)],
                )?)
            }
            "entries" => entries = Some(reader.uint(value, &p)?),
            "grid_size" => grid_size = Some(reader.pair(value, &p)?.into()),
            "t" => t = Some(reader.uint(value, &p)?),
            "mblock" => mblock = Some(reader.pair(value, &p)?.into()),
            "ublock" => ublock = Some(reader.pair(value, &p)?.into()),
            "ublock_order" => ublock_order = reader.ublock_order(value, &p)?,
            "df" => df = Some(reader.data_format(value, &p)?),
            "target_device" => target_device = reader.one_or_many_uint(value, &p)?,
            "loc" => {
                let (dram, host) = (QueueLocation::Dram, QueueLocation::Host);
                loc = Some(reader.keyword(
                    value,
                    &p,
                    "dram or host",
                    &[
                        ("dram", dram),
                        ("DRAM", dram),
                        ("host", host),
                        ("HOST", host),
                    ],
                )?)
            }
            "dram" => dram = Some((value, p)),
            "host" => host = Some((value, p)),
            "read_ports" => read_ports = reader.uint_list(value, &p)?,
            "write_ports" => write_ports = reader.uint_list(value, &p)?,
            "layout" => {
                layout = reader.keyword(
                    value,
                    &p,
                    "tilized or flat",
                    &[("tilized", IoLayout::Tilized), ("flat", IoLayout::Flat)],
                )?
            }
            "alias" => alias = Some(reader.string(value, &p)?),
            "tile_dim" => tile_dim = reader.tile_dim(value, &p)?,
            _ => return Err(reader.unknown_key(key, &path, "queue", QUEUE_KEYS)),
        }
    }
    let line = name.line;
    let loc = need(loc, reader, line, &path, "loc")?;
    let buffers = match loc {
        QueueLocation::Dram => {
            let (node, p) = dram.ok_or_else(|| {
                reader.err(
                    line,
                    &path,
                    "missing key `dram`: a queue with loc: dram needs [[channel, address], ...] per buffer",
                )
            })?;
            let items = reader.seq(node, &p)?;
            let mut buffers = Vec::with_capacity(items.len());
            for (i, it) in items.iter().enumerate() {
                let ip = item(&p, i);
                let pair = reader.seq(it, &ip)?;
                let [channel, address] = pair else {
                    return Err(reader.err(
                        it.line,
                        &ip,
                        format!("expected [channel, address], found {}", it.describe()),
                    ));
                };
                buffers.push(QueueBuffer {
                    channel: reader.uint(channel, &item(&ip, 0))?,
                    address: reader.address(address, &item(&ip, 1))?,
                });
            }
            buffers
        }
        QueueLocation::Host => {
            let (node, p) = host.ok_or_else(|| {
                reader.err(
                    line,
                    &path,
                    "missing key `host`: a queue with loc: host needs [address, ...] per buffer",
                )
            })?;
            let items = reader.seq(node, &p)?;
            let mut buffers = Vec::with_capacity(items.len());
            for (i, it) in items.iter().enumerate() {
                let ip = item(&p, i);
                // Host buffers may name a channel too; upstream accepts a bare address.
                buffers.push(match &it.kind {
                    Kind::Seq(pair) => match pair.as_slice() {
                        [channel, address] => QueueBuffer {
                            channel: reader.uint(channel, &item(&ip, 0))?,
                            address: reader.address(address, &item(&ip, 1))?,
                        },
                        _ => {
                            return Err(reader.err(
                                it.line,
                                &ip,
                                format!(
                                    "expected an address or [channel, address], found {}",
                                    it.describe()
                                ),
                            ))
                        }
                    },
                    _ => QueueBuffer {
                        channel: 0,
                        address: reader.address(it, &ip)?,
                    },
                });
            }
            buffers
        }
    };
    Ok(Queue {
        name: name.text.clone(),
        line,
        input: need(input, reader, line, &path, "input")?,
        input_tms,
        io_type: need(io_type, reader, line, &path, "type")?,
        entries: need(entries, reader, line, &path, "entries")?,
        grid_size: need(grid_size, reader, line, &path, "grid_size")?,
        t: need(t, reader, line, &path, "t")?,
        mblock: need(mblock, reader, line, &path, "mblock")?,
        ublock: need(ublock, reader, line, &path, "ublock")?,
        ublock_order,
        df: need(df, reader, line, &path, "df")?,
        target_device,
        loc,
        buffers,
        read_ports,
        write_ports,
        layout,
        alias,
        tile_dim,
    })
}

/// Where a TM list is written: the TMs allowed differ.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TmContext {
    Queue,
    Op,
    FusedOp,
}

fn read_tms(reader: &Reader, node: &Node, path: &str, context: TmContext) -> R<Vec<Tm>> {
    // Generated netlists write Python's `None` for "no TMs"; yaml-cpp iterates a scalar as an
    // empty list, so upstream reads it as none.
    if matches!(&node.kind, Kind::Scalar { text, plain: true } if text == "None") {
        return Ok(Vec::new());
    }
    let items = reader.seq_or_null(node, path)?;
    let mut tms = Vec::with_capacity(items.len());
    for (i, it) in items.iter().enumerate() {
        let ip = item(path, i);
        match &it.kind {
            Kind::Scalar { text, .. } => {
                if text == "transpose" {
                    tms.push(Tm::Transpose);
                } else {
                    return Err(reader.err(
                        it.line,
                        &ip,
                        format!("only `transpose` may be written as a bare TM, found `{text}`"),
                    ));
                }
            }
            Kind::Seq(_) => {
                return Err(reader.expected(
                    it,
                    &ip,
                    "a TM (`transpose` or a map such as broadcast: {r: 2})",
                ))
            }
            Kind::Map(entries) => {
                for (key, value) in entries {
                    let kp = child(&ip, &key.text);
                    match key.text.as_str() {
                        "broadcast" => {
                            for (dim_key, factor) in reader.map(value, &kp)? {
                                let dp = child(&kp, &dim_key.text);
                                let dim = match dim_key.text.as_str() {
                                    "r" => Dim::R,
                                    "c" => Dim::C,
                                    "z" => Dim::Z,
                                    other => {
                                        return Err(reader.err(
                                            dim_key.line,
                                            &dp,
                                            format!("broadcast supports dims r, c and z, found `{other}`"),
                                        ))
                                    }
                                };
                                tms.push(Tm::Broadcast {
                                    dim,
                                    factor: reader.uint(factor, &dp)?,
                                });
                            }
                        }
                        "tile_broadcast" => {
                            if context != TmContext::FusedOp {
                                return Err(reader.err(
                                    key.line,
                                    &kp,
                                    "tile_broadcast is only allowed inside fused ops",
                                ));
                            }
                            tms.push(Tm::TileBroadcast(reader.dim(value, &kp, &[Dim::R, Dim::C])?));
                        }
                        "pad" => {
                            match context {
                                TmContext::FusedOp => {
                                    return Err(reader.err(key.line, &kp, "pad is not allowed inside fused ops"))
                                }
                                TmContext::Queue => {
                                    return Err(reader.err(key.line, &kp, "padding can't be done on queue inputs"))
                                }
                                TmContext::Op => {}
                            }
                            let args = reader.seq(value, &kp)?;
                            let [rt, ct, pad_value] = args else {
                                return Err(reader.err(
                                    value.line,
                                    &kp,
                                    format!("pad needs 3 values [rt, ct, pad_value], found {}", args.len()),
                                ));
                            };
                            tms.push(Tm::Pad {
                                rt: reader.uint(rt, &item(&kp, 0))?,
                                ct: reader.uint(ct, &item(&kp, 1))?,
                                value: reader.float(pad_value, &item(&kp, 2))? as f32,
                            });
                        }
                        "hslice" | "hstack" | "vslice" | "vstack" => {
                            let factor = reader.uint(value, &kp)?;
                            tms.push(match key.text.as_str() {
                                "hslice" => Tm::Hslice(factor),
                                "hstack" => Tm::Hstack(factor),
                                "vslice" => Tm::Vslice(factor),
                                _ => Tm::Vstack(factor),
                            });
                        }
                        other => {
                            return Err(reader.err(
                                key.line,
                                &kp,
                                format!(
                                    "unsupported TM `{other}` (expected broadcast, hslice, hstack, vslice, vstack, transpose, tile_broadcast or pad)"
                                ),
                            ))
                        }
                    }
                }
            }
        }
    }
    Ok(tms)
}

fn read_graphs(reader: &Reader, node: &Node) -> R<Vec<Graph>> {
    let entries = reader.map(node, "graphs")?;
    let mut graphs = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        let path = child("graphs", &name.text);
        let fields = reader.map(value, &path)?;
        let mut target_device = alloc::vec![0];
        let mut input_count = None;
        let mut ops = Vec::new();
        for (key, v) in fields {
            let p = child(&path, &key.text);
            match key.text.as_str() {
                "target_device" => target_device = reader.one_or_many_uint(v, &p)?,
                "input_count" => input_count = Some(reader.uint(v, &p)?),
                _ => ops.push(read_op(reader, key, v, &p)?),
            }
        }
        graphs.push(Graph {
            name: name.text.clone(),
            line: name.line,
            target_device,
            input_count: need(input_count, reader, name.line, &path, "input_count")?,
            ops,
        });
    }
    Ok(graphs)
}

const OP_KEYS: &[&str] = &[
    "type",
    "grid_loc",
    "grid_size",
    "inputs",
    "in_df",
    "acc_df",
    "out_df",
    "intermed_df",
    "ublock_order",
    "buf_size_mb",
    "math_fidelity",
    "untilize_output",
    "t",
    "mblock",
    "ublock",
    "tile_dim",
    "attributes",
    "grid_transpose",
    "gradient_op",
    "overlay_size",
    "input_buf_min_size_tiles",
    "input_dram_io_buf_size_tiles",
    "forked_dram_inputs",
    "input_N_tms",
    "input_N_pad",
    "input_N_unpad",
];

/// What an `input_...` op key is: its input index and which per-input setting.
enum InputKey {
    Tms(usize),
    Pad(usize),
    Unpad(usize),
}

fn input_key(key: &str) -> Option<InputKey> {
    let rest = key.strip_prefix("input_")?;
    let (digits, which) = rest.split_once('_')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let index: usize = digits.parse().ok()?;
    match which {
        "tms" => Some(InputKey::Tms(index)),
        "pad" => Some(InputKey::Pad(index)),
        "unpad" => Some(InputKey::Unpad(index)),
        _ => None,
    }
}

fn math_fidelity(reader: &Reader, node: &Node, path: &str) -> R<MathFidelity> {
    match reader.text(node, path)? {
        "LoFi" => Ok(MathFidelity::LoFi),
        "HiFi2" => Ok(MathFidelity::HiFi2),
        "HiFi3" => Ok(MathFidelity::HiFi3),
        "HiFi4" => Ok(MathFidelity::HiFi4),
        other => Err(reader.err(
            node.line,
            path,
            format!("unknown math fidelity `{other}` (expected LoFi, HiFi2, HiFi3 or HiFi4)"),
        )),
    }
}

fn read_op(reader: &Reader, name: &Key, node: &Node, path: &str) -> R<Op> {
    let fields = reader.map(node, path)?;
    let line = name.line;
    let mut op_type = None;
    let mut grid_loc = None;
    let mut grid_size = None;
    let mut inputs = None;
    let mut in_df = None;
    let mut acc_df = None;
    let mut out_df = None;
    let mut intermed_df = None;
    let mut ublock_order = UblockOrder::R;
    let mut buf_size_mb = 0;
    let mut fidelity = None;
    let mut untilize_output = false;
    let mut t = None;
    let mut mblock = None;
    let mut ublock = None;
    let mut tile_dim = TileDim::FULL;
    let mut attributes_node = None;
    let mut grid_transpose = false;
    let mut gradient_op = false;
    let mut overlay_size = None;
    let mut input_buf_min_size_tiles = Vec::new();
    let mut input_dram_io_buf_size_tiles = Vec::new();
    let mut forked_dram_inputs = Vec::new();
    let mut per_input: Vec<(&Key, &Node, InputKey)> = Vec::new();
    for (key, value) in fields {
        let p = child(path, &key.text);
        match key.text.as_str() {
            "type" => op_type = Some(OpTypeName::parse(reader.text(value, &p)?)),
            "grid_loc" => grid_loc = Some(reader.pair(value, &p)?.into()),
            "grid_size" => grid_size = Some(reader.pair(value, &p)?.into()),
            "inputs" => inputs = Some(reader.string_list(value, &p)?),
            "in_df" => {
                let items = reader.seq(value, &p)?;
                let mut dfs = Vec::with_capacity(items.len());
                for (i, n) in items.iter().enumerate() {
                    dfs.push(reader.data_format(n, &item(&p, i))?);
                }
                in_df = Some(dfs);
            }
            "acc_df" => acc_df = Some(reader.data_format(value, &p)?),
            "out_df" => out_df = Some(reader.data_format(value, &p)?),
            "intermed_df" => intermed_df = Some(reader.data_format(value, &p)?),
            "ublock_order" => ublock_order = reader.ublock_order(value, &p)?,
            "buf_size_mb" => buf_size_mb = reader.uint(value, &p)?,
            "math_fidelity" => fidelity = Some(math_fidelity(reader, value, &p)?),
            "untilize_output" => untilize_output = reader.boolean(value, &p)?,
            "t" => t = Some(reader.uint(value, &p)?),
            "mblock" => mblock = Some(reader.pair(value, &p)?.into()),
            "ublock" => ublock = Some(reader.pair(value, &p)?.into()),
            "tile_dim" => tile_dim = reader.tile_dim(value, &p)?,
            "attributes" => attributes_node = Some((value, p)),
            "grid_transpose" => grid_transpose = reader.boolean(value, &p)?,
            "gradient_op" => gradient_op = reader.boolean(value, &p)?,
            "overlay_size" => overlay_size = Some(reader.int(value, &p)?),
            "input_buf_min_size_tiles" => input_buf_min_size_tiles = reader.int_list(value, &p)?,
            "input_dram_io_buf_size_tiles" => {
                input_dram_io_buf_size_tiles = reader.int_list(value, &p)?
            }
            "forked_dram_inputs" => {
                for (i, it) in reader.seq(value, &p)?.iter().enumerate() {
                    let ip = item(&p, i);
                    for (q, o) in reader.map(it, &ip)? {
                        forked_dram_inputs
                            .push((q.text.clone(), reader.string(o, &child(&ip, &q.text))?));
                    }
                }
            }
            other => match input_key(other) {
                Some(k) => per_input.push((key, value, k)),
                None => return Err(reader.unknown_key(key, path, "op", OP_KEYS)),
            },
        }
    }
    let op_type = need(op_type, reader, line, path, "type")?;
    let inputs = need(inputs, reader, line, path, "inputs")?;
    let count = inputs.len();
    // Decision: one in_df for several inputs means every input has that format (a netlist of the
    // upstream corpus writes it so); other counts are checked against the inputs in validation.
    if let Some(dfs) = in_df.as_mut() {
        if let [only] = dfs.as_slice() {
            let only = *only;
            dfs.resize(count.max(1), only);
        }
    }
    let mut input_tms: Vec<Vec<Tm>> = alloc::vec![Vec::new(); count];
    let mut input_pad: Vec<Option<InputPad>> = alloc::vec![None; count];
    let mut input_unpad: Vec<Option<InputUnpad>> = alloc::vec![None; count];
    for (key, value, which) in per_input {
        let p = child(path, &key.text);
        let index = match which {
            InputKey::Tms(i) | InputKey::Pad(i) | InputKey::Unpad(i) => i,
        };
        if index >= count {
            return Err(reader.err(
                key.line,
                &p,
                format!(
                    "`{}` names input {index}, but the op has {}",
                    key.text,
                    crate::message::count(count, "input")
                ),
            ));
        }
        match which {
            InputKey::Tms(i) => input_tms[i] = read_tms(reader, value, &p, TmContext::Op)?,
            InputKey::Pad(i) => {
                let mut pad = InputPad {
                    rt: 0,
                    ct: 0,
                    pad_value: 0.0,
                };
                for (k, v) in reader.map_or_null(value, &p)? {
                    let kp = child(&p, &k.text);
                    match k.text.as_str() {
                        "rt" => pad.rt = reader.uint(v, &kp)?,
                        "ct" => pad.ct = reader.uint(v, &kp)?,
                        "pad_value" => pad.pad_value = reader.float(v, &kp)? as f32,
                        _ => {
                            return Err(reader.unknown_key(
                                k,
                                &p,
                                "padding",
                                &["rt", "ct", "pad_value"],
                            ))
                        }
                    }
                }
                input_pad[i] = Some(pad);
            }
            InputKey::Unpad(i) => {
                let mut unpad = InputUnpad { rt: 0, ct: 0 };
                for (k, v) in reader.map_or_null(value, &p)? {
                    let kp = child(&p, &k.text);
                    match k.text.as_str() {
                        "rt" => unpad.rt = reader.uint(v, &kp)?,
                        "ct" => unpad.ct = reader.uint(v, &kp)?,
                        _ => return Err(reader.unknown_key(k, &p, "unpadding", &["rt", "ct"])),
                    }
                }
                input_unpad[i] = Some(unpad);
            }
        }
    }
    let attributes = match attributes_node {
        Some((n, p)) => read_op_attributes(reader, n, &p, &op_type, count)?,
        None => OpAttributes::default(),
    };
    Ok(Op {
        name: name.text.clone(),
        line,
        grid_loc: if op_type.is(OpType::EthernetDatacopy) {
            grid_loc
        } else {
            Some(need(grid_loc, reader, line, path, "grid_loc")?)
        },
        grid_size: need(grid_size, reader, line, path, "grid_size")?,
        in_df: need(in_df, reader, line, path, "in_df")?,
        acc_df: need(acc_df, reader, line, path, "acc_df")?,
        out_df: need(out_df, reader, line, path, "out_df")?,
        intermed_df: need(intermed_df, reader, line, path, "intermed_df")?,
        ublock_order,
        buf_size_mb,
        math_fidelity: need(fidelity, reader, line, path, "math_fidelity")?,
        untilize_output,
        t: need(t, reader, line, path, "t")?,
        mblock: need(mblock, reader, line, path, "mblock")?,
        ublock: need(ublock, reader, line, path, "ublock")?,
        tile_dim,
        attributes,
        input_tms,
        input_pad,
        input_unpad,
        grid_transpose,
        gradient_op,
        overlay_size,
        input_buf_min_size_tiles,
        input_dram_io_buf_size_tiles,
        forked_dram_inputs,
        op_type,
        inputs,
    })
}

fn reduce_func(reader: &Reader, node: &Node, path: &str) -> R<ReduceFunc> {
    reader.keyword(
        node,
        path,
        "reduce type max, avg or sum",
        &[
            ("max", ReduceFunc::Max),
            ("avg", ReduceFunc::Avg),
            ("sum", ReduceFunc::Sum),
        ],
    )
}

/// `relu_mode`: `min`, `max`, or `none`, upstream's default (None here), which relu treats as
/// `min`.
fn relu_mode(reader: &Reader, node: &Node, path: &str) -> R<Option<ReluMode>> {
    reader.keyword(
        node,
        path,
        "relu_mode min, max or none",
        &[
            ("min", Some(ReluMode::Min)),
            ("max", Some(ReluMode::Max)),
            ("none", None),
        ],
    )
}

fn relu_threshold(reader: &Reader, node: &Node, path: &str) -> R<f32> {
    let v = reader.float(node, path)?;
    // NaN fails the comparison too: a threshold must be a number >= 0.
    if v >= 0.0 {
        Ok(v as f32)
    } else {
        Err(reader.err(
            node.line,
            path,
            format!("relu_threshold must be >= 0.0, found {v}"),
        ))
    }
}

fn probability(reader: &Reader, node: &Node, path: &str) -> R<f32> {
    let v = reader.float(node, path)?;
    if (0.0..=1.0).contains(&v) {
        Ok(v as f32)
    } else {
        Err(reader.err(
            node.line,
            path,
            format!("probability p must be in [0.0, 1.0], found {v}"),
        ))
    }
}

fn read_op_attributes(
    reader: &Reader,
    node: &Node,
    path: &str,
    op_type: &OpTypeName,
    inputs: usize,
) -> R<OpAttributes> {
    let mut a = OpAttributes::default();
    let reduce_like = op_type.is(OpType::Reduce) || op_type.is(OpType::FusedOp);
    for (key, value) in reader.map_or_null(node, path)? {
        let p = child(path, &key.text);
        let k = key.text.as_str();
        match k {
            "m_k" => a.m_k = Some(reader.uint(value, &p)?),
            "u_kt" => a.u_kt = Some(reader.uint(value, &p)?),
            "bias" => a.bias = reader.boolean(value, &p)?,
            "accumulate" => a.accumulate = reader.boolean(value, &p)?,
            "l1_acc" => a.l1_acc = reader.boolean(value, &p)?,
            "requant" => a.requant = reader.boolean(value, &p)?,
            "dequant" => a.dequant = reader.boolean(value, &p)?,
            "dim" if reduce_like => {
                a.dim = Some(reader.dim(value, &p, &[Dim::R, Dim::C, Dim::Z, Dim::Rc])?)
            }
            "type" if reduce_like => a.reduce_type = Some(reduce_func(reader, value, &p)?),
            "z" => a.z = Some(reader.uint(value, &p)?),
            "approximate_mode" => a.approximate_mode = reader.boolean(value, &p)?,
            "vector" => a.vector = Some(reader.dim(value, &p, &[Dim::R, Dim::C, Dim::Rc])?),
            "relu_en" => a.relu_en = reader.boolean(value, &p)?,
            "relu_mode" => {
                a.relu_mode = relu_mode(reader, value, &p)?;
                // Upstream's parser checks the mode when relu_en came earlier in the map.
                if a.relu_en && a.relu_mode.is_none() {
                    return Err(reader.err(
                        value.line,
                        &p,
                        "relu_mode none with relu_en true (the mode must be min or max)",
                    ));
                }
            }
            "relu_threshold" => a.relu_threshold = Some(relu_threshold(reader, value, &p)?),
            "fused_op_id" => a.fused_op_id = Some(reader.string(value, &p)?),
            "kernel_broadcast" | "kernel_broadcast_per_t" => {
                for (ik, iv) in reader.map(value, &p)? {
                    let ip = child(&p, &ik.text);
                    let index = ik
                        .text
                        .split_once('_')
                        .and_then(|(_, n)| n.parse::<u32>().ok())
                        .ok_or_else(|| {
                            reader.err(
                                ik.line,
                                &ip,
                                format!(
                                    "invalid kernel broadcast key `{}` (expected input_N)",
                                    ik.text
                                ),
                            )
                        })?;
                    a.kernel_broadcast.push(KernelBroadcast {
                        input: index,
                        tiles: reader.int(iv, &ip)?,
                        per_t: k == "kernel_broadcast_per_t",
                    });
                }
            }
            "single_tile" => a.single_tile = reader.uint_list(value, &p)?,
            "identity" => a.identity = reader.boolean(value, &p)?,
            "num_sparse_tiles" => a.num_sparse_tiles = Some(reader.int(value, &p)?),
            "num_index_tiles" => a.num_index_tiles = Some(reader.int(value, &p)?),
            "num_columns" => a.num_columns = Some(reader.int(value, &p)?),
            "sparse_tile_ptr_bits" => a.sparse_tile_ptr_bits = Some(reader.int(value, &p)?),
            "sparse_ublock_idx_bits" => a.sparse_ublock_idx_bits = Some(reader.int(value, &p)?),
            "indices_len" => a.indices_len = Some(reader.int(value, &p)?),
            "fracture_factor" => a.fracture_factor = Some(reader.int(value, &p)?),
            "starting_row" => a.starting_row = Some(reader.int(value, &p)?),
            "act_t" => a.act_t = Some(reader.int(value, &p)?),
            "num_nz_strips" => a.num_nz_strips = reader.int_list(value, &p)?,
            "min_buffer_input" => a.min_buffer_input = Some(reader.uint(value, &p)?),
            "p" => a.probability = Some(probability(reader, value, &p)?),
            "seed" => a.seed = Some(reader.int(value, &p)?),
            "slope" => a.slope = Some(reader.float(value, &p)? as f32),
            "exp" => a.exponent = Some(reader.int(value, &p)?),
            "granularity" => {
                a.granularity = Some(reader.keyword(
                    value,
                    &p,
                    "splice granularity t or ublock",
                    &[("t", SpliceMode::T), ("ublock", SpliceMode::Ublock)],
                )?)
            }
            "num_indices" => a.num_indices = Some(reader.uint(value, &p)?),
            "k" => a.k = Some(reader.uint(value, &p)?),
            "kreduce" => a.kreduce = reader.boolean(value, &p)?,
            "sort" => {
                a.sort = Some(reader.keyword(
                    value,
                    &p,
                    "topk sort max or argmax",
                    &[("max", TopkSort::Max), ("argmax", TopkSort::ArgMax)],
                )?)
            }
            "zero_point" => a.zero_point = Some(reader.float(value, &p)? as f32),
            "sfpu_op" => a.sfpu_op = Some(reader.string(value, &p)?),
            "sfpu_execution_thread" => a.sfpu_execution_thread = Some(reader.string(value, &p)?),
            "stoch_rnd_mode" => a.stoch_rnd_mode = Some(reader.string(value, &p)?),
            "srnd_fpu_en" => {
                if reader.boolean(value, &p)? {
                    a.stoch_rnd_mode = Some("fpu".to_string());
                }
            }
            "ingress_channels" => a.ingress_channels = reader.int_list(value, &p)?,
            "egress_channels" => a.egress_channels = reader.int_list(value, &p)?,
            "dest_device" => a.dest_device = Some(reader.int(value, &p)?),
            _ if op_type.is(OpType::Splice) && k.starts_with("input") => {
                let index = k["input".len()..]
                    .parse::<usize>()
                    .ok()
                    .filter(|i| *i < inputs)
                    .ok_or_else(|| {
                        reader.err(
                            key.line,
                            &p,
                            format!(
                                "splice attribute `{k}` does not name one of the op's {}",
                                crate::message::count(inputs, "input")
                            ),
                        )
                    })?;
                let args = reader.seq(value, &p)?;
                let [i, l, s] = args else {
                    return Err(reader.err(
                        value.line,
                        &p,
                        format!(
                            "splice `{k}` needs 3 values [index, length, stride], found {}",
                            args.len()
                        ),
                    ));
                };
                if a.splice.len() < inputs {
                    a.splice.resize(inputs, None);
                }
                a.splice[index] = Some(SpliceInput {
                    index: reader.int(i, &item(&p, 0))?,
                    length: reader.int(l, &item(&p, 1))?,
                    stride: reader.int(s, &item(&p, 2))?,
                });
            }
            _ => a.other.push((key.text.clone(), value_of(value))),
        }
    }
    Ok(a)
}

const PROGRAM_OPCODES: &[&str] = &[
    "param",
    "var",
    "staticvar",
    "loop",
    "endloop",
    "varinst",
    "execute",
    "allocate_queue",
    "deallocate_queue",
];

fn read_programs(
    reader: &Reader,
    node: &Node,
    queue_type: &dyn Fn(&str) -> Option<IoType>,
) -> R<Vec<Program>> {
    let items = reader.seq(node, "programs")?;
    let mut programs = Vec::with_capacity(items.len());
    for (i, it) in items.iter().enumerate() {
        let ip = item("programs", i);
        let entries = reader.map(it, &ip)?;
        let [(name, body)] = entries else {
            return Err(reader.err(
                it.line,
                &ip,
                format!(
                    "each programs entry is a map of one program, found {} keys",
                    entries.len()
                ),
            ));
        };
        let path = child("programs", &name.text);
        let mut instructions = Vec::new();
        for (j, ins) in reader.seq_or_null(body, &path)?.iter().enumerate() {
            let jp = item(&path, j);
            instructions.push(Step {
                line: ins.line,
                instruction: read_instruction(reader, ins, &jp, queue_type)?,
            });
        }
        instructions.push(Step {
            line: 0,
            instruction: Instruction::EndProgram,
        });
        programs.push(Program {
            name: name.text.clone(),
            line: name.line,
            instructions,
        });
    }
    Ok(programs)
}

/// `$name` to `name`; anything else is not a variable.
fn variable_name<'t>(reader: &Reader, node: &'t Node, path: &str) -> R<&'t str> {
    let text = reader.text(node, path)?;
    match text.strip_prefix('$') {
        Some(name) if !name.is_empty() => Ok(name),
        _ => Err(reader.err(
            node.line,
            path,
            format!("expected a variable ($name), found `{text}`"),
        )),
    }
}

/// A variable or an immediate (an integer, or true/false as 1/0).
fn operand(reader: &Reader, node: &Node, path: &str) -> R<Operand> {
    let text = reader.text(node, path)?;
    if let Some(name) = text.strip_prefix('$') {
        if name.is_empty() {
            return Err(reader.err(node.line, path, "expected a variable name after `$`"));
        }
        return Ok(Operand::Var(name.to_string()));
    }
    if let Some(v) = parse_int(text) {
        return Ok(Operand::Imm(v));
    }
    if text.eq_ignore_ascii_case("true") {
        return Ok(Operand::Imm(1));
    }
    if text.eq_ignore_ascii_case("false") {
        return Ok(Operand::Imm(0));
    }
    Err(reader.err(
        node.line,
        path,
        format!("expected a $variable, an integer or true/false, found `{text}`"),
    ))
}

fn var_decls(reader: &Reader, node: &Node, path: &str) -> R<Vec<VarDecl>> {
    match &node.kind {
        Kind::Map(entries) => {
            let mut decls = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let kp = child(path, &k.text);
                let name = match k.text.strip_prefix('$') {
                    Some(n) if !n.is_empty() => n.to_string(),
                    _ => {
                        return Err(reader.err(
                            k.line,
                            &kp,
                            format!("expected a variable ($name), found `{}`", k.text),
                        ))
                    }
                };
                decls.push(VarDecl {
                    name,
                    init: reader.int(v, &kp)?,
                });
            }
            Ok(decls)
        }
        Kind::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| {
                Ok(VarDecl {
                    name: variable_name(reader, n, &item(path, i))?.to_string(),
                    init: 0,
                })
            })
            .collect(),
        _ => Err(reader.expected(node, path, "a list or map of variables")),
    }
}

fn read_instruction(
    reader: &Reader,
    node: &Node,
    path: &str,
    queue_type: &dyn Fn(&str) -> Option<IoType>,
) -> R<Instruction> {
    let (opcode, value, op_line) = match &node.kind {
        Kind::Scalar { text, .. } => {
            if text == "endloop" {
                return Ok(Instruction::EndLoop);
            }
            return Err(reader.err(
                node.line,
                path,
                format!("only `endloop` may be written as a bare instruction, found `{text}`"),
            ));
        }
        Kind::Map(entries) => match entries.as_slice() {
            [(k, v)] => (k.text.as_str(), v, k.line),
            _ => {
                return Err(reader.err(
                    node.line,
                    path,
                    format!(
                        "an instruction is a map with one opcode as key, found {} keys",
                        entries.len()
                    ),
                ))
            }
        },
        Kind::Seq(_) => return Err(reader.expected(node, path, "an instruction")),
    };
    let p = child(path, opcode);
    Ok(match opcode {
        "param" => {
            let items = reader.seq(value, &p)?;
            let mut names = Vec::with_capacity(items.len());
            for (i, n) in items.iter().enumerate() {
                names.push(variable_name(reader, n, &item(&p, i))?.to_string());
            }
            Instruction::Param(names)
        }
        "var" => Instruction::Var(var_decls(reader, value, &p)?),
        "staticvar" => Instruction::StaticVar(var_decls(reader, value, &p)?),
        "loop" => Instruction::Loop(operand(reader, value, &p)?),
        "endloop" => Instruction::EndLoop,
        "varinst" => {
            let items = reader.seq(value, &p)?;
            let (Some(dest), Some(code)) = (items.first(), items.get(1)) else {
                return Err(reader.err(value.line, &p, "varinst needs at least [$out, opcode]"));
            };
            let dest = variable_name(reader, dest, &item(&p, 0))?.to_string();
            let code_text = reader.text(code, &item(&p, 1))?;
            let op = VarInstOp::from_name(code_text).ok_or_else(|| {
                reader.err(
                    code.line,
                    &item(&p, 1),
                    format!("unknown varinst opcode `{code_text}` (expected set, add, mul, inc or incwrap)"),
                )
            })?;
            let args = items.get(2..).unwrap_or(&[]);
            if args.len() != op.arity() {
                return Err(reader.err(
                    value.line,
                    &p,
                    format!(
                        "varinst {} takes {}, found {}",
                        op.name(),
                        crate::message::count(op.arity(), "argument"),
                        args.len()
                    ),
                ));
            }
            let args = args
                .iter()
                .enumerate()
                .map(|(i, n)| operand(reader, n, &item(&p, i + 2)))
                .collect::<R<Vec<_>>>()?;
            Instruction::VarInst { dest, op, args }
        }
        "execute" => Instruction::Execute(read_execute(reader, value, &p, queue_type)?),
        "allocate_queue" | "deallocate_queue" => {
            let queues = reader.string_list(value, &p)?;
            if opcode == "allocate_queue" {
                Instruction::AllocateQueue(queues)
            } else {
                Instruction::DeallocateQueue(queues)
            }
        }
        _ => {
            return Err(reader.err(
                op_line,
                &p,
                format!(
                    "unknown instruction `{opcode}` (expected one of {})",
                    one_of(PROGRAM_OPCODES)
                ),
            ))
        }
    })
}

const QUEUE_SETTING_KEYS: &[&str] = &[
    "prologue",
    "epilogue",
    "zero",
    "rd_ptr_local",
    "rd_ptr_global",
    "wr_ptr_global",
    "rd_ptr_autoinc",
    "global_rdptr_autoinc",
    "global_wrptr_autoinc",
    "read_only",
];

fn read_execute(
    reader: &Reader,
    node: &Node,
    path: &str,
    queue_type: &dyn Fn(&str) -> Option<IoType>,
) -> R<Execute> {
    let mut graph_name = None;
    let mut queue_settings = Vec::new();
    for (key, value) in reader.map(node, path)? {
        let p = child(path, &key.text);
        match key.text.as_str() {
            "graph_name" => graph_name = Some(reader.string(value, &p)?),
            "queue_settings" => {
                for (q, settings) in reader.map_or_null(value, &p)? {
                    let qp = child(&p, &q.text);
                    let mut s = QueueSetting {
                        name: q.text.clone(),
                        line: q.line,
                        prologue: None,
                        epilogue: None,
                        zero: None,
                        rd_ptr_local: None,
                        rd_ptr_global: None,
                        wr_ptr_global: None,
                        rd_ptr_autoinc: Operand::Imm(0),
                        global_rdptr_autoinc: Operand::Imm(0),
                        global_wrptr_autoinc: Operand::Imm(0),
                        read_only: None,
                    };
                    let mut rd_ptr_autoinc = None;
                    let mut global_rdptr_autoinc = None;
                    let mut global_wrptr_autoinc = None;
                    for (k, v) in reader.map_or_null(settings, &qp)? {
                        let kp = child(&qp, &k.text);
                        let o = Some(operand(reader, v, &kp)?);
                        match k.text.as_str() {
                            "prologue" => s.prologue = o,
                            "epilogue" => s.epilogue = o,
                            "zero" => s.zero = o,
                            "rd_ptr_local" => s.rd_ptr_local = o,
                            "rd_ptr_global" => s.rd_ptr_global = o,
                            "wr_ptr_global" => s.wr_ptr_global = o,
                            "rd_ptr_autoinc" => rd_ptr_autoinc = o,
                            "global_rdptr_autoinc" => global_rdptr_autoinc = o,
                            "global_wrptr_autoinc" => global_wrptr_autoinc = o,
                            "read_only" => s.read_only = o,
                            _ => {
                                return Err(reader.unknown_key(
                                    k,
                                    &qp,
                                    "queue setting",
                                    QUEUE_SETTING_KEYS,
                                ))
                            }
                        }
                    }
                    // Upstream's defaults: a queue advances its local read pointer and its
                    // write pointer by one per run; a ram moves nothing on its own. An unknown
                    // queue is reported by validation.
                    let default = match queue_type(&q.text) {
                        Some(IoType::Ram) => [0, 0, 0],
                        _ => [1, 0, 1],
                    };
                    s.rd_ptr_autoinc = rd_ptr_autoinc.unwrap_or(Operand::Imm(default[0]));
                    s.global_rdptr_autoinc =
                        global_rdptr_autoinc.unwrap_or(Operand::Imm(default[1]));
                    s.global_wrptr_autoinc =
                        global_wrptr_autoinc.unwrap_or(Operand::Imm(default[2]));
                    queue_settings.push(s);
                }
            }
            _ => {
                return Err(reader.unknown_key(
                    key,
                    path,
                    "execute",
                    &["graph_name", "queue_settings"],
                ))
            }
        }
    }
    Ok(Execute {
        graph_name: need(graph_name, reader, node.line, path, "graph_name")?,
        queue_settings,
    })
}

fn read_fused_ops(reader: &Reader, node: &Node) -> R<Vec<FusedOp>> {
    let entries = reader.map_or_null(node, "fused_ops")?;
    let mut fused = Vec::with_capacity(entries.len());
    for (id, body) in entries {
        let path = child("fused_ops", &id.text);
        let mut inputs = None;
        let mut intermediates = None;
        let mut custom_kernel_path = None;
        let mut schedules = Vec::new();
        for (key, value) in reader.map(body, &path)? {
            let p = child(&path, &key.text);
            match key.text.as_str() {
                "inputs" => inputs = Some(reader.uint(value, &p)?),
                "intermediates" => intermediates = Some(reader.uint(value, &p)?),
                "custom_kernel_path" => custom_kernel_path = Some(reader.string(value, &p)?),
                "schedules" => {
                    for (s, sched) in reader.seq(value, &p)?.iter().enumerate() {
                        let sp = item(&p, s);
                        let mut ops = Vec::new();
                        for (o, entry) in reader.seq_or_null(sched, &sp)?.iter().enumerate() {
                            let op_path = item(&sp, o);
                            let fields = reader.map(entry, &op_path)?;
                            let [(name, fields)] = fields else {
                                return Err(reader.err(
                                    entry.line,
                                    &op_path,
                                    format!(
                                        "each scheduled op is a map of its name to its fields, found {} keys",
                                        fields.len()
                                    ),
                                ));
                            };
                            ops.push(read_scheduled_op(
                                reader,
                                name,
                                fields,
                                &child(&sp, &name.text),
                            )?);
                        }
                        schedules.push(Schedule { ops });
                    }
                }
                // Upstream skips other fused-op keys without complaint.
                _ => {}
            }
        }
        fused.push(FusedOp {
            id: id.text.clone(),
            line: id.line,
            inputs: need(inputs, reader, id.line, &path, "inputs")?,
            intermediates: need(intermediates, reader, id.line, &path, "intermediates")?,
            custom_kernel_path,
            schedules,
        });
    }
    Ok(fused)
}

const SCHEDULED_OP_KEYS: &[&str] = &[
    "type",
    "inputs",
    "output",
    "mblock",
    "ublock",
    "pop",
    "pop_last",
    "zero_point",
    "input_N_tms",
    "attributes",
];

fn fused_operand(reader: &Reader, node: &Node, path: &str) -> R<FusedOperand> {
    let text = reader.text(node, path)?;
    FusedOperand::from_name(text).ok_or_else(|| {
        reader.err(
            node.line,
            path,
            format!("expected inputN, intermedK or dest, found `{text}`"),
        )
    })
}

fn read_scheduled_op(reader: &Reader, name: &Key, node: &Node, path: &str) -> R<ScheduledOp> {
    let line = name.line;
    let mut op_type = None;
    let mut inputs = None;
    let mut output = None;
    let mut mblock = None;
    let mut ublock = None;
    let mut pop = Vec::new();
    let mut pop_last = Vec::new();
    let mut zero_point = None;
    let mut tms: Vec<(&Key, &Node, usize)> = Vec::new();
    let mut attributes_node = None;
    for (key, value) in reader.map(node, path)? {
        let p = child(path, &key.text);
        match key.text.as_str() {
            "type" => op_type = Some(OpTypeName::parse(reader.text(value, &p)?)),
            "inputs" => {
                let items = reader.seq(value, &p)?;
                let mut list = Vec::with_capacity(items.len());
                for (i, n) in items.iter().enumerate() {
                    list.push(fused_operand(reader, n, &item(&p, i))?);
                }
                inputs = Some(list);
            }
            "output" => {
                let text = reader.text(value, &p)?;
                output = Some(FusedOutput::from_name(text).ok_or_else(|| {
                    reader.err(
                        value.line,
                        &p,
                        format!("expected intermedK, dest or output, found `{text}`"),
                    )
                })?);
            }
            "mblock" => mblock = Some(reader.pair(value, &p)?.into()),
            "ublock" => ublock = Some(reader.pair(value, &p)?.into()),
            "pop" | "pop_last" => {
                let items = reader.seq_or_null(value, &p)?;
                let mut list: Vec<FusedOperand> = Vec::with_capacity(items.len());
                for (i, n) in items.iter().enumerate() {
                    let ip = item(&p, i);
                    let b = fused_operand(reader, n, &ip)?;
                    if list.contains(&b) {
                        return Err(reader.err(
                            n.line,
                            &ip,
                            format!("{b} is listed twice in {}", key.text),
                        ));
                    }
                    if key.text == "pop_last" && !matches!(b, FusedOperand::Intermed(_)) {
                        return Err(reader.err(
                            n.line,
                            &ip,
                            format!(
                                "pop_last entry {b} must be an intermediate buffer (intermedK)"
                            ),
                        ));
                    }
                    list.push(b);
                }
                if key.text == "pop" {
                    pop = list;
                } else {
                    pop_last = list;
                }
            }
            "zero_point" => zero_point = Some(reader.float(value, &p)? as f32),
            "attributes" => attributes_node = Some((value, p)),
            other => match input_key(other) {
                Some(InputKey::Tms(i)) => tms.push((key, value, i)),
                _ => return Err(reader.unknown_key(key, path, "scheduled op", SCHEDULED_OP_KEYS)),
            },
        }
    }
    let op_type = need(op_type, reader, line, path, "type")?;
    let inputs = need(inputs, reader, line, path, "inputs")?;
    let mut input_tms = alloc::vec![Vec::new(); inputs.len()];
    for (key, value, index) in tms {
        let p = child(path, &key.text);
        let Some(slot) = input_tms.get_mut(index) else {
            return Err(reader.err(
                key.line,
                &p,
                format!(
                    "`{}` names input {index}, but the sub-op has {}",
                    key.text,
                    crate::message::count(inputs.len(), "input")
                ),
            ));
        };
        *slot = read_tms(reader, value, &p, TmContext::FusedOp)?;
    }
    let mut attributes = ScheduledOpAttributes::default();
    if let Some((n, p)) = attributes_node {
        for (key, value) in reader.map_or_null(n, &p)? {
            let kp = child(&p, &key.text);
            let a = &mut attributes;
            match key.text.as_str() {
                "m_k" => a.m_k = Some(reader.uint(value, &kp)?),
                "u_kt" => a.u_kt = Some(reader.uint(value, &kp)?),
                "vector" => a.vector = Some(reader.dim(value, &kp, &[Dim::R, Dim::C, Dim::Rc])?),
                "type" if op_type.is(OpType::Reduce) => a.reduce_type = Some(reduce_func(reader, value, &kp)?),
                "dim" if op_type.is(OpType::Reduce) => {
                    a.dim = Some(reader.dim(value, &kp, &[Dim::R, Dim::C, Dim::Z, Dim::Rc])?)
                }
                "relu_en" => a.relu_en = reader.boolean(value, &kp)?,
                "relu_threshold" => a.relu_threshold = Some(relu_threshold(reader, value, &kp)?),
                "relu_mode" => a.relu_mode = relu_mode(reader, value, &kp)?,
                "p" if op_type.is(OpType::Dropout) => a.probability = Some(probability(reader, value, &kp)?),
                "seed" if op_type.is(OpType::Dropout) => a.seed = Some(reader.int(value, &kp)?),
                "slope" if op_type.is(OpType::Lrelu) => a.slope = Some(reader.float(value, &kp)? as f32),
                "exp" if op_type.is(OpType::Power) => a.exponent = Some(reader.int(value, &kp)?),
                other => {
                    return Err(reader.err(
                        key.line,
                        &kp,
                        format!("attribute `{other}` is not supported on a {op_type} sub-op (expected m_k, u_kt, vector, relu_en, relu_threshold, relu_mode; type/dim on reduce, p/seed on dropout, slope on lrelu, exp on power)"),
                    ))
                }
            }
        }
    }
    Ok(ScheduledOp {
        name: name.text.clone(),
        line,
        op_type,
        inputs,
        output: need(output, reader, line, path, "output")?,
        mblock: need(mblock, reader, line, path, "mblock")?,
        ublock: need(ublock, reader, line, path, "ublock")?,
        pop,
        pop_last,
        zero_point,
        input_tms,
        attributes,
    })
}

fn read_test_config(reader: &Reader, node: &Node) -> R<TestConfig> {
    let path = "test-config";
    let mut config = TestConfig {
        line: node.line,
        test_args: Vec::new(),
        io_config: None,
        comparison: None,
        stimulus: None,
        other: Vec::new(),
    };
    for (key, value) in reader.map(node, path)? {
        let p = child(path, &key.text);
        match key.text.as_str() {
            "test-args" => {
                for (k, v) in reader.map_or_null(value, &p)? {
                    config.test_args.push((k.text.clone(), value_of(v)));
                }
            }
            "io-config" => {
                let mut io = IoConfig::default();
                for (k, v) in reader.map_or_null(value, &p)? {
                    let kp = child(&p, &k.text);
                    match k.text.as_str() {
                        "inputs" => io.inputs = reader.string_list(v, &kp)?,
                        "outputs" => io.outputs = reader.string_list(v, &kp)?,
                        _ => {
                            return Err(reader.unknown_key(
                                k,
                                &p,
                                "io-config",
                                &["inputs", "outputs"],
                            ))
                        }
                    }
                }
                config.io_config = Some(io);
            }
            "comparison-config" => {
                config.comparison = Some(read_comparison(reader, value, &p, true)?)
            }
            "stimulus-config" => config.stimulus = Some(read_stimulus(reader, value, &p, true)?),
            _ => config.other.push((key.text.clone(), value_of(value))),
        }
    }
    Ok(config)
}

/// `[first, last]` written 1-based inclusive, stored 0-based.
fn tile_range(reader: &Reader, node: &Node, path: &str) -> R<[u32; 2]> {
    let [a, b] = reader.pair(node, path)?;
    if a == 0 || b < a || b > 32 {
        return Err(reader.err(
            node.line,
            path,
            format!("expected a 1-based range [first, last] within 1..=32, found [{a}, {b}]"),
        ));
    }
    Ok([a - 1, b - 1])
}

fn read_comparison(
    reader: &Reader,
    node: &Node,
    path: &str,
    allow_overrides: bool,
) -> R<ComparisonConfig> {
    let mut c = ComparisonConfig {
        line: node.line,
        comparison: ComparisonType::Invalid,
        atol: 1e-3,
        rtol: 1e-4,
        check_pct: 1.0,
        check_pcc: 0.999,
        verbosity: Verbosity::Concise,
        method: ComparisonMethod::FlatTensor,
        check_tile_rows_range: [0, 31],
        check_tile_cols_range: [0, 31],
        lhs_header: None,
        rhs_header: None,
        overrides: Vec::new(),
        other: Vec::new(),
    };
    for (key, value) in reader.map_or_null(node, path)? {
        let p = child(path, &key.text);
        match key.text.as_str() {
            "type" => {
                let t = reader.text(value, &p)?;
                c.comparison = match t.to_ascii_lowercase().as_str() {
                    "exact" => ComparisonType::Exact,
                    "allclose" => ComparisonType::AllClose,
                    "allclosehw" => ComparisonType::AllCloseHw,
                    "invalid" => ComparisonType::Invalid,
                    _ => {
                        return Err(reader.err(
                            value.line,
                            &p,
                            format!("unknown comparison type `{t}` (expected Exact, AllClose or AllCloseHw)"),
                        ))
                    }
                };
            }
            "atol" => c.atol = reader.float(value, &p)?,
            "rtol" => c.rtol = reader.float(value, &p)?,
            "check_pct" => c.check_pct = reader.float(value, &p)?,
            "check_pcc" => c.check_pcc = reader.float(value, &p)?,
            "verbosity" => {
                let t = reader.text(value, &p)?;
                c.verbosity = match t.to_ascii_lowercase().as_str() {
                    "concise" => Verbosity::Concise,
                    "allfails" => Verbosity::AllFails,
                    "verbose" => Verbosity::Verbose,
                    _ => {
                        return Err(reader.err(
                            value.line,
                            &p,
                            format!(
                                "unknown verbosity `{t}` (expected Concise, AllFails or Verbose)"
                            ),
                        ))
                    }
                };
            }
            "method" => {
                let t = reader.text(value, &p)?;
                c.method = match t.to_ascii_lowercase().as_str() {
                    "flattensor" => ComparisonMethod::FlatTensor,
                    "tilizedtensor" => ComparisonMethod::TilizedTensor,
                    _ => {
                        return Err(reader.err(
                            value.line,
                            &p,
                            format!("unknown comparison method `{t}` (expected FlatTensor or TilizedTensor)"),
                        ))
                    }
                };
            }
            "check_tile_rows_range" => c.check_tile_rows_range = tile_range(reader, value, &p)?,
            "check_tile_cols_range" => c.check_tile_cols_range = tile_range(reader, value, &p)?,
            "lhs_header" => c.lhs_header = Some(reader.string(value, &p)?),
            "rhs_header" => c.rhs_header = Some(reader.string(value, &p)?),
            "overrides" if allow_overrides => {
                for (k, v) in reader.map_or_null(value, &p)? {
                    let o = read_comparison(reader, v, &child(&p, &k.text), false)?;
                    c.overrides.push((k.text.clone(), o));
                }
            }
            _ => c.other.push((key.text.clone(), value_of(value))),
        }
    }
    Ok(c)
}

fn read_stimulus(
    reader: &Reader,
    node: &Node,
    path: &str,
    allow_overrides: bool,
) -> R<StimulusConfig> {
    let mut s = StimulusConfig {
        line: node.line,
        stimulus: None,
        uniform_lower_bound: None,
        uniform_upper_bound: None,
        normal_mean: None,
        normal_stddev: None,
        constant_value: None,
        debug_tile_id_base: None,
        debug_tile_id_step: None,
        step_start: None,
        step_increment: None,
        set_tile_rows: None,
        set_tile_cols: None,
        other: Vec::new(),
        overrides: Vec::new(),
    };
    for (key, value) in reader.map_or_null(node, path)? {
        let p = child(path, &key.text);
        let number = |slot: &mut Option<f64>| -> R<()> {
            *slot = Some(reader.float(value, &p)?);
            Ok(())
        };
        match key.text.as_str() {
            "type" => {
                let t = reader.text(value, &p)?;
                s.stimulus = Some(match t.to_ascii_lowercase().as_str() {
                    "uniform" => StimulusType::Uniform,
                    "normal" => StimulusType::Normal,
                    "constant" => StimulusType::Constant,
                    "debugtileid" => StimulusType::DebugTileId,
                    "step" => StimulusType::Step,
                    "steprowwise" => StimulusType::StepRowwise,
                    "stepcolumnwise" => StimulusType::StepColumnwise,
                    "sparse" => StimulusType::Sparse,
                    "sparse_encoding" => StimulusType::SparseEncoding,
                    "sparse_encoding_nz_counts" => StimulusType::SparseEncodingNzCounts,
                    _ => {
                        return Err(reader.err(
                            value.line,
                            &p,
                            format!("unknown stimulus type `{t}` (expected Uniform, Normal, Constant, DebugTileId, Step, StepRowwise, StepColumnwise, Sparse, sparse_encoding or sparse_encoding_nz_counts)"),
                        ))
                    }
                });
            }
            "uniform_lower_bound" => number(&mut s.uniform_lower_bound)?,
            "uniform_upper_bound" => number(&mut s.uniform_upper_bound)?,
            "normal_mean" => number(&mut s.normal_mean)?,
            "normal_stddev" => number(&mut s.normal_stddev)?,
            "constant_value" => number(&mut s.constant_value)?,
            "debug_tile_id_base" => number(&mut s.debug_tile_id_base)?,
            "debug_tile_id_step" => number(&mut s.debug_tile_id_step)?,
            "step_start" => number(&mut s.step_start)?,
            "step_increment" => number(&mut s.step_increment)?,
            "set_tile_rows" => s.set_tile_rows = Some(tile_range(reader, value, &p)?),
            "set_tile_cols" => s.set_tile_cols = Some(tile_range(reader, value, &p)?),
            "overrides" if allow_overrides => {
                for (k, v) in reader.map_or_null(value, &p)? {
                    let o = read_stimulus(reader, v, &child(&p, &k.text), false)?;
                    s.overrides.push((k.text.clone(), o));
                }
            }
            _ => s.other.push((key.text.clone(), value_of(value))),
        }
    }
    Ok(s)
}
