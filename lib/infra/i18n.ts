/**
 * The language a person reads: pt-BR by default, English when the request's Accept-Language prefers
 * it (or, without one, the user's stored locale). Error messages are rendered here at the gateway,
 * from the error catalogue (lib/contracts/error-catalogue.ts) and, for the more specific English
 * details services throw, from the phrasebook below; fastest-validator's messages come from
 * lib/infra/validation-messages.ts.
 */
import { ERROR_CATALOGUE, ErrorType } from "../contracts/error-catalogue";
import type { Locale } from "../domain/templates";

export type { Locale };
export const DEFAULT_LOCALE: Locale = "pt-BR";

/** The locale of a request: the best of pt/en in Accept-Language (q-values honoured), else the user's, else pt-BR. */
export function pickLocale(acceptLanguage: string | string[] | undefined, stored?: unknown): Locale {
	const header = Array.isArray(acceptLanguage) ? acceptLanguage.join(",") : acceptLanguage;
	if (header) {
		const ranked = header
			.split(",")
			.map((part, i) => {
				const [tag, ...params] = part.trim().split(";");
				const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)).find(Boolean);
				return { tag: tag.trim().toLowerCase(), q: q ? Number(q[1]) : 1, i };
			})
			.filter((l) => l.tag && l.q > 0)
			.sort((a, b) => b.q - a.q || a.i - b.i);
		for (const { tag } of ranked) {
			if (tag === "en" || tag.startsWith("en-")) return "en";
			if (tag === "pt" || tag.startsWith("pt-")) return "pt-BR";
		}
	}
	if (stored === "en" || stored === "pt-BR") return stored;
	return DEFAULT_LOCALE;
}

/** Nouns services name in "… not found" (NOT_FOUND's `what`). */
const NOUNS: Record<string, string> = {
	order: "pedido",
	orders: "pedido",
	product: "produto",
	products: "produto",
	user: "usuário",
	users: "usuário",
	invite: "convite",
	invites: "convite",
	document: "documento",
	documents: "documento",
	report: "relatório",
	reports: "relatório",
	payment: "pagamento",
	payments: "pagamento",
	courier: "entregador",
	couriers: "entregador",
	notification: "notificação",
	notifications: "notificação",
	alert: "alerta",
	alerts: "alerta",
	"alert rule": "regra de alerta",
	"verification request": "pedido de verificação",
	supplier: "fornecedor",
};

export const translateNoun = (noun: string, locale: Locale): string => (locale === "en" ? noun : (NOUNS[noun] ?? noun));

const STATUSES: Record<string, string> = {
	created: "criado",
	confirmed: "confirmado",
	in_transit: "a caminho",
	delivered: "entregue",
	cancelled: "cancelado",
	pending: "pendente",
	processing: "em processamento",
	captured: "capturado",
	failed: "recusado",
	refunded: "reembolsado",
	partially_refunded: "parcialmente reembolsado",
	approved: "aprovado",
	rejected: "rejeitado",
	superseded: "substituído",
	pending_review: "em análise",
	pending_verification: "aguardando verificação",
	active: "ativo",
	suspended: "suspenso",
	deleted: "excluído",
	reserved: "reservado",
	committed: "confirmado",
	released: "liberado",
	expired: "expirado",
};

const status = (s: string) => STATUSES[s] ?? s;

/**
 * English details services throw with a generic type (CONFLICT, FORBIDDEN, UNPROCESSABLE…), in
 * Portuguese. Exact texts, or patterns for texts with values. A detail with no entry here is shown
 * as its type's catalogue message in Portuguese (test/unit/error-catalogue.test.ts lists the
 * services' literal messages and fails on one missing here).
 */
