// The Buda C++ API over ttrt (include/ttrt/buda/), checked call by call: enum values against a
// table written from upstream's headers, sizes against upstream's size_lib, every route of a
// backend created from a netlist and from an image, outputs against the C API run on the same
// inputs, and each unsupported or wrong call failing with ttrt's message.
//
//   compat_test DIGITS_TTI DIGITS_YAML TRAINING_NETLIST GOLDEN_MODES_NETLIST HARVESTED_TTI SOC_DIR
//
// Prints one line per check that fails and a summary; exits 0 only when every check passed.
// Built with -Wall -Wextra -Werror (tests/cpp/buda/CMakeLists.txt); assert() is not used.

#include "io_utils.h"
#include "tt_backend.hpp"
#include "tt_backend_api.hpp"
#include "tt_backend_api_types.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

int checks = 0;
int failures = 0;

void check(bool ok, const std::string &what) {
    checks++;
    if (!ok) {
        failures++;
        std::printf("FAILED: %s\n", what.c_str());
    }
}

template <typename E>
long value(E e) {
    return static_cast<long>(e);
}

bool contains(const std::string &s, const std::string &part) { return s.find(part) != std::string::npos; }

// What the error handler received, in order.
std::vector<std::string> handled;

// ---------------------------------------------------------------- enum values

// Upstream's values, written from tt-budabackend's netlist/tt_backend_api_types.hpp and the
// tt-umd device/tt_arch_types.h it was built with.
void enum_values_are_upstreams() {
    using F = tt::DataFormat;
    const std::pair<F, long> formats[] = {
        {F::Float32, 0},   {F::Float16, 1},  {F::Bfp8, 2},       {F::Bfp4, 3},        {F::Bfp2, 11},
        {F::Float16_b, 5}, {F::Bfp8_b, 6},   {F::Bfp4_b, 7},     {F::Bfp2_b, 15},     {F::Lf8, 10},
        {F::Fp8_e4m3, 26}, {F::UInt16, 9},   {F::Int8, 14},      {F::UInt8, 30},      {F::Tf32, 4},
        {F::Int32, 8},     {F::RawUInt8, 240}, {F::RawUInt16, 241}, {F::RawUInt32, 242}, {F::Invalid, 255},
    };
    for (const auto &f : formats) {
        check(value(f.first) == f.second, std::string("DataFormat::") + tt::format_name(f.first) + " is " +
                                              std::to_string(value(f.first)) + ", upstream " + std::to_string(f.second));
    }
    check(sizeof(F) == 1, "DataFormat is one byte, as upstream's uint8_t");

    check(value(tt::DEVICE_STATUS_CODE::Success) == 0, "DEVICE_STATUS_CODE::Success");
    check(value(tt::DEVICE_STATUS_CODE::RuntimeError) == 1, "DEVICE_STATUS_CODE::RuntimeError");
    check(value(tt::DEVICE_STATUS_CODE::TimeoutError) == 2, "DEVICE_STATUS_CODE::TimeoutError");
    check(value(tt::IO_TYPE::Queue) == 0 && value(tt::IO_TYPE::RandomAccess) == 1 && value(tt::IO_TYPE::Invalid) == 2,
          "IO_TYPE");
    check(value(tt::IO_LAYOUT::Tilized) == 0 && value(tt::IO_LAYOUT::Flat) == 1 && value(tt::IO_LAYOUT::Invalid) == 2,
          "IO_LAYOUT");
    check(value(tt::OWNERSHIP::Frontend) == 0 && value(tt::OWNERSHIP::Backend) == 1, "OWNERSHIP");
    check(value(tt::DEVICE::Model) == 0 && value(tt::DEVICE::Versim) == 1 && value(tt::DEVICE::Silicon) == 2 &&
              value(tt::DEVICE::Golden) == 3 && value(tt::DEVICE::StaticAnalyzer) == 4 &&
              value(tt::DEVICE::Emulation) == 5 && value(tt::DEVICE::Invalid) == 0xFF,
          "DEVICE");
    check(value(tt::DEVICE_MODE::CompileAndRun) == 0 && value(tt::DEVICE_MODE::CompileOnly) == 1 &&
              value(tt::DEVICE_MODE::RunOnly) == 2,
          "DEVICE_MODE");
    check(value(tt::ARCH::JAWBRIDGE) == 0 && value(tt::ARCH::GRAYSKULL) == 1 && value(tt::ARCH::WORMHOLE) == 2 &&
              value(tt::ARCH::WORMHOLE_B0) == 3 && value(tt::ARCH::BLACKHOLE) == 4 && value(tt::ARCH::Invalid) == 0xFF,
          "ARCH");
    check(value(tt::TileDim::Dim32x32) == 0 && value(tt::TileDim::Dim16x32) == 1 && value(tt::TileDim::Dim32x16) == 2 &&
              value(tt::TileDim::Dim8x32) == 3 && value(tt::TileDim::Dim4x32) == 4 && value(tt::TileDim::Dim2x32) == 5 &&
              value(tt::TileDim::Dim1x32) == 6 && value(tt::TileDim::Invalid) == 0xff,
          "TileDim");
    check(value(tt::MathFidelity::LoFi) == 0 && value(tt::MathFidelity::HiFi2) == 2 &&
              value(tt::MathFidelity::HiFi3) == 3 && value(tt::MathFidelity::HiFi4) == 4 &&
              value(tt::MathFidelity::HiFi2_B) == 10 && value(tt::MathFidelity::Invalid) == 0xff,
          "MathFidelity");
    check(value(tt::COMPILE_FAILURE::Net2Pipe) == 3 && value(tt::COMPILE_FAILURE::Firmware) == 8 &&
              value(tt::COMPILE_FAILURE::Invalid) == 0xFFFF,
          "COMPILE_FAILURE");
    check(tt::PY_TENSOR_DIMS == 4, "PY_TENSOR_DIMS");
    check(tt::is_tt_data_format(F::Bfp8_b) && tt::is_tt_data_format(F::Lf8) && !tt::is_tt_data_format(F::Float16_b),
          "is_tt_data_format");
    check(tt::is_integer_format(F::RawUInt8) && tt::is_integer_format(F::Int32) && !tt::is_integer_format(F::Float32),
          "is_integer_format");
}

