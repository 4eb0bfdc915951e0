//! `ttrt info IMAGE [--json]`: what PyBuda's `TTDeviceImage.info()` prints about an image
//! (versions, device name, arch, chip ids, backend device type, grid size, harvested rows,
//! training, ordered input and target shapes), the chip a backend would run the image on (its
//! SoC descriptor: the config's, the image's or the arch's default; worker grid, DRAM, L1,
//! harvested rows), then the netlist's queues and programs. `ttrt info --soc-descriptor FILE`
//! without an image shows a descriptor alone.

use std::process::ExitCode;

use serde_json::{json, Value};
use ttrt::format::Arch;
use ttrt::image::merge::Footprint;
use ttrt::image::{Image, ImageSource};
use ttrt::netlist::{IoType, Netlist, Queue, QueueLocation};

const USAGE: &str = "\
Usage: ttrt info IMAGE [--soc-descriptor FILE] [--harvested-rows MASK] [--json]
       ttrt info --soc-descriptor FILE [--harvested-rows MASK] [--json]
  IMAGE   a .tti archive (tar or zip, as PyBuda writes it) or a netlist .yaml
  --soc-descriptor FILE
          the Buda SoC descriptor of the device (as ttrt_backend_config's
          soc_descriptor); default: the image's, else the arch's default.
          Without IMAGE: show the descriptor alone
  --harvested-rows MASK
          the device's harvested rows (bit i: NOC row i), as the config's;
          default: the image's (device.json harvested_rows)
  --json  print one JSON object instead of text";

pub fn main(args: &[String]) -> ExitCode {
    let mut path = None;
    let mut as_json = false;
    let mut config = ttrt::backend::BackendConfig::default();
    let mut mask_given = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => as_json = true,
            "--soc-descriptor" => match it.next() {
                Some(v) => config.soc_descriptor = Some(v.clone()),
                None => {
                    eprintln!("ttrt info: --soc-descriptor needs a FILE\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "--harvested-rows" => {
                let v = it.next().map(String::as_str).unwrap_or("");
                match crate::harvested_rows_arg(v) {
                    Ok(m) => {
                        config.harvested_rows = m;
                        mask_given = true;
                    }
                    Err(e) => {
                        eprintln!("ttrt info: {e}");
                        return ExitCode::from(2);
                    }
                }
            }
            "--help" | "-h" => {
                outln!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other if other.starts_with('-') => {
                eprintln!("ttrt info: unknown option `{other}`\n{USAGE}");
                return ExitCode::from(2);
            }
            other if path.is_none() => path = Some(other.to_string()),
            other => {
                eprintln!("ttrt info: one image at a time (also given `{other}`)\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(path) = path else {
        if let Some(file) = &config.soc_descriptor {
            return descriptor_alone(file, config.harvested_rows, as_json);
        }
        eprintln!("ttrt info: no image given\n{USAGE}");
        return ExitCode::from(2);
    };
    let image = match Image::open(&path) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("ttrt info: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Without --harvested-rows, the chip the image was compiled for.
    if !mask_given {
        config.harvested_rows = image.harvested_rows();
    }
    let chip = match Chip::of(&image, &config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ttrt info: {e}");
            return ExitCode::FAILURE;
        }
    };
    if as_json {
        let mut v = summary(&image);
        v["soc"] = chip.json();
        if let Some(f) = Footprint::of(image.netlist(), image.arch()) {
            v["memory_footprint"] = f.to_value();
        }
        outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        out!("{}", text(&image, &chip));
        if let Some(f) = Footprint::of(image.netlist(), image.arch()) {
            out!("\n{}", f.report());
        }
    }
    ExitCode::SUCCESS
}

/// The chip a backend would run an image on, and its descriptor when one is given.
struct Chip {
    geometry: ttrt::hal::ChipGeometry,
    source: ttrt::backend::SocSource,
    descriptor: Option<ttrt::hal::soc::SocDescriptor>,
}

impl Chip {
    fn of(image: &Image, config: &ttrt::backend::BackendConfig) -> Result<Chip, String> {
        use ttrt::backend::SocSource;
        let arch = image.arch();
        let (geometry, source) = ttrt::backend::chip_geometry(arch, config, image.soc_descriptor())
            .map_err(|e| e.to_string())?;
        let descriptor = match &source {
            SocSource::ArchDefault => None,
            SocSource::Config(p) => ttrt::hal::soc::read_file(p).ok(),
            SocSource::Image => image.soc_descriptor().and_then(|t| {
                ttrt::hal::soc::SocDescriptor::parse(t, ttrt::image::SOC_DESCRIPTOR_MEMBER).ok()
            }),
        };
        Ok(Chip {
            geometry,
            source,
            descriptor,
        })
    }

    fn source(&self) -> String {
        use ttrt::backend::SocSource;
        match &self.source {
            SocSource::ArchDefault => "arch default".into(),
            SocSource::Config(p) => format!("{p} (--soc-descriptor)"),
            SocSource::Image => format!("{} (in the image)", ttrt::image::SOC_DESCRIPTOR_MEMBER),
        }
    }

    fn text(&self, s: &mut String) {
        use std::fmt::Write;
        let g = &self.geometry;
        let _ = writeln!(s, "SoC Descriptor...");
        let _ = writeln!(s, "- source: {}", self.source());
        if let Some(d) = &self.descriptor {
            let _ = writeln!(s, "- arch_name: {}", d.arch.name());
            let _ = writeln!(s, "- NOC grid: {}x{} (x, y)", d.grid.0, d.grid.1);
            let _ = writeln!(s, "- ethernet cores: {}", d.eth.len());
        } else {
            let _ = writeln!(s, "- arch: {}", g.arch.name());
        }
        let _ = writeln!(
            s,
            "- worker grid: [{}, {}] (rows, columns)",
            g.worker_grid.1, g.worker_grid.0
        );
        let _ = writeln!(
            s,
            "- DRAM: {} channels x {} B",
            g.dram_channels, g.dram_channel_size
        );
        let _ = writeln!(s, "- L1: {} B per worker", g.l1_size);
        let _ = writeln!(
            s,
            "- harvested rows: {} (rows {})",
            g.harvested_rows,
            ttrt::hal::soc::Rows(g.harvested_rows)
        );
    }

    fn json(&self) -> Value {
        let g = &self.geometry;
        let rows: Vec<u32> = (0..64).filter(|r| g.harvested_rows >> r & 1 == 1).collect();
        let mut v = json!({
            "source": match &self.source {
                ttrt::backend::SocSource::ArchDefault => json!("arch default"),
                ttrt::backend::SocSource::Config(p) => json!({"file": p}),
                ttrt::backend::SocSource::Image => json!({"member": ttrt::image::SOC_DESCRIPTOR_MEMBER}),
            },
            "arch": g.arch.name(),
            "worker_grid": [g.worker_grid.1, g.worker_grid.0],
            "dram_channels": g.dram_channels,
            "dram_channel_size": g.dram_channel_size,
            "l1_size": g.l1_size,
            "harvested_rows_mask": g.harvested_rows,
            "harvested_rows": rows,
        });
        if let Some(d) = &self.descriptor {
            v["arch_name"] = json!(d.arch.name());
            v["noc_grid"] = json!([d.grid.0, d.grid.1]);
            v["ethernet_cores"] = json!(d.eth.len());
        }
        v
    }
}

/// `ttrt info --soc-descriptor FILE`: the descriptor and the chip it describes.
fn descriptor_alone(file: &str, mask: u64, as_json: bool) -> ExitCode {
    let d = match ttrt::hal::soc::read_file(file) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("ttrt info: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(arch) = d.arch.arch() else {
        eprintln!(
            "ttrt info: {file}: describes a {} chip, which ttrt does not simulate",
            d.arch.name()
        );
        return ExitCode::FAILURE;
    };
    let geometry = match ttrt::hal::soc::geometry_for(arch, Some((&d, file)), mask) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("ttrt info: {e}");
            return ExitCode::FAILURE;
        }
    };
    let chip = Chip {
        geometry,
        source: ttrt::backend::SocSource::Config(file.to_string()),
        descriptor: Some(d),
    };
    if as_json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&chip.json()).unwrap_or_default()
        );
    } else {
        let mut s = String::new();
        chip.text(&mut s);
        out!("{s}");
    }
    ExitCode::SUCCESS
}

