//! Dual-view rams (`alias`): two rams over one memory, and what the backend refuses about
//! sharing DRAM. Expected values follow golden's tt_ram (an entry of the view with fewer
//! entries is consecutive entries of the other, concatenated along t), worked out by hand.

use ttrt::backend::{Backend, BackendConfig, BackendErrorKind};
use ttrt::format::{DataFormat, HostTensor};
use ttrt::netlist;

/// `writer` (4 entries, t 1) and `reader` (2 entries, t 2, alias of writer) at one address.
/// Graph `w` copies q0 into writer at $wr; graph `r` copies reader (read_only) into `out`;
/// graph `both` does both in one run. Float32 queues on Grayskull: values pass unchanged.
fn text(reader_line: &str) -> String {
    format!(
        r#"
devices:
  arch: grayskull
queues:
  q0:     {{type: queue, input: HOST, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x10000000]]}}
  writer: {{type: ram, input: w_copy, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x11000000]]}}
  {reader_line}
  out:    {{type: queue, input: r_copy, entries: 2, grid_size: [1, 1], t: 2, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x12000000]]}}
  out1:   {{type: queue, input: b_read, entries: 2, grid_size: [1, 1], t: 4, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x13000000]]}}
  writer1: {{type: ram, input: b_write, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x14000000]]}}
  reader1: {{type: ram, input: HOST, alias: writer1, entries: 1, grid_size: [1, 1], t: 4, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x14000000]]}}
graphs:
  w:
    target_device: 0
    input_count: 1
    w_copy: {{type: datacopy, grid_loc: [0, 0], grid_size: [1, 1], inputs: [q0], in_df: [Float32], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}}
  r:
    target_device: 0
    input_count: 1
    r_copy: {{type: datacopy, grid_loc: [0, 0], grid_size: [1, 1], inputs: [reader], in_df: [Float32], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, t: 2, mblock: [1, 1], ublock: [1, 1]}}
  both:
    target_device: 0
    input_count: 1
    b_write: {{type: datacopy, grid_loc: [0, 0], grid_size: [1, 1], inputs: [q0], in_df: [Float32], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}}
    b_read: {{type: datacopy, grid_loc: [0, 1], grid_size: [1, 1], inputs: [reader1], in_df: [Float32], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, t: 4, mblock: [1, 1], ublock: [1, 1]}}
programs:
  - write:
      - param: [$wr]
      - var: {{$c0: 0}}
      - execute: {{graph_name: w, queue_settings: {{q0: {{prologue: false, epilogue: false, zero: false, rd_ptr_global: $c0, rd_ptr_local: $c0}}, writer: {{prologue: false, epilogue: false, zero: false, wr_ptr_global: $wr, rd_ptr_global: $c0}}}}}}
  - read:
      - var: {{$c0: 0, $c1: 1}}
      - execute: {{graph_name: r, queue_settings: {{reader: {{prologue: false, epilogue: false, zero: false, read_only: true, wr_ptr_global: $c1, rd_ptr_global: $c1}}}}}}
  - both:
      - var: {{$c0: 0, $c2: 2}}
      - execute: {{graph_name: both, queue_settings: {{q0: {{prologue: false, epilogue: false, zero: false, rd_ptr_global: $c0, rd_ptr_local: $c0}}, writer1: {{prologue: false, epilogue: false, zero: false, wr_ptr_global: $c2, rd_ptr_global: $c0}}, reader1: {{prologue: false, epilogue: false, zero: false, read_only: true, rd_ptr_global: $c0, wr_ptr_global: $c0}}}}}}
"#
    )
}

const READER: &str = "reader: {type: ram, input: HOST, alias: writer, entries: 2, grid_size: [1, 1], t: 2, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x11000000]]}";

fn backend(reader_line: &str) -> Backend {
    let n = netlist::parse(&text(reader_line), "views.yaml").unwrap();
    let be = Backend::from_netlist(n, &BackendConfig::default()).unwrap();
    be.initialize().unwrap();
    be
}