// ---------------------------------------------------------------- sizes

// Upstream's common/size_lib.cpp: bytes per datum, and formats it refuses (log_fatal).
void sizeof_format_is_upstreams() {
    using F = tt::DataFormat;
    const std::pair<F, std::uint32_t> sizes[] = {
        {F::Float32, 4}, {F::Tf32, 4},      {F::Float16, 2},   {F::Float16_b, 2},
        {F::UInt16, 2},  {F::Int8, 1},      {F::UInt8, 1},     {F::Int32, 4},
        {F::RawUInt8, 1}, {F::RawUInt16, 2}, {F::RawUInt32, 4}, {F::Invalid, 0xbadface},
    };
    for (const auto &s : sizes) {
        check(tt::backend::sizeof_format(s.first) == s.second,
              std::string("sizeof_format(") + tt::format_name(s.first) + ")");
    }
    for (F f : {F::Bfp8, F::Bfp4, F::Bfp2, F::Bfp8_b, F::Bfp4_b, F::Bfp2_b, F::Lf8, F::Fp8_e4m3}) {
        bool threw = false;
        try {
            tt::backend::sizeof_format(f);
        } catch (const std::runtime_error &e) {
            threw = contains(e.what(), tt::format_name(f));
        }
        check(threw, std::string("sizeof_format(") + tt::format_name(f) + ") throws, naming the format");
    }
}

// Upstream's size_lib get_tile_size_in_bytes for 32x32 and 16x32 tiles: datums, a 16-byte
// exponent section per face row for block floats, and (tilized) a 16-byte header, padded to 32.
void tile_sizes_are_upstreams() {
    using F = tt::DataFormat;
    auto upstream = [](F f, int h, int w, bool untilized) {
        int faces_x = (w + 15) / 16;
        int exponents = h < 16 ? 16 : ((h + 15) / 16) * 16 * faces_x;
        int datums = h * w;
        int size = 0;
        switch (f) {
            case F::Float32: case F::Tf32: case F::Int32: case F::RawUInt32: size = datums * 4; break;
            case F::Float16: case F::Float16_b: case F::UInt16: case F::RawUInt16: size = datums * 2; break;
            case F::Lf8: case F::Fp8_e4m3: case F::Int8: case F::UInt8: case F::RawUInt8: size = datums; break;
            case F::Bfp8: case F::Bfp8_b: size = datums + exponents; break;
            case F::Bfp4: case F::Bfp4_b: size = datums / 2 + exponents; break;
            case F::Bfp2: case F::Bfp2_b: size = datums / 4 + exponents; break;
            default: return -1;
        }
        if (!untilized) {
            size = (size + 16 + 31) / 32 * 32;
        }
        return size;
    };
    for (F f : {F::Float32, F::Tf32, F::Float16, F::Float16_b, F::Bfp8, F::Bfp8_b, F::Bfp4, F::Bfp4_b, F::Bfp2,
                F::Bfp2_b, F::Lf8, F::Fp8_e4m3, F::UInt16, F::Int8, F::UInt8, F::Int32, F::RawUInt8, F::RawUInt16,
                F::RawUInt32}) {
        for (int h : {32, 16}) {
            for (bool untilized : {false, true}) {
                int got = -1;
                try {
                    got = tt::backend::get_tile_size_in_bytes(f, untilized, h, 32);
                } catch (const std::runtime_error &e) {
                    check(false, std::string("get_tile_size_in_bytes(") + tt::format_name(f) + ") threw " + e.what());
                }
                check(got == upstream(f, h, 32, untilized),
                      std::string("get_tile_size_in_bytes(") + tt::format_name(f) + ", " + std::to_string(h) +
                          "x32, untilized " + std::to_string(untilized) + ") = " + std::to_string(got) +
                          ", upstream " + std::to_string(upstream(f, h, 32, untilized)));
            }
        }
    }
    bool threw = false;
    try {
        tt::backend::get_tile_size_in_bytes(F::Float32, false, 3, 32);
    } catch (const std::runtime_error &e) {
        threw = contains(e.what(), "ttrt_tile_size_bytes_dim");
    }
    check(threw, "get_tile_size_in_bytes of a 3x32 tile throws ttrt's message");
}

// ---------------------------------------------------------------- images

