/**
 * Backup and restore as an operator does them on the embedded default: `node scripts/backup.js`
 * while customers flood the platform with orders, then `node scripts/restore.js` into a new DATA_DIR
 * and the platform started on it. Every order acknowledged (2xx) before the backup began is in the
 * restored store, and the restored platform serves it over HTTP.
 */
import { execFile } from "child_process";
import fs from "fs";
import os from "os";
import path from "path";
import { promisify } from "util";

const chaos = require("../../bench/chaos-lib");

const ROOT = path.resolve(__dirname, "..", "..");
const run = promisify(execFile);
jest.setTimeout(180_000);

function script(name: string, args: string[], dataDir: string) {
	const env = { ...process.env, DATABASE_URL: "", MONGO_URI: "", DATA_DIR: dataDir };
	return run(process.execPath, [path.join(ROOT, "scripts", name), ...args], { env, cwd: ROOT });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("backup during an order flood, restore into a new DATA_DIR", () => {
	const request = chaos.makeRequester();
	const platforms: { stop(): Promise<void> }[] = [];
	afterAll(async () => {
		for (const p of platforms) await p.stop().catch(() => undefined);
		request.close();
	});

	it("finds every order acknowledged before the backup began, in the store and over HTTP", async () => {
		const platform = await chaos.startEmbedded();
		platforms.push(platform);
		const market = await chaos.setUpMarket(request, platform.base, { customers: 8, stock: 100_000 });
		const floodEnds = Date.now() + 6_000;
		const flood = chaos.startFlood({
			request,
			base: platform.base,
			market,
			mix: { card: 8, pix: 1, cash: 1 },
			random: chaos.seededRandom(7),
			floodUntil: () => floodEnds,
			giveUpAt: () => floodEnds + 20_000,
		});
		await sleep(2_500);
		const ackedBeforeBackup = [...flood.stats.acknowledged] as string[];
		const backup = await script("backup.js", [], path.join(platform.dir, "data"));
		await flood.done;
		expect(ackedBeforeBackup.length).toBeGreaterThan(20);
		// the flood went on while the backup ran: it was taken from a live, writing platform
		expect(flood.stats.acknowledged.size).toBeGreaterThan(ackedBeforeBackup.length);
		const folder = backup.stdout.trim().split("\n").pop()!;
		expect(fs.existsSync(path.join(folder, "orders.sqlite"))).toBe(true);

		const restoredDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "gr-restored-")), "data");
		await script("restore.js", [folder], restoredDir);
		const reader = chaos.sqliteReader(restoredDir);
		const restoredIds = new Set(((await reader.read()).orders as { _id: string }[]).map((o) => o._id));
		reader.close();
		expect(ackedBeforeBackup.filter((id) => !restoredIds.has(id))).toEqual([]);

		// the restored data is a platform that starts and serves those orders
		const restored = await chaos.startEmbedded({ env: { DATA_DIR: restoredDir } });
		platforms.push(restored);
		const login = await request({
			base: restored.base,
			method: "POST",
			path: "/api/auth/login",
			body: { email: chaos.ADMIN.email, password: chaos.ADMIN.password },
		});
		expect(login.status).toBe(200);
		for (const id of ackedBeforeBackup.slice(0, 10)) {
			const res = await request({
				base: restored.base,
				method: "GET",
				path: `/api/orders/${id}`,
				token: login.body.token,
			});
			expect({ id, status: res.status }).toEqual({ id, status: 200 });
		}
	});
});
