/**
 * Real multi-process clusters for tests: each node is `node scripts/start.js` (moleculer-runner on
 * the compiled dist/, built by test/global-setup.ts and again here if a source changed since) with its own ports, all nodes sharing a
 * random NAMESPACE, JWT secret and documents key, talking over NATS.
 *
 *   const cluster = await startCluster([{ name: "gateway", services: ["api"] }, { name: "onboarding", services: ["users"] }]);
 *   client(cluster.gatewayUrl).post(...); await cluster.kill("onboarding", "SIGKILL"); await cluster.restart("onboarding");
 *   afterAll(() => cluster?.stopAll());
 *
 * Every node's stdout/stderr is kept in memory (cluster.logs(name), cluster.jsonLogs(name)) and in a
 * file under the cluster's tmp dir; `clusterTest` prints the tail of every node's log when a test fails.
 */
import { ChildProcess, spawn } from "child_process";
import { ServiceBroker } from "moleculer";
import crypto from "crypto";
import fs from "fs";
import net from "net";
import os from "os";
import path from "path";
import { DEAD_LETTER_TOPIC, TOPICS } from "../../lib/domain/events";
import { channelName } from "../../mixins/events.mixin";
import { buildDistIfNeeded } from "../global-setup";
import { ADMIN } from "./broker";
import { INFRA, infraUp } from "./infra";

export const ROOT = path.resolve(__dirname, "../..");
export const FIXTURES = path.join(ROOT, "test", "fixtures");
const START_SCRIPT = path.join(ROOT, "scripts", "start.js");
/** Keeps start.js from building: the harness builds dist/ itself, once (see the file). */
const NO_BUILD = path.join(FIXTURES, "no-build.js");
const READY_TIMEOUT_MS = Number(process.env.CLUSTER_READY_TIMEOUT_MS || 30_000);
/** moleculer-web rebuilds its aliases this long (its debounceTime, with margin) after services change. */
const ALIAS_SETTLE_MS = 300;

export interface NodeSpec {
	/** Unique within the cluster; also the NODE_ID prefix. */
	name: string;
	/** Service names from dist/services, or "fixture:<name>" for test/fixtures/<name>.service.js. */
	services: string[];
	env?: Record<string, string>;
}

export interface ClusterOptions {
	/** Defaults to the machine's NATS (INFRA.nats.url). */
	transporter?: string;
	/** Env for every node (before each node's own env). */
	env?: Record<string, string>;
	/**
	 * Create the namespace's JetStream streams before the nodes start (default false: every node
	 * creates them when it connects, and the tests should see that work).
	 */
	ensureStreams?: boolean;
	/**
	 * Where the nodes keep their data: "postgres" (default when PostgreSQL answers) gives every node
	 * the one shared store of a real cluster (DATABASE_URL, schemas named after this namespace, so
	 * two instances of a service share their data); "memory" gives each process its own.
	 */
	store?: "postgres" | "memory";
}

export interface ClusterNode {
	spec: NodeSpec;
	nodeID: string;
	healthPort: number;
	/** Only for nodes running the gateway. */
	port: number | null;
	url: string | null;
	child: ChildProcess | null;
	output: string[];
	logFile: string;
	env: Record<string, string>;
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
	for (const child of running) child.kill("SIGKILL");
});

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.unref();
		server.on("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const { port } = server.address() as net.AddressInfo;
			server.close(() => resolve(port));
		});
	});
}

/** SERVICES entries for moleculer-runner: plain names resolve against dist/services, fixtures by absolute path. */
function serviceEntry(service: string): string {
	return service.startsWith("fixture:") ? path.join(FIXTURES, service.slice("fixture:".length)) : service;
}

function serviceName(service: string): string {
	return service.startsWith("fixture:") ? service.slice("fixture:".length) : service;
}

async function httpStatus(url: string): Promise<number> {
	try {
		const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
		await res.arrayBuffer();
		return res.status;
	} catch {
		return 0;
	}
}

