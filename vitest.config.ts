import { defineConfig } from 'vitest/config';

// Node tests run on Dawn (the `webgpu` package) over a software Vulkan driver here, a real GPU elsewhere.
// Emulated GPUs are slow and use every core, so files run one or two at a time in forked processes.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
