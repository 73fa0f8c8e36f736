/**
 * The image builds and starts. The build context is assembled the way Docker does it (applying
 * .dockerignore with @balena/dockerignore), the Dockerfile's stages are executed in folders
 * (test/deploy/dockerfile.ts: COPY, WORKDIR, ENV, the RUN steps; `npm ci` stood in for by this
 * checkout's node_modules), and the runtime stage's CMD is started with its ENV against the local
 * NATS (JetStream) and Redis until GET /ready answers 200; then SIGTERM stops it cleanly.
 */
import { ChildProcess, spawn } from "child_process";
import crypto from "crypto";
import fs from "fs";
import net from "net";
import os from "os";
import path from "path";
import { builtinModules } from "module";
import { assembleContext, BuiltStage, dockerignoreMatcher, inImage, parseDockerfile, runStage } from "./dockerfile";
import { describeWithInfra, INFRA } from "../helpers/infra";

const ROOT = path.resolve(__dirname, "../..");
jest.setTimeout(180_000);

function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.on("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const { port } = server.address() as net.AddressInfo;
			server.close(() => resolve(port));
		});
	});
}

async function status(url: string): Promise<number> {
	try {
		const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
		await res.arrayBuffer();
		return res.status;
	} catch {
		return 0;
	}
}

