/**
 * The browser test harness: Chromium through playwright-core (skipped loudly without it, failed
 * under REQUIRE_INFRA=1), a signed-in page per role, and `checkScreen`, which looks at one screen
 * as a phone (390 px) and as a desktop and asserts, at each size:
 *  - no horizontal overflow (document.documentElement.scrollWidth <= innerWidth);
 *  - no console error and no uncaught page error (the app's own failed /api/ requests are answers
 *    the screen shows, not errors: "Failed to load resource" for /api/ is left out; so are map
 *    tiles, which the pages are built to do without: a tile server that is down is not the app's);
 *  - no serious or critical axe-core violation (@axe-core/playwright, WCAG 2 A/AA rules);
 *  - touch targets (buttons, links in the navigation, inputs) at least 44 px high on the phone;
 * and saves a screenshot per size under test-results/screenshots/ (ignored by git).
 */
import fs from "fs";
import os from "os";
import path from "path";
import AxeBuilder from "@axe-core/playwright";
import type { BrowserContext, Page } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
export const SCREENSHOT_DIR = path.resolve(__dirname, "../../test-results/screenshots");
export const PHONE = { width: 390, height: 844 };
export const SMALL_PHONE = { width: 360, height: 740 };
export const DESKTOP = { width: 1280, height: 800 };
export const SIZES = [
	{ name: "phone", ...PHONE },
	{ name: "desktop", ...DESKTOP },
];
export const MIN_TOUCH_PX = 44;

/** Follows a navigation link; on a phone a role with many screens has them behind the Menu button. */
export async function openNav(page: Page, hash: string): Promise<void> {
	if (await page.locator("#menu-toggle").isVisible()) await page.click("#menu-toggle");
	await page.click(`#nav a[href='#${hash}']`);
}

/** `describe` that needs Chromium: runs with it, skips loudly without it, fails under REQUIRE_INFRA=1. */
export function describeWithChromium(title: string, body: () => void): void {
	const ok = fs.existsSync(CHROMIUM);
	if (!ok && process.env.REQUIRE_INFRA === "1") {
		describe(title, () => {
			test("requires chromium", () => {
				throw new Error(`REQUIRE_INFRA=1 but ${CHROMIUM} is missing (apt-get install -y chromium)`);
			});
		});
		return;
	}
	if (!ok)
		console.warn(
			`\n!!! SKIPPING "${title}": ${CHROMIUM} is missing. Install it (apt-get install -y chromium) or CI will run these.\n`,
		);
	(ok ? describe : describe.skip)(title, body);
}

export interface Browser {
	context: BrowserContext;
	/** Problems seen on any page since the last call (page errors, console errors, failed static files). */
	takeProblems(): string[];
	close(): Promise<void>;
}

/** A persistent Chromium context (service workers need one) that watches every page it opens. */
export async function launchBrowser(opts: { geolocation?: { latitude: number; longitude: number } } = {}) {
	const { chromium } = await import("playwright-core");
	const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gasrapido-chromium-"));
	const context = await chromium.launchPersistentContext(userDataDir, {
		executablePath: CHROMIUM,
		headless: true,
		args: [
			"--headless",
			"--no-sandbox",
			"--disable-gpu",
			"--disable-quic",
			"--no-first-run",
			"--disable-background-networking",
			"--disable-component-update",
			"--disable-sync",
		],
		viewport: PHONE,
		locale: "pt-BR",
		...(opts.geolocation ? { geolocation: opts.geolocation, permissions: ["geolocation"] } : {}),
	});
	context.setDefaultTimeout(8000);
	const problems: string[] = [];
	const watch = (page: Page) => {
		page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
		page.on("console", (msg) => {
			if (msg.type() !== "error") return;
			const url = msg.location()?.url || "";
			if (msg.text().startsWith("Failed to load resource") && (isApi(url) || isMapTile(url))) return;
			problems.push(`console.error: ${msg.text()} (${url})`);
		});
		page.on("response", (res) => {
			if (res.status() >= 400 && !isApi(res.url())) problems.push(`${res.status()}: ${res.url()}`);
		});
	};
	context.on("page", watch);
	return {
		context,
		takeProblems: () => problems.splice(0),
		async close() {
			await context.close().catch(() => undefined);
			fs.rmSync(userDataDir, { recursive: true, force: true });
		},
	} satisfies Browser;
}

