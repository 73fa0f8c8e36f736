/**
 * The single-page app: hash routes (#/shop, #/orders/<id>, …), the navigation for the signed-in
 * role and the unread-notifications badge. A view is `render(root, route)` and may return a
 * cleanup function (timers, live streams) that runs when the user leaves it.
 */
import { clearSession, get, getSession, post, saveSession } from "./http.js";
import { h, lang, replace, roleText, setLang, t } from "./ui.js";
import * as auth from "./views/auth.js";
import * as shop from "./views/shop.js";
import * as orders from "./views/orders.js";
import * as courier from "./views/courier.js";
import * as supplier from "./views/supplier.js";
import * as supplierDay from "./views/supplier-day.js";
import * as invites from "./views/invites.js";
import * as verification from "./views/verification.js";
import * as admin from "./views/admin.js";
import * as notifications from "./views/notifications.js";
import * as backoffice from "./views/backoffice.js";
import * as finance from "./views/finance.js";
import * as preferences from "./views/preferences.js";
import * as reorder from "./views/reorder.js";
import * as reviews from "./views/reviews.js";

const ROUTES = [
	{ path: "/login", view: auth.login, public: true },
	{ path: "/register", view: auth.register, public: true },
	{ path: "/shop", view: shop.render, roles: ["customer"] },
	{ path: "/orders", view: orders.list },
	{ path: "/orders/:id", view: orders.detail },
	{ path: "/courier", view: courier.render, roles: ["courier"] },
	{ path: "/today", view: supplierDay.today, roles: ["supplier"] },
	{ path: "/my-couriers", view: supplierDay.myCouriers, roles: ["supplier"] },
	{ path: "/products", view: supplier.products, roles: ["supplier"] },
	{ path: "/profile", view: supplier.profile, roles: ["supplier"] },
	{ path: "/invites", view: invites.render, roles: ["supplier", "admin"] },
	{ path: "/verification", view: verification.mine, roles: ["supplier", "courier"] },
	{ path: "/admin/verification", view: admin.reviewQueue, roles: ["admin"] },
	{ path: "/admin/alerts", view: admin.alerts, roles: ["admin"] },
	{ path: "/metrics", view: admin.metrics, roles: ["admin", "supplier"] },
	{ path: "/admin/notify", view: admin.notify, roles: ["admin"] },
	{ path: "/admin/users", view: backoffice.users, roles: ["admin"] },
	{ path: "/admin/payments", view: backoffice.payments, roles: ["admin"] },
	{ path: "/admin/security", view: backoffice.security, roles: ["admin"] },
	{ path: "/admin/couriers", view: backoffice.couriers, roles: ["admin"] },
	{ path: "/statement", view: finance.statement, roles: ["supplier"] },
	{ path: "/earnings", view: finance.earnings, roles: ["courier"] },
	{ path: "/admin/finance", view: finance.admin, roles: ["admin"] },
	{ path: "/notifications", view: notifications.render },
	{ path: "/preferences", view: preferences.render },
	{ path: "/reorder/:id", view: reorder.render, roles: ["customer"] },
	{ path: "/suppliers/:id/reviews", view: reviews.render, public: true },
];

const NAV = {
	customer: [
		["/shop", "Comprar gás", "Buy gas"],
		["/orders", "Meus pedidos", "My orders"],
	],
	supplier: [
		["/today", "Hoje", "Today"],
		["/orders", "Pedidos recebidos", "Incoming orders"],
		["/my-couriers", "Meus entregadores", "My couriers"],
		["/products", "Produtos e estoque", "Products & stock"],
		["/statement", "Extrato", "Statement"],
		["/profile", "Dados da revenda", "Business profile"],
		["/invites", "Convidar entregador", "Invite a courier"],
		["/verification", "Verificação", "Verification"],
		["/metrics", "Métricas", "Metrics"],
	],
	courier: [
		["/courier", "Minhas entregas", "My deliveries"],
		["/earnings", "Meus ganhos", "My earnings"],
		["/verification", "Verificação", "Verification"],
	],
	admin: [
		["/orders", "Pedidos", "Orders"],
		["/invites", "Convites", "Invites"],
		["/admin/verification", "Verificações", "Verifications"],
		["/admin/alerts", "Alertas", "Alerts"],
		["/admin/users", "Usuários", "Users"],
		["/admin/payments", "Pagamentos", "Payments"],
		["/admin/finance", "Financeiro", "Finance"],
		["/admin/couriers", "Entregadores", "Couriers"],
		["/metrics", "Métricas", "Metrics"],
		["/admin/notify", "Enviar aviso", "Send notice"],
		["/admin/security", "Segurança (MFA)", "Security (MFA)"],
	],
};

