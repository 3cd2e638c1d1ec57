/**
 * A restricted pickle reader (protocols 2 to 5) for data files: `torch.save` state dicts and plain-data pickles
 * such as P5's `exp_splits.pkl`.
 *
 * Safety: nothing a pickle names is ever run. A global (GLOBAL / STACK_GLOBAL) is resolved only through the
 * caller's `resolveGlobal(module, name)`; without it, or when it returns `undefined`, the read fails with a
 * PaprecError naming `module.name`, the source and the byte offset. REDUCE and NEWOBJ only call JS functions that
 * `resolveGlobal` returned; BUILD only applies to objects those functions produced, through the function's own
 * `setState` (see `PickleCallable`). Everything else the VM builds is inert data.
 *
 * What comes out:
 * - dict -> a plain object when every key is a string (own properties, `__proto__` included, never the prototype),
 *   otherwise a `Map` (number / tuple keys); values converted the same way, shared references stay shared.
 * - list and tuple -> Array; set / frozenset -> Set; str -> string; bytes -> Uint8Array;
 *   int -> number (bigint outside the safe integer range); float -> number; bool -> boolean; None -> null.
 * - Map keys compare as JS does: numbers and strings by value, tuples (arrays) by identity.
 * - Objects made by the caller's functions are returned as made; arguments passed to those functions are raw VM
 *   values, where every dict is a `Map`.
 */
import { PaprecError } from '../errors.js';

/** A function `resolveGlobal` hands to the VM; `setState` is what BUILD calls on objects it produced. */
export type PickleCallable = ((...args: unknown[]) => unknown) & { setState?: (obj: unknown, state: unknown) => void };

export interface UnpickleOptions {
  /** Named in every error (a file path, or `archive.pth:data.pkl`). */
  source: string;
  /** Return the value for `module.name` (usually a PickleCallable), or undefined to refuse it. */
  resolveGlobal?: (module: string, name: string) => unknown;
  /** BINPERSID: map a persistent id (e.g. torch's storage tuple) to a value; without it, refused. */
  persistentLoad?: (pid: unknown) => unknown;
}

const OP = {
  MARK: 0x28, STOP: 0x2e, POP: 0x30, POP_MARK: 0x31, DUP: 0x32, BINFLOAT: 0x47, BININT: 0x4a, BININT1: 0x4b,
  BININT2: 0x4d, NONE: 0x4e, BINPERSID: 0x51, REDUCE: 0x52, BINSTRING: 0x54, SHORT_BINSTRING: 0x55,
  BINUNICODE: 0x58, APPEND: 0x61, BUILD: 0x62, GLOBAL: 0x63, APPENDS: 0x65, BINGET: 0x68, LONG_BINGET: 0x6a,
  BINPUT: 0x71, LONG_BINPUT: 0x72, SETITEM: 0x73, TUPLE: 0x74, SETITEMS: 0x75, EMPTY_DICT: 0x7d, EMPTY_LIST: 0x5d,
  EMPTY_TUPLE: 0x29, PROTO: 0x80, NEWOBJ: 0x81, TUPLE1: 0x85, TUPLE2: 0x86, TUPLE3: 0x87, NEWTRUE: 0x88,
  NEWFALSE: 0x89, LONG1: 0x8a, LONG4: 0x8b, SHORT_BINUNICODE: 0x8c, BINUNICODE8: 0x8d, BINBYTES8: 0x8e,
  EMPTY_SET: 0x8f, ADDITEMS: 0x90, FROZENSET: 0x91, STACK_GLOBAL: 0x93, MEMOIZE: 0x94, FRAME: 0x95,
  BINBYTES: 0x42, SHORT_BINBYTES: 0x43,
} as const;

const OP_NAME = new Map<number, string>(Object.entries(OP).map(([k, v]) => [v, k]));

