#!/usr/bin/env bash
# Packs what the GPU benchmark needs into .device/ (git-ignored; carried to the GPU machine, which
# has no network and no Node): a Node binary, bench/train.ts bundled, the packages with native or
# data files, the PyTorch peer, and the Vulkan/EGL loader packages Dawn needs.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.device
rm -rf "$out"
mkdir -p "$out/node_modules/@tensorflow" "$out/gl"
xz -T2 -6 -c "$(readlink -f "$(command -v node)")" > "$out/node.xz"
npx esbuild bench/train.ts --bundle --platform=node --format=esm --target=node20 --outfile="$out/train.mjs" \
  --external:webgpu --external:@tensorflow/tfjs-core --external:@tensorflow/tfjs-backend-wasm \
  --banner:js="import { createRequire as __pinkflowRequire } from 'node:module'; const require = __pinkflowRequire(import.meta.url);" \
  --log-level=warning
cp bench/torch_pink.py "$out/"
copy() { mkdir -p "$out/node_modules/$1"; (cd "node_modules/$1" && cp --parents "${@:2}" "$OLDPWD/$out/node_modules/$1/"); }
copy webgpu package.json index.js dist/linux-x64/dawn.node
copy @tensorflow/tfjs-core package.json dist/tf-core.node.js
copy @tensorflow/tfjs-backend-wasm package.json dist/tf-backend-wasm.node.js dist/tfjs-backend-wasm.wasm dist/tfjs-backend-wasm-simd.wasm dist/tfjs-backend-wasm-threaded-simd.wasm
for p in seedrandom node-fetch whatwg-url tr46 webidl-conversions; do [ -d "node_modules/$p" ] && cp -r "node_modules/$p" "$out/node_modules/"; done
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64-lists'
mkdir -p /tmp/amd64-lists/partial
apt-get $o update -qq
(cd "$out/gl" && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
du -sh "$out"