/** A map tile ({z}/{x}/{y}.png under MAP_TILE_URL): the maps show the pin and the address without them. */
const isMapTile = (url: string) => /\/\d+\/\d+\/\d+\.png$/.test(url.split("?")[0]);

const isApi = (url: string) => {
	try {
		return new URL(url).pathname.startsWith("/api/");
	} catch {
		return false;
	}
};

/** A page signed in as the user of `session` (the login answer), without going through the form. */
export async function signedInPage(
	context: BrowserContext,
	base: string,
	session: { token: string; refreshToken?: string; user: unknown },
): Promise<Page> {
	const page = await context.newPage();
	await page.goto(`${base}/#/login`);
	await page.evaluate(`sessionStorage.setItem("gasrapido.session", ${JSON.stringify(JSON.stringify(session))})`);
	return page;
}

export interface ScreenReport {
	size: string;
	width: number;
	scrollWidth: number;
	innerWidth: number;
	violations: { id: string; impact: string | null | undefined; help: string; targets: string[] }[];
	smallTargets: string[];
	screenshot: string;
}

/**
 * Opens `hash` (e.g. "/courier") at each size, waits for `ready` (a selector), then measures.
 * Returns the reports; the caller asserts with `expectClean` (so a failure names the screen).
 */
export async function checkScreen(
	page: Page,
	base: string,
	name: string,
	hash: string,
	ready: string,
	sizes = SIZES,
): Promise<ScreenReport[]> {
	const reports: ScreenReport[] = [];
	fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
	for (const size of sizes) {
		await page.setViewportSize({ width: size.width, height: size.height });
		await page.goto(`${base}/#${hash}`);
		await page.waitForSelector(ready);
		// Let the view settle (lists load after the first paint; live views never go network-idle).
		await page.waitForTimeout(400);
		const { scrollWidth, innerWidth } = await pageWidths(page);
		const axe = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
		const violations = axe.violations
			.filter((v) => v.impact === "serious" || v.impact === "critical")
			.map((v) => ({
				id: v.id,
				impact: v.impact,
				help: v.help,
				targets: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
			}));
		const smallTargets = size.width <= PHONE.width ? await smallTouchTargets(page) : [];
		const screenshot = path.join(SCREENSHOT_DIR, `${name}-${size.name}.png`);
		await page.screenshot({ path: screenshot, fullPage: true });
		reports.push({ size: size.name, width: size.width, scrollWidth, innerWidth, violations, smallTargets, screenshot });
	}
	return reports;
}

/** Visible controls a thumb must hit that are less than 44 px high (text links inside prose excepted). */
async function smallTouchTargets(page: Page): Promise<string[]> {
	// A string: the test's TypeScript has no DOM types, the browser runs it as is.
	return page.evaluate(`(() => {
		const min = ${MIN_TOUCH_PX};
		const out = [];
		const controls = document.querySelectorAll(
			"button, #nav a, .account a, input:not([type=hidden]), select, textarea, a.button",
		);
		for (const el of controls) {
			const box = el.getBoundingClientRect();
			if (box.width === 0 || box.height === 0) continue;
			if (getComputedStyle(el).visibility === "hidden") continue;
			// A checkbox or radio counts by its label, which is the touch target.
			const isCheck = el.tagName === "INPUT" && (el.type === "checkbox" || el.type === "radio");
			const target = isCheck ? el.closest("label") || el : el;
			const h = target.getBoundingClientRect().height;
			const text = (el.textContent || el.getAttribute("name") || "").trim().slice(0, 30);
			if (h + 0.5 < min) out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + "[" + text + "] " + Math.round(h) + "px");
		}
		return out;
	})()`);
}

/** The page's scrolling width and the window's width (overflow when the first is larger). */
export function pageWidths(page: Page): Promise<{ scrollWidth: number; innerWidth: number }> {
	return page.evaluate(`({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth })`);
}

/** One assertion per screen so a failure names it and shows every problem at once. */
export function expectClean(name: string, reports: ScreenReport[]): void {
	const problems = reports.flatMap((r) => [
		...(r.scrollWidth > r.innerWidth ? [`${r.size}: page is ${r.scrollWidth} px wide in ${r.innerWidth} px`] : []),
		...r.violations.map((v) => `${r.size}: axe ${v.impact} ${v.id} (${v.help}) at ${v.targets.join(", ")}`),
		...r.smallTargets.map((s) => `${r.size}: touch target under ${MIN_TOUCH_PX} px: ${s}`),
	]);
	expect({ screen: name, problems }).toEqual({ screen: name, problems: [] });
}