/** Opcodes a malicious or exotic pickle may use that this reader refuses (named in the error when seen). */
const KNOWN_UNSUPPORTED: Record<number, string> = {
  0x49: 'INT', 0x4c: 'LONG', 0x46: 'FLOAT', 0x53: 'STRING', 0x56: 'UNICODE', 0x50: 'PERSID', 0x69: 'INST',
  0x6f: 'OBJ', 0x67: 'GET', 0x70: 'PUT', 0x6c: 'LIST', 0x64: 'DICT', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4',
  0x92: 'NEWOBJ_EX', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

const MARK = Symbol('mark');

export function unpickle(data: Uint8Array, opts: UnpickleOptions): unknown {
  return new Machine(data, opts).run();
}

class Machine {
  private pos = 0;
  private stack: unknown[] = [];
  private marks: number[] = [];
  private memo = new Map<number, unknown>();
  /** Dicts built by EMPTY_DICT: converted to plain objects / Maps at the end. */
  private dicts = new WeakSet<Map<unknown, unknown>>();
  /** Objects made by a caller's function, with the function (BUILD needs its setState). */
  private made = new WeakMap<object, { fn: PickleCallable; name: string }>();
  private globalNames = new WeakMap<object, string>();
  private view: DataView;
  private opStart = 0;

  constructor(private readonly data: Uint8Array, private readonly opts: UnpickleOptions) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  private fail(what: string): never {
    throw new PaprecError(`${this.opts.source}: pickle byte ${this.opStart}: ${what}`);
  }

  private need(n: number): number {
    if (n < 0 || this.pos + n > this.data.byteLength) this.fail(`truncated pickle (needs ${n} more bytes, ${this.data.byteLength - this.pos} left)`);
    const at = this.pos;
    this.pos += n;
    return at;
  }
  private u8(): number { return this.data[this.need(1)]!; }
  private u16(): number { return this.view.getUint16(this.need(2), true); }
  private u32(): number { return this.view.getUint32(this.need(4), true); }
  private i32(): number { return this.view.getInt32(this.need(4), true); }
  private u64(): number {
    const v = this.view.getBigUint64(this.need(8), true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`length ${v} is too large`);
    return Number(v);
  }
  private bytes(n: number): Uint8Array {
    const at = this.need(n);
    return this.data.slice(at, at + n);
  }
  private utf8(n: number): string {
    const at = this.need(n);
    return new TextDecoder('utf-8').decode(this.data.subarray(at, at + n));
  }
  private line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) this.fail('truncated pickle (unterminated line)');
    const s = new TextDecoder('utf-8').decode(this.data.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }

  private pop(): unknown {
    if (this.stack.length === 0 || (this.marks.length > 0 && this.stack.length <= this.marks[this.marks.length - 1]!)) {
      this.fail(`${OP_NAME.get(this.data[this.opStart]!)} on an empty stack`);
    }
    return this.stack.pop();
  }
  private top(): unknown {
    if (this.stack.length === 0) this.fail(`${OP_NAME.get(this.data[this.opStart]!)} on an empty stack`);
    return this.stack[this.stack.length - 1];
  }
  private popMark(): unknown[] {
    const m = this.marks.pop();
    if (m === undefined) this.fail(`${OP_NAME.get(this.data[this.opStart]!)} without a MARK`);
    return this.stack.splice(m);
  }

  private newDict(): Map<unknown, unknown> {
    const d = new Map<unknown, unknown>();
    this.dicts.add(d);
    return d;
  }

  private setItems(target: unknown, items: unknown[]): void {
    if (!(target instanceof Map)) this.fail(`SETITEM(S) on ${describe(target)}, expected a dict`);
    if (items.length % 2 !== 0) this.fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) target.set(items[i], items[i + 1]);
  }

  private resolve(module: string, name: string): unknown {
    const v = this.opts.resolveGlobal?.(module, name);
    if (v === undefined) {
      this.fail(`global ${module}.${name} is not allowed (this reader builds only plain data${this.opts.resolveGlobal ? ' and the few objects its caller permits' : ''}; nothing was run)`);
    }
    if (v !== null && (typeof v === 'object' || typeof v === 'function')) this.globalNames.set(v, `${module}.${name}`);
    return v;
  }

  private call(fn: unknown, args: unknown, op: string): unknown {
    if (typeof fn !== 'function') this.fail(`${op} on ${describe(fn)}; only functions supplied by the caller can be called`);
    if (!Array.isArray(args)) this.fail(`${op} arguments are ${describe(args)}, expected a tuple`);
    const name = this.globalNames.get(fn) ?? 'a global';
    let result: unknown;
    try {
      result = (fn as PickleCallable)(...args);
    } catch (err) {
      if (err instanceof PaprecError) throw err;
      this.fail(`${name}: ${(err as Error).message}`);
    }
    if (result !== null && typeof result === 'object') this.made.set(result, { fn: fn as PickleCallable, name });
    return result;
  }

  run(): unknown {
    for (;;) {
      this.opStart = this.pos;
      const op = this.u8();
      switch (op) {
        case OP.PROTO: {
          const v = this.u8();
          if (v < 2 || v > 5) this.fail(`pickle protocol ${v} is not supported (2 to 5 are)`);
          break;
        }
        case OP.FRAME: this.u64(); break; // frames only group bytes; the opcodes inside are read as usual
        case OP.STOP: {
          // Like CPython: the top of the stack is the result; anything left below it is ignored.
          const result = this.top();
          return this.finish(result, new Map());
        }
        case OP.MARK: this.marks.push(this.stack.length); break;
        case OP.POP: this.pop(); break;
        case OP.POP_MARK: this.popMark(); break;
        case OP.DUP: this.stack.push(this.top()); break;
        case OP.NONE: this.stack.push(null); break;
        case OP.NEWTRUE: this.stack.push(true); break;
        case OP.NEWFALSE: this.stack.push(false); break;
        case OP.BININT: this.stack.push(this.i32()); break;
        case OP.BININT1: this.stack.push(this.u8()); break;
        case OP.BININT2: this.stack.push(this.u16()); break;
        case OP.LONG1: this.stack.push(this.long(this.u8())); break;
        case OP.LONG4: {
          const n = this.i32();
          if (n < 0) this.fail('LONG4 with a negative length');
          this.stack.push(this.long(n));
          break;
        }
        case OP.BINFLOAT: this.stack.push(this.view.getFloat64(this.need(8), false)); break;
        case OP.SHORT_BINUNICODE: this.stack.push(this.utf8(this.u8())); break;
        case OP.BINUNICODE: this.stack.push(this.utf8(this.u32())); break;
        case OP.BINUNICODE8: this.stack.push(this.utf8(this.u64())); break;
        case OP.SHORT_BINBYTES: this.stack.push(this.bytes(this.u8())); break;
        case OP.BINBYTES: this.stack.push(this.bytes(this.u32())); break;
        case OP.BINBYTES8: this.stack.push(this.bytes(this.u64())); break;
        // Python 2 str: bytes of unknown encoding; latin-1 keeps every byte.
        case OP.SHORT_BINSTRING: this.stack.push(latin1(this.bytes(this.u8()))); break;
        case OP.BINSTRING: {
          const n = this.i32();
          if (n < 0) this.fail('BINSTRING with a negative length');
          this.stack.push(latin1(this.bytes(n)));
          break;
        }
        case OP.EMPTY_DICT: this.stack.push(this.newDict()); break;
        case OP.EMPTY_LIST: this.stack.push([]); break;
        case OP.EMPTY_TUPLE: this.stack.push([]); break;
        case OP.EMPTY_SET: this.stack.push(new Set()); break;
        case OP.TUPLE1: this.stack.push([this.pop()]); break;
        case OP.TUPLE2: { const b = this.pop(); const a = this.pop(); this.stack.push([a, b]); break; }
        case OP.TUPLE3: { const c = this.pop(); const b = this.pop(); const a = this.pop(); this.stack.push([a, b, c]); break; }
        case OP.TUPLE: this.stack.push(this.popMark()); break;
        case OP.FROZENSET: this.stack.push(new Set(this.popMark())); break;
        case OP.APPEND: {
          const v = this.pop();
          const list = this.top();
          if (!Array.isArray(list)) this.fail(`APPEND to ${describe(list)}, expected a list`);
          list.push(v);
          break;
        }
        case OP.APPENDS: {
          const items = this.popMark();
          const list = this.top();
          if (!Array.isArray(list)) this.fail(`APPENDS to ${describe(list)}, expected a list`);
          for (const v of items) list.push(v);
          break;
        }
        case OP.ADDITEMS: {
          const items = this.popMark();
          const set = this.top();
          if (!(set instanceof Set)) this.fail(`ADDITEMS to ${describe(set)}, expected a set`);
          for (const v of items) set.add(v);
          break;
        }
        case OP.SETITEM: { const v = this.pop(); const k = this.pop(); this.setItems(this.top(), [k, v]); break; }
        case OP.SETITEMS: { const items = this.popMark(); this.setItems(this.top(), items); break; }
        case OP.BINPUT: this.memo.set(this.u8(), this.top()); break;
        case OP.LONG_BINPUT: this.memo.set(this.u32(), this.top()); break;
        case OP.MEMOIZE: this.memo.set(this.memo.size, this.top()); break;
        case OP.BINGET: this.stack.push(this.memoGet(this.u8())); break;
        case OP.LONG_BINGET: this.stack.push(this.memoGet(this.u32())); break;
        case OP.GLOBAL: {
          const module = this.line();
          const name = this.line();
          this.stack.push(this.resolve(module, name));
          break;
        }
        case OP.STACK_GLOBAL: {
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs two strings');
          this.stack.push(this.resolve(module, name));
          break;
        }
        case OP.REDUCE: { const args = this.pop(); const fn = this.pop(); this.stack.push(this.call(fn, args, 'REDUCE')); break; }
        case OP.NEWOBJ: { const args = this.pop(); const cls = this.pop(); this.stack.push(this.call(cls, args, 'NEWOBJ')); break; }
        case OP.BUILD: {
          const state = this.pop();
          const obj = this.top();
          const maker = obj !== null && typeof obj === 'object' ? this.made.get(obj) : undefined;
          if (!maker) this.fail(`BUILD on ${describe(obj)}; only objects made by a permitted global can be built`);
          if (!maker.fn.setState) this.fail(`BUILD on a ${maker.name} object, which takes no state`);
          try {
            maker.fn.setState(obj, state);
          } catch (err) {
            if (err instanceof PaprecError) throw err;
            this.fail(`${maker.name}: ${(err as Error).message}`);
          }
          break;
        }
        case OP.BINPERSID: {
          const pid = this.pop();
          if (!this.opts.persistentLoad) this.fail('persistent id (BINPERSID) found, but this reader takes none');
          this.stack.push(this.opts.persistentLoad(pid));
          break;
        }
        default: {
          const name = OP_NAME.get(op) ?? KNOWN_UNSUPPORTED[op];
          this.fail(`opcode 0x${op.toString(16).padStart(2, '0')}${name ? ` (${name})` : ''} is not supported`);
        }
      }
    }
  }

  private memoGet(i: number): unknown {
    if (!this.memo.has(i)) this.fail(`memo entry ${i} is not defined`);
    return this.memo.get(i);
  }

  private long(n: number): number | bigint {
    const b = this.data.subarray(this.need(n), this.pos);
    if (n === 0) return 0;
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  /** Turn VM dicts into plain objects / Maps; descends lists, tuples, sets and VM dicts, not caller objects. */
  private finish(v: unknown, seen: Map<object, unknown>): unknown {
    if (v === null || typeof v !== 'object') return v;
    if (seen.has(v)) return seen.get(v);
    if (Array.isArray(v)) {
      seen.set(v, v);
      for (let i = 0; i < v.length; i++) v[i] = this.finish(v[i], seen);
      return v;
    }
    if (v instanceof Map && this.dicts.has(v)) {
      if ([...v.keys()].every((k) => typeof k === 'string')) {
        const o: Record<string, unknown> = {};
        seen.set(v, o);
        for (const [k, x] of v) {
          Object.defineProperty(o, k as string, { value: this.finish(x, seen), enumerable: true, writable: true, configurable: true });
        }
        return o;
      }
      const m = new Map<unknown, unknown>();
      seen.set(v, m);
      for (const [k, x] of v) m.set(this.finish(k, seen), this.finish(x, seen));
      return m;
    }
    return v;
  }
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

/** A value's kind with its article, for messages: "REDUCE on a dict". */
function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'a list/tuple';
  if (v instanceof Map) return 'a dict';
  if (v instanceof Uint8Array) return 'bytes';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}
