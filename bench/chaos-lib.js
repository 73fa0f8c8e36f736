/**
 * Crash harness pieces shared by bench/chaos.js and test/cluster/crash.test.ts: run the platform as
 * child processes (embedded: one `node scripts/start.js` on a DATA_DIR of SQLite files; cluster: one
 * process per service group over NATS with a shared PostgreSQL database), set a market up through the
 * HTTP API, flood it with orders from clients that retry like a real app (same request, same
 * Idempotency-Key, until answered), kill a process (kill -9 or SIGTERM), restart it, and judge the
 * outcome from the store itself (read-only): lost, stuck, charged twice, stock drift.
 *
 * Runs against the compiled dist/ (the caller builds it: scripts/build-if-needed.js or the jest setup).
 */
"use strict";
const { spawn } = require("child_process");
const crypto = require("crypto");
const fs = require("fs");
const http = require("http");
const net = require("net");
const os = require("os");
const path = require("path");

const ROOT = path.resolve(__dirname, "..");
const START_SCRIPT = path.join(ROOT, "scripts", "start.js");
/** Keeps start.js from building: the caller built dist/ once, and restarts must not run tsc. */
const NO_BUILD = path.join(ROOT, "test", "fixtures", "no-build.js");

const GOAL = "0 lost, 0 charged twice, 0 stuck and 0 stock drift within 60 s of the restart, over 3 kills in each mode";
const ADMIN = { email: "chaos-admin@gasrapido.test", password: "chaos-admin-password-1" };
const PASSWORD = "chaos-password-1";
const HOME = { lat: -23.5505, lng: -46.6333 };
const CARD_OK = "4242424242424242";

/** The service groups of the deployment, with orders and payments apart so either can be killed alone. */
const CLUSTER_GROUPS = {
	gateway: ["api"],
	onboarding: ["users", "invitations", "verification", "proofs"],
	orders: ["orders"],
	payments: ["payments"],
	products: ["products"],
	couriers: ["couriers"],
	watch: ["notifications", "analytics", "alerts", "reviews", "receipts"],
};

/**
 * Env for every platform process: quiet, no rate limit, short timers so that a repair the fixes add
 * can happen within the repair timeout (names the fixes read; ignored where they do not exist yet).
 */
const PLATFORM_ENV = {
	LOG_LEVEL: "warn",
	LOG_FORMAT: "json",
	RATE_LIMIT_MAX: "100000000",
	AUTH_RATE_LIMIT_MAX: "100000000",
	JWT_EXPIRES_IN: "12h",
	METRICS_PORT: "0",
	CACHER: "Memory",
	PIX_AUTO_CONFIRM_MS: "1000",
	PAYMENT_PROVIDER_TIMEOUT_MS: "2000",
	RECONCILE_INTERVAL_MS: "5000",
	RECONCILE_GRACE_MS: "5000",
	ORDER_PAYMENT_DEADLINE_MS: "15000",
	RESERVATION_SWEEP_MS: "5000",
	SHUTDOWN_TIMEOUT_MS: "8000",
	EVENT_RETRY_BASE_MS: "100",
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A small seeded PRNG (mulberry32), so that a run's kill moments and payment mix can be replayed. */
function seededRandom(seed) {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

function freePort() {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.unref();
		server.on("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const { port } = server.address();
			server.close(() => resolve(port));
		});
	});
}

// ---------------------------------------------------------------------------------------------
// HTTP: one request, with what happened to it when it did not get an answer
// ---------------------------------------------------------------------------------------------

/**
 * request({ base, method, path, body, token, headers, timeoutMs }) → { status, body, headers }.
 * Rejects with err.phase: "no-response" (refused, reset or closed before any byte of the answer:
 * the request was handed back) or "mid-response" (the answer started and was cut).
 */
function makeRequester({ keepAlive = true, maxSockets = 64 } = {}) {
	const agent = new http.Agent({ keepAlive, maxSockets });
	function request({ base, method, path: urlPath, body, token, headers = {}, timeoutMs = 30_000 }) {
		const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
		const all = { Accept: "application/json", ...headers };
		if (payload) Object.assign(all, { "Content-Type": "application/json", "Content-Length": payload.length });
		if (token) all.Authorization = `Bearer ${token}`;
		return new Promise((resolve, reject) => {
			let answered = false;
			const fail = (err) => {
				err.phase = answered ? "mid-response" : "no-response";
				reject(err);
			};
			const req = http.request(base + urlPath, { method, headers: all, agent, timeout: timeoutMs }, (res) => {
				answered = true;
				const chunks = [];
				res.on("data", (c) => chunks.push(c));
				res.on("aborted", () => fail(new Error("response aborted")));
				res.on("error", fail);
				res.on("end", () => {
					if (!res.complete) return fail(new Error("response incomplete"));
					const text = Buffer.concat(chunks).toString();
					let json = null;
					try {
						json = text ? JSON.parse(text) : null;
					} catch {
						json = null;
					}
					resolve({ status: res.statusCode, body: json, headers: res.headers });
				});
			});
			req.on("timeout", () => req.destroy(Object.assign(new Error("client timeout"), { code: "ETIMEDOUT" })));
			req.on("error", fail);
			if (payload) req.write(payload);
			req.end();
		});
	}
	request.close = () => agent.destroy();
	return request;
}

