#!/usr/bin/env bash
# Runs on the GPU machine (see BENCHMARKS.md): unpacks Node and the Vulkan loader carried in
# .device/ (made by bench/device/prepare.sh), then times training on every backend that loads,
# and the PyTorch peer on CUDA. Output goes to $OUT.
set -u
cd "$(dirname "$0")/../../.device"
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
xz -d -c node.xz > /tmp/node && chmod +x /tmp/node
for f in gl/*.deb; do dpkg -x "$f" /; done
ldconfig
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES="$icd"
egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
[ -f "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES="$egl"
{
  nvidia-smi -L
  echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
  ls /usr/local/nvidia/share/vulkan/icd.d/ /usr/share/vulkan/icd.d/ /etc/vulkan/icd.d 2>&1
} 2>&1 | tee "$OUT/machine.txt"
run() {
  echo "== small $1 on $2" | tee -a "$OUT/train.log"
  TORCH_PYTHON=python3 TORCH_DEVICE=cuda timeout 240 /tmp/node train.mjs --preset small $1 --steps 10 --backends "$2" 2>&1 | tee -a "$OUT/train.log"
}
run "--batch 16 --length 128" tensorflow-gpu,tensorflow,webgpu,wasm
run "--batch 64 --length 128" webgpu
