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
// More of the same kind, which together halve the instructions of a boot
// (17.9 to 8.5 million from power on to the first thank-you): when the core
// reaches the first instruction of one of these pure functions, the harness
// computes its result from the same memory, returns to the caller and
// advances the clock by the cycles the emulated function takes (estimates
// matched to it over a boot, within 6% for each); where it cannot
// (a range outside SRAM, a read the block device must serve), the
// function's own code runs. `--native 0` (BORNE_PICO_NATIVE=0) runs all of
// them, lfs_crc included, on the emulated core.
// - The boot ROM's memcpy and memset (a tenth of a boot), for plain SRAM
//   (and a flash source), without overlap.
const MEMCPY_CYCLES_PER_BYTE = 1; // word loop; 7 when the ROM copies bytes
const MEMSET_CYCLES_PER_BYTE = 0.5;
const MEM_CALL_CYCLES = 20;
// - MicroPython's qstr_find_strn(str, len) (a sixth: it scans the qstr
//   pools the loaded modules added, one entry at a time): this build's pool
//   layout, 1-byte hashes and lengths, MP_STATE_VM(last_pool) at the
//   literal QSTR_STATE_LITERAL of the function.
const QSTR_FIND_CODE = Buffer.from('f0b585b002900191012000293dd00298', 'hex');
const QSTR_STATE_LITERAL = 0x94;
const QSTR_LAST_POOL = 36;
// - LittleFS's lfs_bd_read(lfs, pcache, rcache, hint, block, off, buffer,
//   size) when its caches hold every byte asked for (a fifth: each lookup
//   reads a directory's metadata log through them). Its code holds the
//   offsets used: lfs->cfg at 104, cfg->block_size at 28, lfs->block_count
//   at 108; a cache is block, off, size, buffer.
const LFS_READ_CODE = Buffer.from('f0b58bb0119f0993139b1600fa18836e0590db6904919a4205d8c36e002b27d0', 'hex');
// - Its caller lfs_bd_crc(lfs, rcache, hint, block, off, size, &crc) (this
//   build passes no pcache), which feeds lfs_crc 8 cached bytes at a time.
const LFS_BD_CRC_CODE = Buffer.from('f0b5160000248bb0059006910793119ba34202d800200bb0f0bd119b1d1b082d', 'hex');
const WATCHDOG = 0x40058;
const TIMER = 0x40054;

