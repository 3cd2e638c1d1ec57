import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { readPth } from '../../src/checkpoint/pth.js';
import { readSafetensors } from '../../src/checkpoint/safetensors.js';
import { stripModulePrefix } from '../../src/checkpoint/names.js';

const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));
const tmp = mkdtempSync(path.join(tmpdir(), 'paprec-pth-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));


/** Protocol-2 pickle bytes, the opcodes torch.save uses. */
class Pkl {
  private out: number[] = [0x80, 2];
  op(...b: number[]): this { this.out.push(...b); return this; }
  str(s: string): this { const b = Buffer.from(s); const n = Buffer.alloc(4); n.writeUInt32LE(b.length); return this.op(0x58, ...n, ...b); }
  int(n: number): this { const b = Buffer.alloc(4); b.writeInt32LE(n); return this.op(0x4a, ...b); }
  global(m: string, n: string): this { return this.op(0x63, ...Buffer.from(`${m}\n${n}\n`)); }
  tuple(...ints: number[]): this { this.op(0x28); for (const i of ints) this.int(i); return this.op(0x74); }
  mark(): this { return this.op(0x28); }
  emptyOrderedDict(): this { return this.global('collections', 'OrderedDict').op(0x29, 0x52); }
  /** _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()) */
  tensor(storageType: string, key: string, numel: number, offset: number, size: number[], stride: number[]): this {
    this.global('torch._utils', '_rebuild_tensor_v2').mark();
    this.mark().str('storage').global('torch', storageType).str(key).str('cpu').int(numel).op(0x74, 0x51);
    this.int(offset).tuple(...size).tuple(...stride).op(0x89).emptyOrderedDict();
    return this.op(0x74, 0x52);
  }
  bytes(): Uint8Array { return new Uint8Array([...this.out, 0x2e]); }
}

/** A torch.save-style zip: archive/data.pkl, archive/data/<key>, archive/version. */
function writePth(name: string, pkl: Uint8Array, storages: Record<string, Uint8Array>, extra: Record<string, Uint8Array> = {}): string {
  const files: Record<string, Uint8Array> = { 'archive/data.pkl': pkl, 'archive/version': Buffer.from('3\n'), ...extra };
  for (const [k, v] of Object.entries(storages)) files[`archive/data/${k}`] = v;
  const file = path.join(tmp, name);
  writeFileSync(file, zipSync(files, { level: 0 }));
  return file;
}

const f32 = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);

describe('readPth on the fixtures equals model.safetensors bit for bit', () => {
  const cases = [['t5-tiny', 'state_dict.pth'], ['p5-tiny', 'state_dict_module_prefix.pth'], ['p5-eos', 'state_dict.pth']];
  for (const [name, pth] of cases) {
    it(`${name}/${pth}`, async () => {
      const fromPth = await readPth(`${FIXTURES}${name}/${pth}`);
      const fromSt = await readSafetensors(`${FIXTURES}${name}/model.safetensors`);
      const stripped = new Map([...fromPth].map(([k, v]) => [stripModulePrefix(k), v]));
      if (pth.includes('module_prefix')) expect([...fromPth.keys()].every((k) => k.startsWith('module.'))).toBe(true);
      expect([...stripped.keys()].sort()).toEqual([...fromSt.keys()].sort());
      for (const [k, t] of fromSt) {
        const p = stripped.get(k)!;
        expect(p.shape, k).toEqual(t.shape);
        expect(p.dtype).toBe('F32');
        const same = Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength)
          .equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
        expect(same, k).toBe(true);
      }
    });
  }
});

