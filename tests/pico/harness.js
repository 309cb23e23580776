#!/usr/bin/env node
// Runs MicroPython's rp2 port on an emulated Raspberry Pi Pico (rp2040js) for
// the tests. The USB REPL is served on a local TCP socket (mpremote and
// pyserial open socket://127.0.0.1:PORT). The host drives the chip with one
// JSON command per line on stdin and reads one JSON answer per line on stdout
// ({"id": .., "ok": true, ...} or {"id": .., "ok": false, "error": ..});
// lines with "ev" are events (power off, watchdog reset, watched pin).
//
// Flash: rp2040js does not model the flash chip's write commands, and
// MicroPython writes flash only through the boot ROM's flash_range_erase and
// flash_range_program. Their first instruction is replaced by a BKPT that this
// harness handles (erase fills with 0xFF, program ANDs bytes in, as NOR flash
// does), so LittleFS runs unmodified while every erase and program is counted
// and a power cut can fall between any two of them.
//
// Power: the chip is a fresh RP2040 object on every power on, with the same
// flash bytes; a cut simply stops executing, at any instruction.
'use strict';

const fs = require('fs');
const net = require('net');
const readline = require('readline');
const { RP2040, USBCDC, ConsoleLogger, LogLevel } = require('rp2040js');

const FLASH_BASE = 0x10000000;
const FLASH_SIZE = 2 * 1024 * 1024; // the Pico's W25Q16
const SRAM_BASE = 0x20000000;
const CYCLE_NS = 8; // 125 MHz
const BKPT_ERASE = 0xbe01;
const BKPT_PROGRAM = 0xbe02;
const BKPT_CRC = 0xbe03;
// LittleFS's lfs_crc(crc, buffer, size) in MicroPython's flash image (found by
// its code): a nibble-table CRC-32 over metadata logs, a quarter of the
// instructions of a boot. The harness computes it natively (same table, same
// result, the emulated clock advanced by the cycles the loop takes), which is
// an emulator speed-up, not a change of the firmware's behaviour: the
// function has no side effect and a power cut inside it changes nothing.
const LFS_CRC_CODE = Buffer.from('70b50f250a4c8a18914200d170bd0b78060958402840800000591b0946407340', 'hex');
const LFS_CRC_TABLE_LITERAL = 0x30; // offset of the table's address in the function
const LFS_CRC_CYCLES_PER_BYTE = 20;
const WATCHDOG = 0x40058;
const TIMER = 0x40054;

function parseArgs(argv) {
  const out = { port: 0, flash: null, log: null };
  for (let i = 2; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    out[key] = argv[++i];
  }
  if (!out.uf2 || !out.rom) {
    throw new Error('usage: harness.js --uf2 FIRMWARE.uf2 --rom BOOTROM.bin [--flash IMG] [--port N] [--log FILE]');
  }
  return out;
}

// Each 512-byte UF2 block carries up to 476 bytes for a target address.
function loadUF2(buf, flash) {
  for (let off = 0; off + 512 <= buf.length; off += 512) {
    const magic0 = buf.readUInt32LE(off);
    const magic1 = buf.readUInt32LE(off + 4);
    if (magic0 !== 0x0a324655 || magic1 !== 0x9e5d5157) {
      throw new Error('not a UF2 block at offset ' + off);
    }
    const target = buf.readUInt32LE(off + 12);
    const size = buf.readUInt32LE(off + 16);
    flash.set(buf.subarray(off + 32, off + 32 + size), target - FLASH_BASE);
  }
}

// Addresses of the boot ROM functions named by a 2-letter code.
function romFunction(rom, code) {
  const table = rom.readUInt16LE(0x14);
  const want = code.charCodeAt(0) | (code.charCodeAt(1) << 8);
  for (let p = table; ; p += 4) {
    const c = rom.readUInt16LE(p);
    if (c === 0) throw new Error('boot ROM has no function ' + code);
    if (c === want) return rom.readUInt16LE(p + 2) & ~1;
  }
}

