/**
 * Start-up failures as operators read them: every setting in the README's table is validated
 * (lib/infra/config-check.ts), each invalid one is a single log line and exit code 78; a taken
 * port is one line and exit code 98; an unreachable transporter leaves the node live but not ready
 * with one line per attempt naming the address and the cause.
 */
import { ChildProcess, spawn } from "child_process";
import fs from "fs";
import net from "net";
import path from "path";
import { checkSettings, describeProblem, EXIT_CODES, SETTINGS } from "../../lib/infra/config-check";
import { readConfig } from "../../lib/infra/config";
import { buildDistIfNeeded } from "../global-setup";

const ROOT = path.resolve(__dirname, "../..");
jest.setTimeout(60_000);

/** The variables named in the first column of README's configuration table. */
function readmeSettings(): string[] {
	const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
	const section = readme.slice(readme.indexOf("## Configuration"), readme.indexOf("## Run it as a cluster"));
	const names = section
		.split("\n")
		.filter((l) => l.startsWith("| ") && !l.startsWith("| variable") && !l.startsWith("|---"))
		.flatMap((l) => l.split("|")[1].match(/[A-Z][A-Z0-9_]+/g) ?? []);
	return [...new Set(names)];
}

/** One invalid value per setting (DATA_DIR and DOCUMENTS_DIR are free-form paths). */
const INVALID: Record<string, string> = {
	NODE_ID: "two words",
	NAMESPACE: "a.b",
	SERVICES: "api,nonsense",
	TRANSPORTER: "amqp://rabbit:5672",
	CACHER: "memcached://x",
	MONGO_URI: "mysql://db",
	DATABASE_URL: "mysql://db",
	CHANNELS_ADAPTER: "kafka://k:9092",
	PORT: "abc",
	HEALTH_PORT: "70000",
	METRICS_PORT: "-1",
	JWT_SECRET: "short",
	JWT_PRIVATE_KEY: "not a key",
	JWT_PUBLIC_KEY: "not a key",
	JWT_EXPIRES_IN: "forever",
	DOCUMENTS_KEY: "abc123",
	ADMIN_EMAIL: "nobody",
	ADMIN_PASSWORD: "short",
	REQUIRE_ADMIN_MFA: "yes",
	LOG_LEVEL: "loud",
	LOG_FORMAT: "xml",
	TRACING_EXPORTER: "datadog",
	TRACING_ENDPOINT: "localhost:4318",
	RATE_LIMIT_WINDOW_MS: "0",
	RATE_LIMIT_MAX: "1.5",
	RATE_LIMIT_REDIS: "http://redis",
	AUTH_RATE_LIMIT_MAX: "0",
	REFRESH_TOKEN_TTL: "forever",
	TRUST_PROXY: "1",
	REQUEST_TIMEOUT_MS: "10s",
	SHUTDOWN_TIMEOUT_MS: "-5",
	BODY_LIMIT: "lots",
	REQUIRED_SERVICES: "users orders",
	SMTP_URL: "mail.example.com",
	INVITE_TTL_HOURS: "0",
	INVITE_EXPIRY_SWEEP_MS: "x",
	INVITE_CLAIM_TIMEOUT_MS: "0",
	EVENT_MAX_ATTEMPTS: "0",
	EVENT_RETRY_BASE_MS: "-1",
	EVENT_LEDGER_RETENTION_MS: "week",
	EVENT_MAX_IN_FLIGHT: "0",
	PAYMENT_PROVIDER: "stripe",
	PAYMENT_PROVIDER_TIMEOUT_MS: "0",
	PIX_AUTO_CONFIRM_MS: "soon",
	PIX_EXPIRY_MS: "0",
	RECONCILE_INTERVAL_MS: "-1",
	RECONCILE_GRACE_MS: "x",
	RECONCILIATION_ALERT_THRESHOLD: "-1",
	ORDER_PAYMENT_DEADLINE_MS: "0",
	RESERVATION_TTL_MS: "15m",
	RESERVATION_SWEEP_MS: "-1",
	PAYMENT_RETRY_GRACE_MS: "-1",
	ORDER_PROMISE_MINUTES: "0",
	ORDER_ETA_TIMEOUT_MS: "0",
	SUPPLIER_TIME_ZONE: "Mars/Olympus",
	DISPATCH_RETRY_MS: "0",
	DISPATCH_RADIUS_KM: "0",
	DISPATCH_RADIUS_GROWTH: "0.5",
	DISPATCH_MAX_RADIUS_KM: "2",
	DISPATCH_ALERT_AFTER_MS: "0",
	DISPATCH_POSITION_MAX_AGE_MS: "0",
	COURIER_ORPHAN_MS: "0",
	LOCATION_FLUSH_MS: "-1",
	LOCATION_MAX_AGE_MS: "0",
	LOCATION_MAX_SKEW_MS: "-1",
	TRACK_HEARTBEAT_MS: "0",
	PUBLIC_URL: "example.com",
	MAIL_FROM: "GasRápido",
	NOTIFY_MAX_ATTEMPTS: "0",
	NOTIFY_RETRY_BASE_MS: "-1",
	NOTIFY_SWEEP_MS: "0",
	NOTIFY_CLAIM_TIMEOUT_MS: "0",
	ALERT_ESCALATION_CHECK_MS: "0",
	GEOCODER_URL: "nominatim.local",
	CEP_URL: "viacep",
	GEOCODER_TIMEOUT_MS: "0",
	RECEIPT_PROVIDER: "nfe-magic",
	COMMISSION_BPS: "-5",
	COURIER_FEE_BASE_CENTS: "2.5",
	COURIER_FEE_PER_KM_CENTS: "abc",
	DAILY_STATEMENTS_CHECK_MS: "-1",
	VOUCHER_PROVIDER: "caixa",
	VOUCHER_CLAIM_TTL_MS: "0",
	GAS_DO_POVO_MAX_CENTS: "0",
	REMINDER_CHECK_MS: "soon",
	DISPATCH_OFFER_MS: "-1",
	GEOCODER_COUNTRIES: "brazil",
	MAP_TILE_URL: "https://tiles.example/map.png",
	MAP_TILE_ATTRIBUTION: "x".repeat(201),
};
const FREE_FORM = ["DATA_DIR", "DOCUMENTS_DIR"];