void image_lists_names_arch_and_devtype(const std::string &tti, const std::string &yaml) {
    tt::tt_device_image image(tti, "tt_build/compat_test");
    check(image.get_graph_input_names() == std::vector<std::string>{"x"}, "input names");
    check(image.get_graph_output_names() == std::vector<std::string>{"logits"}, "output names");
    check(image.get_graph_constant_and_parameter_names() ==
              std::vector<std::string>{"lc.input_tensor.b1_s_brcst_m2_0_0.0", "lc.input_tensor.b2_s_brcst_m2_0_0.0",
                                       "b1", "b2", "w1", "w2"},
          "constant and parameter names: constants, then parameters, each sorted");
    check(image.arch() == "Grayskull", "arch() is " + image.arch());
    check(image.backend() == "Silicon", "backend() is " + image.backend());

    tt::tt_device_image netlist(yaml);
    check(netlist.get_graph_input_names() ==
              std::vector<std::string>{"x", "w1", "b1", "w2", "b2", "lc.input_tensor.b1_s_brcst_m2_0_0.0",
                                       "lc.input_tensor.b2_s_brcst_m2_0_0.0"},
          "a bare netlist's inputs are its host-fed queues");
    check(netlist.get_graph_constant_and_parameter_names().empty(), "a bare netlist has no constant names");
    bool threw = false;
    try {
        netlist.backend();
    } catch (const std::runtime_error &e) {
        threw = contains(e.what(), "ttrt_image_devtype: ") && contains(e.what(), "bare netlist");
    }
    check(threw, "backend() of a bare netlist throws ttrt's message");

    threw = false;
    try {
        tt::tt_device_image missing("no/such/model.tti");
    } catch (const std::runtime_error &e) {
        threw = contains(e.what(), "no/such/model.tti");
    }
    check(threw, "opening a missing image throws, naming the file");
}

// ---------------------------------------------------------------- outputs against the C API

// Deterministic inputs in [-2, 2), as bfloat16 (the host format of Float16_b and Bfp*_b queues).
std::vector<std::uint16_t> inputs(std::size_t n, std::uint32_t seed) {
    std::vector<std::uint16_t> v(n);
    std::uint32_t s = seed;
    for (auto &x : v) {
        s = s * 1664525u + 1013904223u;
        float f = static_cast<float>(s >> 8) / static_cast<float>(1u << 24) * 4.0f - 2.0f;
        std::uint32_t bits;
        std::memcpy(&bits, &f, 4);
        x = static_cast<std::uint16_t>(bits >> 16);
    }
    return v;
}

struct c_run {
    ttrt_image *image = nullptr;
    ttrt_backend *backend = nullptr;
    ~c_run() {
        ttrt_backend_free(backend);
        ttrt_image_free(image);
    }
};

// Pushes `loops` batches of inputs through `backend` with the Buda API and through a backend
// of the same file made with the C API alone, and compares every output byte. A bare netlist
// loads no weights: the same random ones are pushed to both first.
void outputs_equal_the_c_apis(const std::shared_ptr<tt_backend> &backend, const std::string &path, int loops,
                              const std::string &what, bool bare_netlist) {
    c_run c;
    bool ok = ttrt_image_open(path.c_str(), &c.image) == TTRT_STATUS_SUCCESS &&
              ttrt_backend_create(c.image, nullptr, &c.backend) == TTRT_STATUS_SUCCESS &&
              ttrt_backend_initialize(c.backend) == TTRT_STATUS_SUCCESS;
    check(ok, what + ": the C API backend starts: " + ttrt_last_error_message());
    if (!ok) {
        return;
    }
    ttrt_io_desc cx = {}, clogits = {};
    check(ttrt_backend_get_queue_descriptor(c.backend, "x", &cx) == TTRT_STATUS_SUCCESS &&
              ttrt_backend_get_queue_descriptor(c.backend, "logits", &clogits) == TTRT_STATUS_SUCCESS,
          what + ": C descriptors");

    if (bare_netlist) {
        // A bare netlist loads nothing: one entry of every host-fed queue but x, the same on
        // both backends (rams at entry 0).
        tt::tt_device_image image(path);
        std::uint32_t seed = 100;
        for (const std::string &name : image.get_graph_input_names()) {
            if (name == "x") {
                continue;
            }
            tt::tt_dram_io_desc q = tt::io::utils::get_queue_descriptor(backend, name);
            ttrt_io_desc cq = {};
            check(ttrt_backend_get_queue_descriptor(c.backend, name.c_str(), &cq) == TTRT_STATUS_SUCCESS,
                  what + ": C descriptor of " + name);
            std::uint32_t hs[4] = {};
            check(ttrt_io_desc_host_shape(&cq, 1, hs) == TTRT_STATUS_SUCCESS, what + ": host shape of " + name);
            std::vector<std::uint16_t> data = inputs(std::size_t(hs[0]) * hs[1] * hs[2] * hs[3], seed++);
            tt::tt_PytorchTensorDesc t =
                tt::io::utils::to_tensor_descriptor(hs[0], hs[1], hs[2], hs[3], tt::DataFormat::Float16_b);
            t.owner = tt::OWNERSHIP::Frontend;
            t.ptr = data.data();
            int ptr = q.io_type == tt::IO_TYPE::RandomAccess ? 0 : -1;
            tt::DEVICE_STATUS_CODE st = tt::backend::push_input(q, t, true, 1, ptr);
            check(st == tt::DEVICE_STATUS_CODE::Success, what + ": push " + name + ": " + ttrt::buda::last_error());
            ttrt_tensor_desc ct = ttrt::buda::detail::c_tensor(t);
            check(ttrt_push_input(c.backend, &cq, &ct, true, 1000, ptr) == TTRT_STATUS_SUCCESS,
                  what + ": C push " + name + ": " + ttrt_last_error_message());
        }
    }

    tt::tt_dram_io_desc x = tt::io::utils::get_queue_descriptor(backend, "x");
    tt::tt_dram_io_desc logits = tt::io::utils::get_queue_descriptor(backend, "logits");
    auto shape = tt::io::utils::get_tensor_shape_from_model("x", nullptr, x);
    std::size_t n = std::size_t(std::get<0>(shape)) * std::get<1>(shape) * std::get<2>(shape) * std::get<3>(shape);
    check(n > 0, what + ": input shape");
    std::size_t compared = 0;
    for (int loop = 0; loop < loops; loop++) {
        std::vector<std::uint16_t> data = inputs(n, 17u + static_cast<std::uint32_t>(loop));
        tt::tt_PytorchTensorDesc t = tt::io::utils::to_tensor_descriptor(
            std::get<0>(shape), std::get<1>(shape), std::get<2>(shape), std::get<3>(shape), tt::DataFormat::Float16_b);
        t.owner = tt::OWNERSHIP::Frontend;
        t.ptr = data.data();
        tt::DEVICE_STATUS_CODE st = tt::backend::push_input(x, t, false, 1);
        check(st == tt::DEVICE_STATUS_CODE::Success, what + ": push_input: " + ttrt::buda::last_error());
        ttrt_tensor_desc ct = {};
        ct.ptr = data.data();
        ct.itemsize = 2;
        ct.format = TTRT_DATA_FORMAT_FLOAT16_B;
        for (int i = 0; i < 4; i++) {
            ct.shape[i] = t.shape[i];
            ct.strides[i] = t.strides[i];
        }
        ct.dim = 4;
        check(ttrt_push_input(c.backend, &cx, &ct, false, 1000, -1) == TTRT_STATUS_SUCCESS, what + ": C push");

        for (const auto &program : backend->get_programs()) {
            st = backend->run_program(program, {{"$p_loop_count", "1"}});
            check(st == tt::DEVICE_STATUS_CODE::Success, what + ": run_program " + program + ": " + ttrt::buda::last_error());
            ttrt_program_param p = {"$p_loop_count", "1"};
            check(ttrt_backend_run_program(c.backend, program.c_str(), &p, 1) == TTRT_STATUS_SUCCESS,
                  what + ": C run_program");
        }

        tt::tt_PytorchTensorDesc out = {};
        st = tt::backend::get_output(logits, out, false, 1);
        check(st == tt::DEVICE_STATUS_CODE::Success, what + ": get_output: " + ttrt::buda::last_error());
        ttrt_tensor_desc cout_ = {};
        check(ttrt_get_output(c.backend, &clogits, &cout_, false, 1000, -1) == TTRT_STATUS_SUCCESS, what + ": C get");
        std::size_t bytes = std::size_t(cout_.shape[0]) * cout_.strides[0];
        bool same = out.ptr != nullptr && cout_.ptr != nullptr && out.format == static_cast<tt::DataFormat>(cout_.format) &&
                    out.itemsize == cout_.itemsize && bytes > 0 && std::memcmp(out.ptr, cout_.ptr, bytes) == 0;
        for (int i = 0; i < 4; i++) {
            same = same && out.shape[i] == cout_.shape[i] && out.strides[i] == cout_.strides[i];
        }
        check(same, what + ": loop " + std::to_string(loop) + ": outputs equal the C API's");
        bool nonzero = false;
        for (std::size_t i = 0; i < bytes && out.ptr != nullptr; i++) {
            nonzero = nonzero || static_cast<const unsigned char *>(out.ptr)[i] != 0;
        }
        check(nonzero, what + ": loop " + std::to_string(loop) + ": outputs are not all zero");
        compared += bytes;
        check(tt::backend::pop_output(logits, false, 1) == tt::DEVICE_STATUS_CODE::Success, what + ": pop_output");
        check(ttrt_pop_output(c.backend, &clogits, false, 1000) == TTRT_STATUS_SUCCESS, what + ": C pop");
        check(tt::backend::free_tensor(out) == tt::DEVICE_STATUS_CODE::Success && out.ptr == nullptr,
              what + ": free_tensor of an output");
        ttrt_tensor_desc_free(&cout_);
    }
    std::printf("%s: %d loops, %zu output bytes equal the C API's\n", what.c_str(), loops, compared);
}