class Harness {
  constructor(opts) {
    const rom = fs.readFileSync(opts.rom);
    const patched = Buffer.from(rom);
    patched.writeUInt16LE(BKPT_ERASE, romFunction(rom, 'RE'));
    patched.writeUInt16LE(BKPT_PROGRAM, romFunction(rom, 'RP'));
    this.rom = new Uint32Array(new Uint8Array(patched).buffer);
    this.flash = new Uint8Array(FLASH_SIZE).fill(0xff);
    if (opts.flash) {
      this.flash.set(fs.readFileSync(opts.flash).subarray(0, FLASH_SIZE));
    } else {
      loadUF2(fs.readFileSync(opts.uf2), this.flash);
    }
    this.crc = this.findCrc();
    this.logFd = opts.log ? fs.openSync(opts.log, 'a') : null;
    this.mcu = null;
    this.cdc = null;
    this.powered = false;
    this.inputs = new Map(); // pins the host drives, kept across power cycles
    this.watched = new Map(); // pin -> last output value
    this.cutOnPin = null; // {pin, value}
    this.cutAfter = null; // instructions left before a cut
    this.cutAtFlash = null; // {op: 'erase'|'program', n}
    this.carry = null; // watchdog REASON and SCRATCH into the next chip
    this.pendingReset = null;
    this.offsetNs = 0;
    this.hostQueue = [];
    this.client = null;
    this.waiters = []; // {until: nanos, resolve}
    this.ops = '';
    this.stats = { erases: 0, programs: 0, bytes_erased: 0, bytes_programmed: 0, boots: 0, wdt_resets: 0,
      largest_program: 0 };
    this.instr = 0;
    this.idleNs = 0; // emulated time skipped while the core waited (WFI/WFE)
    this.sliceWallMs = 0; // host time spent executing
    this.epochNs = 0; // emulated time of earlier chips, so `ms` never goes back
    this.wallStart = Date.now();
    this.wallBorn = Date.now();
    this.paced = true;
    this.hold = false;
    this.timer = null;
  }

  // Where lfs_crc is in the flash image, and its table; null if not found.
  findCrc() {
    const at = Buffer.from(this.flash.buffer, this.flash.byteOffset, FLASH_SIZE).indexOf(LFS_CRC_CODE);
    if (at < 0) return null;
    const view = new DataView(this.flash.buffer, this.flash.byteOffset);
    const table = view.getUint32(at + LFS_CRC_TABLE_LITERAL, true) - FLASH_BASE;
    const rtable = new Uint32Array(16);
    for (let i = 0; i < 16; i++) rtable[i] = view.getUint32(table + 4 * i, true);
    return { at, rtable, first: view.getUint16(at, true) };
  }

  // The flash as the firmware wrote it, without the breakpoint.
  flashBytes() {
    const out = Uint8Array.from(this.flash);
    if (this.crc) new DataView(out.buffer).setUint16(this.crc.at, this.crc.first, true);
    return out;
  }

  crcNative() {
    const r = this.mcu.core.registers;
    let crc = r[0] >>> 0;
    const src = r[1] >>> 0;
    const count = r[2] >>> 0;
    const rtable = this.crc.rtable;
    const sram = this.mcu.sram;
    const inSram = src >= SRAM_BASE && src + count <= SRAM_BASE + sram.length;
    for (let i = 0; i < count; i++) {
      const b = inSram ? sram[src - SRAM_BASE + i] : this.mcu.readUint8(src + i);
      crc = (crc >>> 4) ^ rtable[(crc ^ b) & 0xf];
      crc = (crc >>> 4) ^ rtable[(crc ^ (b >>> 4)) & 0xf];
    }
    r[0] = crc >>> 0;
    this.mcu.clock.tick(count * LFS_CRC_CYCLES_PER_BYTE * CYCLE_NS);
  }

  nowNs() {
    return this.epochNs + (this.mcu ? this.mcu.clock.nanos : 0);
  }

  log(text) {
    if (this.logFd !== null) fs.writeSync(this.logFd, text);
  }

  emit(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
  }

