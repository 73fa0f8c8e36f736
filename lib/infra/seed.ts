/**
 * Demo data: a small São Paulo marketplace (suppliers with products and opening hours, couriers
 * with positions, customers with addresses, and orders in several states), made through the real
 * flows. Internal steps that have no HTTP route (creating a supplier or courier and activating it,
 * as verification does) are broker calls; everything a person does (log in, add products, order,
 * deliver, cancel) goes through the gateway over HTTP.
 *
 * Idempotent: every account has a fixed e-mail (…@demo.gasrapido.local); an account that logs in is
 * reused, a product type a supplier already sells is skipped, and a customer who already has their
 * demo orders gets no new ones. Used by scripts/seed.js (`npm run seed`) and the REPL's `seed`.
 */
import type { ServiceBroker } from "moleculer";
import { cnpjCheckDigits } from "../domain/cnpj";

export const DEMO_PASSWORD = "demo-gasrapido-1";
export const DEMO_DOMAIN = "demo.gasrapido.local";

interface LatLng {
	lat: number;
	lng: number;
}

export interface DemoSupplier {
	email: string;
	businessName: string;
	neighbourhood: string;
	location: LatLng;
	openingHours: { open: string; close: string };
	cnpj: string;
	products: { type: string; priceCents: number; depositCents: number; stock: number }[];
}

export interface DemoCourier {
	email: string;
	name: string;
	supplierIndex: number;
	vehicle: { type: "motorcycle" | "car" | "van" | "truck" | "bicycle"; plate: string };
	capacity: number;
	position: LatLng;
}

export interface DemoCustomer {
	email: string;
	name: string;
	phone: string;
	address: { street: string; number: string; city: string; lat: number; lng: number };
	/** The statuses their demo orders are left in, in order. */
	orders: DemoOrderPlan[];
}

export type DemoOrderPlan = "created" | "confirmed" | "delivered" | "cancelled";

/** A valid CNPJ from a 12-digit base (the check digits computed as the Receita Federal does). */
export function demoCnpj(n: number): string {
	const base = `${String(10_000_000 + n * 7919).padStart(8, "0")}0001`;
	return base + cnpjCheckDigits(base);
}

const ALL_DAY = { open: "00:00", close: "23:59" };
const mail = (local: string) => `${local}@${DEMO_DOMAIN}`;

function catalogFor(n: number, types: string[]) {
	const table: Record<string, { priceCents: number; depositCents: number; stock: number }> = {
		P13: { priceCents: 11_000 + n * 150, depositCents: 15_000, stock: 60 },
		P45: { priceCents: 42_000 + n * 500, depositCents: 60_000, stock: 15 },
		P20: { priceCents: 27_500 + n * 300, depositCents: 35_000, stock: 20 },
		P8: { priceCents: 8_500 + n * 100, depositCents: 12_000, stock: 25 },
		P5: { priceCents: 6_500 + n * 100, depositCents: 10_000, stock: 25 },
	};
	return types.map((type) => ({ type, ...table[type] }));
}

const SUPPLIER_PLACES: [string, string, LatLng, { open: string; close: string }, string[]][] = [
	["Gás Vila Mariana", "Vila Mariana", { lat: -23.5891, lng: -46.6346 }, ALL_DAY, ["P13", "P45", "P20", "P8", "P5"]],
	["Gás Pinheiros", "Pinheiros", { lat: -23.5667, lng: -46.693 }, ALL_DAY, ["P13", "P45", "P8"]],
	["Gás Mooca", "Mooca", { lat: -23.5587, lng: -46.5996 }, ALL_DAY, ["P13", "P20", "P5"]],
	["Gás Santana", "Santana", { lat: -23.5019, lng: -46.6256 }, { open: "07:00", close: "22:00" }, ["P13", "P45"]],
	[
		"Gás Santo Amaro",
		"Santo Amaro",
		{ lat: -23.6536, lng: -46.7103 },
		{ open: "08:00", close: "20:00" },
		["P13", "P20", "P8"],
	],
	["Gás Tatuapé", "Tatuapé", { lat: -23.5403, lng: -46.5766 }, { open: "07:30", close: "19:00" }, ["P13", "P45", "P5"]],
];