async function waitUntilReady(url, isAlive, timeoutMs) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		if (!isAlive()) throw new Error(`exited before ${url} answered ready`);
		try {
			const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
			await res.arrayBuffer();
			if (res.status === 200) return;
		} catch {
			// not listening yet
		}
		if (Date.now() > deadline) throw new Error(`${url} not ready after ${timeoutMs} ms`);
		await sleep(200);
	}
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/** One `node scripts/start.js` that can be killed and started again with the same env (ports included). */
class PlatformProcess {
	constructor(name, env, logFile) {
		this.name = name;
		this.env = env;
		this.logFile = logFile;
		this.child = null;
		this.tail = [];
	}

	start() {
		const log = fs.createWriteStream(this.logFile, { flags: "a" });
		const child = spawn(process.execPath, ["-r", NO_BUILD, START_SCRIPT], {
			cwd: ROOT,
			env: { ...process.env, ...this.env },
			stdio: ["ignore", "pipe", "pipe"],
		});
		const keep = (chunk) => {
			log.write(chunk);
			this.tail.push(chunk.toString());
			if (this.tail.length > 200) this.tail.splice(0, 100);
		};
		child.stdout.on("data", keep);
		child.stderr.on("data", keep);
		child.on("exit", () => log.end());
		PlatformProcess.running.add(child);
		child.on("exit", () => PlatformProcess.running.delete(child));
		this.child = child;
	}

	alive() {
		return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
	}

	/** Sends `signal`; resolves with how long the exit took (SIGKILL after graceMs if it does not exit). */
	async kill(signal = "SIGKILL", graceMs = 20_000) {
		if (!this.alive()) return { exitMs: 0, forced: false };
		const started = Date.now();
		const child = this.child;
		const exited = new Promise((resolve) => child.once("exit", resolve));
		child.kill(signal);
		let forced = false;
		const timer = setTimeout(() => {
			forced = true;
			child.kill("SIGKILL");
		}, graceMs);
		await exited;
		clearTimeout(timer);
		return { exitMs: Date.now() - started, forced };
	}

	lastLines(n = 20) {
		return this.tail.join("").split("\n").slice(-n).join("\n");
	}
}
PlatformProcess.running = new Set();
process.on("exit", () => {
	for (const child of PlatformProcess.running) child.kill("SIGKILL");
});

function sharedSecrets() {
	return {
		JWT_SECRET: crypto.randomBytes(24).toString("hex"),
		DOCUMENTS_KEY: crypto.randomBytes(32).toString("hex"),
		ADMIN_EMAIL: ADMIN.email,
		ADMIN_PASSWORD: ADMIN.password,
	};
}

/** The whole platform in one process (the embedded default): SQLite files and the event queue under DATA_DIR. */
async function startEmbedded({ env = {}, readyTimeoutMs = 60_000 } = {}) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gasrapido-chaos-"));
	const dataDir = path.join(dir, "data");
	const port = await freePort();
	const proc = new PlatformProcess(
		"platform",
		{ ...PLATFORM_ENV, ...sharedSecrets(), DATA_DIR: dataDir, PORT: String(port), HEALTH_PORT: "0", ...env },
		path.join(dir, "platform.log"),
	);
	const base = `http://127.0.0.1:${port}`;
	const ready = () => waitUntilReady(`${base}/api/health/ready`, () => proc.alive(), readyTimeoutMs);
	proc.start();
	await ready().catch((err) => fail(err, proc));
	const store = sqliteReader(dataDir);
	return {
		mode: "embedded",
		base,
		dir,
		processes: [proc],
		/** The process a kill hits: the only one. */
		victim: () => proc,
		async restart(victim) {
			victim.start();
			await ready().catch((err) => fail(err, victim));
		},
		readState: () => store.read(),
		async stop() {
			store.close();
			await proc.kill("SIGTERM", 10_000);
		},
	};
}

function fail(err, proc) {
	throw new Error(`${proc.name}: ${err.message}\n--- last lines of ${proc.logFile} ---\n${proc.lastLines(30)}`);
}