  // -- power --------------------------------------------------------------
  powerOn() {
    if (this.powered) this.powerOff('power on');
    const mcu = new RP2040();
    mcu.logger = new ConsoleLogger(LogLevel.Error, true);
    mcu.loadBootrom(this.rom); // also fills the flash with 0xFF: load it after
    mcu.flash.set(this.flash);
    this.flash = mcu.flash.subarray(0, FLASH_SIZE); // one copy: the chip's
    if (this.crc) new DataView(this.flash.buffer, this.flash.byteOffset).setUint16(this.crc.at, BKPT_CRC, true);
    const timer = mcu.peripherals[TIMER];
    const real = mcu.clock;
    const self = this;
    // The timer reads an offset clock: ticks reach their wrap in seconds.
    timer.clock = {
      get nanos() { return real.nanos + self.offsetNs; },
      createAlarm: (cb) => real.createAlarm(cb),
    };
    const wdt = mcu.peripherals[WATCHDOG];
    if (this.carry) {
      wdt.reason = this.carry.reason;
      wdt.scratchData.set(this.carry.scratch);
      this.carry = null;
    }
    wdt.onWatchdogTrigger = () => {
      // rp2040js re-arms a fired watchdog at zero delay: stop it, reset
      // outside the instruction, keep REASON and SCRATCH like the silicon.
      wdt.alarm.enable = false;
      wdt.timer.enable = false;
      this.pendingReset = { reason: wdt.reason, scratch: Uint32Array.from(wdt.scratchData) };
    };
    mcu.onBreak = (code) => this.onBreak(code);
    const cdc = new USBCDC(mcu.usbCtrl);
    // rp2040js's CDC host answers every OUT transfer at once, with a
    // zero-length packet when it has nothing to send: the firmware's USB
    // interrupt then fires every few microseconds and the core never sleeps
    // (its WFE always finds an event). A real host NAKs until it has data:
    // keep the transfer pending until the host writes. A full packet leaves
    // the transfer open (only a short packet ends it), so once the host's
    // bytes run out right after a full one, the next read gets the
    // zero-length packet that ends it, as a host's USB stack sends.
    this.answerRead = mcu.usbCtrl.onEndpointRead;
    this.pendingReads = []; // [endpoint, byte count], one per buffer armed
    this.zlpDue = new Set(); // endpoints whose last packet was full
    mcu.usbCtrl.onEndpointRead = (endpoint, size) => this.onEndpointRead(endpoint, size);
    cdc.onSerialData = (data) => {
      const buf = Buffer.from(data);
      this.log(buf.toString('latin1'));
      if (this.client) this.client.write(buf);
    };
    this.mcu = mcu;
    this.cdc = cdc;
    for (const [pin, v] of this.inputs) mcu.gpio[pin].setInputValue(v);
    for (const pin of this.watched.keys()) this.listen(pin);
    mcu.core.PC = FLASH_BASE; // the second-stage bootloader
    this.powered = true;
    this.stats.boots++;
    this.ops = ''; // this power on's flash operations in order: e(rase), p(rogram)
    this.stats.largest_program = 0; // bytes, this power on
    this.schedule();
  }

  powerOff(why) {
    if (!this.powered) return;
    this.powered = false;
    this.flash = Uint8Array.from(this.flash); // the bytes outlive the chip
    this.epochNs += this.mcu.clock.nanos;
    this.mcu = null;
    this.cdc = null;
    this.cutAfter = null;
    this.cutAtFlash = null;
    this.cutOnPin = null;
    if (this.timer) {
      this.cancelSlice();
    }
    this.emit({
      ev: 'off', why, ms: Math.floor(this.nowNs() / 1e6), instructions: this.instr, ops: this.ops,
      ...this.stats,
    });
    this.releaseWaiters();
  }

