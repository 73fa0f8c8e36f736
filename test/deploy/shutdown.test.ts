/**
 * Graceful shutdown of a real node (`node scripts/start.js`, the image's CMD) on SIGTERM with open
 * Server-Sent Events streams: readiness answers 503 at once, every stream gets a `reconnect` event
 * and is ended (a tracking stream made by lib/infra/tracking-stream.ts and one that did not come
 * from it, as when it is piped from another node), a request in flight still gets its answer, and
 * the process exits with code 0 within SHUTDOWN_TIMEOUT_MS.
 */
import { ChildProcess, spawn } from "child_process";
import http from "http";
import net from "net";
import path from "path";
import { buildDistIfNeeded } from "../global-setup";

const ROOT = path.resolve(__dirname, "../..");
const FIXTURE = path.join(__dirname, "fixtures", "shutdown.service.js");
const SHUTDOWN_TIMEOUT_MS = 4000;
jest.setTimeout(60_000);

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

interface OpenStream {
	status: number;
	text: () => string;
	ended: Promise<void>;
}

/** Opens an SSE GET and resolves once the first bytes arrived. */
function openStream(url: string): Promise<OpenStream> {
	return new Promise((resolve, reject) => {
		const req = http.get(url, (res) => {
			let text = "";
			let endResolve: () => void;
			const ended = new Promise<void>((r) => (endResolve = r));
			res.setEncoding("utf8");
			res.on("data", (chunk: string) => {
				const first = text === "";
				text += chunk;
				if (first) resolve({ status: res.statusCode ?? 0, text: () => text, ended });
			});
			res.on("end", () => endResolve());
			res.on("close", () => endResolve());
			res.on("error", () => endResolve());
		});
		req.on("error", reject);
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

describe("graceful shutdown on SIGTERM with open tracking streams", () => {
	let child: ChildProcess;
	let output = "";
	let port: number;
	let healthPort: number;

	beforeAll(async () => {
		buildDistIfNeeded();
		[port, healthPort] = await Promise.all([freePort(), freePort()]);
		child = spawn(process.execPath, [path.join(ROOT, "scripts", "start.js")], {
			cwd: ROOT,
			env: {
				...process.env,
				SERVICES: `api,${FIXTURE}`,
				TRANSPORTER: "",
				PORT: String(port),
				HEALTH_PORT: String(healthPort),
				METRICS_PORT: "0",
				DATA_DIR: ":memory:",
				LOG_LEVEL: "info",
				SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
				JWT_SECRET: "shutdown-test-secret",
			},
			stdio: ["ignore", "pipe", "pipe"],
		});
		child.stdout!.on("data", (c) => (output += c));
		child.stderr!.on("data", (c) => (output += c));
		const deadline = Date.now() + 30_000;
		while ((await status(`http://127.0.0.1:${port}/api/health/ready`)) !== 200) {
			if (child.exitCode !== null) throw new Error(`node exited:\n${output}`);
			if (Date.now() > deadline) throw new Error(`not ready:\n${output}`);
			await new Promise((r) => setTimeout(r, 100));
		}
	});
	afterAll(() => {
		if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
	});

	it("503 at once, streams told to reconnect and closed, the running request answered, exit 0 in time", async () => {
		const base = `http://127.0.0.1:${port}/api/fixture`;
		const tracking = await openStream(`${base}/track`);
		const foreign = await openStream(`${base}/foreign-stream`);
		expect([tracking.status, foreign.status]).toEqual([200, 200]);
		expect(tracking.text()).toContain("event: status");

		const inFlight = fetch(`${base}/slow?ms=1500`).then(async (r) => ({ status: r.status, body: await r.json() }));
		await new Promise((r) => setTimeout(r, 200)); // the request is running on the node

		const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
		const signalled = Date.now();
		child.kill("SIGTERM");

		// readiness drops at once (the probe server stays up until the very end)
		let readyStatus = 0;
		for (let i = 0; i < 10 && readyStatus !== 503; i++) {
			readyStatus = await status(`http://127.0.0.1:${healthPort}/ready`);
			if (readyStatus !== 503) await new Promise((r) => setTimeout(r, 20));
		}
		expect(readyStatus).toBe(503);
		expect(Date.now() - signalled).toBeLessThan(500);

		await Promise.all([tracking.ended, foreign.ended]);
		for (const s of [tracking, foreign]) {
			expect(s.text()).toMatch(/retry: \d+\nevent: reconnect\ndata: \{"reason":"server shutting down"\}\n\n$/);
		}

		expect(await inFlight).toEqual({ status: 200, body: { done: true } });
		const code = await exited;
		expect({ code, log: code === 0 ? "" : output.slice(-3000) }).toEqual({ code: 0, log: "" });
		expect(Date.now() - signalled).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
		expect(output).toMatch(/Shutting down: readiness is 503, 1 tracking stream\(s\) told to reconnect/);
	});
});
