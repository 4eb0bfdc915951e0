//! The digits model of `examples/` through the C API: its backend opened and initialized, its
//! queues described, pushes of its held-out inputs, run_fwd, and the end.

use std::ffi::{CStr, CString};
use std::ptr;

use ttrt::ffi::backend::*;
use ttrt::ffi::format::{ttrt_io_desc, ttrt_tensor_desc};
use ttrt::ffi::image::*;
use ttrt::ffi::status::ttrt_status;

#[track_caller]
pub fn ok(st: ttrt_status) {
    assert_eq!(st, ttrt_status::Success, "{:?}", unsafe {
        CStr::from_ptr(ttrt::ffi::error::ttrt_last_error_message())
    });
}

/// A contiguous float32 descriptor of `shape` at `ptr`.
pub fn f32_desc(ptr: *const u8, shape: [u32; 4]) -> ttrt_tensor_desc {
    ttrt_tensor_desc {
        ptr: ptr.cast(),
        itemsize: 4,
        format: 0,
        shape,
        strides: [
            shape[1] * shape[2] * shape[3] * 4,
            shape[2] * shape[3] * 4,
            shape[3] * 4,
            4,
        ],
        dim: 4,
        owner: 0,
    }
}

pub struct Digits {
    img: *mut ttrt_image,
    pub be: *mut ttrt_backend,
    pub x: ttrt_io_desc,
    pub logits: ttrt_io_desc,
    /// Entries per push (the graph's input_count).
    pub n: u32,
    inputs: Vec<u8>,
    program: CString,
    param: (CString, CString),
}

// SAFETY: the C API lets the io side (push, get, pop) and the run side (run_program) of one
// backend run on two threads; the tests keep to that.
unsafe impl Send for Digits {}
unsafe impl Sync for Digits {}

impl Digits {
    pub fn open(cqs: u32) -> Digits {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let path = CString::new(root.join("digits.tti").to_str().unwrap()).unwrap();
        let (x, logits) = (CString::new("x").unwrap(), CString::new("logits").unwrap());
        unsafe {
            let mut img = ptr::null_mut();
            ok(ttrt_image_open(path.as_ptr(), &mut img));
            let mut cfg = std::mem::zeroed::<ttrt_backend_config>();
            ttrt_backend_config_default(&mut cfg);
            cfg.num_command_queues = cqs;
            let mut be = ptr::null_mut();
            ok(ttrt_backend_create(img, &cfg, &mut be));
            ok(ttrt_backend_initialize(be));
            let mut d = Digits {
                img,
                be,
                x: std::mem::zeroed(),
                logits: std::mem::zeroed(),
                n: 0,
                inputs: std::fs::read(root.join("digits/test_inputs.bin")).unwrap(),
                program: CString::new("run_fwd").unwrap(),
                param: (
                    CString::new("$p_loop_count").unwrap(),
                    CString::new("1").unwrap(),
                ),
            };
            ok(ttrt_backend_get_queue_descriptor(be, x.as_ptr(), &mut d.x));
            ok(ttrt_backend_get_queue_descriptor(
                be,
                logits.as_ptr(),
                &mut d.logits,
            ));
            d.n = d.x.input_count;
            d
        }
    }

    /// Bytes of one output read: `n` entries of 32x32 float32 logits.
    pub fn output_bytes(&self) -> usize {
        (self.n * 32 * 32 * 4) as usize
    }

    /// The `k`-th push's source: the held-out inputs in turn, `n` entries of 32x64 float32.
    pub fn input(&self, k: usize) -> ttrt_tensor_desc {
        let per_push = (self.n * 32 * 64 * 4) as usize;
        let at = (k % (self.inputs.len() / per_push)) * per_push;
        f32_desc(self.inputs[at..].as_ptr(), [self.n, 1, 32, 64])
    }

    /// Where an output read lands: `out`, as `n` entries of 32x32 float32.
    pub fn output(&self, out: &mut [u8]) -> ttrt_tensor_desc {
        f32_desc(out.as_mut_ptr(), [self.n, 1, 32, 32])
    }

    /// run_fwd, one loop.
    pub fn run(&self) -> ttrt_status {
        let param = ttrt_program_param {
            name: self.param.0.as_ptr(),
            value: self.param.1.as_ptr(),
        };
        unsafe { ttrt_backend_run_program(self.be, self.program.as_ptr(), &param, 1) }
    }

    /// Finishes and frees the backend and the image.
    pub fn close(self) {
        unsafe {
            ok(ttrt_backend_finish(self.be));
            ttrt_backend_free(self.be);
            ttrt_image_free(self.img);
        }
    }
}