describe("settings validation", () => {
	it("covers every setting in the README's table", () => {
		const documented = readmeSettings();
		expect(documented.length).toBeGreaterThan(60);
		expect(documented.filter((v) => !(v in SETTINGS))).toEqual([]);
		expect(documented.filter((v) => !(v in INVALID) && !FREE_FORM.includes(v))).toEqual([]);
	});

	it("the defaults (nothing set) and the deployment's values are valid", () => {
		expect(checkSettings({})).toEqual([]);
		expect(
			checkSettings({
				NODE_ID: "gateway-7d9f-abc12",
				TRANSPORTER: "nats://gasrapido:s3cret@nats:4222",
				CACHER: "redis://redis:6379",
				MONGO_URI: "mongodb://mongo:27017",
				JWT_SECRET: "a-long-enough-secret",
				JWT_EXPIRES_IN: "1h",
				DOCUMENTS_KEY: "ab".repeat(32),
				TRACING_EXPORTER: "otlp",
				TRACING_ENDPOINT: "http://otel-collector:4318/v1/traces",
				BODY_LIMIT: "100kb",
				SERVICES: "users,invitations,verification",
				REQUIRED_SERVICES: "users,orders",
				SUPPLIER_TIME_ZONE: "America/Manaus",
				NODE_ENV: "production",
			}),
		).toEqual([]);
	});

	it.each(Object.entries(INVALID))("%s=%s is one problem naming the variable", (variable, value) => {
		const env: Record<string, string> = { [variable]: value };
		const problems = checkSettings(env).filter((p) => p.variable === variable);
		expect(problems).toHaveLength(1);
		expect(problems[0].problem).toMatch(/expected|must/);
	});

	it("in production the signing secret and the documents key must be set; RS256 keys come in pairs", () => {
		expect(
			checkSettings({ NODE_ENV: "production" })
				.map((p) => p.variable)
				.sort(),
		).toEqual(["DOCUMENTS_KEY", "JWT_SECRET"]);
		const { privateKey } = require("crypto").generateKeyPairSync("rsa", { modulusLength: 1024 });
		const pem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
		expect(checkSettings({ JWT_PRIVATE_KEY: pem }).map((p) => p.variable)).toEqual(["JWT_PUBLIC_KEY"]);
	});

	it("in production placeholder secrets (k8s REPLACE-ME…, docker-compose's dev-only defaults) are refused, one line each", () => {
		const compose = {
			NODE_ENV: "production",
			JWT_SECRET: "dev-only-jwt-secret-change-me",
			DOCUMENTS_KEY: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
			ADMIN_PASSWORD: "dev-only-admin-password",
			DATABASE_URL: "postgres://gasrapido:dev-only-postgres-password@postgres:5432/gasrapido",
		};
		const problems = checkSettings(compose);
		expect(problems.map((p) => p.variable).sort()).toEqual([
			"ADMIN_PASSWORD",
			"DATABASE_URL",
			"DOCUMENTS_KEY",
			"JWT_SECRET",
		]);
		expect(problems.every((p) => /placeholder/.test(p.problem))).toBe(true);
		// The log line names the setting, never the secret.
		expect(problems.map(describeProblem).join("\n")).not.toMatch(/dev-only|0001020304/);
		const k8s = checkSettings({
			NODE_ENV: "production",
			JWT_SECRET: "REPLACE-ME-jwt-secret",
			ADMIN_PASSWORD: "REPLACE-ME-admin-password",
			DOCUMENTS_KEY: "ab".repeat(32),
			TRANSPORTER: "nats://gasrapido:REPLACE-ME-nats-password@nats:4222",
		});
		expect(k8s.map((p) => p.variable).sort()).toEqual(["ADMIN_PASSWORD", "JWT_SECRET", "TRANSPORTER"]);
		// The same values are fine outside production (a laptop, the tests).
		expect(checkSettings({ ...compose, NODE_ENV: "development" })).toEqual([]);
	});

	it("REQUIRE_ADMIN_MFA defaults to true in production, false elsewhere; an explicit value wins", () => {
		const mfa = (env: Record<string, string>) => {
			const saved = { ...process.env };
			try {
				delete process.env.REQUIRE_ADMIN_MFA;
				Object.assign(process.env, env);
				return readConfig().requireAdminMfa;
			} finally {
				process.env = saved;
			}
		};
		expect(mfa({ NODE_ENV: "production" })).toBe(true);
		expect(mfa({ NODE_ENV: "test" })).toBe(false);
		expect(mfa({ NODE_ENV: "production", REQUIRE_ADMIN_MFA: "false" })).toBe(false);
		expect(mfa({ NODE_ENV: "test", REQUIRE_ADMIN_MFA: "true" })).toBe(true);
	});
});

