#!/usr/bin/env bash
# Builds the `viclip` binary (and anything else named after `--`) with the `cuda` feature on a machine
# that has no GPU and no system CUDA toolkit, from NVIDIA's Python wheels:
#
#   pip install "nvidia-cuda-nvcc==13.0.*" "nvidia-nvvm==13.0.*" "nvidia-cuda-crt==13.0.*" \
#       "nvidia-cuda-cccl==13.0.*" "nvidia-cuda-runtime==13.0.*" "nvidia-cuda-nvrtc==13.0.*" \
#       "nvidia-cublas==13.*" "nvidia-curand==10.*"
#   scripts/build-cuda.sh                     # = cargo build --release --features viclip/cuda --bin viclip
#   scripts/build-cuda.sh --example tower_timing
#
# The wheels put a complete nvcc and the CUDA libraries under site-packages/nvidia/cu13, but only with
# versioned names (libcublas.so.13) and without libcuda (the driver, which only a GPU machine has).
# This script assembles a toolkit root under target/cuda-toolkit with unversioned links and a stub
# libcuda.so (every driver entry point cudarc declares, as empty functions, soname libcuda.so.1), and
# points cudarc and candle-kernels at it. The stub is only for linking: at run time the GPU machine's
# real libcuda.so.1 is loaded, and its CUDA 13 libraries must be on LD_LIBRARY_PATH (PERFORMANCE.md).
#
# The build goes to target/cuda (its own target directory, so that switching between this and the CPU
# build does not rebuild either). A clean build takes ~20 min on 2 cores; candle-kernels' nvcc step
# is most of it.
set -euo pipefail
cd "$(dirname "$0")/.."

wheels=${CUDA_WHEELS:-$(python3 -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13"))')}
[ -x "$wheels/bin/nvcc" ] || { echo "no nvcc under $wheels: install the wheels listed at the top of $0" >&2; exit 1; }

root=$PWD/target/cuda-toolkit
mkdir -p "$root/lib"
for d in bin include nvvm; do ln -sfn "$wheels/$d" "$root/$d"; done
for lib in cudart cublas cublasLt curand nvrtc; do
    real=$(ls "$wheels"/lib/lib$lib.so.* 2>/dev/null | grep -v alt | sort | head -n1)
    [ -n "$real" ] || { echo "lib$lib.so.* missing under $wheels/lib: install its wheel" >&2; exit 1; }
    ln -sfn "$real" "$root/lib/lib$lib.so"
done

# The driver stub: one empty function per `cu*` entry point in cudarc's driver bindings.
sys=$(cargo metadata --format-version 1 --features cuda 2>/dev/null |
    python3 -c 'import json,sys; m=json.load(sys.stdin); print(next(p["manifest_path"] for p in m["packages"] if p["name"]=="cudarc"))')
sys=$(dirname "$sys")/src/driver/sys/mod.rs
if [ ! -f "$root/lib/libcuda.so" ] || [ "$sys" -nt "$root/lib/libcuda.so" ]; then
    grep -o '^pub unsafe fn cu[A-Za-z0-9_]*' "$sys" | sort -u | sed 's/^pub unsafe fn \(.*\)/void \1(void) {}/' > "$root/cuda_stub.c"
    cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$root/lib/libcuda.so" "$root/cuda_stub.c"
fi

export CUDA_HOME=$root
export PATH=$root/bin:$PATH
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/cuda}
if [ $# -eq 0 ]; then set -- --bin viclip; fi
exec cargo build --release --features viclip/cuda "$@"
