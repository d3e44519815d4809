// Kiln's web UI. `npm run build` (scripts/ui-build.sh) writes the bundle to
// ../internal/ui/dist, which the kiln binary embeds. No inline scripts or
// styles: the server's Content-Security-Policy forbids them.
import { defineConfig } from 'vite';

export default defineConfig({
  root: '.',
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: '../internal/ui/dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    modulePreload: { polyfill: false },
    sourcemap: false,
    assetsInlineLimit: 0,
    cssCodeSplit: false,
  },
  test: { include: ['test/**/*.test.{ts,tsx}'], environment: 'node' },
});
