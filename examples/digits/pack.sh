#!/bin/sh
# Rebuilds examples/digits.tti from the netlist and the tensors train.py wrote (run from the
# repository root; tests/backend/digits.rs checks the committed archive is what this produces).
set -e
cargo run --release --bin ttrt -- pack examples/digits/digits.yaml --tensors examples/digits/tensors --name digits -o examples/digits.tti