/// `[t, rows, cols]` of one entry of `q` as a host tensor (notes/buda-backend.md, "Queue
/// descriptor").
fn entry_shape(q: &Queue, arch: Arch) -> [usize; 3] {
    let [_, t, rows, cols] = q.layout(arch).host_shape(1);
    [t, rows, cols]
}

fn io_type(q: &Queue) -> &'static str {
    match q.io_type {
        IoType::Queue => "queue",
        IoType::Ram => "ram",
    }
}

fn location(q: &Queue) -> &'static str {
    match q.loc {
        QueueLocation::Dram => "dram",
        QueueLocation::Host => "host",
    }
}

fn source_name(s: ImageSource) -> &'static str {
    match s {
        ImageSource::TarArchive => "TTI archive (tar)",
        ImageSource::ZipArchive => "TTI archive (zip)",
        ImageSource::Netlist => "netlist",
    }
}

fn shapes(v: &[Vec<usize>]) -> String {
    format!("{v:?}")
}

/// `ordered_target_shapes`, which only training images fill (kept among device.json's
/// untyped keys).
fn target_shapes(g: &ttrt::image::device_json::CompiledGraphState) -> String {
    match g.extra.get("ordered_target_shapes") {
        Some(v) => v.to_string(),
        None => "[]".into(),
    }
}

