#!/usr/bin/env python3
"""Prices a QEMU run on the Cortex-M4 in cycles, from the instructions it executed.

QEMU counts instructions, not cycles. This reads the log of
`qemu-system-arm ... -d in_asm,exec,nochain -D LOG` (each translated block's disassembly,
then every execution of a block), keeps the executions from the first to the last block
of the function whose symbol contains SYMBOL (the calls it makes included), and prices
each instruction by the Cortex-M4 Technical Reference Manual's table:

- LDR, LDRB, LDRH, LDRSB, LDRSH, STR, STRB, STRH: 2 cycles, 1 when it follows another load
  or store (they pipeline); LDRD, STRD: 3, 2 in such a run; LDM, STM, PUSH, POP: 1 + N;
- a taken branch (B, BL, BX, CBZ, CBNZ, a POP or LDR into PC): 1 + P, P the pipeline
  refill, 1 to 3 (so two prices: P = 1 and P = 3); a branch not taken: 1;
- SDIV, UDIV: 2 to 12, priced 7; everything else (SMLAD, SXTB16, SMULL, QADD, SSAT...): 1.

No flash wait states (QEMU has none; MLPerf Tiny's published figures are silicon with them).

    firmware/scripts/qemu-trace.sh ELF LOG    # the run, logged (a few hundred MB)
    python3 firmware/scripts/m4-cycles.py LOG 'ModelI8$GT$3run' [MACS]
"""

import collections
import re
import sys

INSN = re.compile(r"^0x([0-9a-f]{8}):\s+((?:[0-9a-f]{4} ?)+)\s+(\S+)\s*(.*)$")
CONDITIONS = ("eq", "ne", "hs", "lo", "mi", "pl", "hi", "ls", "ge", "lt", "gt", "le", "cs", "cc", "vs", "vc")
SINGLE = {"ldr", "ldrb", "ldrh", "ldrsb", "ldrsh", "str", "strb", "strh"}
DOUBLE = {"ldrd", "strd"}
MULTIPLE = {"ldm", "ldmia", "ldmdb", "stm", "stmia", "stmdb", "push", "pop"}
BRANCHES = {"b", "bl", "bx", "blx", "cbz", "cbnz"}
REGISTER = re.compile(r"\b(r\d+|lr|pc|sb|sl|fp|ip)\b")


def read(log):
    """Each block's instructions, by its address, and the executed blocks' addresses."""
    blocks, executed, current = {}, [], None
    for line in open(log, errors="replace"):
        if line.startswith("IN:"):
            current = []
        elif line.startswith("Trace"):
            fields = line.split("[")[1].split("]")[0].split("/")
            executed.append((int(fields[1], 16), line.split()[-1]))
            current = None
        elif current is not None and (m := INSN.match(line)):
            size = len(m.group(2).replace(" ", "")) // 2
            current.append((int(m.group(1), 16), size, m.group(3).split(".")[0], m.group(4)))
            if len(current) == 1:
                blocks[current[0][0]] = current
    return blocks, executed


def base(mnemonic):
    """The mnemonic without its condition (`addne` -> `add`), for the table."""
    for c in CONDITIONS:
        stem = mnemonic[: -len(c)]
        if mnemonic.endswith(c) and stem in SINGLE | DOUBLE | BRANCHES | {"add", "mov", "sub", "orr", "it"}:
            return stem
    return mnemonic


def price(block, next_pc, refill):
    """Cycles of one execution of `block`, the next block starting at `next_pc`."""
    cycles, after_load = 0, False
    for k, (addr, size, mnemonic, operands) in enumerate(block):
        op = base(mnemonic)
        last = k == len(block) - 1
        taken = last and next_pc is not None and next_pc != addr + size
        if op in SINGLE:
            cycles += 1 if after_load else 2
            if op == "ldr" and operands.startswith("pc"):
                cycles += refill
            after_load = True
            continue
        if op in DOUBLE:
            cycles += 2 if after_load else 3
            after_load = True
            continue
        after_load = False
        if op in MULTIPLE:
            registers = len(REGISTER.findall(operands))
            cycles += 1 + registers + (refill if "pc" in operands else 0)
        elif op in BRANCHES:
            cycles += 1 + refill if taken or op in ("bl", "blx", "bx") else 1
        elif op in ("sdiv", "udiv"):
            cycles += 7
        else:
            cycles += 1
    return cycles


def main():
    log, symbol = sys.argv[1], sys.argv[2]
    macs = int(sys.argv[3]) if len(sys.argv) > 3 else 264_192
    blocks, executed = read(log)
    inside = [i for i, (_, s) in enumerate(executed) if symbol in s]
    if not inside:
        sys.exit(f"no executed block of a function whose symbol contains {symbol!r}")
    window = executed[inside[0] : inside[-1] + 1]
    instructions = sum(len(blocks[pc]) for pc, _ in window)
    print(f"{instructions} instructions, {instructions / macs:.3f} per MAC")
    for refill in (1, 3):
        cycles = sum(
            price(blocks[pc], window[i + 1][0] if i + 1 < len(window) else None, refill)
            for i, (pc, _) in enumerate(window)
        )
        print(f"P = {refill}: {cycles} cycles, {cycles / macs:.3f} per MAC")
    hot = collections.Counter()
    for pc, _ in window:
        hot[pc] += len(blocks[pc])
    print("the hottest blocks (instructions executed, first mnemonics):")
    for pc, n in hot.most_common(6):
        print(f"  {pc:#07x} {n:8d}  " + " ".join(i[2] for i in blocks[pc][:8]))


if __name__ == "__main__":
    main()
