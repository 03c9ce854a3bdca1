#!/usr/bin/env bash
# Builds the kernel code objects into build/ (git-ignored):
#   build/amdgcn/flash_attn-<arch>.hsaco  hipcc --genco (Debian hipcc 5.2, HIP_PLATFORM=amd) per AMD architecture
#   build/nvidia/flash_attn.fatbin        the same source through nvcc (sm_80, sm_90 SASS + compute_90 PTX)
#   build/manifest.json                   what was built
# A missing compiler is not an error: the script says why that part is skipped and the backend reports the
# missing code object as its unavailability reason. FORCE=1 rebuilds even when outputs are newer than sources.
set -u
cd "$(dirname "$0")/.."
SRC=kernels/flash_attn.hip
ARCHS="${FLASHATTN_ROCM_ARCHS:-gfx908 gfx90a gfx940 gfx1030}"
HIPCC="${HIPCC:-hipcc}"   # overridable, e.g. to test the "compiler absent" path
NVCC="${NVCC:-nvcc}"
mkdir -p build/amdgcn build/nvidia
newest_src=$(ls -t kernels/* | head -1)
fresh() { [ -z "${FORCE:-}" ] && [ -f "$1" ] && [ "$1" -nt "$newest_src" ]; }

amd_built=()
skipped=()
hip_version=""
if command -v "$HIPCC" >/dev/null 2>&1; then
  hip_version=$(HIP_PLATFORM=amd "$HIPCC" --version 2>/dev/null | grep -m1 -i "HIP version" | sed 's/.*: *//')
  pids=()
  for a in $ARCHS; do
    out=build/amdgcn/flash_attn-$a.hsaco
    if fresh "$out"; then echo "rocm: $out is up to date"; continue; fi
    ( HIP_PLATFORM=amd "$HIPCC" --genco --offload-arch="$a" -O3 -o "$out.tmp" "$SRC" 2> "build/amdgcn/$a.log" \
        && mv "$out.tmp" "$out" && echo "rocm: built $out" ) &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  for a in $ARCHS; do
    if [ -f "build/amdgcn/flash_attn-$a.hsaco" ]; then amd_built+=("$a")
    else echo "rocm: hipcc failed for $a:"; sed 's/^/  /' "build/amdgcn/$a.log" | head -20; skipped+=("$a: hipcc failed"); fi
  done
else
  echo "rocm: hipcc not found; AMD code objects skipped (Debian: apt-get install -y hipcc libamdhip64-dev)"
  skipped+=("amdgcn: hipcc not found")
fi

nv_targets=()
nv_version=""
if command -v "$NVCC" >/dev/null 2>&1; then
  nv_version=$("$NVCC" --version | grep -m1 release | sed 's/.*release //')
  out=build/nvidia/flash_attn.fatbin
  if fresh "$out"; then echo "rocm: $out is up to date"
  elif "$NVCC" -x cu -fatbin -O3 -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=[sm_90,compute_90] \
        -o "$out.tmp" "$SRC" 2> build/nvidia/nvcc.log; then
    mv "$out.tmp" "$out"; echo "rocm: built $out"
  else
    echo "rocm: nvcc failed:"; sed 's/^/  /' build/nvidia/nvcc.log | head -20
  fi
  [ -f "$out" ] && nv_targets=(sm_80 sm_90 compute_90)
else
  echo "rocm: nvcc not found; NVIDIA fatbin skipped (only needed for FLASHATTN_ROCM_DRIVER=cuda)"
  skipped+=("nvidia: nvcc not found")
fi

json_list() { local first=1; printf '['; for x in "$@"; do [ $first = 1 ] || printf ', '; printf '"%s"' "$x"; first=0; done; printf ']'; }
{
  printf '{\n  "built": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf '  "amd": {"compiler": "hipcc %s", "archs": %s},\n' "$hip_version" "$(json_list "${amd_built[@]+"${amd_built[@]}"}")"
  printf '  "nvidia": {"compiler": "nvcc %s", "targets": %s},\n' "$nv_version" "$(json_list "${nv_targets[@]+"${nv_targets[@]}"}")"
  printf '  "skipped": %s\n}\n' "$(json_list "${skipped[@]+"${skipped[@]}"}")"
} > build/manifest.json
echo "rocm: build/manifest.json: AMD [${amd_built[*]:-}] NVIDIA [${nv_targets[*]:-}]"
exit 0