const PHRASES: Record<string, string> = {
	"You are not allowed to do this": "Você não tem permissão para fazer isso",
	"You may not follow this order": "Você não pode acompanhar este pedido",
	"This is not your order": "Este pedido não é seu",
	"Orders are confirmed by their payment (or by an admin)":
		"Pedidos são confirmados pelo pagamento (ou por um administrador)",
	"Only the assigned courier, the order's supplier (or an admin) can start the delivery":
		"Só o entregador designado, a revenda do pedido (ou um administrador) pode iniciar a entrega",
	"The order has no courier yet to hand it to": "O pedido ainda não tem entregador para recebê-lo",
	"Only the order's supplier (or an admin) can prepare it":
		"Só a revenda do pedido (ou um administrador) pode prepará-lo",
	"The preparation only moves forward": "O preparo só avança",
	"Only the assigned courier (or an admin) can mark the order delivered":
		"Só o entregador designado (ou um administrador) pode marcar o pedido como entregue",
	"Couriers cannot cancel orders": "Entregadores não podem cancelar pedidos",
	"You can only see your own offers": "Você só pode ver as suas próprias ofertas",
	"You can only answer your own offers": "Você só pode responder às suas próprias ofertas",
	"This offer is no longer open (it expired or the order was cancelled)":
		"Esta oferta não está mais aberta (expirou ou o pedido foi cancelado)",
	"You can only see your own rate": "Você só pode ver a sua própria taxa",
	"You can only see your own statement": "Você só pode ver o seu próprio extrato",
	"partyId is required for an admin": "Informe partyId (obrigatório para um administrador)",
	"Give a day or a from/to range, not both": "Informe um dia ou um intervalo from/to, não os dois",
	"day must be a real date (YYYY-MM-DD)": "day deve ser uma data real (AAAA-MM-DD)",
	"A statement covers at most 93 days": "Um extrato cobre no máximo 93 dias",
	"No supplier open near you has these cylinders now": "Nenhuma revenda aberta perto de você tem esses botijões agora",
	"Send the photo as a multipart file field": "Envie a foto como um campo de arquivo multipart",
	"Only the order's customer, its supplier and admins see its receipt":
		"Só o cliente do pedido, a revenda e os administradores veem o recibo",
	"Only a delivered order has a receipt": "Só um pedido entregue tem recibo",
	"You can only see your own rating": "Você só pode ver a sua própria avaliação",
	"You can only see your own redemptions": "Você só pode ver os seus próprios resgates",
	"supplierId is required for an admin": "Informe supplierId (obrigatório para um administrador)",
	"The order changed meanwhile; reload it": "O pedido mudou enquanto isso; recarregue-o",
	"The stock is changing too fast; try again": "O estoque está mudando rápido demais; tente de novo",
	"This order's stock is already being reserved": "O estoque deste pedido já está sendo reservado",
	"This order's reservation was given up; place the order again":
		"A reserva deste pedido foi desfeita; faça o pedido novamente",
	"Your verification is complete": "Sua verificação está concluída",
	"The file is empty": "O arquivo está vazio",
	"from must be before to": "from deve ser anterior a to",
	"A report covers at most 366 days": "Um relatório cobre no máximo 366 dias",
	"You can only see your own figures": "Você só pode ver os seus próprios números",
	"You can only see your own reports": "Você só pode ver os seus próprios relatórios",
	"Send the document as a multipart file field": "Envie o documento como um campo de arquivo multipart",
	"Only admins see the review queue": "Só administradores veem a fila de análise",
	"You can only see your own verification": "Você só pode ver a sua própria verificação",
	"There is no verification to upload documents for": "Não há verificação para a qual enviar documentos",
	"This document was reviewed meanwhile": "Este documento foi analisado enquanto isso",
	"A newer upload replaced this document": "Um envio mais recente substituiu este documento",
	"Not a cursor from this list": "Não é um cursor desta lista",
	"Security notices cannot be turned off": "Avisos de segurança não podem ser desligados",
	"You can only see your own notifications": "Você só pode ver as suas próprias notificações",
	"You can only mark your own notifications": "Você só pode marcar as suas próprias notificações",
	"Give exactly one of userId or role": "Informe exatamente um entre userId e role",
	"You can only see your own profile": "Você só pode ver o seu próprio perfil",
	"Nothing to change": "Nada a alterar",
	"You may not change these fields of this user": "Você não pode alterar estes campos deste usuário",
	"Confirm this change with an MFA-verified login":
		"Confirme esta alteração com um login com verificação em duas etapas",
	"A pending supplier or courier becomes active through document review":
		"Um fornecedor ou entregador pendente fica ativo pela análise de documentos",
	"Give your current password to change it": "Informe a sua senha atual para alterá-la",
	"The current password is wrong": "A senha atual está incorreta",
	"This e-mail is already registered": "Este e-mail já está cadastrado",
	"Give both lat and lng to filter by distance": "Informe lat e lng para filtrar por distância",
	"You may not see this courier": "Você não pode ver este entregador",
	"You can only change your own courier profile": "Você só pode alterar o seu próprio perfil de entregador",
	"Your account must be verified before you take deliveries":
		"Sua conta precisa ser verificada antes de você fazer entregas",
	"You are on a delivery; finish it first": "Você está em uma entrega; termine-a primeiro",
	"The courier's status changed meanwhile; try again": "O status do entregador mudou enquanto isso; tente de novo",
	"You can only report your own location": "Você só pode informar a sua própria localização",
	"at must be an ISO 8601 time with a zone": "at deve ser um horário ISO 8601 com fuso",
	"at is in the future": "at está no futuro",
	"A courier creates only their own profile": "Um entregador cria apenas o seu próprio perfil",
	"Your account must be verified before you create a courier profile":
		"Sua conta precisa ser verificada antes de você criar um perfil de entregador",
	"userId is required when an admin creates a courier profile":
		"userId é obrigatório quando um administrador cria um perfil de entregador",
	"That user is not a courier": "Esse usuário não é entregador",
	"That courier is not verified yet": "Esse entregador ainda não foi verificado",
	"Account is suspended or deleted": "A conta está suspensa ou excluída",
	"Enter the code from your authenticator app": "Digite o código do seu aplicativo autenticador",
	"Wrong MFA code": "Código de verificação incorreto",
	"MFA is already enabled": "A verificação em duas etapas já está ativada",
	"Start with POST /api/auth/mfa/setup": "Comece por POST /api/auth/mfa/setup",
	"This product belongs to another supplier": "Este produto pertence a outro fornecedor",
	"This product is not on sale at the moment": "Este produto não está à venda no momento",
	"This supplier does not sell that product": "Este fornecedor não vende esse produto",
	"Say which supplier sells this product": "Diga qual fornecedor vende este produto",
	"You can only sell from your own catalog": "Você só pode vender do seu próprio catálogo",
	"This supplier has no active catalog profile yet (verification must be approved first)":
		"Este fornecedor ainda não tem um catálogo ativo (a verificação precisa ser aprovada antes)",
	"A card payment needs a paymentToken": "Um pagamento com cartão precisa de paymentToken",
	"Nothing of this payment can be refunded": "Nada deste pagamento pode ser reembolsado",
	"Couriers have no payments to see": "Entregadores não têm pagamentos para ver",
	"Only its inviter or an admin can revoke an invite": "Só quem convidou ou um administrador pode revogar um convite",
	"The invite changed meanwhile, try again": "O convite mudou enquanto isso; tente de novo",
	"A supplier can only invite couriers": "Um fornecedor só pode convidar entregadores",
	"A supplier can invite couriers once verified": "Um fornecedor pode convidar entregadores depois de verificado",
	"Only admins and suppliers can invite": "Só administradores e fornecedores podem convidar",
	"Manual alerts are disabled": "Alertas manuais estão desativados",
	"This alert is already resolved": "Este alerta já foi resolvido",
	"Only dead-letter alerts hold a message to replay": "Só alertas de dead letter guardam uma mensagem para reenviar",
	"Too many sign-in requests from this address": "Pedidos de entrada demais a partir deste endereço",
	"User no longer exists": "O usuário não existe mais",
	"Invalid document metadata": "Dados do documento inválidos",
	"The slot's times must be ISO dates": "Os horários da janela devem ser datas ISO",
	"The slot must end after it starts": "A janela deve terminar depois de começar",
	"The slot must start in the future": "A janela deve começar no futuro",
	"The slot must last between 30 minutes and 4 hours": "A janela deve durar entre 30 minutos e 4 horas",
	"The slot must start within 7 days": "A janela deve começar nos próximos 7 dias",
	"The password is too easy to guess: use a longer one, e.g. a few unrelated words with a number":
		"A senha é fácil demais de adivinhar: use uma mais longa, por exemplo algumas palavras sem relação e um número",
};

