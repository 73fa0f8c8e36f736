/**
 * Tests that need NATS, Redis or PostgreSQL: they run when the server answers on 127.0.0.1, are skipped with
 * a loud message when it does not, and fail instead of skipping under REQUIRE_INFRA=1 (CI).
 */
import { spawnSync } from "child_process";

export const INFRA = {
	nats: { host: "127.0.0.1", port: 4222, url: process.env.NATS_URL || "nats://127.0.0.1:4222" },
	redis: { host: "127.0.0.1", port: 6379, url: process.env.REDIS_URL || "redis://127.0.0.1:6379" },
	postgres: {
		host: "127.0.0.1",
		port: 5432,
		url: process.env.DATABASE_URL_TEST || "postgres://postgres@127.0.0.1:5432/postgres",
	},
};
export type InfraName = keyof typeof INFRA;

const probed = new Map<InfraName, boolean>();

/** Synchronous TCP probe (jest decides what to skip while collecting tests, before any await). */
export function infraUp(name: InfraName): boolean {
	if (probed.has(name)) return probed.get(name)!;
	const { host, port } = INFRA[name];
	const script = `const s=require("net").connect(${port},"${host}");s.on("connect",()=>process.exit(0));s.on("error",()=>process.exit(1));setTimeout(()=>process.exit(1),1500)`;
	const up = spawnSync(process.execPath, ["-e", script]).status === 0;
	probed.set(name, up);
	return up;
}

/** `describe` that needs the named servers; see the module comment for skip/fail rules. */
export function describeWithInfra(needs: InfraName[], title: string, body: () => void): void {
	const missing = needs.filter((n) => !infraUp(n));
	if (missing.length === 0) return describe(title, body);
	const message = `${missing.join(" and ")} not reachable on 127.0.0.1 (${missing.map((m) => INFRA[m].port).join(", ")})`;
	if (process.env.REQUIRE_INFRA === "1") {
		describe(title, () => {
			test(`requires ${missing.join(", ")}`, () => {
				throw new Error(`REQUIRE_INFRA=1 but ${message}`);
			});
		});
		return;
	}
	console.warn(`\n!!! SKIPPING "${title}": ${message}. Start them (see README) or CI will run these.\n`);
	describe.skip(title, body);
}

/**
 * MongoDB cannot be installed on the development machines: suites that exercise the Mongo path
 * run only when MONGO_URI is set, and are skipped with a clear message otherwise (also in CI).
 */
export function describeWithMongo(title: string, body: () => void): void {
	if (process.env.MONGO_URI) return describe(title, body);
	console.warn(
		`\n!!! SKIPPING "${title}": MONGO_URI is not set (no MongoDB server on this machine). Set MONGO_URI to run it.\n`,
	);
	describe.skip(title, body);
}
