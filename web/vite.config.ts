import { readFileSync } from "node:fs";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";

// Two builds from one source:
//   vite build              the dashboard page, into dist/ (embedded by the Go module)
//   vite build --mode lib   the @apibilling/react library, into lib/
// Output file names carry no hashes, so a rebuild of the same source is byte-identical.

const jsx = { oxc: { jsx: { runtime: "automatic" as const } } };

/** copyStyles ships src/styles.css as lib/styles.css (the package's "./styles.css" export). */
function copyStyles(): Plugin {
  return {
    name: "apibilling-copy-styles",
    generateBundle() {
      this.emitFile({
        type: "asset",
        fileName: "styles.css",
        source: readFileSync(new URL("./src/styles.css", import.meta.url), "utf8"),
      });
    },
  };
}

export default defineConfig(({ mode }) => {
  if (mode === "lib") {
    return {
      ...jsx,
      publicDir: false,
      plugins: [copyStyles()],
      build: {
        outDir: "lib",
        emptyOutDir: true,
        minify: false,
        lib: { entry: "src/index.ts", formats: ["es"], fileName: () => "index.js" },
        rolldownOptions: { external: [/^react($|\/)/, /^react-dom($|\/)/] },
      },
    };
  }

  // During development, `APIBILLING_URL=http://127.0.0.1:8080/billing npm run dev` sends the
  // page's API calls to a running app.
  const api = process.env.APIBILLING_URL;
  return {
    ...jsx,
    base: "./",
    server: api ? { proxy: { "/api": { target: api, changeOrigin: true } } } : undefined,
    build: {
      outDir: "dist",
      emptyOutDir: true,
      modulePreload: { polyfill: false },
      cssCodeSplit: false,
      rolldownOptions: {
        output: {
          entryFileNames: "assets/dashboard.js",
          chunkFileNames: "assets/[name].js",
          assetFileNames: (asset) =>
            asset.names.some((n) => n.endsWith(".css")) ? "assets/dashboard.css" : "assets/[name][extname]",
        },
      },
    },
    test: {
      environment: "happy-dom",
      include: ["test/**/*.test.{ts,tsx}"],
      setupFiles: ["test/setup.ts"],
    },
  };
});