  // -- flash through the boot ROM -----------------------------------------
  onBreak(code) {
    const core = this.mcu.core;
    const r = core.registers;
    if (code === 3 && this.crc) {
      this.crcNative();
      core.PC = core.LR & ~1;
      return;
    }
    const op = code === 1 ? 'erase' : code === 2 ? 'program' : null;
    if (op === null) {
      this.cutNow = 'breakpoint ' + code + ' at ' + (core.PC - 2).toString(16);
      return;
    }
    if (this.cutAtFlash && (this.cutAtFlash.op === op || this.cutAtFlash.op === 'any')) {
      if (--this.cutAtFlash.n <= 0) {
        this.cutNow = 'cut before flash ' + op; // the operation never happens
        return;
      }
    }
    const offset = r[0] >>> 0;
    if (op === 'erase') {
      const count = r[1] >>> 0;
      this.flash.fill(0xff, offset, offset + count);
      this.stats.erases++;
      this.ops += 'e';
      this.stats.bytes_erased += count;
    } else {
      const src = r[1] >>> 0;
      const count = r[2] >>> 0;
      const sram = this.mcu.sram;
      for (let i = 0; i < count; i++) {
        const a = src + i;
        const b = a >= SRAM_BASE && a < SRAM_BASE + sram.length ? sram[a - SRAM_BASE] : this.mcu.readUint8(a);
        this.flash[offset + i] &= b;
      }
      this.stats.programs++;
      this.stats.largest_program = Math.max(this.stats.largest_program, count);
      this.ops += 'p';
      this.stats.bytes_programmed += count;
    }
    core.PC = core.LR & ~1;
  }

  // -- run loop ------------------------------------------------------------
  schedule(delay = 0) {
    if (this.timer || !this.powered) return;
    // setTimeout(0) waits at least 1 ms in Node: setImmediate still lets
    // the socket and stdin handlers run between slices.
    const run = () => {
      this.timer = null;
      this.slice();
    };
    this.timer = delay > 0 ? setTimeout(run, delay) : setImmediate(run);
  }

  cancelSlice() {
    if (!this.timer) return;
    clearTimeout(this.timer);
    clearImmediate(this.timer);
    this.timer = null;
  }

  pumpUsb() {
    const cdc = this.cdc;
    if (!cdc || !cdc.initialized) return;
    this.refill();
    if (this.pendingReads.length && cdc.txFIFO.itemCount > 0) {
      const reads = this.pendingReads;
      this.pendingReads = [];
      for (const [endpoint, size] of reads) this.onEndpointRead(endpoint, size);
    }
  }

  // The host's bytes into the CDC's FIFO, as far as it holds them.
  refill() {
    const fifo = this.cdc.txFIFO;
    while (this.hostQueue.length && fifo.itemCount < fifo.size) {
      this.cdc.sendSerialByte(this.hostQueue.shift());
    }
  }

  // The firmware armed an OUT buffer of `size` bytes on `endpoint`.
  onEndpointRead(endpoint, size) {
    this.refill();
    const queued = this.cdc.txFIFO.itemCount;
    if (queued === 0 && !this.zlpDue.has(endpoint)) {
      this.pendingReads.push([endpoint, size]);
      return;
    }
    if (queued >= size) this.zlpDue.add(endpoint);
    else this.zlpDue.delete(endpoint);
    this.answerRead(endpoint, size);
  }

  applyPads() {
    // rp2040js models neither pad pulls nor an output read back through its
    // pad: a pin the host does not drive reads its own output level, else its
    // pull-up, as on the silicon.
    const gpio = this.mcu.gpio;
    for (let i = 0; i < 30; i++) {
      if (this.inputs.has(i)) continue;
      const pin = gpio[i];
      const want = pin.outputEnable ? pin.outputValue : pin.pullupEnabled && !pin.pulldownEnabled;
      if (pin.inputValue !== want && pin.inputEnable) pin.setInputValue(want);
    }
  }

  watch(pin) {
    this.watched.set(pin, false);
    if (this.powered) this.listen(pin);
  }

  // Report a watched output pin's changes, with the flash counters at that
  // instant (the pin's listener runs inside the instruction that drove it).
  listen(pin) {
    this.watched.set(pin, false);
    const gpio = this.mcu.gpio[pin];
    gpio.addListener(() => {
      const v = gpio.outputEnable && gpio.outputValue;
      if (v === this.watched.get(pin)) return;
      this.watched.set(pin, v);
      this.emit({ ev: 'pin', pin, value: v ? 1 : 0, ms: this.nowNs() / 1e6, instructions: this.instr, ...this.stats });
      if (this.cutOnPin && this.cutOnPin.pin === pin && this.cutOnPin.value === (v ? 1 : 0)) {
        this.cutNow = 'cut on pin ' + pin;
      }
    });
  }