/**
 * The platform as processes over NATS with one shared PostgreSQL database (fresh per run), a fresh
 * NAMESPACE; `victims` names the group each successive kill hits (default: orders, then payments).
 */
async function startCluster({
	env = {},
	transporter = "nats://127.0.0.1:4222",
	pgAdminUrl = "postgres://postgres@127.0.0.1:5432/postgres",
	victims = ["orders", "payments"],
	readyTimeoutMs = 90_000,
} = {}) {
	const namespace = `chaos${crypto.randomBytes(4).toString("hex")}`;
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), `gasrapido-${namespace}-`));
	const database = await createDatabase(pgAdminUrl, namespace);
	const shared = {
		...PLATFORM_ENV,
		...sharedSecrets(),
		TRANSPORTER: transporter,
		NAMESPACE: namespace,
		DATABASE_URL: database.url,
		...env,
	};
	const all = Object.values(CLUSTER_GROUPS).flat();
	const processes = [];
	let gatewayPort = 0;
	for (const [group, services] of Object.entries(CLUSTER_GROUPS)) {
		const port = group === "gateway" ? await freePort() : 0;
		if (port) gatewayPort = port;
		const groupEnv = {
			...shared,
			SERVICES: services.join(","),
			NODE_ID: `${group}-${namespace}`,
			PORT: String(port),
			HEALTH_PORT: String(await freePort()),
			DATA_DIR: path.join(dir, group),
			...(group === "gateway" ? { REQUIRED_SERVICES: all.filter((s) => s !== "api").join(",") } : {}),
		};
		processes.push(new PlatformProcess(group, groupEnv, path.join(dir, `${group}.log`)));
	}
	const base = `http://127.0.0.1:${gatewayPort}`;
	const readyOf = (proc) =>
		waitUntilReady(`http://127.0.0.1:${proc.env.HEALTH_PORT}/ready`, () => proc.alive(), readyTimeoutMs).catch((err) =>
			fail(err, proc),
		);
	const stopAll = () => Promise.all(processes.map((p) => p.kill("SIGTERM", 10_000)));
	try {
		for (const proc of processes) proc.start();
		await Promise.all(processes.map(readyOf));
		await waitUntilReady(`${base}/api/health/ready`, () => processes[0].alive(), readyTimeoutMs);
		await sleep(500); // the gateway rebuilds its routes shortly after the last service appears
	} catch (err) {
		await stopAll();
		await database.drop();
		throw err;
	}
	const store = postgresReader(database.url, namespace);
	let kills = 0;
	return {
		mode: "cluster",
		base,
		dir,
		namespace,
		processes,
		victim: () => processes.find((p) => p.name === victims[kills++ % victims.length]),
		async restart(victim) {
			victim.start();
			await readyOf(victim);
		},
		readState: () => store.read(),
		async stop({ keepData = false } = {}) {
			await store.close();
			await stopAll();
			await dropStreams(transporter, namespace);
			if (!keepData) await database.drop();
		},
	};
}

async function createDatabase(adminUrl, name) {
	const { Client } = require("pg");
	const admin = new Client({ connectionString: adminUrl });
	await admin.connect();
	try {
		await admin.query(`CREATE DATABASE "${name}"`);
	} finally {
		await admin.end();
	}
	const url = new URL(adminUrl);
	url.pathname = `/${name}`;
	return {
		url: url.toString(),
		async drop() {
			const c = new Client({ connectionString: adminUrl });
			await c.connect();
			try {
				await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
			} finally {
				await c.end();
			}
		},
	};
}

async function dropStreams(transporter, namespace) {
	if (!transporter.startsWith("nats://")) return;
	try {
		const { connect } = require("nats");
		const nc = await connect({ servers: transporter.replace("nats://", ""), timeout: 2000, maxReconnectAttempts: 0 });
		try {
			const jsm = await nc.jetstreamManager();
			for await (const stream of jsm.streams.list())
				if (stream.config.name.startsWith(`${namespace}_`)) await jsm.streams.delete(stream.config.name);
		} finally {
			await nc.close();
		}
	} catch {
		// nothing to clean, or NATS gone
	}
}

// ---------------------------------------------------------------------------------------------
// Reading the store (read-only): orders, payments, products documents
// ---------------------------------------------------------------------------------------------

/** What the judge reads: key → [service (its store), table]. Stock reservations are their own record kind of products. */
const COLLECTIONS = {
	orders: ["orders", "orders"],
	payments: ["payments", "payments"],
	products: ["products", "products"],
	reservations: ["products", "reservations"],
};

