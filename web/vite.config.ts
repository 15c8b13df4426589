import { defineConfig } from "vite";

// Relative asset paths: the engine serves the page from its own port.
export default defineConfig({
  base: "./",
  build: { outDir: "dist", emptyOutDir: true, assetsInlineLimit: 0, chunkSizeWarningLimit: 1024 },
});
