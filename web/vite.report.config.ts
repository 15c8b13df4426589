import { defineConfig } from "vite";

// The backtest report: one classic script and one stylesheet in
// dist/report/, which `tickpath backtest --html` inlines into a single
// self-contained HTML file with the run's data (no server, no requests).
export default defineConfig({
  build: {
    outDir: "dist/report",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
    lib: { entry: "src/report.ts", formats: ["iife"], name: "tickpathReport", fileName: () => "report.js", cssFileName: "report" },
  },
});
