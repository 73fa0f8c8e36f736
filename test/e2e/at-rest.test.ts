/**
 * Issue 14, finding 2: nothing sensitive readable at rest. A platform on a DATA_DIR that an earlier
 * version left behind (folder 0755, a TOTP secret in plain text, a card token in a delivered order
 * and another in a deleted row's free space) runs a flow with TOTP enrolment, a supplier's
 * verification (CNPJ, permit number) and a courier's licence, and card payments (captured,
 * declined); then every byte of every file under DATA_DIR (databases, -wal, -shm, documents,
 * dev secrets, a backup) is searched for each of those values, and every folder must be 0700 and
 * every file 0600.
 */
import crypto from "crypto";
import fs from "fs";
import os from "os";
import path from "path";
import Database from "better-sqlite3";
import * as OTPAuth from "otpauth";
import { ServiceBroker } from "moleculer";
import { ADMIN, gatewayUrl, startBroker, waitFor } from "../helpers/broker";
import { client } from "../helpers/http";
import { hashPassword } from "../../lib/infra/passwords";
import { backupSqlite } from "../../lib/infra/store/sqlite";

jest.setTimeout(90_000);

const SERVICES = ["api", "users", "invitations", "verification", "products", "orders", "payments"];
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gasrapido-at-rest-"));
const PASSWORD = "s3cret-password-at-rest";

const LEGACY_SECRET = new OTPAuth.Secret({ size: 20 }).base32;
const LEGACY_EMAIL = "legacy-mfa@test.local";
const LEGACY_STAGED_CARD = "4000000000009995";
const LEGACY_DELETED_CARD = "5555444433332222";
const CNPJ = "11.222.333/0001-81";
const CNPJ_DIGITS = "11222333000181";
const FIRE_PERMIT = "AVCB-77120-SP";
const LICENCE = "98765432109";
const CARD_OK = "4242424242424242";
const CARD_DECLINED = "4000000000000002";

let broker: ServiceBroker | null = null;
let api: ReturnType<typeof client>;
let base: string;

const totpOf = (secret: string) =>
	new OTPAuth.TOTP({ algorithm: "SHA1", digits: 6, period: 30, secret: OTPAuth.Secret.fromBase32(secret) });

/** Every file under `dir` with its bytes (as latin1 text, so any byte sequence can be searched). */
function rawFiles(dir: string): { file: string; text: string }[] {
	const out: { file: string; text: string }[] = [];
	for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
		const full = path.join(dir, entry.name);
		if (entry.isDirectory()) out.push(...rawFiles(full));
		else out.push({ file: path.relative(dataDir, full), text: fs.readFileSync(full).toString("latin1") });
	}
	return out;
}

/** `file: value` for each value found in a raw file. */
function findings(values: Record<string, string>): string[] {
	const found: string[] = [];
	for (const { file, text } of rawFiles(dataDir))
		for (const [name, value] of Object.entries(values)) if (text.includes(value)) found.push(`${file}: ${name}`);
	return found;
}

function modes(dir: string): string[] {
	const wrong: string[] = [];
	const mode = fs.statSync(dir).mode & 0o777;
	if (mode !== 0o700) wrong.push(`${path.relative(dataDir, dir) || "."}/ ${mode.toString(8)}`);
	for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
		const full = path.join(dir, entry.name);
		if (entry.isDirectory()) wrong.push(...modes(full));
		else if ((fs.statSync(full).mode & 0o777) !== 0o600)
			wrong.push(`${path.relative(dataDir, full)} ${(fs.statSync(full).mode & 0o777).toString(8)}`);
	}
	return wrong;
}

