import { defineConfig } from "vite";

// Served by the agent at /ui/ from files embedded in the binary (src/http/ui.cc).
// `npm run dev` proxies the API to an agent on 127.0.0.1:8500.
export default defineConfig({
  base: "/ui/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2020",
    sourcemap: false,
    assetsInlineLimit: 0,
  },
  server: {
    proxy: { "/v1": "http://127.0.0.1:8500" },
  },
});
