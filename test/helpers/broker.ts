/**
 * Brokers for tests: the real broker options (moleculer.config.ts) with the services under test
 * loaded from services/, in memory, no transporter, and the gateway on a free port.
 */
import { ServiceBroker, ServiceSchema } from "moleculer";
import path from "path";
import brokerOptions from "../../moleculer.config";

export const ADMIN = { email: "admin@test.local", password: "admin-password-1" };
process.env.ADMIN_EMAIL = process.env.ADMIN_EMAIL || ADMIN.email;
process.env.ADMIN_PASSWORD = process.env.ADMIN_PASSWORD || ADMIN.password;

export interface TestBrokerOptions {
	services: string[];
	extraServices?: ServiceSchema[];
	nodeID?: string;
	env?: Record<string, string>;
}

/** Starts a broker with the named services (e.g. ["api", "users"]); PORT=0 picks a free port. */
export async function startBroker(opts: TestBrokerOptions): Promise<ServiceBroker> {
	const saved: Record<string, string | undefined> = {};
	// Tests poll the gateway quickly; only the rate-limit tests set a real limit.
	const env = { PORT: "0", RATE_LIMIT_MAX: "1000000", AUTH_RATE_LIMIT_MAX: "1000000", ...(opts.env || {}) };
	for (const [k, v] of Object.entries(env)) {
		saved[k] = process.env[k];
		process.env[k] = v;
	}
	try {
		const broker = new ServiceBroker({
			...brokerOptions(),
			nodeID: opts.nodeID || `test-${Math.random().toString(36).slice(2, 8)}`,
		});
		for (const name of opts.services) {
			const schema = require(path.resolve(__dirname, "../../services", `${name}.service.ts`));
			broker.createService(schema.default || schema);
		}
		for (const schema of opts.extraServices || []) broker.createService(schema);
		await broker.start();
		// The first admin is created once durable events are connected, just after start.
		if (opts.services.includes("users"))
			await waitFor(
				async () => ((await broker.call("users.idsByRole", { role: "admin" })) as string[]).length > 0,
				5000,
			);
		const api: any = broker.getLocalService("api");
		if (api) await waitFor(() => api.isReady(), 5000);
		return broker;
	} finally {
		for (const [k, v] of Object.entries(saved)) {
			if (v === undefined) delete process.env[k];
			else process.env[k] = v;
		}
	}
}

/** The base URL of the gateway running on a broker. */
export function gatewayUrl(broker: ServiceBroker): string {
	const api: any = broker.getLocalService("api");
	const address = api.server.address();
	return `http://127.0.0.1:${address.port}`;
}

/** A test service that records every business event envelope it sees. */
export function eventRecorder(name = "recorder") {
	const seen: any[] = [];
	const { EventsMixin } = require("../../mixins/events.mixin");
	const { DbMixin } = require("../../mixins/db.mixin");
	const schema: any = {
		name,
		mixins: [DbMixin({ collection: name.replace(/[^A-Za-z0-9_]/g, "_") }), EventsMixin],
		businessEvents: {
			"*"(envelope: any) {
				seen.push(envelope);
			},
		},
	};
	return { schema, seen, ofType: (type: string) => seen.filter((e) => e.type === type) };
}

export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs = 5000, intervalMs = 20): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	let last: any;
	for (;;) {
		try {
			const value = await fn();
			if (value) return value;
		} catch (err) {
			last = err;
		}
		if (Date.now() > deadline) throw new Error(`waitFor timed out${last ? `: ${last.message}` : ""}`);
		await new Promise((r) => setTimeout(r, intervalMs));
	}
}