/// One tile-sized entry per slice, every value of slice k equal to `f(k)`.
fn push(be: &Backend, q: &str, t: usize, ptr: i32, f: impl Fn(usize) -> f32) {
    let data: Vec<u8> = (0..t * 1024)
        .flat_map(|i| f(i / 1024).to_le_bytes())
        .collect();
    let h = HostTensor::contiguous(&data, DataFormat::Float32, [1, t, 32, 32]);
    be.push_input(q, &h, true, 0, ptr).unwrap();
}

/// The value of every slice of the entry, checking each slice is constant.
fn slices(be: &Backend, q: &str, ptr: i32) -> Vec<f32> {
    let o = be.get_output(q, true, 0, ptr).unwrap();
    let v: Vec<f32> = o
        .data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    v.chunks_exact(1024)
        .map(|s| {
            assert!(
                s.iter().all(|x| *x == s[0]),
                "{q}[{ptr}] slice not constant"
            );
            s[0]
        })
        .collect()
}

#[test]
fn the_views_are_one_memory_entry_groups_along_t() {
    let be = backend(READER);
    for k in 0..4 {
        push(&be, "writer", 1, k, |_| 10.0 + k as f32);
    }
    // Reader entry k is writer entries 2k and 2k+1, one t slice each.
    assert_eq!(slices(&be, "reader", 0), [10.0, 11.0]);
    assert_eq!(slices(&be, "reader", 1), [12.0, 13.0]);
    push(&be, "reader", 2, 1, |s| 20.0 + s as f32);
    let all: Vec<f32> = (0..4).flat_map(|k| slices(&be, "writer", k)).collect();
    assert_eq!(all, [10.0, 11.0, 20.0, 21.0]);
    be.finish().unwrap();
}

#[test]
fn a_graph_writing_one_view_is_seen_through_the_other() {
    let be = backend(READER);
    push(&be, "reader", 2, 0, |_| 0.0);
    push(&be, "reader", 2, 1, |_| 0.0);
    push(&be, "q0", 1, -1, |_| 7.5);
    be.run_program("write", &[("$wr", "2")]).unwrap();
    assert_eq!(slices(&be, "writer", 2), [7.5]);
    // `read` copies reader entry 1 (writer entries 2 and 3).
    be.run_program("read", &[]).unwrap();
    assert_eq!(slices(&be, "out", -1), [7.5, 0.0]);
    // The read_only view ignored its wr_ptr_global (1): a host push at its write pointer
    // lands in entry 0, writer entries 0 and 1.
    push(&be, "reader", 2, -1, |s| 5.0 + s as f32);
    let all: Vec<f32> = (0..4).flat_map(|k| slices(&be, "writer", k)).collect();
    assert_eq!(all, [5.0, 6.0, 7.5, 0.0]);
    be.finish().unwrap();
}

#[test]
fn in_one_run_the_read_view_gives_the_memory_as_the_run_found_it() {
    // Graph `both` writes q0's entry into writer1 slot 2 and reads reader1 (all of writer1)
    // in the same run: golden visits the host-fed reader view first, before the writer op.
    let be = backend(READER);
    push(&be, "reader1", 4, 0, |s| 1.0 + s as f32);
    push(&be, "q0", 1, -1, |_| 9.0);
    be.run_program("both", &[]).unwrap();
    assert_eq!(slices(&be, "out1", -1), [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(slices(&be, "reader1", 0), [1.0, 2.0, 9.0, 4.0]);
    be.finish().unwrap();
}

#[test]
fn views_must_differ_only_in_t_and_entries() {
    let differ = "`reader` aliases `writer` but their grid, blocks, ublock_order, df, tile_dim or layout differ";
    let bad_df = READER.replace("df: Float32", "df: Float16_b");
    let e = netlist::parse(&text(&bad_df), "views.yaml").unwrap_err();
    assert!(e.to_string().contains(differ), "{e}");
    // Same volume, other blocks: 2 tiles of one slice against 1 tile of 2 slices.
    let bad_blocks = READER
        .replace(
            "mblock: [1, 1], ublock: [1, 1], df",
            "mblock: [2, 1], ublock: [1, 1], df",
        )
        .replace("t: 2", "t: 1");
    let e = netlist::parse(&text(&bad_blocks), "views.yaml").unwrap_err();
    assert!(e.to_string().contains(differ), "{e}");
    // 4 entries of t 3 against 3 entries of t 4: same volume, entries do not divide.
    let text = text(
        &READER
            .replace("entries: 2", "entries: 3")
            .replace("t: 2", "t: 4"),
    )
    .replace(
        "writer: {type: ram, input: w_copy, entries: 4, grid_size: [1, 1], t: 1",
        "writer: {type: ram, input: w_copy, entries: 4, grid_size: [1, 1], t: 3",
    );
    let e = netlist::parse(&text, "views.yaml").unwrap_err();
    assert!(
        e.to_string()
            .contains("`reader` has 3 entries and `writer` 4: the entries of views of one ram must divide each other"),
        "{e}"
    );
}

#[test]
fn rams_read_at_their_global_read_pointer_each_run() {
    // input_count 2 with global_rdptr_autoinc 1: the runs read reader slots 0 and 1.
    let t = r#"
devices:
  arch: grayskull
queues:
  ram: {type: ram, input: HOST, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x10000000]]}
  out: {type: queue, input: copy, entries: 2, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x11000000]]}
