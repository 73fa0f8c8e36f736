/** Invites: admins invite suppliers and couriers, a verified supplier its own couriers; list, copy the link, revoke. */
import { get, post } from "../http.js";
import {
	badge,
	dateTime,
	empty,
	errorLine,
	field,
	form,
	h,
	input,
	replace,
	roleText,
	section,
	select,
	statusText,
	t,
} from "../ui.js";

export const inviteLink = (code) =>
	`${location.origin}${location.pathname}#/register?invite=${encodeURIComponent(code)}`;

export async function render(root, { user }) {
	const listBox = h("div", { id: "invites-list" });
	const created = h("div", { id: "invite-created" });
	const statusFilter = select("status", [
		["", t("Todos", "All")],
		...["pending", "accepted", "revoked", "expired"].map((s) => [s, statusText(s)]),
	]);
	const load = async () => {
		try {
			const res = await get("/api/invites", { status: statusFilter.value, pageSize: 50 });
			replace(listBox, res.rows.length ? inviteTable(res.rows, load) : empty(t("Nenhum convite.", "No invites.")));
		} catch (err) {
			replace(listBox, errorLine(err));
		}
	};
	statusFilter.addEventListener("change", load);
	const roles =
		user.role === "admin"
			? [
					["supplier", roleText("supplier")],
					["courier", roleText("courier")],
				]
			: [["courier", roleText("courier")]];
	const inviteForm = form(
		{ id: "invite-form" },
		[
			field("E-mail", input("email", { type: "email", required: true })),
			field(t("Papel", "Role"), select("role", roles)),
			field(
				t("Mensagem (opcional)", "Message (optional)"),
				h("textarea", { name: "message", maxlength: 1000, rows: 2 }),
			),
			field(
				t("Válido por (horas)", "Valid for (hours)"),
				input("expiresInHours", { type: "number", min: 1, max: 720, value: "72" }),
			),
			h("button", { type: "submit" }, t("Enviar convite", "Send invite")),
		],
		async (values, el) => {
			const body = { email: values.email, role: values.role };
			if (values.message) body.message = values.message;
			if (values.expiresInHours) body.expiresInHours = Number(values.expiresInHours);
			const invite = await post("/api/invites", body);
			replace(
				created,
				h(
					"p",
					{ class: "success" },
					t("Convite criado. Link de cadastro: ", "Invite created. Registration link: "),
					h("code", { class: "invite-link" }, inviteLink(invite.code)),
				),
			);
			el.reset();
			await load();
		},
	);
	if (user.role === "supplier" && user.status !== "active")
		inviteForm.prepend(
			h(
				"p",
				{ class: "muted" },
				t("Você poderá convidar entregadores depois de verificado.", "You can invite couriers once verified."),
			),
		);
	replace(
		root,
		section(t("Novo convite", "New invite"), inviteForm, created),
		section(t("Convites enviados", "Invites sent"), field(t("Situação", "Status"), statusFilter), listBox),
	);
	await load();
}

function inviteTable(rows, reload) {
	return h(
		"table",
		{ class: "table" },
		h(
			"thead",
			{},
			h(
				"tr",
				{},
				["E-mail", t("Papel", "Role"), t("Situação", "Status"), t("Expira", "Expires"), ""].map((c) => h("th", {}, c)),
			),
		),
		h(
			"tbody",
			{},
			rows.map((i) => {
				const cell = h("td", {});
				if (i.status === "pending") {
					cell.append(
						h(
							"button",
							{ type: "button", class: "secondary", onclick: () => navigator.clipboard?.writeText(inviteLink(i.code)) },
							t("Copiar link", "Copy link"),
						),
						" ",
						h(
							"button",
							{
								type: "button",
								class: "danger",
								onclick: async () => {
									try {
										await post(`/api/invites/${encodeURIComponent(i.id)}/revoke`, {});
										await reload();
									} catch (err) {
										cell.append(errorLine(err));
									}
								},
							},
							t("Revogar", "Revoke"),
						),
					);
				}
				return h(
					"tr",
					{ dataset: { inviteId: i.id } },
					h("td", {}, i.email),
					h("td", {}, roleText(i.role)),
					h("td", {}, badge(i.status)),
					h("td", {}, dateTime(i.expiresAt)),
					cell,
				);
			}),
		),
	);
}
