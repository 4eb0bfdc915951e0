# The system libraries a program must link next to libttrt.a: what Rust's std needs on Linux GNU
# targets, in the order rustc reports them with
#   cargo rustc --release --lib --crate-type staticlib -- --print native-static-libs
# This is the only place the list is written down: the ttrt::ttrt_static target and the
# `Libs.private` of ttrt.pc both come from it, and tests/packaging.rs checks it against rustc.
set(TTRT_NATIVE_STATIC_LIBS -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc)
