// digits: the embedded TTI loader of the PyBuda user guide in C++ with ttrt.hpp, on the digits
// classifier (examples/digits.tti).
//
//   digits IMAGE [INPUTS.bin LABELS.bin]
//
// First the loop of c-examples/tti_loader.c: for every input, a backend-owned tensor for its
// queue filled with the pattern ((i * 7 + 3) % 17) / 16 - 0.5 over the flat index i in the
// tensor's host format, pushed; every program run once with each parameter it declares set to
// 1; for every output, its name, shape, format and checksum (FNV-1a, 64-bit, over the bytes
// get_output returns), then pop. It prints what tti_loader and `ttrt run IMAGE --loops 1
// --inputs EMPTY_DIR` print for the same inputs.
//
// With INPUTS.bin (float32 samples of the first input's entries, e.g.
// examples/digits/test_inputs.bin) and LABELS.bin (one byte per sample), it then pushes the
// samples input_count entries at a time, runs the programs, reads the first output into its own
// memory (get_output_into) and counts the rows whose largest logit (over the classes 0 to the
// largest label) is the label: "accuracy C/N = P% over the labelled samples", as `ttrt run`
// reports it.
//
// Every failure throws ttrt::error; main prints its status and text.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <ttrt.hpp>

namespace {

constexpr std::int32_t timeout_ms = 10000;

float pattern(std::size_t i) { return static_cast<float>((i * 7 + 3) % 17) / 16.0f - 0.5f; }

std::uint32_t float_bits(float v) {
    std::uint32_t b;
    std::memcpy(&b, &v, sizeof b);
    return b;
}

// IEEE half bits of a value half holds exactly (the pattern's).
std::uint16_t half_bits(float v) {
    const std::uint32_t b = float_bits(v);
    const auto sign = static_cast<std::uint16_t>((b >> 16) & 0x8000u);
    if (v == 0.0f) {
        return sign;
    }
    const int e = static_cast<int>((b >> 23) & 0xffu);
    return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>((e - 127 + 15) << 10) |
                                      static_cast<std::uint16_t>((b >> 13) & 0x3ffu));
}

// Fills a backend tensor with the pattern in its host format.
void fill(ttrt::backend_tensor &t) {
    ttrt::span<std::uint8_t> bytes = t.writable_bytes();
    const std::uint32_t itemsize = t.desc().itemsize;
    for (std::size_t i = 0; i < t.volume(); i++) {
        const float v = pattern(i);
        std::uint8_t *at = bytes.data() + i * itemsize;
        const auto u32 = static_cast<std::uint32_t>((v + 0.5f) * 16.0f);
        std::uint16_t u16 = 0;
        switch (t.format()) {
        case TTRT_DATA_FORMAT_FLOAT32:
            std::memcpy(at, &v, 4);
            break;
        case TTRT_DATA_FORMAT_FLOAT16_B:
            u16 = static_cast<std::uint16_t>(float_bits(v) >> 16);
            std::memcpy(at, &u16, 2);
            break;
        case TTRT_DATA_FORMAT_FLOAT16:
            u16 = half_bits(v);
            std::memcpy(at, &u16, 2);
            break;
        case TTRT_DATA_FORMAT_INT8:
        case TTRT_DATA_FORMAT_UINT8:
        case TTRT_DATA_FORMAT_RAW_UINT8:
            *at = static_cast<std::uint8_t>(u32);
            break;
        case TTRT_DATA_FORMAT_UINT16:
        case TTRT_DATA_FORMAT_RAW_UINT16:
            u16 = static_cast<std::uint16_t>(u32);
            std::memcpy(at, &u16, 2);
            break;
        default:
            std::memcpy(at, &u32, 4);
            break;
        }
    }
}

std::uint64_t fnv1a(ttrt::span<const std::uint8_t> bytes) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (std::uint8_t b : bytes) {
        h ^= b;
        h *= 0x100000001b3ull;
    }
    return h;
}

const char *format_name(ttrt_data_format f) {
    switch (f) {
    case TTRT_DATA_FORMAT_FLOAT32: return "Float32";
    case TTRT_DATA_FORMAT_FLOAT16: return "Float16";
    case TTRT_DATA_FORMAT_FLOAT16_B: return "Float16_b";
    case TTRT_DATA_FORMAT_INT8: return "Int8";
    case TTRT_DATA_FORMAT_UINT8: return "UInt8";
    case TTRT_DATA_FORMAT_UINT16: return "UInt16";
    case TTRT_DATA_FORMAT_INT32: return "Int32";
    default: return "other";
    }
}

