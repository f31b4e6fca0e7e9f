import { defineConfig } from 'vite';

// One ES module, minified: otpd serves it at /widget.js (packages/server/src/api/widget.ts).
export default defineConfig({
  build: {
    outDir: 'dist', emptyOutDir: true, minify: true, sourcemap: false,
    lib: { entry: 'src/otpd-verify.ts', formats: ['es'], fileName: () => 'otpd-verify.js' },
  },
});