// ---------------------------------------------------------------- a backend from an image

void backend_from_an_image(const std::string &tti) {
    auto model = std::make_shared<tt::tt_device_image>(tti, "tt_build/compat_test");
    std::shared_ptr<tt_backend> backend = tt_backend::create(model, tt::tt_backend_config{});
    check(backend->get_programs() == std::vector<std::string>{"run_fwd"}, "the image's programs");
    check(backend->get_config().type == tt::DEVICE::Silicon, "the type comes from the image's devtype");
    check(backend->get_config().tti == model, "the config keeps the image");
    check(backend->initialize() == tt::DEVICE_STATUS_CODE::Success, "initialize: " + ttrt::buda::last_error());

    tt::tt_dram_io_desc x = tt::io::utils::get_queue_descriptor(backend, "x");
    check(x.queue_name == "x" && x.netlist_path == tti && x.backend_type == tt::DEVICE::Silicon, "x: names and type");
    check(x.io_type == tt::IO_TYPE::Queue && x.bufq_target_format == tt::DataFormat::Float16_b && x.t == 1 &&
              x.bufq_num_slots == 12 && x.tile_height == 32 && x.tile_width == 32 && x.layout == tt::IO_LAYOUT::Tilized,
          "x: the queue as the netlist declares it");
    check(x.bufq_mapping.empty() && x.bufq_start_addr_channel.empty(), "x: no mapping");
    tt::tt_dram_io_desc w1 = backend->get_queue_descriptor("w1");
    check(w1.io_type == tt::IO_TYPE::RandomAccess, "w1 is a ram");
    tt::tt_PytorchTensorDesc t = tt::io::utils::get_tensor_descriptor("x", model, x);
    check(t.owner == tt::OWNERSHIP::Backend && t.format == tt::DataFormat::Float16_b && t.itemsize == 2 &&
              t.shape[0] == x.input_count && t.shape[1] == 1 && t.shape[2] == 32 && t.shape[3] == 64 &&
              t.strides[3] == 2 && t.strides[2] == 128 && t.strides[0] == 32 * 64 * 2,
          "get_tensor_descriptor of x: [input_count, 1, 32, 64] Float16_b, contiguous");

    // Unknown queue: Buda throws; ttrt's message names the queue.
    bool threw = false;
    try {
        backend->get_queue_descriptor("no_such_queue");
    } catch (const std::runtime_error &e) {
        threw = contains(e.what(), "no_such_queue") && ttrt::buda::last_error() == e.what();
    }
    check(threw, "get_queue_descriptor of an unknown queue throws ttrt's message");

    // run_program: an unknown program, a declared parameter missing; extra parameters are
    // ignored as Buda ignores them.
    handled.clear();
    check(backend->run_program("no_such_program", {{"$p_loop_count", "1"}}) == tt::DEVICE_STATUS_CODE::RuntimeError,
          "run_program of an unknown program fails");
    check(contains(ttrt::buda::last_error(), "no_such_program") && handled.size() == 1 &&
              handled[0] == ttrt::buda::last_error(),
          "its message names the program and reaches the error handler: " + ttrt::buda::last_error());
    check(backend->run_program("run_fwd", {}) == tt::DEVICE_STATUS_CODE::RuntimeError,
          "run_program without its declared $p_loop_count fails");
    check(contains(ttrt::buda::last_error(), "$p_loop_count"), "its message names the parameter: " + ttrt::buda::last_error());

    // Pop and get on an empty queue: a timeout, quietly (Buda logs it at debug level).
    handled.clear();
    check(tt::backend::pop_output(backend->get_queue_descriptor("logits"), true, 0) == tt::DEVICE_STATUS_CODE::TimeoutError,
          "pop_output of an empty queue times out");
    check(handled.empty() && !ttrt::buda::last_error().empty(), "a timeout is not handed to the error handler");

    // A program with an extra parameter runs (x has no entry: push one first).
    {
        tt::io::utils::fill_tensor_with_data("x", t);
        check(t.ptr != nullptr, "fill_tensor_with_data points the tensor at memory");
        bool zeros = true;
        for (std::size_t i = 0; i < std::size_t(t.shape[0]) * t.strides[0]; i++) {
            zeros = zeros && static_cast<const unsigned char *>(t.ptr)[i] == 0;
        }
        check(zeros, "fill_tensor_with_data's memory is zeroed, as upstream's");
        check(tt::backend::push_input(x, t, false, 1) == tt::DEVICE_STATUS_CODE::Success, "push_input zeros");
        tt::tt_PytorchTensorDesc frontend = t;
        frontend.owner = tt::OWNERSHIP::Frontend;
        check(tt::backend::free_tensor(frontend) == tt::DEVICE_STATUS_CODE::RuntimeError,
              "free_tensor of a tensor not backend owned fails");
        check(tt::backend::free_tensor(t) == tt::DEVICE_STATUS_CODE::Success && t.ptr == nullptr, "free_tensor");
        check(tt::backend::free_tensor(t) == tt::DEVICE_STATUS_CODE::RuntimeError, "free_tensor of a null ptr fails");
    }
    check(backend->run_program("run_fwd", {{"$p_loop_count", "1"}, {"$not_declared", "7"}}) ==
              tt::DEVICE_STATUS_CODE::Success,
          "run_program ignores a parameter the program does not declare: " + ttrt::buda::last_error());
    tt::tt_dram_io_desc logits = backend->get_queue_descriptor("logits");
    tt::tt_PytorchTensorDesc out;
    check(tt::backend::get_output(logits, out, false, 1) == tt::DEVICE_STATUS_CODE::Success, "get_output");
    check(out.owner == tt::OWNERSHIP::Backend && out.format == tt::DataFormat::Float32 && out.shape[0] == x.input_count,
          "get_output: backend-owned Float32, input_count entries");
    check(tt::backend::pop_output(logits, false, 1) == tt::DEVICE_STATUS_CODE::Success, "pop_output");
    check(tt::backend::free_tensor(out) == tt::DEVICE_STATUS_CODE::Success, "free_tensor of an output");

    // Unsupported: an error status and a message, never a silent success.
    handled.clear();
    check(backend->compile_netlist("any.yaml") == tt::DEVICE_STATUS_CODE::RuntimeError, "compile_netlist fails");
    check(backend->compile_and_run_netlist("any.yaml", {}) == tt::DEVICE_STATUS_CODE::RuntimeError,
          "compile_and_run_netlist fails");
    check(backend->memory_barrier(tt::MemBarType::host_cluster, 0) == tt::DEVICE_STATUS_CODE::RuntimeError,
          "memory_barrier fails");
    check(tt::backend::push_input(x, tt::tt_TilizedTensorDesc{}, 1) == tt::DEVICE_STATUS_CODE::RuntimeError,
          "push_input of a tilized tensor fails");
    check(handled.size() == 4 && contains(handled[0], "compile_netlist") && contains(handled[1], "compile_and_run_netlist") &&
              contains(handled[2], "memory_barrier") && contains(handled[3], "tt_TilizedTensorDesc"),
          "each unsupported call says what it is");
    threw = false;
    try {
        tt_backend::create_eager_backend(tt::tt_backend_config{}, {0});
    } catch (const std::runtime_error &e) {
        threw = contains(e.what(), "create_eager_backend");
    }
    check(threw, "create_eager_backend throws");

    // translate_addresses, and a descriptor built by hand finds its backend by netlist path.
    check(tt::backend::translate_addresses(x) == tt::DEVICE_STATUS_CODE::Success && x.bufq_mapping.empty(),
          "translate_addresses of a live queue");
    tt::tt_dram_io_desc by_hand = tt::tt_dram_io_desc();
    by_hand.netlist_path = tti;
    by_hand.queue_name = "x";
    check(tt::backend::translate_addresses(by_hand) == tt::DEVICE_STATUS_CODE::Success,
          "a descriptor built by hand finds the backend of its netlist path");
    by_hand.netlist_path = "elsewhere.yaml";
    check(tt::backend::translate_addresses(by_hand) == tt::DEVICE_STATUS_CODE::RuntimeError &&
              contains(ttrt::buda::last_error(), "elsewhere.yaml"),
          "an unknown netlist path has no backend");

    tt::tt_compile_result result;
    check(backend->initialize(&result) == tt::DEVICE_STATUS_CODE::RuntimeError && !result.success &&
              result.failure_message == ttrt::buda::last_error(),
          "a second initialize fails and says why in the compile result: " + result.failure_message);

    check(backend->wait_for_idle() == tt::DEVICE_STATUS_CODE::Success, "wait_for_idle");
    check(backend->finish() == tt::DEVICE_STATUS_CODE::Success, "finish");
    check(tt::backend::push_input(x, t, false, 1) == tt::DEVICE_STATUS_CODE::RuntimeError,
          "push_input after finish fails");

    // A descriptor outliving its backend is refused, not dereferenced.
    backend.reset();
    check(tt::backend::translate_addresses(x) == tt::DEVICE_STATUS_CODE::RuntimeError &&
              contains(ttrt::buda::last_error(), "destroyed"),
          "translate_addresses of a queue whose backend is gone fails");
    std::vector<std::uint16_t> data(std::size_t(x.input_count) * 32 * 64);
    tt::tt_PytorchTensorDesc mine = t;
    mine.ptr = data.data();
    check(tt::backend::push_input(x, mine, false, 1) == tt::DEVICE_STATUS_CODE::RuntimeError,
          "push_input to a queue whose backend is gone fails");
}

