#!/usr/bin/env bash
# Runs an ELF on QEMU's mps2-an386 as qemu-run.sh does (its board flags, -icount shift=0), with
# every translated block's disassembly and every execution of a block logged to LOG, for
# m4-cycles.py. The log of one anomaly-detector boot is about 400 MB.
#
#   qemu-trace.sh ELF LOG
set -euo pipefail
here=$(dirname "$0")
mapfile -t board < <(grep -v '^[[:space:]]*$' "$here/qemu-board.args")
qemu-system-arm "${board[@]}" -icount shift=0 -nographic -serial null \
  -semihosting-config enable=on,target=native,arg=mnist-firmware -kernel "$1" \
  -d in_asm,exec,nochain -D "$2" >/dev/null