describe('readPth: tensor views', () => {
  it('honours storage offset and strides; tied tensors share a storage', async () => {
    const pkl = new Pkl().emptyOrderedDict().mark()
      .str('t').tensor('FloatStorage', '0', 6, 0, [3, 2], [1, 3]) // transpose of a [2, 3] row-major matrix
      .str('s').tensor('FloatStorage', '0', 6, 1, [2], [2])
      .str('full').tensor('FloatStorage', '0', 6, 0, [2, 3], [3, 1])
      .str('h').tensor('HalfStorage', '1', 2, 0, [2], [1])
      .op(0x75).bytes();
    const half = Buffer.alloc(4);
    half.writeUInt16LE(0x3c00, 0);
    half.writeUInt16LE(0xc400, 2);
    const file = writePth('views.pth', pkl, { 0: f32(0, 1, 2, 3, 4, 5), 1: half });
    const t = await readPth(file);
    expect([...t.keys()]).toEqual(['t', 's', 'full', 'h']);
    expect(t.get('t')).toMatchObject({ shape: [3, 2], dtype: 'F32' });
    expect([...t.get('t')!.data]).toEqual([0, 3, 1, 4, 2, 5]);
    expect([...t.get('s')!.data]).toEqual([1, 3]);
    expect([...t.get('full')!.data]).toEqual([0, 1, 2, 3, 4, 5]);
    expect([...t.get('h')!.data]).toEqual([1, -4]);
    expect(t.get('h')!.dtype).toBe('F16');
  });

  it('reads big-endian storages when byteorder says so', async () => {
    const be = Buffer.alloc(8);
    be.writeFloatBE(1.5, 0);
    be.writeFloatBE(-2.25, 4);
    const pkl = new Pkl().emptyOrderedDict().mark().str('w').tensor('FloatStorage', '0', 2, 0, [2], [1]).op(0x75).bytes();
    const file = writePth('be.pth', pkl, { 0: be }, { 'archive/byteorder': Buffer.from('big') });
    expect([...(await readPth(file)).get('w')!.data]).toEqual([1.5, -2.25]);
  });

  it('refuses a view reaching outside its storage and a missing storage entry', async () => {
    const pkl = new Pkl().emptyOrderedDict().mark().str('w').tensor('FloatStorage', '0', 4, 2, [2, 2], [2, 1]).op(0x75).bytes();
    const file = writePth('oob.pth', pkl, { 0: f32(0, 1, 2, 3) });
    await expect(readPth(file)).rejects.toThrow(/oob\.pth:archive\/data\.pkl: tensor view \[2, 2\] at offset 2 reaches element 5 of storage 0 \(4 elements\)/);
    const missing = writePth('missing-storage.pth', pkl, {});
    await expect(readPth(missing)).rejects.toThrow(/missing-storage\.pth: storage archive\/data\/0 named by data\.pkl is missing from the zip/);
    const short = writePth('short-storage.pth', pkl, { 0: f32(0, 1) });
    await expect(readPth(short)).rejects.toThrow(/storage archive\/data\/0 has 8 bytes, 4 F32 values need 16/);
  });
});

describe('readPth: refuses every global but the state-dict ones, running nothing', () => {
  it('os.system', async () => {
    const marker = path.join(tmp, 'pwned');
    const pkl = new Pkl().global('os', 'system').str(`touch ${marker}`).op(0x85, 0x52).bytes();
    const file = writePth('evil.pth', pkl, {});
    await expect(readPth(file)).rejects.toThrow(/evil\.pth:archive\/data\.pkl: pickle byte 2: global os\.system is not allowed/);
    expect(existsSync(marker)).toBe(false);
  });

  it('builtins.eval via STACK_GLOBAL, nested inside a state dict', async () => {
    const pkl = new Pkl().emptyOrderedDict().mark().str('w').str('builtins').str('eval').op(0x93).str('1').op(0x85, 0x52).op(0x75).bytes();
    await expect(readPth(writePth('eval.pth', pkl, {}))).rejects.toThrow(/global builtins\.eval is not allowed/);
  });

  it('look-alikes of the allowed names (numpy reconstruct, torch storage of ints)', async () => {
    const np = new Pkl().global('numpy.core.multiarray', '_reconstruct').op(0x29, 0x52).bytes();
    await expect(readPth(writePth('np.pth', np, {}))).rejects.toThrow(/global numpy\.core\.multiarray\._reconstruct is not allowed/);
    const ints = new Pkl().emptyOrderedDict().mark().str('ids').tensor('LongStorage', '0', 1, 0, [1], [1]).op(0x75).bytes();
    await expect(readPth(writePth('long.pth', ints, { 0: new Uint8Array(8) }))).rejects.toThrow(/global torch\.LongStorage is not allowed/);
  });

  it('not a zip, a legacy torch.save, a zip without data.pkl, a non-dict root', async () => {
    const notZip = path.join(tmp, 'text.pth');
    writeFileSync(notZip, 'hello world');
    await expect(readPth(notZip)).rejects.toThrow(/text\.pth: not a torch\.save zip archive/);
    const legacy = path.join(tmp, 'legacy.pth');
    writeFileSync(legacy, Buffer.from([0x80, 0x02, 0x8a, 0x0a]));
    await expect(readPth(legacy)).rejects.toThrow(/legacy \(pre-1\.6, non-zip\) torch\.save file/);
    const noPkl = path.join(tmp, 'nopkl.pth');
    writeFileSync(noPkl, zipSync({ 'a/version': Buffer.from('3\n') }));
    await expect(readPth(noPkl)).rejects.toThrow(/no <archive>\/data\.pkl in the zip/);
    const list = writePth('list.pth', new Pkl().op(0x5d).bytes(), {});
    await expect(readPth(list)).rejects.toThrow(/the pickled object is not a state dict/);
    await expect(readPth(path.join(tmp, 'absent.pth'))).rejects.toThrow(/absent\.pth: torch checkpoint \(\.pth\) not found/);
  });
});