// ---------------------------------------------------------------- a backend from a netlist

void backend_from_a_netlist(const std::string &yaml, const std::string &training) {
    std::shared_ptr<tt_backend> backend = tt_backend::create(yaml, tt::tt_backend_config{});
    check(backend->get_programs() == std::vector<std::string>{"run_fwd"}, "the netlist's programs");
    check(backend->initialize() == tt::DEVICE_STATUS_CODE::Success, "initialize from a netlist: " + ttrt::buda::last_error());
    outputs_equal_the_c_apis(backend, yaml, 3, "digits.yaml", true);
    check(backend->finish() == tt::DEVICE_STATUS_CODE::Success, "finish");

    // Programs in the netlist's order (fwd, bwd, opt), not sorted.
    std::shared_ptr<tt_backend> training_backend = tt_backend::create(training, tt::tt_backend_config{});
    check(training_backend->get_programs() == std::vector<std::string>{"fwd", "bwd", "opt"},
          "get_programs keeps the netlist's order");

    // Config values ttrt refuses.
    auto refused = [&](const tt::tt_backend_config &config, const std::string &says, const std::string &what) {
        bool threw = false;
        try {
            tt_backend::create(yaml, config);
        } catch (const std::runtime_error &e) {
            threw = contains(e.what(), says);
        }
        check(threw, what);
    };
    tt::tt_backend_config model;
    model.type = tt::DEVICE::Model;
    refused(model, "Model", "type Model is refused");
    tt::tt_backend_config wormhole;
    wormhole.arch = tt::ARCH::WORMHOLE;
    refused(wormhole, "arch 2", "arch WORMHOLE (A0) is refused");
    tt::tt_backend_config soc;
    soc.soc_descriptor_path = "no/such/soc.yaml";
    refused(soc, "no/such/soc.yaml", "a SoC descriptor that cannot be read is refused, naming it");
    tt::tt_backend_config harvested;
    harvested.harvested_rows = {{0, {64}}};
    refused(harvested, "row 64", "a harvested row past the NOC's 64 is refused");

    bool threw = false;
    try {
        tt_backend::create("no/such/netlist.yaml", tt::tt_backend_config{});
    } catch (const std::runtime_error &e) {
        threw = contains(e.what(), "no/such/netlist.yaml");
    }
    check(threw, "create from a missing netlist throws, naming it");

    tt::tt_backend_config compile_only;
    compile_only.mode = tt::DEVICE_MODE::CompileOnly;
    std::shared_ptr<tt_backend> compiler = tt_backend::create(yaml, compile_only);
    check(compiler->initialize() == tt::DEVICE_STATUS_CODE::RuntimeError && contains(ttrt::buda::last_error(), "CompileOnly"),
          "initialize in CompileOnly mode fails");

    tt::tt_backend_config arch;
    arch.arch = tt::ARCH::WORMHOLE_B0;
    std::shared_ptr<tt_backend> wh = tt_backend::create(yaml, arch);
    check(wh->get_queue_descriptor("x").ttrt_queue.arch == TTRT_ARCH_WORMHOLE_B0, "config.arch selects the arch");
}