fn text(image: &Image, chip: &Chip) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Image: {} ({})",
        image.file(),
        source_name(image.source())
    );
    if let Some(d) = image.device_json() {
        let g = &d.compiled_graph_state;
        let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "None".into());
        let _ = writeln!(s, "Image Info...");
        let _ = writeln!(s, "- Version Info:");
        let _ = writeln!(s, "    - pybuda_version: {}", opt(&d.pybuda_pip_version_id));
        let _ = writeln!(s, "    - pybuda_commit: {}", opt(&d.pybuda_commit_hash));
        let _ = writeln!(
            s,
            "    - buda_backend_commit: {}",
            opt(&d.budabackend_commit_hash)
        );
        let _ = writeln!(s, "- Device Name: {}", d.device_image_name);
        let _ = writeln!(s);
        let _ = writeln!(s, "Device Info...");
        let _ = writeln!(s, "- arch: {}", d.arch.name());
        let _ = writeln!(s, "- chip_ids: {:?}", d.chip_ids);
        let _ = writeln!(s, "- backend device type: {}", d.devtype);
        match d.grid_size {
            Some(g) => {
                let _ = writeln!(s, "- grid size: {:?}", g);
            }
            None => {
                let _ = writeln!(s, "- grid size: None");
            }
        }
        if d.harvested_rows.is_empty() {
            let _ = writeln!(s, "- harvested rows: None");
        } else {
            let _ = writeln!(s, "- harvested rows: {:?}", d.harvested_rows);
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "Compilation Graph State...");
        let _ = writeln!(
            s,
            "- training: {}",
            if d.training { "True" } else { "False" }
        );
        let _ = writeln!(
            s,
            "- ordered input shapes: {}",
            shapes(&g.ordered_input_shapes)
        );
        let _ = writeln!(s, "- ordered targets shapes: {}", target_shapes(g));
        let _ = writeln!(s);
    } else {
        let archs: Vec<&str> = image
            .netlist()
            .devices
            .arch
            .iter()
            .map(|a| a.name())
            .collect();
        let _ = writeln!(
            s,
            "- arch: {} (from the netlist's devices)",
            archs.join(", ")
        );
    }
    chip.text(&mut s);
    let _ = writeln!(s);
    let _ = writeln!(s, "Inputs: {}", image.input_names().join(", "));
    let _ = writeln!(s, "Outputs: {}", image.output_names().join(", "));
    let _ = writeln!(s);
    queues_text(&mut s, image.netlist(), image.arch());
    let _ = writeln!(s);
    let _ = writeln!(s, "Programs:");
    for p in image.netlist().programs() {
        let params: Vec<String> = p.params().map(|n| format!("${n}")).collect();
        let _ = writeln!(
            s,
            "  {} (params: {})",
            p.name,
            if params.is_empty() {
                "none".to_string()
            } else {
                params.join(", ")
            }
        );
    }
    s
}

fn queues_text(s: &mut String, n: &Netlist, arch: Arch) {
    use std::fmt::Write;
    let _ = writeln!(s, "Queues:");
    let width = n
        .queues()
        .iter()
        .map(|q| q.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        s,
        "  {:width$}  {:5}  {:4}  {:>18}  {:10}  {:>7}  input",
        "name", "type", "loc", "shape [t,r,c]", "format", "entries"
    );
    for q in n.queues() {
        let [t, r, c] = entry_shape(q, arch);
        let _ = writeln!(
            s,
            "  {:width$}  {:5}  {:4}  {:>18}  {:10}  {:>7}  {}",
            q.name,
            io_type(q),
            location(q),
            format!("[{t},{r},{c}]"),
            q.df.name(),
            q.entries,
            q.input
        );
    }
}

fn summary(image: &Image) -> Value {
    let n = image.netlist();
    let arch = image.arch();
    let queues: Vec<Value> = n
        .queues()
        .iter()
        .map(|q| {
            let [t, r, c] = entry_shape(q, arch);
            json!({
                "name": q.name,
                "input": q.input,
                "type": io_type(q),
                "location": location(q),
                "shape": [t, r, c],
                "format": q.df.name(),
                "entries": q.entries,
            })
        })
        .collect();
    let programs: Vec<Value> = n
        .programs()
        .iter()
        .map(|p| {
            let params: Vec<String> = p.params().map(|n| format!("${n}")).collect();
            json!({"name": p.name, "params": params})
        })
        .collect();
    let mut v = json!({
        "file": image.file(),
        "source": source_name(image.source()),
        "arch": image.arch().name(),
        "inputs": image.input_names(),
        "outputs": image.output_names(),
        "queues": queues,
        "programs": programs,
    });
    if let Some(d) = image.device_json() {
        let g = &d.compiled_graph_state;
        v["version_info"] = json!({
            "pybuda_version": d.pybuda_pip_version_id,
            "pybuda_commit": d.pybuda_commit_hash,
            "buda_backend_commit": d.budabackend_commit_hash,
        });
        v["device_name"] = json!(d.device_image_name);
        v["chip_ids"] = json!(d.chip_ids);
        v["backend_device_type"] = json!(d.devtype);
        v["grid_size"] = json!(d.grid_size);
        v["harvested_rows"] = json!(d.harvested_rows);
        v["training"] = json!(d.training);
        v["ordered_input_shapes"] = json!(g.ordered_input_shapes);
        v["ordered_target_shapes"] = g
            .extra
            .get("ordered_target_shapes")
            .cloned()
            .unwrap_or_else(|| json!([]));
        v["constants"] = json!(g.ordered_constant_node_names);
        v["parameters"] = json!(g.ordered_parameter_node_names);
    }
    v
}
