#!/usr/bin/env bash
# The host tools of the conformance harness, from Debian: QEMU (TCG, no KVM needed),
# busybox for the guest, gcc and the C library to build the static guest program.
# The kernels themselves are fetched by `dmabuf-check conformance` (apt-get download of the
# pinned versions in checker/conformance/kernels.py).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends qemu-system-x86 busybox-static gcc libc6-dev \
  linux-libc-dev >/dev/null