// ---------------------------------------------------------------- DEVICE::Golden

// x = 1 + k/128 (exact in bfloat16) into in0, program `run`, the bytes of `out`: through the Buda
// API with `type`, or (type Invalid) through the C API with `golden`.
std::vector<unsigned char> run_modes(const std::string &netlist, tt::DEVICE type, int golden) {
    std::vector<std::uint16_t> x(32 * 64);
    for (std::size_t i = 0; i < x.size(); i++) {
        float f = 1.0f + static_cast<float>(i % 128) / 128.0f;
        std::uint32_t bits;
        std::memcpy(&bits, &f, 4);
        x[i] = static_cast<std::uint16_t>(bits >> 16);
    }
    std::vector<unsigned char> got;
    if (type != tt::DEVICE::Invalid) {
        tt::tt_backend_config config;
        config.type = type;
        std::shared_ptr<tt_backend> backend = tt_backend::create(netlist, config);
        check(backend->initialize() == tt::DEVICE_STATUS_CODE::Success, "modes: initialize");
        tt::tt_dram_io_desc in0 = tt::io::utils::get_queue_descriptor(backend, "in0");
        check(in0.backend_type == type, "modes: the queue carries the backend type");
        tt::tt_PytorchTensorDesc t = tt::io::utils::to_tensor_descriptor(1, 1, 32, 64, tt::DataFormat::Float16_b);
        t.owner = tt::OWNERSHIP::Frontend;
        t.ptr = x.data();
        check(tt::backend::push_input(in0, t, true, 1) == tt::DEVICE_STATUS_CODE::Success, "modes: push");
        check(backend->run_program("run", {}) == tt::DEVICE_STATUS_CODE::Success, "modes: run");
        tt::tt_PytorchTensorDesc out;
        check(tt::backend::get_output(backend->get_queue_descriptor("out"), out, true, 1) ==
                  tt::DEVICE_STATUS_CODE::Success,
              "modes: get_output");
        if (out.ptr != nullptr) {
            const auto *p = static_cast<const unsigned char *>(out.ptr);
            got.assign(p, p + std::size_t(out.shape[0]) * out.strides[0]);
            check(tt::backend::free_tensor(out) == tt::DEVICE_STATUS_CODE::Success, "modes: free");
        }
        check(backend->finish() == tt::DEVICE_STATUS_CODE::Success, "modes: finish");
        return got;
    }
    c_run c;
    ttrt_backend_config config;
    ttrt_backend_config_default(&config);
    config.golden = static_cast<std::uint32_t>(golden);
    ttrt_io_desc in0 = {}, out = {};
    bool ok = ttrt_image_open(netlist.c_str(), &c.image) == TTRT_STATUS_SUCCESS &&
              ttrt_backend_create(c.image, &config, &c.backend) == TTRT_STATUS_SUCCESS &&
              ttrt_backend_initialize(c.backend) == TTRT_STATUS_SUCCESS &&
              ttrt_backend_get_queue_descriptor(c.backend, "in0", &in0) == TTRT_STATUS_SUCCESS &&
              ttrt_backend_get_queue_descriptor(c.backend, "out", &out) == TTRT_STATUS_SUCCESS;
    ttrt_tensor_desc t = {};
    t.ptr = x.data();
    t.itemsize = 2;
    t.format = TTRT_DATA_FORMAT_FLOAT16_B;
    std::uint32_t shape[4] = {1, 1, 32, 64}, strides[4] = {32 * 64 * 2, 32 * 64 * 2, 64 * 2, 2};
    std::memcpy(t.shape, shape, sizeof shape);
    std::memcpy(t.strides, strides, sizeof strides);
    t.dim = 4;
    ttrt_tensor_desc o = {};
    ok = ok && ttrt_push_input(c.backend, &in0, &t, true, 1000, -1) == TTRT_STATUS_SUCCESS &&
         ttrt_backend_run_program(c.backend, "run", nullptr, 0) == TTRT_STATUS_SUCCESS &&
         ttrt_get_output(c.backend, &out, &o, true, 1000, -1) == TTRT_STATUS_SUCCESS;
    check(ok, std::string("modes: the C API run: ") + ttrt_last_error_message());
    if (ok) {
        const auto *p = static_cast<const unsigned char *>(o.ptr);
        got.assign(p, p + std::size_t(o.shape[0]) * o.strides[0]);
        ttrt_tensor_desc_free(&o);
    }
    return got;
}

