import { defineConfig } from 'vite';

// The app is served from 127.0.0.1: WebGPU needs a secure context, and localhost counts as one.
export default defineConfig({
  server: { host: '127.0.0.1', port: 5173, strictPort: false },
  preview: { host: '127.0.0.1' },
  worker: { format: 'es' },
  build: { target: 'es2022' },
  // Named up front so the dev server never discovers a dependency late (in the worker) and reloads the page.
  optimizeDeps: { include: ['lit', 'idb-keyval', 'fflate', 'uplot', 'onnx-buf', '@bufbuild/protobuf'] },
});
