/** Sign in (with the MFA code when the account asks for it) and registration, with or without an invite. */
import { ApiError, get, post, saveSession } from "../http.js";
import { addressPicker } from "../map.js";
import { field, form, h, input, num, replace, roleText, section, t } from "../ui.js";

async function signIn(email, password, code) {
	const body = { email, password };
	if (code) body.code = code;
	const session = await post("/api/auth/login", body);
	saveSession({ token: session.token, refreshToken: session.refreshToken, user: session.user });
	return session.user;
}

export function login(root, { navigate, homeFor }) {
	const codeField = field(
		t("Código do autenticador", "Authenticator code"),
		input("code", { inputmode: "numeric", autocomplete: "one-time-code", pattern: "\\d{6}" }),
	);
	codeField.hidden = true;
	const loginForm = form(
		{ id: "login-form" },
		[
			field("E-mail", input("email", { type: "email", autocomplete: "username", required: true })),
			field(
				t("Senha", "Password"),
				input("password", { type: "password", autocomplete: "current-password", required: true }),
			),
			codeField,
			h("button", { type: "submit" }, t("Entrar", "Sign in")),
		],
		async (values) => {
			try {
				const user = await signIn(values.email, values.password, values.code);
				navigate(homeFor(user));
			} catch (err) {
				if (err instanceof ApiError && err.type === "MFA_CODE_REQUIRED") codeField.hidden = false;
				throw err;
			}
		},
	);
	replace(
		root,
		section(
			t("Entrar", "Sign in"),
			loginForm,
			h(
				"p",
				{},
				t("Ainda não tem conta? ", "No account yet? "),
				h("a", { href: "#/register" }, t("Cadastre-se", "Register")),
			),
		),
	);
}

export async function register(root, { query, navigate, homeFor }) {
	const code = query.invite || null;
	const invite = code ? await lookupInvite(code) : null;
	if (invite && invite.error) return replace(root, section(t("Convite", "Invite"), invite.error));
	const supplierFields = invite && invite.role === "supplier" ? supplierProfileFields() : null;
	const registerForm = form(
		{ id: "register-form" },
		[
			field(t("Nome", "Name"), input("name", { autocomplete: "name", required: true })),
			field("E-mail", input("email", { type: "email", autocomplete: "email", required: true })),
			field(
				t("Senha (mín. 8 caracteres)", "Password (min. 8 characters)"),
				input("password", { type: "password", autocomplete: "new-password", minlength: 8, required: true }),
			),
			field(t("Telefone (opcional)", "Phone (optional)"), input("phone", { type: "tel", autocomplete: "tel" })),
			supplierFields ? supplierFields.fieldset : null,
			h("button", { type: "submit" }, t("Criar conta", "Create account")),
		],
		async (values) => {
			const body = { name: values.name, email: values.email, password: values.password };
			if (values.phone) body.phone = values.phone;
			if (code) body.inviteCode = code;
			if (supplierFields) {
				body.supplierProfile = supplierFields.profile(values);
				const words = supplierFields.address();
				if (words) body.address = { ...words, ...body.supplierProfile.location };
			}
			await post("/api/users", body);
			const user = await signIn(values.email, values.password);
			// A new supplier or courier starts with its verification (homeFor), not an empty orders page.
			navigate(homeFor(user));
		},
	);
	const intro = invite
		? h(
				"p",
				{ class: "invite-info" },
				t("Convite para se cadastrar como ", "You are invited to join as "),
				h("strong", {}, roleText(invite.role)),
				invite.invitedBy && invite.invitedBy.name
					? [
							t(", enviado por ", ", sent by "),
							h("strong", {}, invite.invitedBy.name),
							` (${roleText(invite.invitedBy.role)})`,
						]
					: null,
				".",
			)
		: null;
	replace(
		root,
		section(
			invite
				? t("Cadastro por convite", "Register with an invite")
				: t("Criar conta de cliente", "Create a customer account"),
			intro,
			registerForm,
			h("p", {}, t("Já tem conta? ", "Already registered? "), h("a", { href: "#/login" }, t("Entrar", "Sign in"))),
		),
	);
}

/** The invite's role and inviter, or { error } with a message to show instead of the form. */
async function lookupInvite(code) {
	try {
		const invite = await get(`/api/invites/${encodeURIComponent(code)}`);
		if (invite.valid) return invite;
		const reasons = {
			expired: t("Este convite expirou.", "This invite has expired."),
			revoked: t("Este convite foi revogado.", "This invite was revoked."),
			used: t("Este convite já foi usado.", "This invite was already used."),
		};
		return {
			error: h("p", { class: "form-error" }, reasons[invite.reason] || t("Convite inválido.", "Invalid invite.")),
		};
	} catch (err) {
		const message = err.status === 404 ? t("Convite não encontrado.", "Invite not found.") : err.message;
		return { error: h("p", { class: "form-error" }, message) };
	}
}

/** The business's name, where it is (CEP and number or the device's location, confirmed on the map), radius and hours. */
export function supplierProfileFields(profile = {}) {
	const where = profile.location ? { ...profile.location, ...(profile.address || {}) } : {};
	const picker = addressPicker({ saved: where, idPrefix: "biz" });
	const fieldset = h(
		"fieldset",
		{},
		h("legend", {}, t("Dados da revenda", "Your business")),
		field(
			t("Nome da revenda", "Business name"),
			input("businessName", { required: true, value: profile.businessName || "" }),
		),
		picker.element,
		field(
			t("Raio de entrega (km)", "Delivery radius (km)"),
			input("deliveryRadiusKm", {
				type: "number",
				min: 1,
				max: 100,
				step: "0.5",
				value: String(profile.deliveryRadiusKm ?? 10),
			}),
		),
		h(
			"div",
			{ class: "row" },
			field(
				t("Abre às", "Opens at"),
				input("open", { type: "time", value: (profile.openingHours && profile.openingHours.open) || "08:00" }),
			),
			field(
				t("Fecha às", "Closes at"),
				input("close", { type: "time", value: (profile.openingHours && profile.openingHours.close) || "20:00" }),
			),
		),
		h("small", { class: "hint" }, t("Aberta 24 h: 00:00 até 23:59.", "Open 24 h: 00:00 to 23:59.")),
	);
	return {
		fieldset,
		profile: (values) => {
			const at = picker.value();
			if (!at)
				throw {
					message: t(
						"Informe o CEP e o número da revenda, ou use sua localização.",
						"Enter the business's CEP and number, or use your location.",
					),
					fields: [{ field: "cep", message: "" }],
				};
			return {
				businessName: values.businessName,
				location: { lat: at.lat, lng: at.lng },
				deliveryRadiusKm: num(values.deliveryRadiusKm),
				openingHours: { open: values.open, close: values.close },
			};
		},
		address: () => {
			const at = picker.value();
			return at && at.street
				? { street: [at.street, at.number].filter(Boolean).join(", "), city: at.city || undefined }
				: null;
		},
	};
}