/** SQLite files `${dataDir}/${service}.sqlite`, table per collection with the document as JSON in `doc`. */
function sqliteReader(dataDir) {
	const Database = require("better-sqlite3");
	const open = new Map();
	function rows(service, table) {
		const file = path.join(dataDir, `${service}.sqlite`);
		if (!fs.existsSync(file)) return [];
		let db = open.get(file);
		if (!db) {
			db = new Database(file, { readonly: true, fileMustExist: true });
			db.pragma("busy_timeout = 5000");
			open.set(file, db);
		}
		const exists = db.prepare(`SELECT 1 FROM sqlite_master WHERE type='table' AND name=?`).get(table);
		if (!exists) return [];
		return db
			.prepare(`SELECT doc FROM "${table}"`)
			.all()
			.map((r) => JSON.parse(r.doc));
	}
	return {
		async read() {
			const out = {};
			for (const [key, [service, table]] of Object.entries(COLLECTIONS)) out[key] = rows(service, table);
			return out;
		},
		close() {
			for (const db of open.values()) db.close();
			open.clear();
		},
	};
}

/** PostgreSQL: schema `${namespace}_${service}` (lib/infra/store/postgres.ts schemaName), `doc jsonb`. */
function postgresReader(url, namespace) {
	const { Client } = require("pg");
	let client = null;
	const schema = (service) =>
		`${namespace}_${service}`
			.toLowerCase()
			.replace(/[^a-z0-9_]/g, "_")
			.slice(0, 63);
	async function rows(service, table) {
		if (!client) {
			client = new Client({ connectionString: url });
			await client.connect();
		}
		const found = await client.query(`SELECT to_regclass($1) AS t`, [`"${schema(service)}"."${table}"`]);
		if (!found.rows[0].t) return [];
		return (await client.query(`SELECT doc FROM "${schema(service)}"."${table}"`)).rows.map((r) => r.doc);
	}
	return {
		async read() {
			const out = {};
			for (const [key, [service, table]] of Object.entries(COLLECTIONS)) out[key] = await rows(service, table);
			return out;
		},
		async close() {
			if (client) await client.end().catch(() => undefined);
			client = null;
		},
	};
}

// ---------------------------------------------------------------------------------------------
// Judging a state
// ---------------------------------------------------------------------------------------------

const ACTIVE = ["confirmed", "in_transit", "delivered"];
/** Statuses of orders that still hold their cylinders as `reserved` (released on cancel, committed on delivery). */
const HOLDING = ["created", "confirmed", "in_transit"];
const PAID = ["captured", "authorized"];
/** A payment that took, holds or may still take the customer's money. */
const LIVE = ["processing", "captured", "authorized", "pending", "partially_refunded"];

const units = (items) => (items || []).reduce((sum, i) => sum + (i.quantity || 0), 0);

function isSettled(order, payments) {
	if (ACTIVE.includes(order.status)) return payments.some((p) => PAID.includes(p.status));
	if (order.status === "cancelled") return payments.every((p) => !LIVE.includes(p.status));
	return false;
}

/** How many times one order's money was captured: ledger entries captured, over every payment of the order. */
function capturesOf(payments) {
	return payments.reduce(
		(n, p) => n + (p.transactions || []).filter((t) => t.status === "captured" && t.kind !== "refund").length,
		0,
	);
}

/**
 * Figures of one state: `acknowledged` are the order ids clients got a 2xx for. Only orders of the
 * flood are judged (the state may hold other data); every order of the flood's customers counts.
 */
