// Fails when the committed generated types differ from what the committed
// OpenAPI document generates: run `make openapi` and commit both.
import { readFileSync, rmSync } from "node:fs";

const [committed, fresh] = process.argv.slice(2);
const same = readFileSync(committed, "utf8") === readFileSync(fresh, "utf8");
rmSync(fresh, { force: true });
if (!same) {
  console.error(`${committed} is stale: it differs from what api/openapi.json generates. Run \`make openapi\` and commit both.`);
  process.exit(1);
}
