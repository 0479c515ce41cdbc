// Bundles the client into dist/ (app.js + the files in public/). With --tests, also bundles
// each test/*.test.ts into test-dist/ for node's test runner.
import { build } from "esbuild";
import { cpSync, mkdirSync, readdirSync, rmSync } from "node:fs";

const here = new URL(".", import.meta.url).pathname;
rmSync(`${here}dist`, { recursive: true, force: true });
mkdirSync(`${here}dist`, { recursive: true });
cpSync(`${here}public`, `${here}dist`, { recursive: true });
await build({
  entryPoints: [`${here}src/main.ts`],
  outfile: `${here}dist/app.js`,
  bundle: true,
  minify: true,
  sourcemap: true,
  target: "es2020",
  logLevel: "warning",
});

if (process.argv.includes("--tests")) {
  rmSync(`${here}test-dist`, { recursive: true, force: true });
  const tests = readdirSync(`${here}test`).filter((f) => f.endsWith(".test.ts"));
  await build({
    entryPoints: tests.map((f) => `${here}test/${f}`),
    outdir: `${here}test-dist`,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
  });
}