function judge(state, acknowledged, customerIds) {
	const customers = new Set(customerIds);
	const orders = state.orders.filter(
		(o) => (o.kind === undefined || o.kind === "order") && customers.has(o.customerId),
	);
	const byId = new Map(orders.map((o) => [o._id, o]));
	const paymentsOf = new Map();
	for (const p of state.payments) {
		if (!paymentsOf.has(p.orderId)) paymentsOf.set(p.orderId, []);
		paymentsOf.get(p.orderId).push(p);
	}
	const stuck = {};
	let stuckCount = 0;
	let chargedTwice = 0;
	let providerCallsOver1 = 0;
	let holdingUnits = 0;
	for (const order of orders) {
		const payments = paymentsOf.get(order._id) || [];
		if (!isSettled(order, payments)) {
			stuckCount++;
			const paid = payments.map((p) => p.status).join("+") || "no payment";
			const key = `${order.status}/${paid} (${order.paymentMethod})`;
			stuck[key] = (stuck[key] || 0) + 1;
		}
		if (capturesOf(payments) > 1) chargedTwice++;
		if (payments.reduce((n, p) => n + (p.attempts || 0), 0) > 1) providerCallsOver1++;
		if (HOLDING.includes(order.status)) holdingUnits += units(order.items);
	}
	// products' main table holds only products (older layouts marked them kind "product"); the
	// reservation records are products' own record kind (lib/infra/stock-ledger.ts)
	const products = state.products.filter((d) => d.kind === undefined || d.kind === "product");
	const reservations = (state.reservations || []).filter((d) => d.state === "reserved");
	const reservedUnits = products.reduce((sum, p) => sum + (p.reserved || 0), 0);
	const openReservationUnits = reservations.reduce((sum, r) => sum + units(r.items), 0);
	const orphanReservationUnits = reservations
		.filter((r) => !byId.has(r.orderId) || !HOLDING.includes(byId.get(r.orderId).status))
		.reduce((sum, r) => sum + units(r.items), 0);
	const lost = [...acknowledged].filter((id) => !byId.has(id));
	return {
		orders: orders.length,
		lost: lost.length,
		lostIds: lost.slice(0, 10),
		stuck: stuckCount,
		stuckBy: stuck,
		chargedTwice,
		providerCallsOver1,
		reservedUnits,
		holdingUnits,
		openReservationUnits,
		orphanReservationUnits,
		// products' `reserved` against the orders that hold stock, and against the reservation records
		drift: reservedUnits - holdingUnits,
		reservationDrift: reservedUnits - openReservationUnits,
		/** One figure for the goal: the largest of the three ways stock can disagree with the orders. */
		stockDrift: Math.max(
			Math.abs(reservedUnits - holdingUnits),
			Math.abs(reservedUnits - openReservationUnits),
			orphanReservationUnits,
		),
	};
}

const repaired = (f) => f.stuck === 0 && f.stockDrift === 0;

// ---------------------------------------------------------------------------------------------
// The market, set up through the API as a real one is
// ---------------------------------------------------------------------------------------------

const pdf = () =>
	Buffer.from(`%PDF-1.4\n% ${crypto.randomBytes(8).toString("hex")}\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n`);
const png = () =>
	Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), crypto.randomBytes(64)]);
const DOCUMENTS = [
	{
		type: "anp_authorization",
		metadata: { number: "ANP-0012345" },
		content: pdf,
		contentType: "application/pdf",
		name: "anp.pdf",
	},
	{
		type: "company_registration",
		metadata: { cnpj: "11.222.333/0001-81", legalName: "Gás Caos Ltda" },
		content: png,
		contentType: "image/png",
		name: "cnpj.png",
	},
	{
		type: "fire_safety_permit",
		metadata: { number: "AVCB 2024/991", validUntil: "2099-12-31" },
		content: pdf,
		contentType: "application/pdf",
		name: "avcb.pdf",
	},
];

async function eventually(fn, timeoutMs, what, intervalMs = 200) {
	const deadline = Date.now() + timeoutMs;
	let last;
	for (;;) {
		try {
			const value = await fn();
			if (value) return value;
		} catch (err) {
			last = err;
		}
		if (Date.now() > deadline)
			throw new Error(`${what}: not done after ${timeoutMs} ms${last ? ` (${last.message})` : ""}`);
		await sleep(intervalMs);
	}
}

/** POST/PUT/GET that must answer `expected`; throws with the answer otherwise. */
async function expectStatus(request, opts, expected) {
	const res = await request({ timeoutMs: 15_000, ...opts });
	const ok = Array.isArray(expected) ? expected.includes(res.status) : res.status === expected;
	if (!ok) throw new Error(`${opts.method} ${opts.path} → ${res.status} ${JSON.stringify(res.body)}`);
	return res;
}

async function login(request, base, email, password) {
	const res = await expectStatus(
		request,
		{ base, method: "POST", path: "/api/auth/login", body: { email, password } },
		200,
	);
	return res.body.token;
}

async function uploadDocument(base, token, doc) {
	const form = new FormData();
	form.append("type", doc.type);
	form.append("metadata", JSON.stringify(doc.metadata));
	form.append("file", new Blob([doc.content()], { type: doc.contentType }), doc.name);
	const res = await fetch(`${base}/api/verification/documents`, {
		method: "POST",
		headers: { Authorization: `Bearer ${token}` },
		body: form,
	});
	const body = await res.json();
	if (res.status !== 201) throw new Error(`upload ${doc.type} → ${res.status} ${JSON.stringify(body)}`);
	return body.id;
}

