/** Installable app: registers the service worker (sw.js) that keeps the app shell for offline use. */
if ("serviceWorker" in navigator && window.isSecureContext) {
	window.addEventListener("load", () => {
		navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => undefined);
	});
}