graphs:
  g:
    target_device: 0
    input_count: 2
    copy: {type: datacopy, grid_loc: [0, 0], grid_size: [1, 1], inputs: [ram], in_df: [Float32], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}
programs:
  - p:
      - var: {$c1: 1}
      - execute: {graph_name: g, queue_settings: {ram: {prologue: false, epilogue: false, zero: false, rd_ptr_global: $c1, wr_ptr_global: $c1, global_rdptr_autoinc: 1}}}
"#;
    let be = Backend::from_netlist(
        netlist::parse(t, "ram.yaml").unwrap(),
        &BackendConfig::default(),
    )
    .unwrap();
    be.initialize().unwrap();
    for k in 0..4 {
        push(&be, "ram", 1, k, |_| k as f32);
    }
    be.run_program("p", &[]).unwrap();
    assert_eq!(slices(&be, "out", -1), [1.0]);
    be.pop_output("out", true, 0).unwrap();
    assert_eq!(slices(&be, "out", -1), [2.0]);
    be.finish().unwrap();
}

#[test]
fn queues_sharing_dram_are_refused_unless_views_or_dynamic() {
    // `reader` without `alias`: a second queue over writer's bytes.
    let plain = READER.replace("alias: writer, ", "");
    let n = netlist::parse(&text(&plain), "views.yaml").unwrap();
    let be = Backend::from_netlist(n, &BackendConfig::default()).unwrap();
    let e = be.initialize().unwrap_err();
    assert_eq!(e.kind, BackendErrorKind::InvalidImage);
    assert!(
        e.message.starts_with(
            "netlist views.yaml: queue 'writer' (line 6) buffer 0 at [0, 0x11000000..0x110040a0) overlaps queue 'reader' (line 7) buffer 0 at [0, 0x11000000..0x110040a0)"
        ),
        "{}",
        e.message
    );
    // A buffer ending inside the next one overlaps too; one ending where it starts does not.
    // writer: 32-byte header + 4 entries of 4128 bytes = 0x40a0 bytes.
    let touching = plain.replace("0x11000000", "0x110040a0");
    let n = netlist::parse(&text(&touching), "views.yaml").unwrap();
    Backend::from_netlist(n, &BackendConfig::default())
        .unwrap()
        .initialize()
        .unwrap();
    let inside = plain.replace("0x11000000", "0x11004080");
    let n = netlist::parse(&text(&inside), "views.yaml").unwrap();
    let e = Backend::from_netlist(n, &BackendConfig::default())
        .unwrap()
        .initialize()
        .unwrap_err();
    assert!(e.message.contains("overlaps"), "{}", e.message);
    // Two dynamic queues (allocated and deallocated by the program) take turns.
    let dynamic = text(&plain).replace(
        "  - read:\n",
        "  - swap:\n      - deallocate_queue: [writer]\n      - allocate_queue: [reader]\n  - read:\n",
    );
    let n = netlist::parse(&dynamic, "views.yaml").unwrap();
    Backend::from_netlist(n, &BackendConfig::default())
        .unwrap()
        .initialize()
        .unwrap();
}
