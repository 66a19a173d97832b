// Builds the package twice from src/: ES modules in dist/esm and CommonJS
// in dist/cjs, each with type declarations, so both `import` and
// `require` (NestJS compiles to CommonJS by default) get types.
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";

const tsc = (args) => execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", ...args], { stdio: "inherit" });

rmSync("dist", { recursive: true, force: true });
tsc(["-p", "tsconfig.json"]);
tsc(["-p", "tsconfig.json", "--module", "commonjs", "--moduleResolution", "node10", "--outDir", "dist/cjs"]);
mkdirSync("dist/cjs", { recursive: true });
writeFileSync("dist/cjs/package.json", JSON.stringify({ type: "commonjs" }) + "\n");
writeFileSync("dist/esm/package.json", JSON.stringify({ type: "module" }) + "\n");