export class Cluster {
	readonly namespace = `gr${crypto.randomBytes(4).toString("hex")}`;
	readonly dir: string;
	readonly nodes = new Map<string, ClusterNode>();
	readonly sharedEnv: Record<string, string>;
	private clients: ServiceBroker[] = [];

	constructor(readonly opts: ClusterOptions = {}) {
		this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `gasrapido-${this.namespace}-`));
		this.sharedEnv = {
			TRANSPORTER: opts.transporter || INFRA.nats.url,
			NAMESPACE: this.namespace,
			JWT_SECRET: crypto.randomBytes(24).toString("hex"),
			DOCUMENTS_KEY: crypto.randomBytes(32).toString("hex"),
			ADMIN_EMAIL: ADMIN.email,
			ADMIN_PASSWORD: ADMIN.password,
			DATA_DIR: ":memory:",
			LOG_LEVEL: "info",
			LOG_FORMAT: "json",
			METRICS_PORT: "0",
			CACHER: "Memory",
			// Tests sign many users in from one address; the sign-in budget has its own tests.
			AUTH_RATE_LIMIT_MAX: "1000000",
			// Suites outlive a 15 min access token; refresh has its own tests.
			JWT_EXPIRES_IN: "12h",
			SHUTDOWN_TIMEOUT_MS: "2000",
			EVENT_RETRY_BASE_MS: "50",
			...(this.usesPostgres ? { DATABASE_URL: INFRA.postgres.url } : {}),
			...(opts.env || {}),
		};
	}

	/** True when the nodes share one PostgreSQL store (see ClusterOptions.store). */
	get usesPostgres(): boolean {
		return (this.opts.store ?? (infraUp("postgres") ? "postgres" : "memory")) === "postgres";
	}

	/** Drops the schemas this cluster's nodes created in the shared PostgreSQL store. */
	private async dropSchemas(): Promise<void> {
		if (!this.usesPostgres) return;
		const { Client } = await import("pg");
		const client = new Client({ connectionString: INFRA.postgres.url });
		try {
			await client.connect();
			const { rows } = await client.query<{ nspname: string }>(
				"SELECT nspname FROM pg_namespace WHERE nspname LIKE $1",
				[`${this.namespace}\\_%`],
			);
			for (const { nspname } of rows) await client.query(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`);
		} catch {
			// best effort: a leftover schema of a random namespace harms nothing
		} finally {
			await client.end().catch(() => undefined);
		}
	}

	/** The first gateway node's base URL. */
	get gatewayUrl(): string {
		for (const node of this.nodes.values()) if (node.url) return node.url;
		throw new Error("No node of this cluster runs the gateway (services: ['api'])");
	}

	node(name: string): ClusterNode {
		const node = this.nodes.get(name);
		if (!node) throw new Error(`No node named '${name}' in this cluster`);
		return node;
	}

	/** Adds nodes and waits until every one of them is ready. */
	async add(specs: NodeSpec[]): Promise<void> {
		// built here, once, so that the nodes' start.js never builds (all at once) after a source changed
		buildDistIfNeeded();
		if (this.nodes.size === 0 && this.opts.ensureStreams) await this.ensureStreams();
		const all = [...this.nodes.values()].map((n) => n.spec).concat(specs);
		const prepared = await Promise.all(specs.map((spec) => this.prepare(spec, all)));
		for (const node of prepared) this.launch(node);
		await Promise.all(prepared.map((node) => this.waitReady(node)));
	}

	private async prepare(spec: NodeSpec, all: NodeSpec[]): Promise<ClusterNode> {
		if (this.nodes.has(spec.name)) throw new Error(`Duplicate node name '${spec.name}'`);
		const isGateway = spec.services.includes("api");
		const port = isGateway ? await freePort() : null;
		const healthPort = await freePort();
		const nodeID = `${spec.name}-${this.namespace}`;
		const required = [...new Set(all.flatMap((s) => s.services.map(serviceName)))].filter((s) => s !== "api");
		const env: Record<string, string> = {
			...this.sharedEnv,
			NODE_ID: nodeID,
			SERVICES: spec.services.map(serviceEntry).join(","),
			HEALTH_PORT: String(healthPort),
			PORT: String(port || 0),
			...(isGateway ? { REQUIRED_SERVICES: required.join(",") } : {}),
			...(spec.env || {}),
		};
		const node: ClusterNode = {
			spec,
			nodeID,
			healthPort,
			port,
			url: port ? `http://127.0.0.1:${port}` : null,
			child: null,
			output: [],
			logFile: path.join(this.dir, `${spec.name}.log`),
			env,
		};
		this.nodes.set(spec.name, node);
		return node;
	}

	private launch(node: ClusterNode): void {
		const file = fs.createWriteStream(node.logFile, { flags: "a" });
		const child = spawn(process.execPath, ["-r", NO_BUILD, START_SCRIPT], {
			cwd: ROOT,
			env: { ...process.env, ...node.env },
			stdio: ["ignore", "pipe", "pipe"],
		});
		const capture = (chunk: Buffer) => {
			node.output.push(chunk.toString());
			file.write(chunk);
		};
		child.stdout!.on("data", capture);
		child.stderr!.on("data", capture);
		child.on("exit", (code, signal) => {
			running.delete(child);
			node.output.push(`\n[harness] ${node.spec.name} exited (code ${code}, signal ${signal})\n`);
			file.end();
		});
		running.add(child);
		node.child = child;
	}

	private async waitReady(node: ClusterNode): Promise<void> {
		const deadline = Date.now() + READY_TIMEOUT_MS;
		const child = node.child!;
		const probes = [`http://127.0.0.1:${node.healthPort}/ready`];
		if (node.url) probes.push(`${node.url}/api/health/ready`);
		for (const probe of probes) {
			for (;;) {
				if (child.exitCode !== null || child.signalCode !== null)
					throw new Error(`Node ${node.spec.name} exited before it was ready:\n${this.tail(node.spec.name, 40)}`);
				if ((await httpStatus(probe)) === 200) break;
				if (Date.now() > deadline)
					throw new Error(
						`Node ${node.spec.name} not ready after ${READY_TIMEOUT_MS} ms (${probe}):\n${this.tail(node.spec.name, 40)}`,
					);
				await sleep(50);
			}
		}
		if (node.url) await sleep(ALIAS_SETTLE_MS);
	}

	/** Sends a signal (SIGKILL = kill -9) and waits for the process to exit. */
	async kill(name: string, signal: NodeJS.Signals = "SIGTERM", timeoutMs = 10_000): Promise<void> {
		const child = this.node(name).child;
		if (!child || child.exitCode !== null || child.signalCode !== null) return;
		const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
		child.kill(signal);
		const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
		await exited;
		clearTimeout(timer);
	}

	/** Starts a stopped node again, with the same ports and env, and waits until it is ready. */
	async restart(name: string, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
		await this.kill(name, signal);
		const node = this.node(name);
		node.output.push(`\n[harness] restarting ${name}\n`);
		buildDistIfNeeded();
		this.launch(node);
		await this.waitReady(node);
	}

	isRunning(name: string): boolean {
		const child = this.node(name).child;
		return !!child && child.exitCode === null && child.signalCode === null;
	}

	logs(name: string): string {
		return this.node(name).output.join("");
	}

	/** The node's JSON log lines, parsed (other lines are skipped). */
	jsonLogs(name: string): any[] {
		const entries: any[] = [];
		for (const line of this.logs(name).split("\n")) {
			if (!line.startsWith("{")) continue;
			try {
				entries.push(JSON.parse(line));
			} catch {
				// a line cut by a chunk boundary or by a kill
			}
		}
		return entries;
	}

	tail(name: string, lines = 30): string {
		return this.logs(name).split("\n").slice(-lines).join("\n");
	}

	printTails(lines = 30): void {
		for (const name of this.nodes.keys())
			process.stderr.write(
				`\n----- ${name} (${this.node(name).logFile}) last ${lines} lines -----\n${this.tail(name, lines)}\n`,
			);
	}

	/**
	 * A broker in the test process that joins the cluster (no services of its own unless given), for
	 * internal actions (`call(..., { nodeID })`) and for watching events as a caller sees them.
	 */
	async clientBroker(services: any[] = []): Promise<ServiceBroker> {
		const broker = new ServiceBroker({
			namespace: this.namespace,
			nodeID: `tester-${this.clients.length}-${this.namespace}`,
			transporter: this.sharedEnv.TRANSPORTER,
			serializer: "JSON",
			logger: false,
			heartbeatInterval: 2,
			heartbeatTimeout: 6,
			requestTimeout: 10_000,
		});
		for (const schema of services) broker.createService(schema);
		await broker.start();
		this.clients.push(broker);
		return broker;
	}

	/**
	 * A broker in the test process with the real broker options (durable events over JetStream
	 * included), for test services such as eventRecorder() that consume business events as their
	 * own consumer group. Quiet, no ports.
	 */
	async joinBroker(services: any[] = []): Promise<ServiceBroker> {
		const env = { ...this.sharedEnv, HEALTH_PORT: "0", METRICS_PORT: "0", LOG_LEVEL: "error", PORT: "0" };
		const saved: Record<string, string | undefined> = {};
		for (const [k, v] of Object.entries(env)) {
			saved[k] = process.env[k];
			process.env[k] = v;
		}
		try {
			const brokerOptions = require("../../moleculer.config");
			const broker = new ServiceBroker({
				...brokerOptions(),
				nodeID: `joined-${this.clients.length}-${this.namespace}`,
			});
			for (const schema of services) broker.createService(schema);
			await broker.start();
			this.clients.push(broker);
			return broker;
		} finally {
			for (const [k, v] of Object.entries(saved)) {
				if (v === undefined) delete process.env[k];
				else process.env[k] = v;
			}
		}
	}

	/** Stops every node (SIGTERM, then SIGKILL after a grace period) and drops the namespace's streams. */
	async stopAll(): Promise<void> {
		await Promise.all(this.clients.map((broker) => broker.stop().catch(() => undefined)));
		this.clients = [];
		await Promise.all([...this.nodes.keys()].map((name) => this.kill(name, "SIGTERM", 3000)));
		await this.dropStreams();
		await this.dropSchemas();
	}

	/** The subjects the nodes publish on: @moleculer/channels prefixes the mixin's channel name with the namespace. */
	streamSubjects(): string[] {
		const saved = process.env.NAMESPACE;
		process.env.NAMESPACE = this.namespace;
		try {
			return [...TOPICS, DEAD_LETTER_TOPIC].map((topic) => `${this.namespace}.${channelName(topic)}`);
		} finally {
			if (saved === undefined) delete process.env.NAMESPACE;
			else process.env.NAMESPACE = saved;
		}
	}

	private async withJetStream(fn: (jsm: any) => Promise<void>): Promise<void> {
		const url = this.sharedEnv.TRANSPORTER;
		if (!url.startsWith("nats://")) return;
		const { connect } = require("nats");
		// credentials in the URL (a NATS started with --user/--pass) go to the client as options
		const u = new URL(url);
		const nc = await connect({
			servers: `${u.hostname}:${u.port || 4222}`,
			...(u.username ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } : {}),
			timeout: 2000,
			maxReconnectAttempts: 0,
		});
		try {
			await fn(await nc.jetstreamManager());
		} finally {
			await nc.close();
		}
	}

	/** Same stream names and subjects as the channels adapter would create on first subscribe. */
	private async ensureStreams(): Promise<void> {
		await this.withJetStream(async (jsm) => {
			for (const subject of this.streamSubjects())
				await jsm.streams.add({ name: subject.split(".").join("_"), subjects: [subject] });
		});
	}

	private async dropStreams(): Promise<void> {
		try {
			await this.withJetStream(async (jsm) => {
				for await (const stream of jsm.streams.list())
					if (stream.config.name.startsWith(`${this.namespace}_`)) await jsm.streams.delete(stream.config.name);
			});
		} catch {
			// the private NATS of a test may be gone already; nothing to clean then
		}
	}
}

