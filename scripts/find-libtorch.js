// Finds the LibTorch to build against, in order: LIBTORCH or Torch_DIR; the one scripts/setup.sh chose (its
// .libtorch/selected); the `torch` package of python3; the system (Debian's libtorch-dev). Prints the CMake prefix (a folder holding share/cmake/Torch or
// lib/cmake/Torch) and where it came from.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const SELECTED = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '.libtorch', 'selected');

const SYSTEM_PREFIXES = ['/usr/lib/x86_64-linux-gnu/cmake/Torch', '/usr/lib/aarch64-linux-gnu/cmake/Torch',
  '/usr/lib/cmake/Torch', '/usr/local/lib/cmake/Torch', '/usr/share/cmake/Torch'];

/** @returns {{torchDir: string, how: string}} the folder holding TorchConfig.cmake */
export function findLibtorch(env = process.env) {
  if (env.Torch_DIR) {
    return checked(env.Torch_DIR, 'Torch_DIR');
  }
  if (env.LIBTORCH) {
    const root = path.resolve(env.LIBTORCH);
    for (const sub of ['share/cmake/Torch', 'lib/cmake/Torch', '.']) {
      const dir = path.join(root, sub);
      if (existsSync(path.join(dir, 'TorchConfig.cmake'))) return { torchDir: dir, how: `LIBTORCH=${env.LIBTORCH}` };
    }
    throw new Error(`LIBTORCH=${env.LIBTORCH} holds no share/cmake/Torch/TorchConfig.cmake`);
  }
  if (existsSync(SELECTED)) {
    const dir = readFileSync(SELECTED, 'utf8').trim();
    if (existsSync(path.join(dir, 'TorchConfig.cmake'))) return { torchDir: dir, how: `scripts/setup.sh's choice (.libtorch/selected)` };
  }
  try {
    const prefix = execFileSync('python3', ['-c', 'import torch.utils; print(torch.utils.cmake_prefix_path)'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dir = path.join(prefix, 'Torch');
    if (prefix && existsSync(path.join(dir, 'TorchConfig.cmake'))) return { torchDir: dir, how: 'python3 torch' };
  } catch { /* no python3 torch: try the system */ }
  for (const dir of SYSTEM_PREFIXES) {
    if (existsSync(path.join(dir, 'TorchConfig.cmake'))) return { torchDir: dir, how: 'system (libtorch-dev)' };
  }
  throw new Error([
    'paprec: no LibTorch found. Give one of:',
    '  1. LIBTORCH=/path/to/libtorch (the folder with include/, lib/, share/cmake/Torch) or Torch_DIR=/path/to/share/cmake/Torch',
    '  2. a python3 with the torch package (pip install torch): its bundled LibTorch is used',
    '  3. the system LibTorch: apt-get install libtorch-dev (Debian / Ubuntu)',
  ].join('\n'));
}

function checked(dir, how) {
  if (!existsSync(path.join(dir, 'TorchConfig.cmake'))) throw new Error(`${how}=${dir} holds no TorchConfig.cmake`);
  return { torchDir: path.resolve(dir), how };
}
