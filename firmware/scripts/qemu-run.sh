#!/usr/bin/env bash
# Cargo's runner for the QEMU board: runs the ELF on mps2-an386 (Cortex-M4F), decodes its
# defmt log with defmt-print, and exits with QEMU's status (the firmware's semihosting exit).
#
#   qemu-run.sh ELF            self-test, then exit (0 = passed)
#   qemu-run.sh ELF serve      self-test, then serve the UART on 127.0.0.1:$NN_SERIAL_PORT
#                              (default 4444; QEMU waits for the client to connect)
#
# `-icount shift=0` makes one instruction one nanosecond of virtual time, so SysTick
# counts instructions, deterministically.
#
# The board's flags live in qemu-board.args (one argument a line), which host-trainer's
# `device-eval --qemu` compiles in: one list, so both run the same emulated board.
set -uo pipefail
here=$(dirname "$0")
mapfile -t board < <(grep -v '^[[:space:]]*$' "$here/qemu-board.args")
elf=$1
shift
serial=(-serial null)
semihosting=enable=on,target=native,arg=mnist-firmware
for arg in "$@"; do
  semihosting+=",arg=$arg"
  if [ "$arg" = serve ]; then
    port=${NN_SERIAL_PORT:-4444}
    serial=(-serial "tcp:127.0.0.1:$port,server=on,wait=on")
    echo "serving the UART on 127.0.0.1:$port (QEMU waits for a client)" >&2
  fi
done
qemu-system-arm "${board[@]}" -icount shift=0 \
  -nographic "${serial[@]}" \
  -semihosting-config "$semihosting" -kernel "$elf" \
  | defmt-print -e "$elf"
exit "${PIPESTATUS[0]}"