void golden_type_selects_golden_mode(const std::string &netlist) {
    std::vector<unsigned char> device = run_modes(netlist, tt::DEVICE::Invalid, 0);
    std::vector<unsigned char> golden = run_modes(netlist, tt::DEVICE::Invalid, 1);
    check(!device.empty() && device != golden, "modes: the C API's two modes give different outputs");
    check(run_modes(netlist, tt::DEVICE::Golden, 0) == golden, "DEVICE::Golden runs in golden mode");
    check(run_modes(netlist, tt::DEVICE::Silicon, 0) == device, "DEVICE::Silicon runs with device numerics");
    check(run_modes(netlist, tt::DEVICE::Versim, 0) == device, "DEVICE::Versim runs with device numerics");
}


// ---------------------------------------------------------------- descriptors and harvesting

//! One loop of an image through the guide's calls (inputs as fill_tensor_with_data leaves them),
//! every output's bytes in order; empty when create throws or a call fails.
std::vector<unsigned char> run_image(const std::string &tti, const tt::tt_backend_config &config, std::string *thrown) {
    std::vector<unsigned char> got;
    try {
        auto model = std::make_shared<tt::tt_device_image>(tti);
        std::shared_ptr<tt_backend> backend = tt_backend::create(model, config);
        if (backend->initialize() != tt::DEVICE_STATUS_CODE::Success) {
            if (thrown != nullptr) {
                *thrown = ttrt::buda::last_error();
            }
            return got;
        }
        bool ok = true;
        for (const std::string &name : model->get_graph_input_names()) {
            tt::tt_dram_io_desc io = tt::io::utils::get_queue_descriptor(backend, name);
            tt::tt_PytorchTensorDesc t = tt::io::utils::get_tensor_descriptor(name, model, io);
            tt::io::utils::fill_tensor_with_data(name, t);
            ok = ok && tt::backend::push_input(io, t, false, 1) == tt::DEVICE_STATUS_CODE::Success;
            ok = ok && tt::backend::free_tensor(t) == tt::DEVICE_STATUS_CODE::Success;
        }
        for (const auto &program : backend->get_programs()) {
            ok = ok && backend->run_program(program, {{"$p_loop_count", "1"}}) == tt::DEVICE_STATUS_CODE::Success;
        }
        for (const std::string &name : model->get_graph_output_names()) {
            tt::tt_dram_io_desc io = tt::io::utils::get_queue_descriptor(backend, name);
            tt::tt_PytorchTensorDesc out = {};
            ok = ok && tt::backend::get_output(io, out, false, 1) == tt::DEVICE_STATUS_CODE::Success;
            if (ok && out.ptr != nullptr) {
                const auto *p = static_cast<const unsigned char *>(out.ptr);
                got.insert(got.end(), p, p + std::size_t(out.shape[0]) * out.strides[0]);
            }
            ok = ok && tt::backend::pop_output(io, false, 1) == tt::DEVICE_STATUS_CODE::Success;
            ok = ok && tt::backend::free_tensor(out) == tt::DEVICE_STATUS_CODE::Success;
        }
        ok = backend->finish() == tt::DEVICE_STATUS_CODE::Success && ok;
        if (!ok) {
            got.clear();
        }
    } catch (const std::runtime_error &e) {
        if (thrown != nullptr) {
            *thrown = e.what();
        }
        got.clear();
    }
    return got;
}