export const DEMO_SUPPLIERS: DemoSupplier[] = SUPPLIER_PLACES.map(
	([businessName, neighbourhood, location, openingHours, types], i) => ({
		email: mail(`fornecedor${i + 1}`),
		businessName,
		neighbourhood,
		location,
		openingHours,
		cnpj: demoCnpj(i + 1),
		products: catalogFor(i, types),
	}),
);

const COURIER_NAMES = [
	"João Entregador",
	"Carlos Moto",
	"Rafael Silva",
	"Bruno Souza",
	"Lucas Oliveira",
	"Pedro Santos",
];
const VEHICLES: DemoCourier["vehicle"]["type"][] = [
	"motorcycle",
	"motorcycle",
	"car",
	"motorcycle",
	"van",
	"motorcycle",
];

export const DEMO_COURIERS: DemoCourier[] = COURIER_NAMES.map((name, i) => {
	const home = DEMO_SUPPLIERS[i % DEMO_SUPPLIERS.length].location;
	return {
		email: mail(`entregador${i + 1}`),
		name,
		supplierIndex: i % DEMO_SUPPLIERS.length,
		vehicle: { type: VEHICLES[i], plate: `GAS${1000 + i * 111}`.slice(0, 7) },
		capacity: VEHICLES[i] === "van" ? 40 : VEHICLES[i] === "car" ? 8 : 2,
		position: { lat: home.lat + 0.002 * (i + 1), lng: home.lng - 0.002 * (i + 1) },
	};
});

const CUSTOMER_PLACES: [string, string, string, LatLng][] = [
	["Maria Oliveira", "Rua Domingos de Morais", "1200", { lat: -23.5925, lng: -46.6372 }],
	["Ana Souza", "Rua dos Pinheiros", "870", { lat: -23.5642, lng: -46.6857 }],
	["José Santos", "Rua da Mooca", "2450", { lat: -23.5565, lng: -46.6011 }],
	["Francisca Lima", "Rua Voluntários da Pátria", "3100", { lat: -23.4998, lng: -46.6247 }],
	["Antônio Pereira", "Avenida Santo Amaro", "5600", { lat: -23.6312, lng: -46.6968 }],
	["Juliana Costa", "Rua Tuiuti", "1500", { lat: -23.5411, lng: -46.5748 }],
	["Paulo Rodrigues", "Avenida Paulista", "1578", { lat: -23.5614, lng: -46.6559 }],
	["Fernanda Almeida", "Rua Augusta", "900", { lat: -23.5531, lng: -46.6553 }],
];
const ORDER_PLANS: DemoOrderPlan[][] = [
	["delivered", "delivered", "confirmed"],
	["delivered", "cancelled"],
	["delivered", "created"],
	["cancelled", "confirmed"],
	["delivered"],
	["delivered", "cancelled"],
	["confirmed", "created"],
	["delivered"],
];

export const DEMO_CUSTOMERS: DemoCustomer[] = CUSTOMER_PLACES.map(([name, street, number, at], i) => ({
	email: mail(`cliente${i + 1}`),
	name,
	phone: `+55 11 9${8100 + i * 111}-${String(1000 + i * 737).slice(-4)}`,
	address: { street, number, city: "São Paulo", ...at },
	orders: ORDER_PLANS[i],
}));

export const DEMO_ORDER_COUNT = DEMO_CUSTOMERS.reduce((n, c) => n + c.orders.length, 0);
export const DEMO_PRODUCT_COUNT = DEMO_SUPPLIERS.reduce((n, s) => n + s.products.length, 0);

export interface SeedCounts {
	suppliers: number;
	products: number;
	couriers: number;
	customers: number;
	orders: number;
}

export interface SeedLogin {
	role: string;
	email: string;
	password: string;
	what: string;
}

export interface SeedSummary {
	created: SeedCounts;
	existing: SeedCounts;
	/** Orders by the status they had when the seed finished. */
	orderStatuses: Record<string, number>;
	logins: SeedLogin[];
}