/** Admin invites a supplier, who registers, uploads documents, gets approved and lists a P13 with `stock`. */
async function setUpSupplier(request, base, stock) {
	const admin = await eventually(() => login(request, base, ADMIN.email, ADMIN.password), 30_000, "admin login");
	const email = `supplier-${crypto.randomBytes(4).toString("hex")}@chaos.test`;
	const invite = await expectStatus(
		request,
		{ base, method: "POST", path: "/api/invites", body: { email, role: "supplier" }, token: admin },
		201,
	);
	const registered = await expectStatus(
		request,
		{
			base,
			method: "POST",
			path: "/api/users",
			body: {
				email,
				password: PASSWORD,
				name: "Gás Caos",
				inviteCode: invite.body.code,
				supplierProfile: {
					businessName: "Gás Caos Ltda",
					location: { lat: -23.56, lng: -46.64 },
					deliveryRadiusKm: 20,
					openingHours: { open: "00:00", close: "23:59" },
				},
			},
		},
		[200, 201],
	);
	const token = await login(request, base, email, PASSWORD);
	await eventually(
		async () => (await request({ base, method: "GET", path: "/api/verification/status", token })).status === 200,
		30_000,
		"verification request opened",
	);
	const ids = [];
	for (const doc of DOCUMENTS) ids.push(await uploadDocument(base, token, doc));
	for (const id of ids)
		await eventually(
			async () =>
				(
					await request({
						base,
						method: "PUT",
						path: `/api/verification/documents/${id}/review`,
						body: { decision: "approve" },
						token: admin,
					})
				).status === 200,
			30_000,
			`approve document ${id}`,
		);
	const product = await eventually(
		async () => {
			const res = await request({
				base,
				method: "POST",
				path: "/api/products",
				body: { type: "P13", priceCents: 11000, depositCents: 15000, stock },
				token,
			});
			return res.status === 201 && res.body;
		},
		30_000,
		"supplier active in the catalog and product listed",
	);
	return { id: registered.body.id, token, productId: product.id };
}

async function setUpCustomer(request, base, n) {
	const email = `customer-${n}-${crypto.randomBytes(4).toString("hex")}@chaos.test`;
	const res = await expectStatus(
		request,
		{ base, method: "POST", path: "/api/users", body: { email, password: PASSWORD, name: `Cliente ${n}` } },
		[200, 201],
	);
	return { id: res.body.id, token: await login(request, base, email, PASSWORD) };
}

async function setUpMarket(request, base, { customers, stock }) {
	const supplier = await setUpSupplier(request, base, stock);
	const list = [];
	for (let i = 0; i < customers; i += 5)
		list.push(
			...(await Promise.all(
				Array.from({ length: Math.min(5, customers - i) }, (_, j) => setUpCustomer(request, base, i + j)),
			)),
		);
	return { supplier, customers: list };
}

// ---------------------------------------------------------------------------------------------
// The flood: clients placing orders, each retrying its request until answered
// ---------------------------------------------------------------------------------------------

/** Payment methods by weight, e.g. { card: 8, pix: 1, cash: 1 }. */
function methodPicker(mix, random) {
	const entries = Object.entries(mix).filter(([, w]) => w > 0);
	const total = entries.reduce((s, [, w]) => s + w, 0);
	return () => {
		let r = random() * total;
		for (const [method, w] of entries) if ((r -= w) < 0) return method;
		return entries[entries.length - 1][0];
	};
}

function orderBody(market, method) {
	return {
		supplierId: market.supplier.id,
		items: [{ productId: market.supplier.productId, quantity: 1, exchange: true }],
		deliveryAddress: { street: "Praça da Sé", number: "1", city: "São Paulo", ...HOME },
		paymentMethod: method,
		...(method === "card" ? { paymentToken: CARD_OK } : {}),
	};
}

function newFloodStats() {
	return {
		sent: 0, // distinct orders (Idempotency-Keys) attempted
		acknowledged: new Set(), // ids of orders answered 2xx (201, or 200 on a replay)
		created201: 0,
		replayed200: 0,
		retries: 0,
		noResponse: 0, // refused/reset/closed before any byte: handed back, retried
		midResponse: 0, // the answer started and was cut: the client cannot know what happened
		statuses: {},
		rejected: {}, // 4xx other than the expected ones, by status
		unanswered: 0, // gave up at the deadline
	};
}

/**
 * One order placed like an app does: the same body and Idempotency-Key until an answer that is not
 * a network error or a 5xx, with backoff; `giveUpAt()` returns the time to stop trying.
 */