// ---------------------------------------------------------------------------
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

interface Run {
	child: ChildProcess;
	output: () => string;
	exit: Promise<number | null>;
}

function startNode(env: Record<string, string>): Run {
	let output = "";
	const child = spawn(process.execPath, [path.join(ROOT, "scripts", "start.js")], {
		cwd: ROOT,
		env: {
			...process.env,
			SERVICES: "api",
			TRANSPORTER: "",
			DATA_DIR: ":memory:",
			METRICS_PORT: "0",
			HEALTH_PORT: "0",
			PORT: "0",
			LOG_LEVEL: "info",
			LOG_FORMAT: "json",
			...env,
		},
		stdio: ["ignore", "pipe", "pipe"],
	});
	child.stdout!.on("data", (c) => (output += c));
	child.stderr!.on("data", (c) => (output += c));
	const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
	return { child, output: () => output, exit };
}

const jsonLines = (text: string) =>
	text
		.split("\n")
		.filter((l) => l.startsWith("{"))
		.map((l) => JSON.parse(l));

describe("a node that cannot start", () => {
	beforeAll(() => buildDistIfNeeded());

	it("invalid settings: one fatal line each, exit code 78, nothing started", async () => {
		const run = startNode({
			LOG_FORMAT: "xml",
			CACHER: "memcached://x",
			TRACING_EXPORTER: "jaegerr",
			JWT_EXPIRES_IN: "forever",
		});
		expect(await run.exit).toBe(EXIT_CODES.config);
		const lines = jsonLines(run.output());
		expect(lines.map((l) => l.setting).sort()).toEqual(["CACHER", "JWT_EXPIRES_IN", "LOG_FORMAT", "TRACING_EXPORTER"]);
		expect(lines.every((l) => l.level === 60 && /^Invalid setting \w+=/.test(l.msg))).toBe(true);
	});

	it.each(["PORT", "HEALTH_PORT"])("%s taken by another process: one line saying so, exit code 98", async (setting) => {
		const blocker = net.createServer();
		await new Promise<void>((r) => blocker.listen(0, "0.0.0.0", () => r()));
		const port = (blocker.address() as net.AddressInfo).port;
		try {
			const run = startNode({ [setting]: String(port) });
			expect(await run.exit).toBe(EXIT_CODES.portInUse);
			const fatal = jsonLines(run.output()).filter((l) => l.level === 60);
			expect(fatal.map((l) => l.msg)).toEqual([
				`${setting}=${port} is already in use (EADDRINUSE): another process listens on it; stop that process or set ${setting} to a free port`,
			]);
		} finally {
			blocker.close();
		}
	});

	it("transporter unreachable: live, not ready, and a line per attempt with the address and the cause", async () => {
		const healthPort = await freePort();
		const run = startNode({ TRANSPORTER: "nats://127.0.0.1:1", HEALTH_PORT: String(healthPort) });
		try {
			const deadline = Date.now() + 10_000;
			let live = 0;
			while (live !== 200 && Date.now() < deadline) {
				live = await fetch(`http://127.0.0.1:${healthPort}/live`).then(
					(r) => r.status,
					() => 0,
				);
				if (live !== 200) await new Promise((r) => setTimeout(r, 100));
			}
			expect(live).toBe(200);
			const ready = await fetch(`http://127.0.0.1:${healthPort}/ready`);
			expect(ready.status).toBe(503);
			expect(((await ready.json()) as { checks: Record<string, boolean> }).checks.transporter).toBe(false);
			while (!/Cannot reach the transporter/.test(run.output()) && Date.now() < deadline)
				await new Promise((r) => setTimeout(r, 100));
			const line = jsonLines(run.output()).find((l) => /Cannot reach the transporter/.test(l.msg));
			expect(line).toMatchObject({ transporter: "nats://127.0.0.1:1", cause: "CONNECTION_REFUSED" });
			expect(line.msg).toContain("nats://127.0.0.1:1 (CONNECTION_REFUSED)");
			expect(run.child.exitCode).toBeNull();
		} finally {
			run.child.kill("SIGKILL");
		}
	});
});