export interface SeedOptions {
	broker: ServiceBroker;
	/** The gateway's base URL, e.g. http://127.0.0.1:3000 */
	gatewayUrl: string;
	/** One line per step (progress). */
	log?: (line: string) => void;
	/** Called once per unit of work, SEED_STEPS in all (a progress bar; lib/infra/seed-progress.ts). */
	step?: (label: string) => void;
	/** How long to wait for a courier to be dispatched to an order before an admin delivers it. */
	dispatchWaitMs?: number;
	adminEmail?: string;
	adminPassword?: string;
}

interface HttpAnswer {
	status: number;
	body: unknown;
}

interface PublicUser {
	id: string;
	email: string;
	role: string;
	status: string;
}

interface OrderSummary {
	id: string;
	status: string;
	courierId?: string | null;
	handoverCode?: string;
}

interface Page<T> {
	rows: T[];
	next?: string | null;
}

const CARD_OK = "4242424242424242";

function emptyCounts(): SeedCounts {
	return { suppliers: 0, products: 0, couriers: 0, customers: 0, orders: 0 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class SeedError extends Error {}

/** Seeds the platform reachable through `broker` and `gatewayUrl`; see the module comment. */
/** Units of work of a seed: each supplier, courier and customer, and each planned order (made or found). */
export const SEED_STEPS =
	DEMO_SUPPLIERS.length +
	DEMO_COURIERS.length +
	DEMO_CUSTOMERS.length +
	DEMO_CUSTOMERS.reduce((n, c) => n + c.orders.length, 0);

export async function seed(opts: SeedOptions): Promise<SeedSummary> {
	const log = opts.log || (() => undefined);
	const step = opts.step || (() => undefined);
	const base = opts.gatewayUrl.replace(/\/$/, "");
	const created = emptyCounts();
	const existing = emptyCounts();
	const dispatchWaitMs = opts.dispatchWaitMs ?? 20_000;

	async function http(method: string, path: string, body?: unknown, token?: string, key?: string): Promise<HttpAnswer> {
		const headers: Record<string, string> = {};
		if (body !== undefined) headers["Content-Type"] = "application/json";
		if (token) headers.Authorization = `Bearer ${token}`;
		if (key) headers["Idempotency-Key"] = key;
		const res = await fetch(base + path, {
			method,
			headers,
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		const text = await res.text();
		let parsed: unknown = null;
		try {
			parsed = text ? JSON.parse(text) : null;
		} catch {
			parsed = text;
		}
		return { status: res.status, body: parsed };
	}

	function expect<T>(res: HttpAnswer, statuses: number[], what: string): T {
		if (!statuses.includes(res.status)) throw new SeedError(`${what}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
		return res.body as T;
	}

	async function tryLogin(
		email: string,
		password = DEMO_PASSWORD,
	): Promise<{ token: string; user: PublicUser } | null> {
		const res = await http("POST", "/api/auth/login", { email, password });
		if (res.status === 200) return res.body as { token: string; user: PublicUser };
		if (res.status === 401) return null;
		throw new SeedError(`login ${email}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
	}

	async function login(email: string, password = DEMO_PASSWORD): Promise<{ token: string; user: PublicUser }> {
		const session = await tryLogin(email, password);
		if (!session) throw new SeedError(`login ${email}: wrong e-mail or password`);
		return session;
	}

	/** users.create, or the existing account when that e-mail is taken (409). */
	async function ensureUser(params: Record<string, unknown>): Promise<{ user: PublicUser; isNew: boolean }> {
		const email = String(params.email);
		const session = await tryLogin(email);
		if (session) return { user: session.user, isNew: false };
		try {
			return { user: await opts.broker.call<PublicUser, Record<string, unknown>>("users.create", params), isNew: true };
		} catch (err) {
			if ((err as { code?: number }).code !== 409) throw err;
			throw new SeedError(`${email} exists but does not take the demo password; remove it or change it back`);
		}
	}

	async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<boolean> {
		const deadline = Date.now() + timeoutMs;
		while (Date.now() < deadline) {
			if (await check().catch(() => false)) return true;
			await sleep(100);
		}
		log(`  … ${what}: not after ${timeoutMs} ms`);
		return false;
	}

	// ---- admin ----
	const adminEmail = opts.adminEmail || process.env.ADMIN_EMAIL || "admin@gasrapido.local";
	const adminPassword = opts.adminPassword || process.env.ADMIN_PASSWORD;
	const admin = adminPassword ? await tryLogin(adminEmail, adminPassword).catch(() => null) : null;
	log(
		admin
			? `admin ${adminEmail}: signed in (used only if no courier is dispatched)`
			: "admin: no ADMIN_PASSWORD (or it does not sign in); orders are delivered by couriers only",
	);

	// ---- suppliers and products ----
	const suppliers: { id: string; token: string; products: Record<string, string>; spec: DemoSupplier }[] = [];
	for (const [i, spec] of DEMO_SUPPLIERS.entries()) {
		const { user, isNew } = await ensureUser({
			email: spec.email,
			password: DEMO_PASSWORD,
			name: spec.businessName,
			role: "supplier",
			status: "pending_verification",
			phone: `+55 11 3${String(1000_000 + i * 12345).slice(0, 7)}`,
			supplierProfile: {
				businessName: spec.businessName,
				location: spec.location,
				deliveryRadiusKm: 15,
				openingHours: spec.openingHours,
			},
		});
		if (user.status === "pending_verification")
			await opts.broker.call("users.activate", {
				id: user.id,
				verified: { anpAuthorization: `ANP-SP-${String(i + 1).padStart(4, "0")}`, cnpj: spec.cnpj },
			});
		(isNew ? created : existing).suppliers++;
		await waitUntil(`${spec.businessName} in the catalog`, 10_000, async () =>
			Boolean(await opts.broker.call("products.supplierProfile", { supplierId: user.id })),
		);
		const { token } = await login(spec.email);
		const listed = expect<Page<{ id: string; type: string }>>(
			await http("GET", `/api/products?supplierId=${encodeURIComponent(user.id)}&pageSize=50`),
			[200],
			`products of ${spec.businessName}`,
		);
		const products: Record<string, string> = {};
		for (const p of listed.rows) products[p.type] = p.id;
		for (const product of spec.products) {
			if (products[product.type]) {
				existing.products++;
				continue;
			}
			const res = await http("POST", "/api/products", product, token);
			if (res.status === 409) {
				existing.products++;
				continue;
			}
			products[product.type] = expect<{ id: string }>(res, [201], `${product.type} of ${spec.businessName}`).id;
			created.products++;
		}
		suppliers.push({ id: user.id, token, products, spec });
		step(spec.businessName);
		log(
			`[fornecedor ${i + 1}/${DEMO_SUPPLIERS.length}] ${spec.businessName} (${spec.neighbourhood}) ${isNew ? "created" : "exists"}, ${spec.products.length} products`,
		);
	}

	// ---- couriers ----
	for (const [i, spec] of DEMO_COURIERS.entries()) {
		const { isNew } = await ensureUser({
			email: spec.email,
			password: DEMO_PASSWORD,
			name: spec.name,
			role: "courier",
			status: "active",
			supplierId: suppliers[spec.supplierIndex].id,
		});
		const { token, user } = await login(spec.email);
		const profile = await http("GET", `/api/couriers/${user.id}`, undefined, token);
		if (profile.status === 404)
			expect(
				await http("POST", "/api/couriers", { vehicle: spec.vehicle, capacity: spec.capacity }, token),
				[201],
				`courier profile of ${spec.name}`,
			);
		else expect(profile, [200], `courier profile of ${spec.name}`);
		(isNew || profile.status === 404 ? created : existing).couriers++;
		const current = (profile.status === 200 ? profile.body : null) as { status?: string } | null;
		if (!current || current.status === "offline")
			expect(
				await http("PUT", `/api/couriers/${user.id}/status`, { status: "available" }, token),
				[200],
				`${spec.name} available`,
			);
		expect(
			await http("PUT", `/api/couriers/${user.id}/location`, { ...spec.position, at: new Date().toISOString() }, token),
			[202],
			`${spec.name}'s position`,
		);
		step(spec.name);
		log(
			`[entregador ${i + 1}/${DEMO_COURIERS.length}] ${spec.name} ${isNew ? "created" : "exists"}, available near ${DEMO_SUPPLIERS[spec.supplierIndex].neighbourhood}`,
		);
	}

	/** Moves a new order to its planned status the way people would. */
	async function settle(orderId: string, plan: DemoOrderPlan, customerToken: string): Promise<void> {
		const view = async () =>
			expect<OrderSummary>(
				await http("GET", `/api/orders/${orderId}`, undefined, customerToken),
				[200],
				`order ${orderId}`,
			);
		if (plan === "created") return; // a PIX order waiting for its payment
		if (plan === "cancelled") {
			// The customer changes their mind once it is confirmed (cancelling is allowed from confirmed).
			await waitUntil(`order ${orderId} confirmed`, 10_000, async () => (await view()).status === "confirmed");
			expect(
				await http(
					"PUT",
					`/api/orders/${orderId}/status`,
					{ status: "cancelled", reason: "Mudei de ideia" },
					customerToken,
				),
				[200],
				`cancel ${orderId}`,
			);
			return;
		}
		await waitUntil(`order ${orderId} confirmed`, 10_000, async () => (await view()).status === "confirmed");
		if (plan === "confirmed") return;
		// delivered: the dispatched courier picks it up and hands it over with the customer's code
		let order = await view();
		await waitUntil(`a courier for ${orderId}`, dispatchWaitMs, async () => Boolean((order = await view()).courierId));
		if (order.courierId) {
			const courier = await loginCourier(order.courierId);
			if (courier) {
				expect(
					await http("PUT", `/api/orders/${orderId}/status`, { status: "in_transit" }, courier),
					[200],
					`pick up ${orderId}`,
				);
				expect(
					await http(
						"PUT",
						`/api/orders/${orderId}/status`,
						{ status: "delivered", handoverCode: order.handoverCode },
						courier,
					),
					[200],
					`deliver ${orderId}`,
				);
				return;
			}
		}
		if (!admin) {
			log(`  … order ${orderId} stays confirmed (no courier dispatched, no admin login)`);
			return;
		}
		expect(
			await http("PUT", `/api/orders/${orderId}/status`, { status: "in_transit" }, admin.token),
			[200],
			`pick up ${orderId}`,
		);
		expect(
			await http("PUT", `/api/orders/${orderId}/status`, { status: "delivered" }, admin.token),
			[200],
			`deliver ${orderId}`,
		);
	}

	const courierTokens = new Map<string, string>();
	async function loginCourier(courierId: string): Promise<string | null> {
		if (!courierTokens.size)
			for (const c of DEMO_COURIERS) {
				const s = await login(c.email);
				courierTokens.set(s.user.id, s.token);
			}
		return courierTokens.get(courierId) || null;
	}

	// ---- customers and their orders ----
	const orderStatuses: Record<string, number> = {};
	for (const [i, spec] of DEMO_CUSTOMERS.entries()) {
		let session = await tryLogin(spec.email);
		const isNew = !session;
		if (!session) {
			const res = await http("POST", "/api/users", {
				email: spec.email,
				password: DEMO_PASSWORD,
				name: spec.name,
				phone: spec.phone,
				locale: "pt-BR",
				address: {
					street: `${spec.address.street}, ${spec.address.number}`,
					city: spec.address.city,
					lat: spec.address.lat,
					lng: spec.address.lng,
				},
			});
			expect(res, [201], `customer ${spec.email}`);
			session = await login(spec.email);
		}
		(isNew ? created : existing).customers++;
		const token = session.token;
		const mine = expect<Page<OrderSummary>>(
			await http("GET", "/api/orders?pageSize=50", undefined, token),
			[200],
			`orders of ${spec.email}`,
		);
		existing.orders += Math.min(mine.rows.length, spec.orders.length);
		for (let n = 0; n < Math.min(mine.rows.length, spec.orders.length); n++) step(`${spec.name}: pedido ${n + 1}`);
		for (let n = mine.rows.length; n < spec.orders.length; n++) {
			const plan = spec.orders[n];
			// Orders go to the suppliers open around the clock, so that the seed works at any hour.
			const supplier = suppliers[(i + n) % 3];
			const types = Object.keys(supplier.products);
			const type = types.includes("P13") ? "P13" : types[0];
			const body = {
				supplierId: supplier.id,
				items: [{ productId: supplier.products[type], quantity: 1, exchange: true }],
				deliveryAddress: { ...spec.address, notes: "Demo GasRápido" },
				paymentMethod: plan === "created" ? "pix" : "card",
				...(plan === "created" ? {} : { paymentToken: CARD_OK }),
			};
			const order = expect<OrderSummary>(
				await http("POST", "/api/orders", body, token, `seed-${spec.email}-${n}`),
				[200, 201],
				`order ${n + 1} of ${spec.email}`,
			);
			created.orders++;
			await settle(order.id, plan, token);
			step(`${spec.name}: pedido ${n + 1} → ${plan}`);
			log(`[pedido] ${spec.name}: ${type} de ${supplier.spec.businessName} → ${plan}`);
		}
		const after = expect<Page<OrderSummary>>(
			await http("GET", "/api/orders?pageSize=50", undefined, token),
			[200],
			`orders of ${spec.email}`,
		);
		for (const o of after.rows) orderStatuses[o.status] = (orderStatuses[o.status] || 0) + 1;
		step(spec.name);
		log(
			`[cliente ${i + 1}/${DEMO_CUSTOMERS.length}] ${spec.name} ${isNew ? "created" : "exists"}, ${after.rows.length} orders`,
		);
	}

	const logins: SeedLogin[] = [
		{
			role: "admin",
			email: adminEmail,
			password: adminPassword
				? "(ADMIN_PASSWORD)"
				: "(gerada na primeira partida / generated at the first start: its log line First admin created)",
			what: "administrador / administrator",
		},
		{
			role: "supplier",
			email: DEMO_SUPPLIERS[0].email,
			password: DEMO_PASSWORD,
			what: `fornecedor / supplier: ${DEMO_SUPPLIERS[0].businessName}`,
		},
		{
			role: "courier",
			email: DEMO_COURIERS[0].email,
			password: DEMO_PASSWORD,
			what: `entregador / courier: ${DEMO_COURIERS[0].name}`,
		},
		{
			role: "customer",
			email: DEMO_CUSTOMERS[0].email,
			password: DEMO_PASSWORD,
			what: `cliente / customer: ${DEMO_CUSTOMERS[0].name}`,
		},
	];
	return { created, existing, orderStatuses, logins };
}

/** The end-of-seed summary, in Portuguese and English. */
export function formatSeedSummary(s: SeedSummary): string {
	const kinds: [keyof SeedCounts, string][] = [
		["suppliers", "fornecedores / suppliers"],
		["products", "produtos / products"],
		["couriers", "entregadores / couriers"],
		["customers", "clientes / customers"],
		["orders", "pedidos / orders"],
	];
	const lines = ["Dados de demonstração prontos / Demo data ready", ""];
	for (const [k, label] of kinds)
		lines.push(
			`  ${label.padEnd(26)} novos/new ${String(s.created[k]).padStart(3)}   já existiam/existing ${String(s.existing[k]).padStart(3)}`,
		);
	const statuses = Object.entries(s.orderStatuses)
		.sort(([a], [b]) => a.localeCompare(b))
		.map(([k, v]) => `${k} ${v}`)
		.join(", ");
	lines.push(
		"",
		`  pedidos por status / orders by status: ${statuses || "-"}`,
		"",
		"Entre com / Log in as (e-mail / senha-password):",
	);
	for (const l of s.logins) lines.push(`  ${l.what.padEnd(48)} ${l.email} / ${l.password}`);
	lines.push(`  (todos os ${DEMO_DOMAIN} usam / every ${DEMO_DOMAIN} account uses ${DEMO_PASSWORD})`);
	return lines.join("\n");
}