//! soc_descriptor_path and harvested_rows reach ttrt's backend config: the harvested 8x12
//! Grayskull image runs with rows 1 and 11 harvested and gives digits' outputs, and is refused
//! without them naming both masks; a descriptor's grid decides where ops may be placed.
void descriptors_and_harvesting(const std::string &digits, const std::string &harvested_tti, const std::string &socs) {
    // Each run's outputs and what it threw, taken before the check that names them (the order in
    // which a call's arguments are evaluated is unspecified).
    std::string thrown;
    auto run = [&](const std::string &tti, const tt::tt_backend_config &config) {
        thrown.clear();
        return run_image(tti, config, &thrown);
    };
    std::vector<unsigned char> plain = run(digits, tt::tt_backend_config{});
    check(!plain.empty(), "harvesting: digits.tti runs unharvested: " + thrown);

    tt::tt_backend_config rows_1_11;
    rows_1_11.harvested_rows = {{0, {1, 11}}};
    const char *device = std::getenv("TTRT_DEVICE");
    if (device != nullptr && std::strncmp(device, "shm:", 4) == 0) {
        // A device process serves the chip it was started with (`ttrt sim-device
        // --harvested-rows`); a backend asking for another mask is refused, naming both.
        std::vector<unsigned char> got = run(harvested_tti, rows_1_11);
        check(got.empty() && contains(thrown, "2050") && contains(thrown, "mask 0"),
              "harvesting: a device process of mask 0 refuses a backend asking for 2050: " + thrown);
        return;
    }
    std::vector<unsigned char> got = run(harvested_tti, rows_1_11);
    check(got == plain, "harvesting: the 8x12 image runs with rows {1, 11} harvested and gives digits' outputs: " + thrown);

    tt::tt_backend_config other_chip;
    other_chip.harvested_rows = {{3, {1, 11}}};
    got = run(harvested_tti, other_chip);
    check(got.empty() && contains(thrown, "2050"),
          "harvesting: chip 3's rows do not apply to chip 0, so the 8x12 image is refused naming its mask: " + thrown);
    got = run(harvested_tti, tt::tt_backend_config{});
    check(got.empty() && contains(thrown, "2050"),
          "harvesting: the 8x12 image is refused on an unharvested chip, naming its mask: " + thrown);
    got = run(digits, rows_1_11);
    check(got.empty() && contains(thrown, "2050"),
          "harvesting: digits.tti is refused on the harvested chip, naming its mask: " + thrown);
    tt::tt_backend_config row_6;
    row_6.harvested_rows = {{0, {6}}};
    got = run(digits, row_6);
    check(got.empty() && contains(thrown, "row 6"), "harvesting: Grayskull's row 6 cannot be harvested: " + thrown);

    tt::tt_backend_config full;
    full.soc_descriptor_path = socs + "/grayskull_10x12.yaml";
    got = run(digits, full);
    check(got == plain, "descriptor: grayskull_10x12.yaml runs digits: " + thrown);
    tt::tt_backend_config tiny;
    tiny.soc_descriptor_path = socs + "/grayskull_1x1_arch.yaml";
    got = run(digits, tiny);
    check(got.empty() && contains(thrown, "grid_loc"),
          "descriptor: a 1x1 Grayskull refuses digits' ops, naming a grid_loc: " + thrown);
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 7) {
        std::fprintf(stderr,
                     "usage: compat_test DIGITS_TTI DIGITS_YAML TRAINING_NETLIST GOLDEN_MODES_NETLIST "
                     "HARVESTED_TTI SOC_DESCRIPTOR_DIR\n");
        return 2;
    }
    ttrt::buda::set_error_handler([](const std::string &m) { handled.push_back(m); });
    enum_values_are_upstreams();
    sizeof_format_is_upstreams();
    tile_sizes_are_upstreams();
    image_lists_names_arch_and_devtype(argv[1], argv[2]);
    backend_from_an_image(argv[1]);
    {
        auto model = std::make_shared<tt::tt_device_image>(argv[1]);
        std::shared_ptr<tt_backend> backend = tt_backend::create(model, tt::tt_backend_config{});
        check(backend->initialize() == tt::DEVICE_STATUS_CODE::Success, "initialize");
        outputs_equal_the_c_apis(backend, argv[1], 3, "digits.tti", false);
        check(backend->finish() == tt::DEVICE_STATUS_CODE::Success, "finish");
    }
    backend_from_a_netlist(argv[2], argv[3]);
    golden_type_selects_golden_mode(argv[4]);
    descriptors_and_harvesting(argv[1], argv[5], argv[6]);
    std::printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