async function placeOrder(request, base, token, body, stats, giveUpAt) {
	const key = crypto.randomUUID();
	stats.sent++;
	for (let attempt = 0, wait = 100; ; attempt++, wait = Math.min(wait * 2, 2000)) {
		if (attempt > 0) stats.retries++;
		try {
			const res = await request({
				base,
				method: "POST",
				path: "/api/orders",
				body,
				token,
				headers: { "Idempotency-Key": key },
				timeoutMs: 20_000,
			});
			stats.statuses[res.status] = (stats.statuses[res.status] || 0) + 1;
			if (res.status < 300) {
				stats.acknowledged.add(res.body.id);
				if (res.status === 201) stats.created201++;
				else stats.replayed200++;
				return;
			}
			if (res.status < 500) {
				stats.rejected[res.status] = (stats.rejected[res.status] || 0) + 1;
				return;
			}
		} catch (err) {
			if (err.phase === "mid-response") stats.midResponse++;
			else stats.noResponse++;
		}
		if (Date.now() > giveUpAt()) {
			stats.unanswered++;
			return;
		}
		await sleep(wait);
	}
}

/**
 * Starts `market.customers.length` clients placing orders until `floodUntil()` is past; returns
 * { stats, done } (done resolves when every client has its last answer or gave up).
 */
function startFlood({ request, base, market, mix, random, floodUntil, giveUpAt }) {
	const stats = newFloodStats();
	const pick = methodPicker(mix, random);
	const client = async (customer) => {
		while (Date.now() < floodUntil())
			await placeOrder(request, base, customer.token, orderBody(market, pick()), stats, giveUpAt);
	};
	return { stats, done: Promise.all(market.customers.map(client)) };
}

// ---------------------------------------------------------------------------------------------
// One kill: flood, kill, restart, let the clients finish, wait for the repair
// ---------------------------------------------------------------------------------------------

/**
 * Runs one crash on a started platform (with its market) and returns the figures.
 * options: { clients, floodSeconds, repairTimeoutS, signal ("SIGKILL" | "SIGTERM"), random, mix, log }
 */
async function crashOnce(platform, market, options) {
	const { floodSeconds, repairTimeoutS, signal = "SIGKILL", random, mix, log = () => undefined } = options;
	const request = makeRequester({ maxSockets: market.customers.length * 2 });
	const floodStart = Date.now();
	const floodEnd = floodStart + floodSeconds * 1000;
	let restartedAt = Infinity;
	const giveUpAt = () => Math.min(restartedAt + repairTimeoutS * 1000, floodEnd + 180_000);
	const flood = startFlood({ request, base: platform.base, market, mix, random, floodUntil: () => floodEnd, giveUpAt });
	// kill at a random moment within the flood window (not in its first or last 10 %)
	const killAfterMs = Math.round(floodSeconds * 1000 * (0.1 + 0.8 * random()));
	await sleep(killAfterMs);
	const { victim, exit, restartStarted } = await killAndRestart(platform, signal, flood.stats, killAfterMs, log);
	restartedAt = restartStarted;
	await flood.done;
	const clientsDoneS = (Date.now() - restartStarted) / 1000;
	request.close();
	const repair = await waitForRepair(platform, flood.stats, market, restartStarted, repairTimeoutS);
	return {
		victim: victim.name,
		signal,
		killAtS: killAfterMs / 1000,
		exitMs: exit.exitMs,
		exitForced: exit.forced,
		clientsDoneS,
		repairTimeoutS,
		flood: { ...flood.stats, acknowledged: flood.stats.acknowledged.size },
		...repair,
	};
}

/** Kills a process of the platform and starts it again; with signal "none" (a control run) nothing is killed. */
async function killAndRestart(platform, signal, stats, killAfterMs, log) {
	if (signal === "none") {
		log(`  control run: no kill (at ${(killAfterMs / 1000).toFixed(1)} s of the flood)`);
		return { victim: { name: "none" }, exit: { exitMs: 0, forced: false }, restartStarted: Date.now() };
	}
	const victim = platform.victim();
	log(
		`  ${signal} → ${victim.name} (pid ${victim.child.pid}) at ${(killAfterMs / 1000).toFixed(1)} s of the flood, ${stats.acknowledged.size} orders acknowledged so far`,
	);
	const exit = await victim.kill(signal);
	const restartStarted = Date.now();
	await platform.restart(victim);
	const took =
		signal === "SIGKILL"
			? ""
			: ` (it took ${exit.exitMs} ms to exit${exit.forced ? ", SIGKILL after the grace period" : ""})`;
	log(`  ${victim.name} back in ${((Date.now() - restartStarted) / 1000).toFixed(1)} s${took}`);
	return { victim, exit, restartStarted };
}

