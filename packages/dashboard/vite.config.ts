import { defineConfig } from 'vite';

// Served by otpd under /dashboard/ (packages/server/src/api/dashboard.ts); JSX compiled for Preact, no plugin needed.
export default defineConfig({
  base: '/dashboard/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 200 },
});