export function homeFor(user) {
	if (!user) return "/login";
	// A supplier or courier still being verified starts with its verification, not an empty day.
	if (user.status === "pending_verification" && ["supplier", "courier"].includes(user.role)) return "/verification";
	return (
		{ customer: "/shop", supplier: "/today", courier: "/courier", admin: "/admin/verification" }[user.role] || "/orders"
	);
}

export function navigate(path) {
	if (location.hash === `#${path}`) route();
	else location.hash = path;
}

function parseHash() {
	const raw = location.hash.replace(/^#/, "") || "/";
	const [path, queryText] = raw.split("?");
	return { path, query: Object.fromEntries(new URLSearchParams(queryText || "")) };
}

function match(path) {
	for (const r of ROUTES) {
		const names = [];
		const pattern = new RegExp(`^${r.path.replace(/:(\w+)/g, (_, name) => (names.push(name), "([^/]+)"))}$`);
		const m = pattern.exec(path);
		if (m) return { route: r, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1])])) };
	}
	return null;
}

let cleanup = null;

async function route() {
	if (typeof cleanup === "function") cleanup();
	cleanup = null;
	const { path, query } = parseHash();
	const session = getSession();
	const user = session && session.user;
	const found = match(path);
	if (!found || (!found.route.public && !user)) return navigate(user ? homeFor(user) : "/login");
	if (found.route.roles && !found.route.roles.includes(user.role)) return navigate(homeFor(user));
	renderHeader(user, path);
	const root = document.getElementById("app");
	replace(root, h("p", { class: "loading" }, t("Carregando…", "Loading…")));
	try {
		cleanup = await found.route.view(root, { params: found.params, query, user, navigate, refreshBadge, homeFor });
	} catch (err) {
		replace(root, h("p", { class: "form-error", role: "alert" }, err.message || String(err)));
	}
	root.focus({ preventScroll: true });
}

function renderHeader(user, path) {
	const nav = document.getElementById("nav");
	const links = user ? [...(NAV[user.role] || []), ["/notifications", "Notificações", "Notifications"]] : [];
	replace(
		nav,
		links.map(([href, pt, en]) =>
			h(
				"a",
				{ href: `#${href}`, class: path === href || path.startsWith(`${href}/`) ? "active" : null },
				t(pt, en),
				href === "/notifications" ? h("span", { id: "unread-badge", class: "count", hidden: true }) : null,
			),
		),
	);
	paintMenu(nav, links.length);
	const account = document.getElementById("account");
	replace(
		account,
		user ? h("span", { class: "who" }, `${user.name} · ${roleText(user.role)}`) : null,
		h(
			"button",
			{ type: "button", class: "link", onclick: () => (setLang(lang() === "en" ? "pt" : "en"), location.reload()) },
			lang() === "en" ? "PT" : "EN",
		),
		user ? h("button", { type: "button", class: "link", id: "logout", onclick: logout }, t("Sair", "Sign out")) : null,
	);
	if (user) refreshBadge();
}

/** On a phone, a role with many screens gets its navigation behind a "Menu" button (closed on each move). */
function paintMenu(nav, count) {
	const header = nav.closest("header");
	let toggle = document.getElementById("menu-toggle");
	if (!toggle) {
		toggle = h("button", { type: "button", id: "menu-toggle", "aria-controls": "nav", "aria-expanded": "false" });
		toggle.addEventListener("click", () => {
			const open = header.classList.toggle("open");
			toggle.setAttribute("aria-expanded", String(open));
		});
		nav.before(toggle);
	}
	replace(toggle, h("span", { "aria-hidden": "true" }, "☰"), " ", t("Menu", "Menu"));
	header.classList.toggle("many", count > 4);
	header.classList.remove("open");
	toggle.setAttribute("aria-expanded", "false");
}

async function refreshBadge() {
	const badge = document.getElementById("unread-badge");
	if (!badge) return;
	try {
		const res = await get("/api/notifications", { pageSize: 1 });
		badge.textContent = String(res.unread);
		badge.hidden = !res.unread;
	} catch {
		badge.hidden = true;
	}
}

/** Signing out ends the session on the server too (its token stops working everywhere). */
function logout() {
	post("/api/auth/logout", {}).catch(() => undefined);
	clearSession();
	navigate("/login");
}

/** The stored user may be stale (approved, suspended since the login): ask the server once at start. */
async function refreshUser() {
	const session = getSession();
	if (!session) return;
	try {
		const user = await get(`/api/users/${encodeURIComponent(session.user.id)}`);
		saveSession({ ...session, user });
	} catch {
		// 401 already ended the session; other failures keep the stored user
	}
}

window.addEventListener("hashchange", route);
window.addEventListener("session-ended", () => navigate("/login"));
document.documentElement.lang = lang() === "en" ? "en" : "pt-BR";
refreshUser().then(route);