  slice() {
    if (!this.powered) return;
    const mcu = this.mcu;
    const core = mcu.core;
    const clock = mcu.clock;
    this.pumpUsb();
    this.applyPads();
    const wall0 = Date.now();
    const budgetEnd = clock.nanos + 2e6; // 2 ms of emulated time per slice
    this.cutNow = null;
    while (clock.nanos < budgetEnd) {
      if (core.waiting) {
        const next = clock.nanosToNextAlarm;
        // Skip to the next alarm, within the slice so pacing still holds.
        const step = next > 0 ? Math.min(next, Math.max(budgetEnd - clock.nanos, CYCLE_NS)) : CYCLE_NS;
        this.idleNs += step;
        clock.tick(step);
      } else {
        clock.tick(core.executeInstruction() * CYCLE_NS);
        this.instr++;
        if (this.cutAfter !== null && --this.cutAfter <= 0) {
          this.cutNow = 'cut after instructions';
        }
      }
      if (this.cutNow || this.pendingReset) break;
    }
    this.sliceWallMs += Date.now() - wall0;
    if (this.cutNow) {
      const why = this.cutNow;
      this.cutNow = null;
      this.powerOff(why);
      return;
    }
    if (this.pendingReset) {
      const carry = this.pendingReset;
      this.pendingReset = null;
      const watchdog = (carry.reason & 1) !== 0;
      if (watchdog) this.stats.wdt_resets++;
      this.powerOff(watchdog ? 'watchdog' : 'reset');
      this.carry = carry;
      this.emit({ ev: 'reset', reason: carry.reason, ms: Math.floor(this.nowNs() / 1e6) });
      this.powerOn();
      return;
    }
    this.releaseWaiters();
    // The chip runs at most at real time, so that the wall-clock timeouts of
    // serial tools mean what they say, and as fast as it can during a `run`
    // command. Held (`hold`), it runs only during `run` and while a host has
    // its USB serial open: GPIO scenarios then happen at exact instants.
    if (this.hold && this.waiters.length === 0 && !this.client) return;
    let delay = 0;
    if (this.paced && this.waiters.length === 0) {
      const ahead = this.nowNs() / 1e6 - (Date.now() - this.wallStart);
      if (ahead > 5) delay = Math.min(ahead, 20);
    }
    this.schedule(delay);
  }

  releaseWaiters() {
    const now = this.nowNs();
    this.waiters = this.waiters.filter((w) => {
      if (!this.powered || now >= w.until) {
        w.resolve();
        return false;
      }
      return true;
    });
  }

