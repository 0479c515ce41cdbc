// Bundles the client into dist/ (app.js + the files in public/), or into the folder given by
// `--outdir DIR` (the server's build script builds into its own Cargo OUT_DIR this way, so
// concurrent cargo builds never share an output folder). With --tests, also bundles each
// test/*.test.ts into test-dist/ for node's test runner.
import { build } from "esbuild";
import { cpSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, isAbsolute, parse, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const here = `${dirname(fileURLToPath(import.meta.url))}/`;
const outdir = outdirArg() ?? `${here}dist`;
// The folder is emptied first: refuse a folder that would take the client's sources with it.
const up = relative(outdir, here);
if (outdir === parse(outdir).root || !(up === ".." || up.startsWith(`..${sep}`) || isAbsolute(up))) {
  console.error(`build.mjs: refusing to empty ${outdir}: it holds web-client/ itself`);
  process.exit(2);
}
rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
cpSync(`${here}public`, outdir, { recursive: true });
await build({
  entryPoints: [`${here}src/main.ts`],
  outfile: `${outdir}/app.js`,
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

/** The absolute folder from `--outdir DIR` or `--outdir=DIR` (relative to the working folder). */
function outdirArg() {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    let value;
    if (args[i] === "--outdir") value = args[i + 1];
    else if (args[i].startsWith("--outdir=")) value = args[i].slice("--outdir=".length);
    else continue;
    if (!value || value.startsWith("--")) {
      console.error("build.mjs: --outdir needs a folder");
      process.exit(2);
    }
    return resolve(value);
  }
  return undefined;
}
