/**
 * Demo data (lib/infra/seed.ts, behind `npm run seed` and the REPL's `seed`) against a started
 * platform: run twice, the first run fills the city through the real flows, the second creates
 * nothing; a seeded customer logs in and lists their orders over HTTP.
 */
import { ServiceBroker } from "moleculer";
import { ADMIN, gatewayUrl, startBroker } from "../helpers/broker";
import { client } from "../helpers/http";
import {
	DEMO_COURIERS,
	DEMO_CUSTOMERS,
	DEMO_ORDER_COUNT,
	DEMO_PASSWORD,
	DEMO_PRODUCT_COUNT,
	DEMO_SUPPLIERS,
	formatSeedSummary,
	seed,
	SeedSummary,
	SEED_STEPS,
} from "../../lib/infra/seed";
import { isValidCnpj } from "../../lib/domain/cnpj";
import { replCommands } from "../../lib/infra/repl-commands";

jest.setTimeout(120_000);

let broker: ServiceBroker;
let base: string;
let first: SeedSummary;
let second: SeedSummary;
const lines: string[] = [];
const steps: number[] = [0, 0];

beforeAll(async () => {
	broker = await startBroker({
		services: ["api", "users", "products", "orders", "payments", "couriers"],
		env: { PIX_AUTO_CONFIRM_MS: "0", RECONCILE_INTERVAL_MS: "0", EVENT_RETRY_BASE_MS: "20" },
	});
	base = gatewayUrl(broker);
	const opts = { broker, gatewayUrl: base, adminEmail: ADMIN.email, adminPassword: ADMIN.password };
	first = await seed({ ...opts, log: (l) => lines.push(l), step: () => steps[0]++ });
	second = await seed({ ...opts, log: (l) => lines.push(l), step: () => steps[1]++ });
});

afterAll(() => broker?.stop());

test("the progress bar's steps add up to SEED_STEPS on a first run and on a repeated one", () => {
	expect(steps).toEqual([SEED_STEPS, SEED_STEPS]);
});

test("the first run creates the whole city through the real flows", () => {
	expect(first.created).toEqual({
		suppliers: DEMO_SUPPLIERS.length,
		products: DEMO_PRODUCT_COUNT,
		couriers: DEMO_COURIERS.length,
		customers: DEMO_CUSTOMERS.length,
		orders: DEMO_ORDER_COUNT,
	});
	// every planned state is reached
	const planned: Record<string, number> = {};
	for (const c of DEMO_CUSTOMERS) for (const s of c.orders) planned[s] = (planned[s] || 0) + 1;
	expect(second.orderStatuses).toEqual(planned);
	expect(lines.some((l) => l.includes("Gás Vila Mariana"))).toBe(true);
});

test("the second run creates nothing and finds everything", () => {
	expect(second.created).toEqual({ suppliers: 0, products: 0, couriers: 0, customers: 0, orders: 0 });
	expect(second.existing).toEqual(first.created);
	expect(formatSeedSummary(second)).toContain(`${DEMO_CUSTOMERS[0].email} / ${DEMO_PASSWORD}`);
});

test("the catalog, couriers and users are there once each", async () => {
	const api = client(base);
	const products = await api.get("/api/products?pageSize=100");
	expect(products.status).toBe(200);
	const demoSupplierIds = new Set<string>();
	for (const s of DEMO_SUPPLIERS) {
		const login = await api.post("/api/auth/login", { email: s.email, password: DEMO_PASSWORD });
		expect(login.status).toBe(200);
		demoSupplierIds.add(login.body.user.id);
		expect(isValidCnpj(s.cnpj)).toBe(true);
	}
	const rows: { supplierId: string }[] = products.body.rows;
	expect(rows.filter((p) => demoSupplierIds.has(p.supplierId))).toHaveLength(DEMO_PRODUCT_COUNT);
	const admin = await api.post("/api/auth/login", ADMIN);
	const couriers = await api.get("/api/couriers?pageSize=100", { token: admin.body.token });
	expect(couriers.status).toBe(200);
	expect(couriers.body.total).toBe(DEMO_COURIERS.length);
	const customers = await api.get("/api/users?role=customer&pageSize=100", { token: admin.body.token });
	expect(customers.body.rows).toHaveLength(DEMO_CUSTOMERS.length);
});

test("a seeded customer logs in and lists their orders over HTTP", async () => {
	const api = client(base);
	const spec = DEMO_CUSTOMERS[0];
	const login = await api.post("/api/auth/login", { email: spec.email, password: DEMO_PASSWORD });
	expect(login.status).toBe(200);
	const orders = await api.get("/api/orders", { token: login.body.token });
	expect(orders.status).toBe(200);
	expect(orders.body.rows.map((o: { status: string }) => o.status).sort()).toEqual([...spec.orders].sort());
});

test("delivered demo orders were carried by the dispatched couriers", async () => {
	const api = client(base);
	const login = await api.post("/api/auth/login", { email: DEMO_CUSTOMERS[0].email, password: DEMO_PASSWORD });
	const orders = await api.get("/api/orders", { token: login.body.token });
	const delivered = orders.body.rows.filter((o: { status: string }) => o.status === "delivered");
	expect(delivered.length).toBeGreaterThan(0);
	for (const o of delivered) {
		const full = await api.get(`/api/orders/${o.id}`, { token: login.body.token });
		const last = full.body.history[full.body.history.length - 1];
		expect(last).toMatchObject({ status: "delivered", role: "courier" });
	}
});

describe("REPL commands on the seeded platform", () => {
	async function run(name: string, args: Record<string, unknown>): Promise<string> {
		const command = replCommands().find((c) => c.command.split(" ")[0] === name)!;
		let out = "";
		const spy = jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
			out += String(chunk);
			return true;
		});
		try {
			await command.action(broker, args);
		} finally {
			spy.mockRestore();
		}
		return out;
	}

	test("orders <status> lists the delivered orders, order <id> shows one with payment and courier", async () => {
		const table = await run("orders", { status: "delivered" });
		expect(table).toContain("R$ ");
		expect(table).toMatch(/\d+ order\(s\) in status delivered/);
		const id = table.split("\n")[2].split(" ")[0];
		const detail = await run("order", { id });
		expect(detail).toContain(`Order ${id}: delivered`);
		expect(detail).toMatch(/payment {3}card captured/);
		// the courier may already carry one of the confirmed demo orders
		expect(detail).toMatch(/courier {3}\S+ (available|busy) (motorcycle|car|van) /);
	});

	test("whoami <email> shows the user without secrets", async () => {
		const out = await run("whoami", { email: DEMO_SUPPLIERS[0].email.toUpperCase() });
		expect(out).toContain('"role": "supplier"');
		expect(out).not.toMatch(/passwordHash|mfaSecret/);
		expect(await run("whoami", { email: "nobody@demo.gasrapido.local" })).toContain("No user");
	});
});