  // -- the host's commands ------------------------------------------------
  async command(msg) {
    const c = msg.cmd;
    if (c === 'power_on') {
      if (msg.ticks_offset_ms !== undefined) this.offsetNs = msg.ticks_offset_ms * 1e6;
      if (msg.reason !== undefined) this.carry = { reason: msg.reason, scratch: new Uint32Array(8) };
      this.wallStart = Date.now() - this.nowNs() / 1e6;
      this.powerOn();
      return {};
    }
    if (c === 'power_off') {
      this.powerOff('host');
      return {};
    }
    if (c === 'cut') {
      // Arm a power cut: after N instructions, before the Nth erase or
      // program, or when a pin's output takes a value.
      if (msg.after_instructions !== undefined) this.cutAfter = msg.after_instructions;
      if (msg.before) this.cutAtFlash = { op: msg.before, n: msg.n || 1 };
      if (msg.pin !== undefined) {
        this.cutOnPin = { pin: msg.pin, value: msg.value === undefined ? 1 : msg.value };
        if (!this.watched.has(msg.pin)) this.watch(msg.pin);
      }
      return {};
    }
    if (c === 'pin') {
      this.inputs.set(msg.pin, !!msg.value);
      if (this.powered) this.mcu.gpio[msg.pin].setInputValue(!!msg.value);
      return {};
    }
    if (c === 'read') {
      if (!this.powered) return { value: null };
      const p = this.mcu.gpio[msg.pin];
      return { value: p.outputEnable ? (p.outputValue ? 1 : 0) : null };
    }
    if (c === 'watch') {
      if (!this.watched.has(msg.pin)) this.watch(msg.pin);
      return {};
    }
    if (c === 'run') {
      // Wait until `ms` more of emulated time ran (as fast as possible).
      if (!this.powered) return { powered: false, ms: this.nowNs() / 1e6 };
      const until = this.nowNs() + msg.ms * 1e6;
      await new Promise((resolve) => {
        this.waiters.push({ until, resolve });
        this.cancelSlice();
        this.schedule();
      });
      this.wallStart = Date.now() - this.nowNs() / 1e6;
      return { powered: this.powered, ms: this.nowNs() / 1e6 };
    }
    if (c === 'ticks_offset') {
      this.offsetNs += msg.add_ms * 1e6;
      return { offset_ms: this.offsetNs / 1e6 };
    }
    if (c === 'hold') {
      this.hold = !!msg.on;
      this.wallStart = Date.now() - this.nowNs() / 1e6;
      this.schedule();
      return {};
    }
    if (c === 'pace') {
      this.paced = !!msg.on;
      this.wallStart = Date.now() - this.nowNs() / 1e6;
      return {};
    }
    if (c === 'watchdog') {
      if (!this.powered) return { powered: false };
      const w = this.mcu.peripherals[WATCHDOG];
      return { enable: w.enable, counter: w.timer.counter, alarm: w.alarm.enabled, reason: w.reason };
    }
    if (c === 'stats') {
      return {
        ...this.stats, ms: this.nowNs() / 1e6, instructions: this.instr, powered: this.powered,
        idle_ms: this.idleNs / 1e6, exec_wall_ms: this.sliceWallMs, wall_ms: Date.now() - this.wallBorn,
      };
    }
    if (c === 'save') {
      fs.writeFileSync(msg.path, this.flashBytes());
      return {};
    }
    if (c === 'load') {
      if (this.powered) throw new Error('power off before loading a flash image');
      this.flash = Uint8Array.from(fs.readFileSync(msg.path).subarray(0, FLASH_SIZE));
      this.crc = this.findCrc();
      return {};
    }
    if (c === 'quit') {
      setImmediate(() => process.exit(0));
      return {};
    }
    throw new Error('unknown command ' + c);
  }
}

function main() {
  const opts = parseArgs(process.argv);
  const h = new Harness(opts);
  const server = net.createServer((sock) => {
    if (h.client) h.client.destroy(); // one host at a time, like a USB port
    h.client = sock;
    sock.setNoDelay(true);
    h.wallStart = Date.now() - h.nowNs() / 1e6;
    h.schedule();
    sock.on('data', (data) => {
      for (const b of data) h.hostQueue.push(b);
      h.pumpUsb();
      // The chip answers now, not after a paced slice's delay: a serial
      // tool's round trips then cost emulated time, not the host's timers.
      if (h.powered) {
        h.cancelSlice();
        h.schedule();
      }
    });
    sock.on('close', () => {
      if (h.client === sock) h.client = null;
    });
    sock.on('error', () => {});
  });
  server.listen(Number(opts.port), '127.0.0.1', () => {
    h.emit({ ev: 'ready', port: server.address().port });
  });
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', async (line) => {
    if (!line.trim()) return;
    let msg;
    try {
      msg = JSON.parse(line);
    } catch (e) {
      h.emit({ ok: false, error: 'not JSON: ' + line.slice(0, 60) });
      return;
    }
    try {
      const answer = await h.command(msg);
      h.emit({ id: msg.id, ok: true, ...answer });
    } catch (e) {
      h.emit({ id: msg.id, ok: false, error: String(e.message || e) });
    }
  });
  rl.on('close', () => process.exit(0));
}

if (require.main === module) main();
module.exports = { Harness };
