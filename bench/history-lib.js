/**
 * Pieces of bench/history.js: ports, readiness, process memory, folder size, joining the platform
 * over NATS for set-up calls, and a market (admin, one supplier with stock, customers).
 */
"use strict";
const fs = require("fs");
const net = require("net");
const path = require("path");
const { inBatches } = require("./common");

const PASSWORD = "bench-password-1";
const HOME = { lat: -23.5505, lng: -46.6333 };
const CARD_OK = "4242424242424242";

function freePort() {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.on("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const { port } = server.address();
			server.close(() => resolve(port));
		});
	});
}

async function waitReady(base, timeoutMs) {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		const ok = await fetch(`${base}/api/health/ready`, { signal: AbortSignal.timeout(1000) })
			.then((r) => r.status === 200)
			.catch(() => false);
		if (ok) return;
		await new Promise((r) => setTimeout(r, 50));
	}
	throw new Error(`platform not ready at ${base} after ${timeoutMs} ms`);
}

/** Resident memory of a process in MB (Linux). */
function childRss(pid) {
	const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
	const kb = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
	return kb / 1024;
}

function dirSizeMb(dir) {
	let bytes = 0;
	for (const name of fs.readdirSync(dir)) {
		const p = path.join(dir, name);
		const stat = fs.statSync(p);
		bytes += stat.isDirectory() ? dirSizeMb(p) * 1024 * 1024 : stat.size;
	}
	return bytes / 1024 / 1024;
}

/** A service-less broker in the platform's namespace, for internal set-up calls. */
async function joinCluster(nats, namespace) {
	const { ServiceBroker } = require("moleculer");
	const broker = new ServiceBroker({
		namespace,
		nodeID: `bench-history-${process.pid}`,
		transporter: nats,
		logger: false,
		requestTimeout: 30_000,
	});
	await broker.start();
	await broker.waitForServices(["users", "products", "orders"], 30_000);
	return broker;
}

async function login(request, base, email, password = PASSWORD) {
	const res = await request(base, "POST", "/api/auth/login", { email, password });
	if (res.status !== 200) throw new Error(`login ${email} failed: ${res.status} ${JSON.stringify(res.body)}`);
	return res.body.token;
}

/** Admin, an active supplier open around the clock with one product, and 50 customers. */
async function setUpMarket(broker, base, request, { stock, customers = 50 }) {
	const admin = {
		token: await login(request, base, process.env.ADMIN_EMAIL || "admin@bench.local", "bench-admin-password-1"),
	};
	const email = `history-supplier-${process.pid}@bench.local`;
	const user = await broker.call("users.create", {
		email,
		password: PASSWORD,
		name: "Histórico Gás",
		role: "supplier",
		status: "pending_verification",
		supplierProfile: {
			businessName: "Histórico Gás",
			location: { lat: -23.56, lng: -46.64 },
			deliveryRadiusKm: 20,
			openingHours: { open: "00:00", close: "23:59" },
		},
	});
	await broker.call("users.activate", { id: user.id, verified: { anpAuthorization: "ANP-HISTORY" } });
	for (let i = 0; i < 500 && !(await broker.call("products.supplierProfile", { supplierId: user.id })); i++)
		await new Promise((r) => setTimeout(r, 20));
	const token = await login(request, base, email);
	const product = await request(
		base,
		"POST",
		"/api/products",
		{ type: "P13", priceCents: 11000, depositCents: 15000, stock },
		token,
	);
	if (product.status !== 201) throw new Error(`product failed: ${product.status} ${JSON.stringify(product.body)}`);
	const people = await inBatches(
		Array.from({ length: customers }, (_, i) => i),
		10,
		async (n) => {
			const mail = `history-customer-${process.pid}-${n}@bench.local`;
			const res = await request(base, "POST", "/api/users", { email: mail, password: PASSWORD, name: `Cliente ${n}` });
			if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
			return { id: res.body.id, token: await login(request, base, mail) };
		},
	);
	return { admin, supplier: { id: user.id, token, productId: product.body.id }, customers: people };
}

/**
 * The market of an earlier run (`--reuse`): its supplier and customers (emails carry that run's pid)
 * sign in again, and the supplier's P13 gets `stock` more cylinders.
 */
async function reuseMarket(base, request, { pid, stock, customers = 50 }) {
	const admin = {
		token: await login(request, base, process.env.ADMIN_EMAIL || "admin@bench.local", "bench-admin-password-1"),
	};
	const signedIn = await request(base, "POST", "/api/auth/login", {
		email: `history-supplier-${pid}@bench.local`,
		password: PASSWORD,
	});
	if (signedIn.status !== 200) throw new Error(`supplier login failed: ${signedIn.status}`);
	const { token, user } = signedIn.body;
	const supplierId = user.id;
	const products = await request(base, "GET", `/api/products?supplierId=${supplierId}&inStock=false`, undefined, token);
	const product = products.body.rows[0];
	const topped = await request(base, "PUT", `/api/products/${product.id}`, { stock: product.stock + stock }, token);
	if (topped.status !== 200) throw new Error(`stock top-up failed: ${topped.status} ${JSON.stringify(topped.body)}`);
	const people = await inBatches(
		Array.from({ length: customers }, (_, i) => i),
		10,
		async (n) => {
			const mail = `history-customer-${pid}-${n}@bench.local`;
			return { token: await login(request, base, mail) };
		},
	);
	return { admin, supplier: { id: supplierId, token, productId: product.id }, customers: people };
}

function newOrder(market) {
	return {
		supplierId: market.supplier.id,
		items: [{ productId: market.supplier.productId, quantity: 1, exchange: true }],
		deliveryAddress: { street: "Praça da Sé", city: "São Paulo", ...HOME },
		paymentMethod: "card",
		paymentToken: CARD_OK,
	};
}

module.exports = { freePort, waitReady, childRss, dirSizeMb, joinCluster, setUpMarket, reuseMarket, newOrder };
