// `npm install` / `npm run build:native`: build the LibTorch addon with cmake-js into build/Release/paprec_native.node.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findLibtorch } from './find-libtorch.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
let found;
try {
  found = findLibtorch();
} catch (err) {
  console.error(err.message);
  process.exit(1);
}
console.log(`paprec: building the native addon against LibTorch from ${found.how}: ${found.torchDir}`);
// The chosen LibTorch's prefix goes first on CMAKE_PREFIX_PATH so that CMake never mixes in a second one.
const prefix = path.resolve(found.torchDir, '../../..');
const jobs = process.env.PAPREC_BUILD_JOBS ?? '2';
const cmakeJs = path.join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
const args = [cmakeJs, 'compile', '--directory', root, '--parallel', jobs,
  `--CDTorch_DIR=${found.torchDir}`, `--CDCMAKE_PREFIX_PATH=${prefix}`];
if (process.env.PAPREC_BUILD_DIR) args.push('--out', process.env.PAPREC_BUILD_DIR);
const result = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
process.exit(result.status ?? 1);
