# Cross-compiling ttrt for riscv64 Linux with Debian's gcc-riscv64-linux-gnu (and libc6-dev-*-cross):
#
#   cmake -S cmake -B build-riscv64 -DCMAKE_TOOLCHAIN_FILE=$PWD/cmake/toolchains/riscv64-linux-gnu.cmake
#
# The C compiler also links the Rust target (rustup target add riscv64gc-unknown-linux-gnu).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR riscv64)
set(CMAKE_C_COMPILER riscv64-linux-gnu-gcc)
set(TTRT_RUST_TARGET riscv64gc-unknown-linux-gnu CACHE STRING "Rust target triple (empty: the host)")
