import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The engine tests share two cores with LibTorch's thread pool: run files one at a time.
    fileParallelism: false,
  },
});