/** What an earlier version left: plain secrets in live rows and a deleted row's bytes in free space. */
async function writeLegacyFiles(): Promise<void> {
	fs.chmodSync(dataDir, 0o755);
	const now = new Date().toISOString();
	const users = new Database(path.join(dataDir, "users.sqlite"));
	users.exec(`CREATE TABLE users (_id TEXT PRIMARY KEY, doc TEXT NOT NULL)`);
	const legacyUser = {
		_id: "legacyuser0001",
		email: LEGACY_EMAIL,
		name: "Legacy MFA",
		role: "customer",
		status: "active",
		locale: "pt-BR",
		passwordHash: await hashPassword(PASSWORD),
		mfaEnabled: true,
		mfaSecret: LEGACY_SECRET,
		createdAt: now,
		updatedAt: now,
	};
	users.prepare(`INSERT INTO users VALUES (?, ?)`).run(legacyUser._id, JSON.stringify(legacyUser));
	users.close();
	fs.chmodSync(path.join(dataDir, "users.sqlite"), 0o644);

	const orders = new Database(path.join(dataDir, "orders.sqlite"));
	orders.exec(`CREATE TABLE orders (_id TEXT PRIMARY KEY, doc TEXT NOT NULL)`);
	const order = (id: string, token: string) => ({
		_id: id,
		customerId: legacyUser._id,
		supplierId: "legacysupplier",
		status: "delivered",
		items: [],
		totalCents: 1000,
		paymentMethod: "card",
		hasPaymentToken: true,
		stagedPaymentToken: token,
		history: [],
		createdAt: now,
		updatedAt: now,
	});
	orders
		.prepare(`INSERT INTO orders VALUES (?, ?)`)
		.run("legacyorder001", JSON.stringify(order("legacyorder001", LEGACY_STAGED_CARD)));
	orders
		.prepare(`INSERT INTO orders VALUES (?, ?)`)
		.run("legacyorder002", JSON.stringify(order("legacyorder002", LEGACY_DELETED_CARD)));
	orders.prepare(`DELETE FROM orders WHERE _id = ?`).run("legacyorder002");
	orders.close();
	fs.chmodSync(path.join(dataDir, "orders.sqlite"), 0o644);
}

async function login(email: string, password: string, code?: string) {
	return api.post("/api/auth/login", { email, password, ...(code ? { code } : {}) });
}

async function upload(token: string, type: string, metadata: unknown) {
	const form = new FormData();
	form.append("type", type);
	form.append("metadata", JSON.stringify(metadata));
	const pdf = Buffer.from(`%PDF-1.4\n% ${crypto.randomBytes(8).toString("hex")}\n%%EOF\n`);
	form.append("file", new Blob([pdf], { type: "application/pdf" }), `${type}.pdf`);
	const res = await fetch(`${base}/api/verification/documents`, {
		method: "POST",
		headers: { Authorization: `Bearer ${token}` },
		body: form,
	});
	return { status: res.status, body: (await res.json()) as any };
}

/** Invite, register with the code and sign in; returns the token. */
async function invited(adminToken: string, email: string, role: string, extra: Record<string, unknown> = {}) {
	const invite = await api.post("/api/invites", { email, role }, { token: adminToken });
	expect(invite.status).toBe(201);
	const registered = await api.post("/api/users", {
		email,
		password: PASSWORD,
		name: `User ${role}`,
		inviteCode: invite.body.code,
		...extra,
	});
	expect(registered.status).toBeLessThan(300);
	const session = await login(email, PASSWORD);
	expect(session.status).toBe(200);
	await waitFor(async () => (await api.get("/api/verification/status", { token: session.body.token })).status === 200);
	return { token: session.body.token as string, id: registered.body.id as string };
}

afterAll(async () => {
	if (broker) await broker.stop();
	fs.rmSync(dataDir, { recursive: true, force: true });
});

const secrets: Record<string, string> = {
	"legacy TOTP secret": LEGACY_SECRET,
	"legacy staged card token": LEGACY_STAGED_CARD,
	"legacy deleted card token": LEGACY_DELETED_CARD,
	CNPJ,
	"CNPJ (digits)": CNPJ_DIGITS,
	"fire safety permit number": FIRE_PERMIT,
	"driver's licence number": LICENCE,
	"card token (captured)": CARD_OK,
	"card token (declined)": CARD_DECLINED,
};

test("the legacy files hold the plain values this test looks for (the search can find them)", async () => {
	await writeLegacyFiles();
	const before = findings(secrets);
	expect(before).toEqual(
		expect.arrayContaining([
			"users.sqlite: legacy TOTP secret",
			"orders.sqlite: legacy staged card token",
			"orders.sqlite: legacy deleted card token",
		]),
	);
});