function parseArgs(argv) {
  const out = { port: 0, flash: null, log: null, native: '1' };
  for (let i = 2; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    out[key] = argv[++i];
  }
  if (!out.uf2 || !out.rom) {
    throw new Error('usage: harness.js --uf2 FIRMWARE.uf2 --rom BOOTROM.bin [--flash IMG] [--port N] [--log FILE] '
      + '[--native 0]');
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
    this.native = opts.native !== '0';
    this.memcpy = [romFunction(rom, 'MC'), romFunction(rom, 'C4')];
    this.memset = [romFunction(rom, 'MS'), romFunction(rom, 'S4')];
    this.memTop = this.native ? Math.max(...this.memcpy, ...this.memset) : -1;
    this.findNative();
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

  // The functions of the flash image's firmware computed natively.
  findNative() {
    this.crc = this.native ? this.findCrc() : null;
    this.qstr = this.native ? this.findQstr() : { at: -1 };
    this.lfsRead = this.native ? this.findCode(LFS_READ_CODE) : -1;
    this.lfsCrc = this.crc ? this.findCode(LFS_BD_CRC_CODE) : -1;
  }

  // The address of a function found by its code, -1 if not found.
  findCode(code) {
    const at = Buffer.from(this.flash.buffer, this.flash.byteOffset, FLASH_SIZE).indexOf(code);
    return at < 0 ? -1 : FLASH_BASE + at;
  }

  // lfs_bd_read from its caches, or false (nothing changed) if it would
  // read the block device or report an error.
  lfsReadNative(core) {
    const plan = this.lfsReadPlan(core);
    if (!plan) return false;
    const sram = this.mcu.sram;
    for (const [from, to, n] of plan.copies) sram.copyWithin(to - SRAM_BASE, from - SRAM_BASE, from - SRAM_BASE + n);
    core.registers[0] = 0;
    core.PC = core.LR & ~1;
    this.mcu.clock.tick(plan.cycles * CYCLE_NS);
    return true;
  }

  // The copies ([from, to, byte count]) lfs_bd_read would make from its
  // caches, or null.
  lfsReadPlan(core) {
    const r = core.registers;
    const sp = core.SP >>> 0;
    if (!this.inSram(sp, 16)) return null;
    const view = this.sramView();
    const to = view.getUint32(sp - SRAM_BASE + 8, true);
    const size = view.getUint32(sp - SRAM_BASE + 12, true);
    if (!this.inSram(to, size)) return null;
    const parts = this.cached(r[0] >>> 0, r[1] >>> 0, r[2] >>> 0, view.getUint32(sp - SRAM_BASE, true),
      view.getUint32(sp - SRAM_BASE + 4, true), size);
    if (!parts) return null;
    const copies = [];
    let at = to;
    for (const [from, n] of parts) {
      copies.push([from, at, n]);
      at += n;
    }
    return { copies, cycles: 55 + 85 * parts.length + Math.ceil(1.4 * size) };
  }

  // lfs_bd_crc from the read cache, or false (nothing changed).
  lfsCrcNative(core) {
    const r = core.registers;
    const sp = core.SP >>> 0;
    if (!this.inSram(sp, 12)) return false;
    const view = this.sramView();
    const off = view.getUint32(sp - SRAM_BASE, true);
    const size = view.getUint32(sp - SRAM_BASE + 4, true);
    const crcAt = view.getUint32(sp - SRAM_BASE + 8, true);
    if (!this.inSram(crcAt, 4)) return false;
    const parts = this.cached(r[0] >>> 0, 0, r[1] >>> 0, r[3] >>> 0, off, size);
    if (!parts) return false;
    const sram = this.mcu.sram;
    const rtable = this.crc.rtable;
    let crc = view.getUint32(crcAt - SRAM_BASE, true);
    for (const [from, n] of parts) {
      for (let i = from - SRAM_BASE; i < from - SRAM_BASE + n; i++) {
        const b = sram[i];
        crc = (crc >>> 4) ^ rtable[(crc ^ b) & 0xf];
        crc = (crc >>> 4) ^ rtable[(crc ^ (b >>> 4)) & 0xf];
      }
    }
    if (size > 0) view.setUint32(crcAt - SRAM_BASE, crc >>> 0, true);
    r[0] = 0;
    core.PC = core.LR & ~1;
    this.mcu.clock.tick((60 + 47 * size) * CYCLE_NS);
    return true;
  }

  inSram(a, n) {
    return a >= SRAM_BASE && a + n <= SRAM_BASE + this.mcu.sram.length;
  }

  sramView() {
    const sram = this.mcu.sram;
    return new DataView(sram.buffer, sram.byteOffset, sram.length);
  }

  // Where LittleFS's caches hold the `size` bytes at `off` of `block`, as
  // lfs_bd_read finds them: [[address, byte count], ...], or null when it
  // would read the block device or report an error.
  cached(lfs, pcache, rcache, block, off, size) {
    const view = this.sramView();
    const u32 = (a) => view.getUint32(a - SRAM_BASE, true);
    if (!this.inSram(lfs, 112) || !this.inSram(rcache, 16) || (pcache && !this.inSram(pcache, 16))) {
      return null;
    }
    const cfg = u32(lfs + 104);
    if (!this.inSram(cfg, 32) || off + size > u32(cfg + 28)) return null;
    const count = u32(lfs + 108);
    if (count && block >= count) return null;
    const parts = [];
    while (size > 0) {
      let diff = size;
      let from = -1;
      for (const cache of pcache ? [pcache, rcache] : [rcache]) {
        const cOff = u32(cache + 4);
        const cSize = u32(cache + 8);
        if (u32(cache) !== block || off >= cOff + cSize) continue;
        if (off < cOff) {
          diff = Math.min(diff, cOff - off);
          continue;
        }
        diff = Math.min(diff, cSize - (off - cOff));
        from = u32(cache + 12) + (off - cOff);
        break;
      }
      if (from < 0 || !this.inSram(from, diff)) return null; // the block device
      parts.push([from, diff]);
      off += diff;
      size -= diff;
    }
    return parts;
  }

  // Where qstr_find_strn is in the flash image, and MicroPython's state.
  findQstr() {
    const at = Buffer.from(this.flash.buffer, this.flash.byteOffset, FLASH_SIZE).indexOf(QSTR_FIND_CODE);
    if (at < 0) return { at: -1 };
    const state = new DataView(this.flash.buffer, this.flash.byteOffset).getUint32(at + QSTR_STATE_LITERAL, true);
    return { at: FLASH_BASE + at, lastPool: state + QSTR_LAST_POOL };
  }

  // qstr_find_strn(r0 = str, r1 = len) -> r0: the qstr, 0 if none.
  qstrNative(core) {
    const mcu = this.mcu;
    const sram = mcu.sram;
    const flash = this.flash;
    const sramView = new DataView(sram.buffer, sram.byteOffset, sram.length);
    const flashView = new DataView(flash.buffer, flash.byteOffset, FLASH_SIZE);
    // Reads as the core's, SRAM and flash without rp2040js's bus decoding.
    const u8 = (a) => {
      if (a >= SRAM_BASE && a < SRAM_BASE + sram.length) return sram[a - SRAM_BASE];
      if (a >= FLASH_BASE && a < FLASH_BASE + FLASH_SIZE) return flash[a - FLASH_BASE];
      return mcu.readUint8(a);
    };
    const u32 = (a) => {
      if (a >= SRAM_BASE && a + 4 <= SRAM_BASE + sram.length) return sramView.getUint32(a - SRAM_BASE, true);
      if (a >= FLASH_BASE && a + 4 <= FLASH_BASE + FLASH_SIZE) return flashView.getUint32(a - FLASH_BASE, true);
      return mcu.readUint32(a);
    };
    const r = core.registers;
    const str = r[0] >>> 0;
    const len = r[1] >>> 0;
    let found = 1; // MP_QSTR_, the empty string
    let cycles = 12;
    if (len > 0) {
      const bytes = new Uint8Array(len);
      let hash = 5381;
      for (let i = 0; i < len; i++) {
        bytes[i] = u8(str + i);
        hash = (Math.imul(hash, 33) ^ bytes[i]) >>> 0;
      }
      hash &= 0xff;
      if (hash === 0) hash = 1;
      cycles += 10 * len;
      found = 0;
      // strncmp(str, s, len) <= 0, memcmp(s, str, len) === 0
      const notAbove = (s) => {
        for (let i = 0; i < len; i++) {
          const c = u8(s + i);
          if (bytes[i] !== c) return bytes[i] < c;
          if (c === 0) return true;
        }
        return true;
      };
      const same = (s) => {
        for (let i = 0; i < len; i++) if (u8(s + i) !== bytes[i]) return false;
        return true;
      };
      search: for (let pool = u32(this.qstr.lastPool); pool !== 0; pool = u32(pool)) {
        let low = 0;
        let high = (u32(pool + 12) - 1) >>> 0;
        if (u8(pool + 7) > 127) { // a sorted pool: binary search first
          while (((high - low) >>> 0) > 1) {
            const mid = ((high + low) >>> 0) >>> 1;
            if (notAbove(u32(pool + 24 + 4 * mid))) high = mid;
            else low = mid;
            cycles += 50;
          }
        }
        const hashes = u32(pool + 16);
        const lengths = u32(pool + 20);
        const end = (high + 1) >>> 0;
        for (let at = low; at < end; at++) {
          cycles += 16;
          if (u8(hashes + at) === hash && u8(lengths + at) === len &&
              same(u32(pool + 24 + 4 * at))) {
            found = ((u32(pool + 4) & 0x7fffffff) + at) >>> 0;
            break search;
          }
        }
      }
    }
    r[0] = found;
    core.PC = core.LR & ~1;
    mcu.clock.tick(cycles * CYCLE_NS);
    return true;
  }

  // At the first instruction of the ROM's memcpy or memset: do it here and
  // return to the caller, or return false to let the ROM run it.
  memNative(core) {
    const pc = core.PC;
    const copy = pc === this.memcpy[0] || pc === this.memcpy[1];
    if (!copy && pc !== this.memset[0] && pc !== this.memset[1]) return false;
    const r = core.registers;
    const dst = r[0] >>> 0;
    const n = r[2] >>> 0;
    const sram = this.mcu.sram;
    if (dst < SRAM_BASE || dst + n > SRAM_BASE + sram.length) return false;
    let cycles;
    if (copy) {
      const src = r[1] >>> 0;
      if (src >= SRAM_BASE && src + n <= SRAM_BASE + sram.length) {
        if (src < dst + n && dst < src + n) return false; // overlapping
        sram.copyWithin(dst - SRAM_BASE, src - SRAM_BASE, src - SRAM_BASE + n);
      } else if (src >= FLASH_BASE && src + n <= FLASH_BASE + FLASH_SIZE) {
        sram.set(this.flash.subarray(src - FLASH_BASE, src - FLASH_BASE + n), dst - SRAM_BASE);
      } else {
        return false;
      }
      cycles = n * ((dst - src) & 3 ? 7 : MEMCPY_CYCLES_PER_BYTE);
    } else {
      sram.fill(r[1] & 0xff, dst - SRAM_BASE, dst - SRAM_BASE + n);
      cycles = n * MEMSET_CYCLES_PER_BYTE;
    }
    r[12] = dst;
    core.PC = core.LR & ~1;
    this.mcu.clock.tick((MEM_CALL_CYCLES + cycles) * CYCLE_NS);
    return true;
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

  // The host's bytes into the CDC's FIFO, as far as it holds them, once the
  // port is configured.
  refill() {
    const fifo = this.cdc.txFIFO;
    while (this.cdc.initialized && this.hostQueue.length && fifo.itemCount < fifo.size) {
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
        const pc = core.PC;
        if (!((pc <= this.memTop && this.memNative(core)) || (pc === this.qstr.at && this.qstrNative(core)) ||
              (pc === this.lfsRead && this.lfsReadNative(core)) || (pc === this.lfsCrc && this.lfsCrcNative(core)))) {
          clock.tick(core.executeInstruction() * CYCLE_NS);
        }
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
      this.findNative();
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
