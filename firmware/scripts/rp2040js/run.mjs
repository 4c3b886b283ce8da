#!/usr/bin/env node
// Runs the Pico firmware (an RP2040 ELF) in rp2040js, the RP2040 emulator with the
// Cortex-M0+'s cycle counts, without the boot ROM (rp2040js does not ship it):
//
//   node run.mjs ELF            self-test, then exit with the firmware's status (0 = passed)
//   node run.mjs ELF serve      self-test, then serve: UART0 is this process's stdin/stdout
//
// 1. The ELF's loadable segments go into the emulated flash at their load addresses.
// 2. The boot ROM and boot2 are skipped: boot2 only sets up the QSPI flash for
//    execute-in-place, which the emulator's flash needs no setup for. VTOR, SP and PC come
//    from the vector table after boot2 (0x10000100), as boot2 would leave them.
// 3. Without `serve`, WATCHDOG SCRATCH0 says "self-test only" (firmware/src/boards/pico.rs);
//    the firmware's exit writes its status to SCRATCH1, which becomes this exit code.
// 4. UART0 is bridged to stdin/stdout as raw bytes; the defmt log is read from the RTT
//    control block (`_SEGGER_RTT`) in emulated RAM and decoded by `defmt-print -e ELF`, whose
//    text goes to stderr. rp2040js's own warnings go to stderr too.
//
// The SysTick the firmware counts with runs at the core clock, 125 MHz, ticked by the
// cycles rp2040js charges each instruction: `cycles_per_inference` is M0+ cycles.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { RP2040 } from 'rp2040js';

const FLASH_START = 0x10000000;
const RAM_START = 0x20000000;
/** The vector table, after the 256 bytes of boot2. */
const VECTORS = FLASH_START + 0x100;
const WATCHDOG = 0x40058;
const SCRATCH1 = 0x10;
const SELF_TEST_ONLY = 0x5e1f7e57;
const EXIT_TAG = 0xe71d;
/** Nanoseconds per cycle at 125 MHz, the clock the firmware sets and SysTick runs at. */
const CYCLE_NANOS = 8;
/** Instructions between looks at stdin, stdout and the RTT buffer. */
const SLICE = 50_000;
/** UART0 status reads with nothing to receive, in one slice, that mean the firmware waits. */
const IDLE_POLLS = 64;

function fail(message) {
  process.stderr.write(`rp2040js: ${message}\n`);
  process.exit(2);
}

const [elfPath, ...args] = process.argv.slice(2);
if (!elfPath) fail('usage: node run.mjs FIRMWARE.elf [serve]');
const serve = args.includes('serve');

// ---------------------------------------------------------------- the ELF

let elf;
try {
  elf = readFileSync(elfPath);
} catch (e) {
  fail(`cannot read ${elfPath}: ${e.message}`);
}
if (elf.length < 52 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 1 || elf[5] !== 1) {
  fail(`${elfPath} is not a 32-bit little-endian ELF`);
}

/** Loadable segments: [load address, bytes]. */
function segments() {
  const phoff = elf.readUInt32LE(28);
  const phentsize = elf.readUInt16LE(42);
  const phnum = elf.readUInt16LE(44);
  const out = [];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (elf.readUInt32LE(ph) !== 1 /* PT_LOAD */) continue;
    const offset = elf.readUInt32LE(ph + 4);
    const paddr = elf.readUInt32LE(ph + 12);
    const filesz = elf.readUInt32LE(ph + 16);
    if (filesz > 0) out.push([paddr, elf.subarray(offset, offset + filesz)]);
  }
  return out;
}

/** The address of a symbol in .symtab, or undefined. */
function symbol(name) {
  const shoff = elf.readUInt32LE(32);
  const shentsize = elf.readUInt16LE(46);
  const shnum = elf.readUInt16LE(48);
  const section = (i) => {
    const sh = shoff + i * shentsize;
    return {
      type: elf.readUInt32LE(sh + 4),
      offset: elf.readUInt32LE(sh + 16),
      size: elf.readUInt32LE(sh + 20),
      link: elf.readUInt32LE(sh + 24),
    };
  };
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (s.type !== 2 /* SHT_SYMTAB */) continue;
    const strtab = section(s.link);
    for (let at = s.offset; at + 16 <= s.offset + s.size; at += 16) {
      const start = strtab.offset + elf.readUInt32LE(at);
      const end = elf.indexOf(0, start);
      if (elf.toString('latin1', start, end) === name) return elf.readUInt32LE(at + 4);
    }
  }
  return undefined;
}

// ---------------------------------------------------------------- the chip

const rp2040 = new RP2040();
const quiet = () => {};
const toStderr = (component, message) => process.stderr.write(`rp2040js [${component}] ${message}\n`);
rp2040.logger = { debug: quiet, info: quiet, warn: toStderr, error: toStderr };