test("a flow with TOTP, verification documents and card payments leaves no secret in DATA_DIR, folders 0700, files 0600", async () => {
	broker = await startBroker({
		services: SERVICES,
		env: {
			DATA_DIR: dataDir,
			DOCUMENTS_KEY: "",
			JWT_SECRET: "",
			PIX_AUTO_CONFIRM_MS: "0",
			RECONCILE_INTERVAL_MS: "0",
			PAYMENT_PROVIDER_TIMEOUT_MS: "150",
		},
	});
	base = gatewayUrl(broker);
	api = client(base);

	// A row stored in plain text before is still read: the legacy user signs in with its TOTP.
	const legacy = await login(LEGACY_EMAIL, PASSWORD, totpOf(LEGACY_SECRET).generate());
	expect(legacy.status).toBe(200);

	// TOTP enrolment of the admin.
	const first = await waitFor(async () => {
		const res = await login(ADMIN.email, ADMIN.password);
		return res.status === 200 ? res : null;
	});
	const setup = await api.post("/api/auth/mfa/setup", {}, { token: first!.body.token });
	expect(setup.status).toBe(200);
	const adminSecret: string = setup.body.secret;
	secrets["admin TOTP secret"] = adminSecret;
	const enabled = await api.post(
		"/api/auth/mfa/enable",
		{ code: totpOf(adminSecret).generate() },
		{ token: first!.body.token },
	);
	expect(enabled.status).toBe(200);
	const admin = enabled.body.token as string;

	// A supplier's verification with a CNPJ and a permit number, approved.
	const supplier = await invited(admin, "rest-supplier@test.local", "supplier", {
		supplierProfile: {
			businessName: "Gás Sigilo",
			location: { lat: -23.55, lng: -46.63 },
			deliveryRadiusKm: 10,
			openingHours: { open: "00:00", close: "23:59" },
		},
	});
	const docs = [
		await upload(supplier.token, "anp_authorization", { number: "ANP-0012345" }),
		await upload(supplier.token, "company_registration", { cnpj: CNPJ, legalName: "Gás Sigilo Ltda" }),
		await upload(supplier.token, "fire_safety_permit", { number: FIRE_PERMIT, validUntil: "2099-12-31" }),
	];
	for (const doc of docs) expect(doc.status).toBe(201);
	// The API still shows the document numbers to those who may see them.
	expect(docs[1].body.metadata.cnpj).toBe(CNPJ_DIGITS);
	for (const doc of docs)
		expect(
			(await api.put(`/api/verification/documents/${doc.body.id}/review`, { decision: "approve" }, { token: admin }))
				.status,
		).toBe(200);
	await waitFor(async () => (await login("rest-supplier@test.local", PASSWORD)).body?.user?.status === "active");
	const activeSupplier = (await login("rest-supplier@test.local", PASSWORD)).body.token as string;

	// A courier's licence with its number.
	const courier = await invited(admin, "rest-courier@test.local", "courier");
	const licence = await upload(courier.token, "drivers_licence", {
		category: "AB",
		issueDate: "2015-06-01",
		number: LICENCE,
	});
	expect(licence.status).toBe(201);
	const status = await api.get("/api/verification/status", { token: courier.token });
	expect(status.body.documents[0].metadata.number).toBe(LICENCE);

	// Card payments: one captured, one declined.
	const product = await waitFor(async () => {
		const res = await api.post(
			"/api/products",
			{ type: "P13", priceCents: 11000, depositCents: 15000, stock: 10 },
			{ token: activeSupplier },
		);
		return res.status === 201 ? res.body : null;
	});
	const customer = await api.post("/api/users", {
		email: "rest-customer@test.local",
		password: PASSWORD,
		name: "Cliente",
	});
	expect(customer.status).toBe(201);
	const customerToken = (await login("rest-customer@test.local", PASSWORD)).body.token as string;
	const order = (paymentToken: string) =>
		api.post(
			"/api/orders",
			{
				supplierId: supplier.id,
				items: [{ productId: product!.id, quantity: 1, exchange: true }],
				deliveryAddress: { street: "Praça da Sé", number: "1", city: "São Paulo", lat: -23.5505, lng: -46.6333 },
				paymentMethod: "card",
				paymentToken,
			},
			{ token: customerToken },
		);
	const paid = await order(CARD_OK);
	const declined = await order(CARD_DECLINED);
	expect(paid.status).toBe(201);
	expect(declined.status).toBe(201);
	const statusOf = async (id: string) => (await api.get(`/api/orders/${id}`, { token: customerToken })).body.status;
	await waitFor(async () => (await statusOf(paid.body.id)) === "confirmed", 10_000);
	await waitFor(async () => (await statusOf(declined.body.id)) === "cancelled", 10_000);

	// A backup made while running is as private as the store.
	const backups = path.join(dataDir, "backups", "now");
	const { privateDir } = await import("../../lib/infra/private-files");
	privateDir(path.join(dataDir, "backups"));
	privateDir(backups);
	await backupSqlite(path.join(dataDir, "users.sqlite"), path.join(backups, "users.sqlite"));

	// While running (WAL files present) and after a clean stop.
	expect(fs.readdirSync(dataDir).some((name) => name.endsWith(".sqlite-wal"))).toBe(true);
	expect(findings(secrets)).toEqual([]);
	expect(modes(dataDir)).toEqual([]);
	await broker.stop();
	broker = null;
	expect(findings(secrets)).toEqual([]);
	expect(modes(dataDir)).toEqual([]);
});
