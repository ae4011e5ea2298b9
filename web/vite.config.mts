// The dashboard build (docs/dashboard.md): sources in web/, output in dist/web, which the server serves at `/`.
// `npm run build` runs it after the server's tsc; `npm run dev:web` serves it with a proxy to a running API.
import { fileURLToPath } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const apiTarget = process.env.DASHBOARD_API_URL ?? 'http://127.0.0.1:4200';

export default defineConfig({
  root,
  base: '/',
  plugins: [vue()],
  // Vue's compile-time flags: no Options API, no devtools hooks in production (smaller, faster first view).
  define: {
    __VUE_OPTIONS_API__: 'false',
    __VUE_PROD_DEVTOOLS__: 'false',
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false',
  },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    // Names carry a content hash, so the server can cache /assets/* as immutable.
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: {
    host: '127.0.0.1',
    proxy: { '/api': { target: apiTarget, ws: true } },
  },
});
