/**
 * Marketplace fixtures for tests: a broker with the gateway, users, products, orders and payments;
 * active suppliers (created and activated the way verification does it, so supplier.created is
 * published and reaches products), customers who register themselves, and products.
 */
import { ServiceBroker } from "moleculer";
import { ADMIN, eventRecorder, gatewayUrl, startBroker, waitFor } from "./broker";
import { client } from "./http";

export const MARKET_SERVICES = ["api", "users", "products", "orders", "payments"];
export const HOME = { lat: -23.5505, lng: -46.6333 }; // São Paulo, Praça da Sé
export const CARDS = {
	success: "4242424242424242",
	declined: "4000000000000002",
	timeout: "4000000000009999",
};

export type Api = ReturnType<typeof client>;

export interface Market {
	broker: ServiceBroker;
	api: Api;
	events: ReturnType<typeof eventRecorder>;
	stop(): Promise<void>;
}

export async function startMarket(env: Record<string, string> = {}, services = MARKET_SERVICES): Promise<Market> {
	const events = eventRecorder();
	const broker = await startBroker({
		services,
		extraServices: [events.schema],
		env: {
			RATE_LIMIT_MAX: "100000",
			PAYMENT_PROVIDER_TIMEOUT_MS: "150",
			PIX_AUTO_CONFIRM_MS: "0",
			RECONCILE_INTERVAL_MS: "0",
			EVENT_RETRY_BASE_MS: "20",
			...env,
		},
	});
	const api = client(gatewayUrl(broker));
	return { broker, api, events, stop: () => broker.stop() };
}

let counter = 0;
const uniqueEmail = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++counter}@test.local`;

export async function login(api: Api, email: string, password: string): Promise<string> {
	const res = await api.post("/api/auth/login", { email, password });
	if (res.status !== 200) throw new Error(`login failed for ${email}: ${res.status} ${res.text}`);
	return res.body.token;
}

export async function adminToken(api: Api): Promise<string> {
	// The first admin is created once events are ready; wait for it.
	return waitFor(() => login(api, ADMIN.email, ADMIN.password).catch(() => ""), 5000);
}

export interface SupplierOptions {
	location?: { lat: number; lng: number };
	deliveryRadiusKm?: number;
	openingHours?: { open: string; close: string };
	businessName?: string;
	/** Recorded as verified (company_registration), as document review would. */
	cnpj?: string;
}

/** An active catalog supplier: users.create (pending) + users.activate, then wait for products' read model. */
export async function createSupplier(m: Market, opts: SupplierOptions = {}) {
	const email = uniqueEmail("supplier");
	const password = "supplier-pass-1";
	const user: any = await m.broker.call("users.create", {
		email,
		password,
		name: opts.businessName || "Gás Bom",
		role: "supplier",
		status: "pending_verification",
		supplierProfile: {
			businessName: opts.businessName || "Gás Bom",
			location: opts.location || { lat: -23.56, lng: -46.64 },
			deliveryRadiusKm: opts.deliveryRadiusKm ?? 10,
			openingHours: opts.openingHours || { open: "00:00", close: "23:59" },
		},
	});
	await m.broker.call("users.activate", {
		id: user.id,
		verified: { anpAuthorization: "ANP-123456", ...(opts.cnpj ? { cnpj: opts.cnpj } : {}) },
	});
	await waitFor(() => m.broker.call("products.supplierProfile", { supplierId: user.id }), 5000);
	return { id: user.id as string, email, token: await login(m.api, email, password) };
}

export async function createCustomer(m: Market) {
	const email = uniqueEmail("customer");
	const password = "customer-pass-1";
	const res = await m.api.post("/api/users", { email, password, name: "Maria Cliente" });
	if (res.status !== 201 && res.status !== 200) throw new Error(`register failed: ${res.status} ${res.text}`);
	return { id: res.body.id as string, email, token: await login(m.api, email, password) };
}

/** A courier account (users.create, active), signed in. */
export async function createCourier(m: Market) {
	const email = uniqueEmail("courier");
	const password = "courier-pass-1";
	const user = (await m.broker.call("users.create", { email, password, name: "C", role: "courier" })) as { id: string };
	return { id: user.id, email, token: await login(m.api, email, password) };
}

export async function createProduct(m: Market, supplierToken: string, fields: Record<string, unknown> = {}) {
	const res = await m.api.post(
		"/api/products",
		{ type: "P13", priceCents: 11000, depositCents: 15000, stock: 10, ...fields },
		{ token: supplierToken },
	);
	if (res.status !== 201) throw new Error(`product failed: ${res.status} ${res.text}`);
	return res.body;
}

export function orderBody(supplierId: string, productId: string, extra: Record<string, unknown> = {}) {
	return {
		supplierId,
		items: [{ productId, quantity: 1, exchange: true }],
		deliveryAddress: { street: "Praça da Sé", number: "1", city: "São Paulo", ...HOME },
		paymentMethod: "card",
		paymentToken: CARDS.success,
		...extra,
	};
}

export async function orderStatus(m: Market, orderId: string, token: string): Promise<string> {
	const res = await m.api.get(`/api/orders/${orderId}`, { token });
	return res.body && res.body.status;
}

export function waitForStatus(m: Market, orderId: string, token: string, status: string, timeoutMs = 5000) {
	return waitFor(async () => (await orderStatus(m, orderId, token)) === status, timeoutMs);
}

/** "HH:MM" in São Paulo time, `hours` from now (opening hours that make a supplier open or closed now). */
export const localHhmm = (hours: number) =>
	new Intl.DateTimeFormat("en-GB", {
		timeZone: "America/Sao_Paulo",
		hour: "2-digit",
		minute: "2-digit",
		hourCycle: "h23",
	}).format(new Date(Date.now() + hours * 3600_000));