/** Starts the nodes (all at once) and resolves when every node is ready; stops them all if one fails. */
export async function startCluster(specs: NodeSpec[], opts: ClusterOptions = {}): Promise<Cluster> {
	const cluster = new Cluster(opts);
	try {
		await cluster.add(specs);
	} catch (err) {
		await cluster.stopAll();
		throw err;
	}
	return cluster;
}

/** `test` that prints the tail of every node's log when it fails. */
export function clusterTest(getCluster: () => Cluster | undefined) {
	return (name: string, fn: () => Promise<void>, timeoutMs?: number) =>
		test(
			name,
			async () => {
				try {
					await fn();
				} catch (err) {
					getCluster()?.printTails();
					throw err;
				}
			},
			timeoutMs,
		);
}

/** Polls fn until it returns a truthy value (or throws its last error after timeoutMs). */
type Falsy = false | null | undefined | 0 | "";
export async function eventually<T>(
	fn: () => T | Falsy | Promise<T | Falsy>,
	timeoutMs = 10_000,
	intervalMs = 100,
): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	let last: any;
	for (;;) {
		try {
			const value = await fn();
			if (value) return value as T;
			last = undefined;
		} catch (err) {
			last = err;
		}
		if (Date.now() > deadline)
			throw new Error(`eventually: timed out after ${timeoutMs} ms${last ? `: ${last.message}` : ""}`);
		await sleep(intervalMs);
	}
}

