// The test harness: runs `protostar all` (and, for one test, `protostar
// serve`) on the real stack, on free ports, with tenants and keys no other
// run shares.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { createProtostarClient } from "../src/index.js";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

const stackVars = ["PROTOSTAR_DATABASE_URL", "PROTOSTAR_REDIS_URL", "PROTOSTAR_S3_ENDPOINT"];

/** A random id part, so tenants of different runs never collide. */
export const rand = (bytes = 6) => randomBytes(bytes).toString("hex");

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => ok(port));
    });
  });
}

export interface Protostar {
  url: string;
  stop(): Promise<void>;
}

/**
 * startProtostar runs the binary (PROTOSTAR_BIN, default bin/protostar,
 * built by `make test-ts`) with the stack's environment and env, and
 * resolves once /readyz says ok.
 */
export async function startProtostar(role: "all" | "serve", env: Record<string, string>, name: string = role): Promise<Protostar> {
  const missing = stackVars.filter((v) => !process.env[v]);
  if (missing.length > 0) {
    throw new Error(`${missing.join(", ")} not set: run through \`make test-ts\` (it sets the stack's environment)`);
  }
  const bin = process.env.PROTOSTAR_BIN ?? join(repoRoot, "bin/protostar");
  if (!existsSync(bin)) throw new Error(`${bin} does not exist: run \`go build -o bin/protostar ./cmd/protostar\` or \`make test-ts\``);
  const port = await freePort();
  const logDir = join(repoRoot, "bin");
  mkdirSync(logDir, { recursive: true });
  const logPath = join(logDir, `ts-${name}.log`);
  const log = createWriteStream(logPath);
  const child: ChildProcess = spawn(bin, [role], {
    env: {
      ...process.env,
      PROTOSTAR_HTTP_ADDR: `127.0.0.1:${port}`,
      PROTOSTAR_MIGRATE_ON_START: "true",
      PROTOSTAR_S3_CREATE_BUCKET: "true",
      PROTOSTAR_S3_RECONCILE_INTERVAL: "0",
      PROTOSTAR_LOG_FORMAT: "text",
      OTEL_TRACES_EXPORTER: "none",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const url = `http://127.0.0.1:${port}`;
  let exited: number | null = null;
  child.once("exit", (code) => (exited = code ?? -1));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== null) throw new Error(`protostar ${role} exited with ${exited} before it was ready; see ${logPath}`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.ok && (await res.text()).includes('"status":"ok"')) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`protostar ${role} not ready within 60 s; see ${logPath}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    async stop() {
      if (exited !== null) return;
      const done = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await done;
      clearTimeout(timer);
    },
  };
}

/**
 * runKeys names one run's platform key (the only key in
 * PROTOSTAR_API_KEYS) and its three tenants, whose keys createTenants
 * fills in.
 */
export function runKeys() {
  const run = rand();
  const platform = `pk_${rand(16)}`;
  const tenant = (n: string) => ({ tenant: `ts_${run}_${n}`, key: "" });
  return { run, platform, env: `*:${platform}`, main: tenant("main"), other: tenant("other"), limits: tenant("limits") };
}

/**
 * createTenants creates the run's tenants through the platform key, with
 * a stored key each, and returns the clean-up that deletes them with all
 * their data, so runs leave nothing behind on a shared stack.
 */
export async function createTenants(url: string, keys: ReturnType<typeof runKeys>): Promise<() => Promise<void>> {
  const platform = createProtostarClient({ baseUrl: url, apiKey: keys.platform });
  const tenants = [keys.main, keys.other, keys.limits];
  for (const t of tenants) {
    await platform.tenants.create({ id: t.tenant, name: `TypeScript client tests ${keys.run}` });
    t.key = (await platform.keys.create({ name: "ts tests" }, { tenant: t.tenant })).secret;
  }
  return async () => {
    await Promise.all(
      tenants.map(async (t) => {
        const { job } = await platform.tenants.delete(t.tenant);
        const done = await platform.waitForJob(job.id, { timeoutMs: 60_000 });
        if (done.status !== "succeeded") throw new Error(`deleting tenant ${t.tenant}: ${done.status} ${done.error ?? ""}`);
      }),
    );
  };
}