/** Polls the store until repaired or the timeout (counted from the restart); returns the figures. */
async function waitForRepair(platform, stats, market, restartedAt, repairTimeoutS) {
	const customerIds = market.customers.map((c) => c.id);
	const deadline = restartedAt + repairTimeoutS * 1000;
	let first = null;
	for (;;) {
		const figures = judge(await platform.readState(), stats.acknowledged, customerIds);
		if (!first) first = { ...figures, atS: (Date.now() - restartedAt) / 1000 };
		if (repaired(figures)) return { first, final: figures, repairS: (Date.now() - restartedAt) / 1000 };
		if (Date.now() > deadline) return { first, final: figures, repairS: null };
		await sleep(1000);
	}
}

/**
 * A fresh platform with its market, one crash, stopped again. Cluster mode: the `index`-th of
 * `victims` is killed; `transporter` and `pgAdminUrl` (a database to run CREATE DATABASE on) default
 * to the machine's NATS and PostgreSQL.
 */
async function runKill(mode, options) {
	const platform =
		mode === "embedded"
			? await startEmbedded({ env: options.env })
			: await startCluster({
					env: options.env,
					victims: [options.victims[options.index % options.victims.length]],
					...(options.transporter ? { transporter: options.transporter } : {}),
					...(options.pgAdminUrl ? { pgAdminUrl: options.pgAdminUrl } : {}),
				});
	try {
		const request = makeRequester();
		const market = await setUpMarket(request, platform.base, { customers: options.clients, stock: 1_000_000 });
		request.close();
		return { mode, dir: platform.dir, ...(await crashOnce(platform, market, options)) };
	} finally {
		await platform.stop();
	}
}

// ---------------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------------

function killLine(r) {
	const f = r.final;
	const stuckBy = Object.entries(f.stuckBy)
		.map(([k, v]) => `${k} ${v}`)
		.join(", ");
	return [
		`  acknowledged ${r.flood.acknowledged} (201: ${r.flood.created201}, replayed 200: ${r.flood.replayed200}) of ${r.flood.sent} sent; retries ${r.flood.retries}, handed back ${r.flood.noResponse}, cut mid-answer ${r.flood.midResponse}, unanswered ${r.flood.unanswered}, other answers ${JSON.stringify(r.flood.rejected)}`,
		`  right after the clients were done (${r.first.atS.toFixed(1)} s after the restart): stuck ${r.first.stuck}, stock drift ${r.first.stockDrift}`,
		`  lost ${f.lost}   charged twice ${f.chargedTwice}   stuck ${f.stuck}${stuckBy ? ` (${stuckBy})` : ""}   stock drift ${f.stockDrift} (products reserved ${f.reservedUnits}, held by open orders ${f.holdingUnits}, open reservation records ${f.openReservationUnits}, of which for no open order ${f.orphanReservationUnits})`,
		`  time to repair: ${r.repairS === null ? `NOT repaired within ${r.repairTimeoutS} s` : `${r.repairS.toFixed(1)} s`}   (orders ${f.orders}; orders with > 1 provider call ${f.providerCallsOver1})`,
	].join("\n");
}

function totals(results) {
	const sum = (fn) => results.reduce((n, r) => n + fn(r), 0);
	return {
		kills: results.length,
		acknowledged: sum((r) => r.flood.acknowledged),
		lost: sum((r) => r.final.lost),
		chargedTwice: sum((r) => r.final.chargedTwice),
		stuck: sum((r) => r.final.stuck),
		drift: sum((r) => r.final.stockDrift),
		midResponse: sum((r) => r.flood.midResponse),
		// 4xx answers to a valid order (e.g. 404 while services deregister): the order was refused, not handed back
		refused: sum((r) => Object.values(r.flood.rejected).reduce((n, v) => n + v, 0)),
		unrepaired: results.filter((r) => r.repairS === null || r.repairS > 60).length,
		worstRepairS: results.reduce((m, r) => (r.repairS === null ? Infinity : Math.max(m, r.repairS)), 0),
	};
}

/** The goal: nothing lost, nothing charged twice, and everything settled, by itself, within 60 s. */
function goalMet(t, { requireKills = 0, signal = "SIGKILL" } = {}) {
	return (
		t.kills >= requireKills &&
		t.lost === 0 &&
		t.chargedTwice === 0 &&
		t.stuck === 0 &&
		t.drift === 0 &&
		t.unrepaired === 0 &&
		(signal !== "SIGTERM" || (t.midResponse === 0 && t.refused === 0))
	);
}

module.exports = {
	GOAL,
	ADMIN,
	CLUSTER_GROUPS,
	PLATFORM_ENV,
	seededRandom,
	makeRequester,
	startEmbedded,
	startCluster,
	sqliteReader,
	postgresReader,
	judge,
	isSettled,
	repaired,
	setUpMarket,
	startFlood,
	crashOnce,
	waitForRepair,
	runKill,
	killLine,
	totals,
	goalMet,
};
