import type { CommandModule } from 'yargs';
import { native } from '../native.js';

/** `paprec info`: the LibTorch the engine links, its devices and threads. */
export const infoCommand: CommandModule = {
  command: 'info',
  describe: 'print the LibTorch version, CUDA devices, threads, CPU bf16 support and torch.distributed backends the engine uses',
  handler: () => {
    const i = native().info();
    console.log(`LibTorch ${i.torchVersion}; CUDA ${i.cudaCompiled ? 'compiled' : 'not compiled'}` +
      `${i.cudaAvailable ? `, ${i.cudaDevices} device(s)` : ', no GPU'}; ${i.threads} CPU threads; ` +
      `CPU bf16 unit ${i.cpuBf16 || 'none'}, --dtype auto on cpu = ${i.cpuAutoDtype}; ` +
      `torch.distributed ${i.distBackends ? `(${i.distBackends})` : 'not built (one process only; needs gloo headers: libgloo-dev)'}`);
  },
};