// Runs every program once, each declared parameter set to 1 (one microbatch per run).
void run_programs(ttrt::backend &be) {
    for (std::size_t p = 0; p < be.program_count(); p++) {
        std::vector<std::string> names;
        for (std::size_t i = 0; i < be.program_param_count(p); i++) {
            names.push_back(be.program_param_name(p, i));
        }
        std::vector<ttrt::program_param> params;
        for (const std::string &name : names) {
            params.push_back(ttrt::program_param{name.c_str(), "1"});
        }
        be.run_program(be.program_name(p), params);
    }
}

std::vector<std::uint8_t> read_file(const char *path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error(std::string(path) + ": cannot be read");
    }
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The labelled samples through the first input and output: how many are classified right.
void classify(const ttrt::image &img, ttrt::backend &be, const char *inputs_path, const char *labels_path) {
    const std::vector<std::uint8_t> raw = read_file(inputs_path);
    const std::vector<std::uint8_t> labels = read_file(labels_path);
    std::vector<float> samples(raw.size() / sizeof(float));
    std::memcpy(samples.data(), raw.data(), samples.size() * sizeof(float));
    std::size_t classes = 1;
    for (std::uint8_t l : labels) {
        classes = std::max<std::size_t>(classes, std::size_t{l} + 1);
    }

    const ttrt::io_desc in_q = be.queue_descriptor(img.input_name(0));
    const ttrt::io_desc out_q = be.queue_descriptor(img.output_name(0));
    const ttrt::shape4 in_shape = ttrt::io_desc_host_shape(in_q, in_q.input_count);
    const ttrt::shape4 out_shape = ttrt::io_desc_host_shape(out_q, out_q.input_count);
    const std::size_t per_push = ttrt::volume(in_shape);
    const std::size_t rows_per_push = std::size_t{out_shape[0]} * out_shape[1] * out_shape[2];
    const std::size_t cols = out_shape[3];
    std::vector<float> logits(ttrt::volume(out_shape));

    std::size_t correct = 0, classified = 0;
    for (std::size_t at = 0, push = 0; at + per_push <= samples.size(); at += per_push, push++) {
        ttrt::span<const float> chunk = ttrt::span<const float>(samples).subspan(at, per_push);
        be.push_input(in_q, ttrt::make_tensor_desc(chunk, in_shape), false, timeout_ms);
        run_programs(be);
        be.get_output_into(out_q, ttrt::make_tensor_desc(ttrt::span<float>(logits), out_shape), false, timeout_ms);
        be.pop_output(out_q, false, timeout_ms);
        for (std::size_t r = 0; r < rows_per_push; r++) {
            const std::size_t sample = push * rows_per_push + r;
            if (sample >= labels.size()) {
                break;
            }
            std::size_t best = 0;
            for (std::size_t c = 1; c < classes && c < cols; c++) {
                if (logits[r * cols + c] > logits[r * cols + best]) {
                    best = c;
                }
            }
            classified++;
            correct += best == labels[sample] ? 1 : 0;
        }
    }
    std::printf("accuracy %zu/%zu = %.2f%% over the labelled samples\n", correct, classified,
                classified == 0 ? 0.0 : 100.0 * static_cast<double>(correct) / static_cast<double>(classified));
}

int run(int argc, char **argv) {
    if (argc != 2 && argc != 4) {
        std::fprintf(stderr, "usage: digits IMAGE [INPUTS.bin LABELS.bin]\n");
        return 2;
    }
    if (!ttrt::abi_compatible()) {
        std::fprintf(stderr, "digits: libttrt ABI %u, header %u\n", ttrt::abi_version(), TTRT_ABI_VERSION);
        return 1;
    }
    const ttrt::image img = ttrt::image::open(argv[1]);
    ttrt::backend be = ttrt::backend::create(img);
    be.initialize();

    for (const std::string &name : img.input_names()) {
        const ttrt::io_desc q = be.queue_descriptor(name);
        ttrt::backend_tensor t = be.tensor_desc_for_queue(q);
        fill(t);
        be.push_input(q, t, false, timeout_ms);
    }
    run_programs(be);
    for (const std::string &name : img.output_names()) {
        const ttrt::io_desc q = be.queue_descriptor(name);
        const ttrt::backend_tensor t = be.get_output(q, false, timeout_ms);
        std::printf("output %s shape [%u, %u, %u, %u] format %s checksum 0x%016llx\n", name.c_str(), t.shape()[0],
                    t.shape()[1], t.shape()[2], t.shape()[3], format_name(t.format()),
                    static_cast<unsigned long long>(fnv1a(t.bytes())));
        be.pop_output(q, false, timeout_ms);
    }

    if (argc == 4) {
        classify(img, be, argv[2], argv[3]);
    }
    be.finish();
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    try {
        return run(argc, argv);
    } catch (const ttrt::error &e) {
        std::fprintf(stderr, "digits: %s: %s\n", e.status_name(), e.what());
    } catch (const std::exception &e) {
        std::fprintf(stderr, "digits: %s\n", e.what());
    }
    return 1;
}
