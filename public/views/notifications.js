/** Everyone's in-app notifications, unread first; mark one or all as read. */
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
	replace(root, section(t("Notificações", "Notifications"), markAll, listBox));
	await load();
	const timer = setInterval(load, 20_000);
	return () => clearInterval(timer);
}

function item(n, reload) {
	return h(
		"li",
		{ class: n.read ? "read" : "unread", dataset: { notificationId: n.id } },
		h("strong", {}, n.subject || n.eventType),
		h("p", {}, n.body || ""),
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
