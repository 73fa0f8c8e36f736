/**
 * Everyone's in-app notifications, unread first; mark one or all as read. A message that carries a
 * link into the app (the reorder reminder's #/reorder/<orderId>) shows it as a button. The
 * notification preferences (#/preferences) are one tap away.
 */
import { get, put } from "../http.js";
import { dateTime, empty, errorLine, h, replace, section, t } from "../ui.js";

export async function render(root, { refreshBadge }) {
	const listBox = h("div", { id: "notifications-list" });
	const load = async () => {
		try {
			const res = await get("/api/notifications", { pageSize: 50 });
			replace(
				listBox,
				res.rows.length
					? h(
							"ul",
							{ class: "notifications" },
							res.rows.map((n) => item(n, load)),
						)
					: empty(t("Nenhuma notificação.", "No notifications.")),
			);
			refreshBadge();
		} catch (err) {
			replace(listBox, errorLine(err));
		}
	};
	const markAll = h(
		"button",
		{
			type: "button",
			class: "secondary",
			id: "mark-all-read",
			onclick: async () => {
				try {
					await put("/api/notifications/read", {});
					await load();
				} catch (err) {
					listBox.prepend(errorLine(err));
				}
			},
		},
		t("Marcar todas como lidas", "Mark all as read"),
	);
	const prefsLink = h(
		"a",
		{ class: "button secondary", id: "preferences-link", href: "#/preferences" },
		t("Preferências de aviso", "Notification preferences"),
	);
	replace(
		root,
		section(t("Notificações", "Notifications"), h("div", { class: "actions" }, markAll, prefsLink), listBox),
	);
	await load();
	const timer = setInterval(load, 20_000);
	return () => clearInterval(timer);
}

/** Words of a link into the app, by the message's kind. */
const LINK_TEXT = {
	reorder_reminder: ["Pedir de novo", "Order again"],
};

/** The app route a message's text links to ("…/#/reorder/abc" → "/reorder/abc"), or null. */
export function appLink(body) {
	const m = /#(\/[A-Za-z0-9_\-/%?=&.]+)/.exec(body || "");
	return m ? m[1].replace(/[.]+$/, "") : null;
}

function item(n, reload) {
	const link = appLink(n.body);
	return h(
		"li",
		{ class: n.read ? "read" : "unread", dataset: { notificationId: n.id } },
		h("strong", {}, n.subject || n.eventType),
		h("p", {}, n.body || ""),
		link
			? h(
					"p",
					{},
					h(
						"a",
						{ class: "button", href: `#${link}`, dataset: { template: n.template || "" } },
						t(...(LINK_TEXT[n.template] || ["Abrir", "Open"])),
					),
				)
			: null,
		h("small", { class: "muted" }, dateTime(n.createdAt)),
		n.read
			? null
			: h(
					"button",
					{
						type: "button",
						class: "link",
						onclick: async () => {
							try {
								await put(`/api/notifications/${encodeURIComponent(n.id)}/read`, {});
								await reload();
							} catch {
								reload();
							}
						},
					},
					t("Marcar como lida", "Mark as read"),
				),
	);
}