describe(".dockerignore and the build context", () => {
	const { stages } = parseDockerfile(fs.readFileSync(path.join(ROOT, "Dockerfile"), "utf8"));

	it("keeps secrets, local data, dependencies and tests out of the context", () => {
		const ig = dockerignoreMatcher(ROOT);
		for (const p of [".env", ".env.production", "node_modules/x/index.js", "data/dev-secrets.json", "dist/x.js"])
			expect([p, ig.ignores(p)]).toEqual([p, true]);
		for (const p of ["test/unit/geo.test.ts", ".git/config", "k8s/gateway.yaml", "bench/orders.js", "npm-debug.log"])
			expect([p, ig.ignores(p)]).toEqual([p, true]);
	});

	it("contains every file and folder the Dockerfile COPYs from the context", () => {
		const ig = dockerignoreMatcher(ROOT);
		for (const stage of stages)
			for (const { op, args } of stage.instructions) {
				if (op !== "COPY" || args.includes("--from=")) continue;
				const srcs = args
					.split(" ")
					.filter((w) => !w.startsWith("--"))
					.slice(0, -1);
				for (const src of srcs) {
					expect([src, fs.existsSync(path.join(ROOT, src))]).toEqual([src, true]);
					const files = fs.statSync(path.join(ROOT, src)).isDirectory()
						? fs.readdirSync(path.join(ROOT, src), { recursive: true }).map((f) => `${src}/${f}`)
						: [src];
					expect([src, files.some((f) => !ig.ignores(f))]).toEqual([src, true]);
				}
			}
	});

	it("the runtime's code requires only production dependencies (npm ci --omit=dev)", () => {
		const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
		const allowed = new Set([...Object.keys(pkg.dependencies), ...builtinModules]);
		const files = [
			...fs.readdirSync(path.join(ROOT, "scripts")).map((f) => path.join("scripts", f)),
			...["lib", "mixins", "middlewares", "services", "moleculer.config.ts"].flatMap((d) =>
				fs.statSync(path.join(ROOT, d)).isDirectory()
					? fs
							.readdirSync(path.join(ROOT, d), { recursive: true })
							.map((f) => path.join(d, String(f)))
							.filter((f) => f.endsWith(".ts"))
					: [d],
			),
		];
		const missing: string[] = [];
		for (const file of files) {
			const text = fs.readFileSync(path.join(ROOT, file), "utf8");
			const imports =
				/(?:\brequire\(\s*|^\s*(?:import|export)\b[^;]*?\bfrom\s+|\bimport\(\s*)["']([^"'./][^"']*)["']/gm;
			for (const m of text.matchAll(imports)) {
				const spec = m[1].replace(/^node:/, "");
				const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];
				// type-only imports vanish when compiled; build-if-needed loads typescript only with sources present
				if (name === "typescript" && file.endsWith("build-if-needed.js")) continue;
				if (/^\s*import type\b/.test(m[0])) continue;
				if (!allowed.has(name)) missing.push(`${file}: ${name}`);
			}
		}
		expect(missing).toEqual([]);
	});
});

describeWithInfra(["nats", "redis"], "the image, built from its context, starts against NATS and Redis", () => {
	const work = fs.mkdtempSync(path.join(os.tmpdir(), "gasrapido-image-build-"));
	const namespace = `img${crypto.randomBytes(3).toString("hex")}`;
	let runtime: BuiltStage;
	let child: ChildProcess | undefined;
	let output = "";

	afterAll(async () => {
		if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
		fs.rmSync(work, { recursive: true, force: true });
		// the JetStream streams the node created for its namespace
		const { connect } = require("nats");
		const nc = await connect({ servers: INFRA.nats.url.replace("nats://", ""), timeout: 2000 });
		const jsm = await nc.jetstreamManager();
		for await (const s of jsm.streams.list())
			if (s.config.name.startsWith(`${namespace}_`)) await jsm.streams.delete(s.config.name);
		await nc.close();
	});

	it("builds: every stage's steps run in the assembled context", () => {
		const context = path.join(work, "context");
		const sent = assembleContext(ROOT, context);
		expect(sent).toEqual(expect.arrayContaining(["package.json", "scripts/start.js", "moleculer.config.ts"]));
		expect(sent.some((f) => f.startsWith("test/") || f.startsWith("node_modules/"))).toBe(false);
		const { stages } = parseDockerfile(fs.readFileSync(path.join(ROOT, "Dockerfile"), "utf8"));
		const built = new Map<string, BuiltStage>();
		for (const stage of stages)
			runtime = runStage(
				stage,
				path.join(work, `stage-${stage.name}`),
				context,
				built,
				path.join(ROOT, "node_modules"),
			);
		expect(runtime.cmd).toEqual(["node", "scripts/start.js"]);
		expect(fs.existsSync(inImage(runtime, path.posix.join(runtime.workdir, "dist/moleculer.config.js")))).toBe(true);
		// nothing but what the runtime stage copied: no TypeScript sources to rebuild from
		expect(fs.existsSync(inImage(runtime, path.posix.join(runtime.workdir, "services")))).toBe(false);
	});

	it("its CMD, with its ENV, starts every service until /ready, and SIGTERM stops it with exit code 0", async () => {
		expect(runtime).toBeDefined();
		const [healthPort, port, metricsPort] = await Promise.all([freePort(), freePort(), freePort()]);
		const imageEnv = Object.fromEntries(
			Object.entries(runtime.env).map(([k, v]) => [k, v.startsWith("/") ? inImage(runtime, v) : v]),
		);
		const env: NodeJS.ProcessEnv = {
			PATH: process.env.PATH,
			HOME: os.tmpdir(),
			...imageEnv,
			HEALTH_PORT: String(healthPort),
			PORT: String(port),
			METRICS_PORT: String(metricsPort),
			TRANSPORTER: INFRA.nats.url,
			CACHER: INFRA.redis.url,
			NAMESPACE: namespace,
			JWT_SECRET: crypto.randomBytes(24).toString("hex"),
			DOCUMENTS_KEY: crypto.randomBytes(32).toString("hex"),
			ADMIN_PASSWORD: "image-test-admin-1",
			SHUTDOWN_TIMEOUT_MS: "3000",
		};
		const [exe, ...args] = runtime.cmd!;
		expect(exe).toBe("node");
		child = spawn(process.execPath, args, { cwd: inImage(runtime, runtime.workdir), env });
		child.stdout!.on("data", (c) => (output += c));
		child.stderr!.on("data", (c) => (output += c));
		const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));

		const deadline = Date.now() + 60_000;
		while ((await status(`http://127.0.0.1:${healthPort}/ready`)) !== 200) {
			if (child.exitCode !== null)
				throw new Error(`the image's CMD exited (${child.exitCode}):\n${output.slice(-4000)}`);
			if (Date.now() > deadline) throw new Error(`not ready after 60 s:\n${output.slice(-4000)}`);
			await new Promise((r) => setTimeout(r, 200));
		}
		expect(await status(`http://127.0.0.1:${port}/api/health/ready`)).toBe(200);
		expect(await status(`http://127.0.0.1:${port}/`)).toBe(200); // the web app from public/
		expect(await status(`http://127.0.0.1:${metricsPort}/metrics`)).toBe(200);

		const stopping = Date.now();
		child.kill("SIGTERM");
		const code = await exited;
		expect({ code, tail: code === 0 ? "" : output.slice(-3000) }).toEqual({ code: 0, tail: "" });
		expect(Date.now() - stopping).toBeLessThan(3000 + 2000);
	});
});