const PATTERNS: [RegExp, (m: RegExpExecArray) => string][] = [
	[/^(.+) not found$/, (m) => `Não encontrado: ${translateNoun(m[1], "pt-BR")}`],
	[
		/^An order cannot go from (\w+) to (\w+)$/,
		(m) => `O pedido não pode passar de ${status(m[1])} para ${status(m[2])}`,
	],
	[/^An order cannot go to (\w+)$/, (m) => `O pedido não pode passar para ${status(m[1])}`],
	[/^This order's stock (?:was already|is) (\w+)$/, (m) => `O estoque deste pedido já está ${status(m[1])}`],
	[/^This payment is (\w+), not a pending PIX$/, (m) => `Este pagamento está ${status(m[1])}, não é um PIX pendente`],
	[/^This payment is (\w+)$/, (m) => `Este pagamento está ${status(m[1])}`],
	[/^This order is (\w+)$/, (m) => `Este pedido está ${status(m[1])}`],
	[/^This document is already (\w+)$/, (m) => `Este documento já está ${status(m[1])}`],
	[/^Your (\w+) is already approved$/, (m) => `Seu documento ${m[1]} já foi aprovado`],
	[/^User is (\w+), not pending verification$/, (m) => `O usuário está ${status(m[1])}, não aguardando verificação`],
	[/^You already sell (\S+); update that product instead$/, (m) => `Você já vende ${m[1]}; atualize esse produto`],
	[/^Not a valid date: (.+)$/, (m) => `Data inválida: ${m[1]}`],
	[/^(\w+) must be an ISO date-time$/, (m) => `${m[1]} deve ser uma data e hora ISO`],
	[
		/^At most (\d+) buckets; use a shorter range or granularity=day$/,
		(m) => `No máximo ${m[1]} intervalos; use um período menor ou granularity=day`,
	],
	[/^The file is larger than (\d+) bytes$/, (m) => `O arquivo tem mais de ${m[1]} bytes`],
	[/^(\w+): a record with these unique fields exists$/, () => "Já existe um registro com estes dados"],
];

/** The Portuguese of an English detail message, or null when the phrasebook does not know it. */
export function portugueseOf(message: string): string | null {
	if (Object.prototype.hasOwnProperty.call(PHRASES, message)) return PHRASES[message];
	for (const [pattern, render] of PATTERNS) {
		const m = pattern.exec(message);
		if (m) return render(m);
	}
	return null;
}

/** True when the phrasebook knows the message (tests: every literal message services throw). */
export const hasPortuguese = (message: string): boolean => portugueseOf(message) !== null;

/**
 * The message a person reads for an error of a catalogued type: the specific detail it was thrown
 * with in their language when there is one, else the catalogue's message for the type.
 */
export function errorMessage(type: ErrorType, detail: string | undefined, locale: Locale): string {
	const catalogue = ERROR_CATALOGUE[type].message;
	if (!detail || detail === catalogue.en) return catalogue[locale];
	if (locale === "en") return detail;
	return portugueseOf(detail) ?? catalogue["pt-BR"];
}
