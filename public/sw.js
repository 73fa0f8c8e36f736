/**
 * The service worker: keeps the app shell (HTML, scripts, styles, icons) so the app opens on a
 * courier's phone with a weak or no connection. Shell files are served network-first (a deploy
 * reaches users at once when online) and fall back to the cached copy offline; the API
 * (/api/…) is never cached: orders, positions and payments are always live.
 * Bump VERSION when the list changes: the old cache is deleted when the new worker activates.
 */
const VERSION = "gasrapido-shell-v3";
const SHELL = [
	"/",
	"/index.html",
	"/styles.css",
	"/app.js",
	"/http.js",
	"/ui.js",
	"/pwa.js",
	"/responsive.js",
	"/map.js",
	"/maps.css",
	"/reasons.js",
	"/views/auth.js",
	"/views/shop.js",
	"/views/orders.js",
	"/views/courier.js",
	"/views/supplier.js",
	"/views/supplier-day.js",
	"/views/invites.js",
	"/views/verification.js",
	"/views/admin.js",
	"/views/notifications.js",
	"/views/backoffice.js",
	"/views/preferences.js",
	"/views/reorder.js",
	"/views/reviews.js",
	"/views/after-sale.js",
	"/views/finance.js",
	"/manifest.webmanifest",
	"/icons/icon-192.png",
	"/icons/icon-512.png",
	"/icons/icon.svg",
];

self.addEventListener("install", (event) => {
	// One missing file must not keep the worker from installing: cache what answers.
	event.waitUntil(
		caches
			.open(VERSION)
			.then((cache) => Promise.all(SHELL.map((url) => cache.add(url).catch(() => undefined))))
			.then(() => self.skipWaiting()),
	);
});

self.addEventListener("activate", (event) => {
	event.waitUntil(
		caches
			.keys()
			.then((keys) => Promise.all(keys.filter((k) => k !== VERSION).map((k) => caches.delete(k))))
			.then(() => self.clients.claim()),
	);
});

self.addEventListener("fetch", (event) => {
	const request = event.request;
	if (request.method !== "GET") return;
	const url = new URL(request.url);
	if (url.origin !== self.location.origin || url.pathname.startsWith("/api/")) return;
	event.respondWith(networkFirst(request));
});

async function networkFirst(request) {
	const cache = await caches.open(VERSION);
	try {
		const response = await fetch(request);
		if (response.ok) cache.put(request, response.clone()).catch(() => undefined);
		return response;
	} catch (err) {
		const cached =
			(await cache.match(request, { ignoreSearch: true })) ||
			(request.mode === "navigate" ? await cache.match("/index.html") : undefined);
		if (cached) return cached;
		throw err;
	}
}