for (const [address, bytes] of segments()) {
  if (address >= FLASH_START && address + bytes.length <= FLASH_START + rp2040.flash.length) {
    rp2040.flash.set(bytes, address - FLASH_START);
  } else if (address >= RAM_START && address + bytes.length <= RAM_START + rp2040.sram.length) {
    rp2040.sram.set(bytes, address - RAM_START);
  } else {
    fail(`${elfPath} loads ${bytes.length} bytes at 0x${address.toString(16)}, outside flash and RAM`);
  }
}
rp2040.core.VTOR = VECTORS;
rp2040.core.SP = rp2040.readUint32(VECTORS);
rp2040.core.PC = rp2040.readUint32(VECTORS + 4) & ~1;

let exitCode = null;
const watchdog = rp2040.peripherals[WATCHDOG];
if (!serve) watchdog.scratchData[0] = SELF_TEST_ONLY;
const watchdogWrite = watchdog.writeUint32.bind(watchdog);
watchdog.writeUint32 = (offset, value) => {
  watchdogWrite(offset, value);
  if (offset === SCRATCH1 && value >>> 16 === EXIT_TAG) exitCode = value & 0xffff;
};
rp2040.onBreak = (code) => {
  process.stderr.write(`rp2040js: breakpoint or undefined instruction ${code} at 0x${rp2040.core.PC.toString(16)}\n`);
  exitCode = 3;
};

// ---------------------------------------------------------------- UART0 <-> stdin/stdout

const uart = rp2040.uart[0];
let output = [];
uart.onByte = (byte) => output.push(byte);
let input = Buffer.alloc(0);
let inputEnded = !serve;
let wake = null;
let idlePolls = 0;
if (serve) {
  process.stdin.on('data', (chunk) => {
    input = input.length ? Buffer.concat([input, chunk]) : chunk;
    wake?.();
  });
  process.stdin.on('end', () => {
    inputEnded = true;
    wake?.();
  });
}
// Refill the receive FIFO whenever the firmware looks at the flags and finds it empty.
const uartRead = uart.readUint32.bind(uart);
uart.readUint32 = (offset) => {
  if (offset === 0x18 /* UARTFR */ && uart.rxFIFO.empty) {
    if (input.length) {
      const n = Math.min(input.length, 32);
      for (let i = 0; i < n; i++) uart.feedByte(input[i]);
      input = input.subarray(n);
    } else {
      idlePolls++;
    }
  }
  return uartRead(offset);
};
function flushOutput() {
  if (output.length) {
    process.stdout.write(Buffer.from(output));
    output = [];
  }
}

// ---------------------------------------------------------------- RTT -> defmt-print

const rttAddress = symbol('_SEGGER_RTT');
if (rttAddress === undefined) fail(`${elfPath} has no _SEGGER_RTT (built without defmt-rtt?)`);
const decoder = spawn('defmt-print', ['-e', elfPath], { stdio: ['pipe', process.stderr, process.stderr] });
decoder.on('error', (e) => fail(`cannot start defmt-print (cargo install --locked defmt-print): ${e.message}`));
const decoderDone = new Promise((resolve) => decoder.on('close', resolve));
let rttBlocking = false;

/** Copies what the firmware wrote to RTT up-channel 0 into defmt-print. */
function drainRtt() {
  const ram = (address) => rp2040.readUint32(address);
  if (ram(rttAddress) !== 0x47474553 /* "SEGG" */) return; // not initialised yet
  const channel = rttAddress + 24; // after the 16-byte id and the two channel counts
  if (!rttBlocking) {
    // Block (rather than drop) when full: this script drains it between slices.
    rp2040.writeUint32(channel + 20, (ram(channel + 20) & ~3) | 2);
    rttBlocking = true;
  }
  const buffer = ram(channel + 4);
  const size = ram(channel + 8);
  const write = ram(channel + 12);
  let read = ram(channel + 16);
  if (read === write || size === 0) return;
  const bytes = [];
  while (read !== write) {
    bytes.push(rp2040.sram[buffer - RAM_START + read]);
    read = (read + 1) % size;
  }
  rp2040.writeUint32(channel + 16, read);
  decoder.stdin.write(Buffer.from(bytes));
}

// ---------------------------------------------------------------- run

async function finish(code) {
  drainRtt();
  flushOutput();
  decoder.stdin.end();
  await decoderDone;
  process.stderr.write(`rp2040js: ${rp2040.core.cycles} cycles\n`);
  process.exit(code);
}

for (;;) {
  idlePolls = 0;
  const { core, clock } = rp2040;
  for (let i = 0; i < SLICE && exitCode === null; i++) {
    if (core.waiting) {
      const nanos = clock.nanosToNextAlarm;
      if (!(nanos > 0)) break;
      clock.tick(nanos);
    } else {
      clock.tick(core.executeInstruction() * CYCLE_NANOS);
    }
  }
  drainRtt();
  flushOutput();
  if (exitCode !== null) await finish(exitCode);
  if (idlePolls >= IDLE_POLLS && !input.length) {
    if (inputEnded) await finish(serve ? 0 : 4);
    // The firmware waits for a byte: so does this script.
    await new Promise((resolve) => {
      wake = resolve;
    });
    wake = null;
  } else {
    // Let stdin's events in.
    await new Promise((resolve) => setImmediate(resolve));
  }
}