/**
 * A private nats-server with JetStream on a free port, for tests that stop and restart NATS, or
 * that need one with authentication (`new PrivateNats({ user, pass })`: its url carries them).
 */
export class PrivateNats {
	port = 0;
	private child: ChildProcess | null = null;
	private readonly storeDir = fs.mkdtempSync(path.join(os.tmpdir(), "gasrapido-nats-"));
	output = "";

	constructor(readonly auth?: { user: string; pass: string }) {}

	get url(): string {
		const creds = this.auth ? `${encodeURIComponent(this.auth.user)}:${encodeURIComponent(this.auth.pass)}@` : "";
		return `nats://${creds}127.0.0.1:${this.port}`;
	}

	async start(): Promise<void> {
		if (!this.port) this.port = await freePort();
		const child = spawn(
			"/usr/sbin/nats-server",
			[
				"-a",
				"127.0.0.1",
				"-p",
				String(this.port),
				"-js",
				"-sd",
				this.storeDir,
				...(this.auth ? ["--user", this.auth.user, "--pass", this.auth.pass] : []),
			],
			{
				stdio: ["ignore", "pipe", "pipe"],
			},
		);
		child.stdout!.on("data", (c) => (this.output += c));
		child.stderr!.on("data", (c) => (this.output += c));
		running.add(child);
		child.on("exit", () => running.delete(child));
		this.child = child;
		await eventually(
			() =>
				new Promise<boolean>((resolve) => {
					const socket = net.connect(this.port, "127.0.0.1");
					socket.on("connect", () => (socket.destroy(), resolve(true)));
					socket.on("error", () => resolve(false));
				}),
			10_000,
			50,
		);
	}

	async stop(): Promise<void> {
		const child = this.child;
		if (!child || child.exitCode !== null || child.signalCode !== null) return;
		const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
		child.kill("SIGKILL");
		await exited;
	}

	async dispose(): Promise<void> {
		await this.stop();
		fs.rmSync(this.storeDir, { recursive: true, force: true });
	}
}
