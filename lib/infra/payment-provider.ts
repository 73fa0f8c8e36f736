/**
 * Payment providers. The payments service talks to a `PaymentProvider`; a real gateway
 * (Stripe, Pagar.me, Mercado Pago…) is plugged in by implementing this interface.
 *
 * `SimulatedProvider` is built in and deterministic, keyed by the payment token (test card
 * numbers play the part of tokens; a real integration gets an opaque token from the client-side
 * SDK, so no card number ever reaches our services or events):
 *
 * Cards typed in the web app are tokenized first (`tokenizeCard`: Luhn, expiry, security code →
 * `tok_sim_<which test card>_<random>`); API clients may still send the test card number as token.
 *
 *   card 4242424242424242  → captured
 *   card 4000000000000002  → declined (card_declined)
 *   card 4000000000009995  → declined (insufficient_funds)
 *   card 4000000000009999  → never answers: the call times out (the payment fails with reason "timeout")
 *   any other card token   → declined (unknown_test_card)
 *   pix                    → pending with a copy-paste code; `status(key)` answers captured once
 *                            `pixAutoConfirmMs` have passed since the charge was made (the customer
 *                            paid), declined "pix_expired" after `pixExpiryMs` if not — derived from
 *                            the stored creation time, so the answer survives a restart
 *   cash                   → authorized at order time, captured at delivery
 *
 * Idempotency, as Stripe's API has it: every charge and refund carries an idempotency key
 * (`charge:<paymentId>`, `refund:<refundId>`); the same key never charges or refunds twice and
 * returns the first outcome, and `status(key)` tells what became of a request (or "unknown" when
 * it never reached the provider), so a payment left `processing` by a crash is resolved by asking.
 * The simulated provider keeps its memory of keys in an `IdempotencyKeyStore` that must survive a
 * restart (payments gives it a record kind of its store).
 */
import crypto from "crypto";
import { pixOutcome } from "../domain/payments";

/** "voucher" (Gás do Povo) never reaches a provider: payments has the vouchers service redeem it. */
export type PaymentMethod = "card" | "pix" | "cash" | "voucher";

export interface ChargeRequest {
	/** The same key never charges twice: a repeated request gets the first outcome. */
	idempotencyKey: string;
	paymentId: string;
	orderId: string;
	amountCents: number;
	method: PaymentMethod;
	token?: string | null;
	/** Aborted by the caller when it stops waiting (timeout); a provider should give up then. */
	signal?: AbortSignal;
}

export type ChargeResult =
	| { status: "captured" | "authorized"; providerRef: string }
	| { status: "pending"; providerRef: string; pixCode: string }
	| { status: "declined"; providerRef: string; reason: string };

export interface RefundRequest {
	/** The same key never refunds twice: a repeated request gets the first outcome. */
	idempotencyKey: string;
	paymentId: string;
	providerRef: string;
	refundId: string;
	amountCents: number;
}

/** A card as typed into the checkout form: it goes to the provider's tokenizer and nowhere else. */
export interface CardDetails {
	number: string;
	expMonth: number;
	expYear: number;
	cvc: string;
	holder?: string;
}

/** The opaque token a charge is made with, and what may be shown of the card. */
export interface CardToken {
	token: string;
	brand: string;
	last4: string;
}

/** The provider refused to tokenize the card (invalid number, expired, bad security code). */
export class CardRejectedError extends Error {
	constructor(
		readonly reason: "invalid_number" | "expired" | "invalid_cvc",
		readonly field: "number" | "expiry" | "cvc",
	) {
		super(`The card was refused: ${reason}`);
		this.name = "CardRejectedError";
	}
}

export interface PaymentProvider {
	readonly name: string;
	/**
	 * Card → opaque token. A real gateway's client-side SDK does this in the browser; the checkout
	 * calls POST /api/payments/card-tokens, which asks the provider. The number is never stored.
	 */
	tokenizeCard(card: CardDetails, now?: Date): Promise<CardToken>;
	charge(req: ChargeRequest): Promise<ChargeResult>;
	/** Capture an authorized amount (cash on delivery: when the courier collects it). */
	capture(req: { paymentId: string; providerRef: string; amountCents: number }): Promise<{ providerRef: string }>;
	/** Release an authorization or a pending charge that will not be paid. */
	void(req: { paymentId: string; providerRef: string }): Promise<void>;
	refund(req: RefundRequest): Promise<{ providerRef: string }>;
	/** What became of the request sent with this idempotency key; "unknown" when it never arrived. */
	status(idempotencyKey: string): Promise<ProviderOutcome | { status: "unknown" }>;
}

export type RefundOutcome = { status: "refunded"; providerRef: string };
export type ProviderOutcome = ChargeResult | RefundOutcome;

/** The provider's memory of one idempotency key. */
export interface IdempotencyRecord {
	key: string;
	operation: "charge" | "refund";
	/** What the first request asked for: the key reused for another request is refused. */
	fingerprint: string;
	outcome: ProviderOutcome;
	at: string;
}

/**
 * Where a provider keeps its idempotency keys; `putFirst` keeps the first record of a key and
 * returns the one kept (`created`: it was this one).
 */
export interface IdempotencyKeyStore {
	get(key: string): Promise<IdempotencyRecord | null>;
	putFirst(record: IdempotencyRecord): Promise<{ record: IdempotencyRecord; created: boolean }>;
}

/** Keys in memory: for unit tests only (they do not survive a restart). */
export function memoryKeyStore(): IdempotencyKeyStore {
	const records = new Map<string, IdempotencyRecord>();
	return {
		async get(key) {
			return records.get(key) ?? null;
		},
		async putFirst(record) {
			const first = records.get(record.key);
			if (first) return { record: first, created: false };
			records.set(record.key, record);
			return { record, created: true };
		},
	};
}

/** An idempotency key reused for a different request (Stripe answers 400 idempotency_error). */
export class IdempotencyMismatchError extends Error {
	constructor(key: string) {
		super(`Idempotency key ${key} was used for a different request`);
		this.name = "IdempotencyMismatchError";
	}
}

export const TEST_CARDS = {
	success: "4242424242424242",
	declined: "4000000000000002",
	insufficientFunds: "4000000000009995",
	timeout: "4000000000009999",
} as const;

/** The Luhn check digit is right (every real card number passes it). */
export function luhnValid(digits: string): boolean {
	if (!/^\d{12,19}$/.test(digits)) return false;
	let sum = 0;
	for (let i = 0; i < digits.length; i++) {
		let d = Number(digits[digits.length - 1 - i]);
		if (i % 2 === 1) {
			d *= 2;
			if (d > 9) d -= 9;
		}
		sum += d;
	}
	return sum % 10 === 0;
}

/** The card brand from its number's prefix (Brazilian brands included). */
export function cardBrand(digits: string): string {
	if (/^(4011|4312|4389|4514|4576|5041|5066|5067|509|6277|6362|6363|650|6516|6550)/.test(digits)) return "elo";
	if (/^(606282|3841)/.test(digits)) return "hipercard";
	if (/^4/.test(digits)) return "visa";
	if (/^(5[1-5]|2[2-7])/.test(digits)) return "mastercard";
	if (/^3[47]/.test(digits)) return "amex";
	return "other";
}

/** Which test card a simulated token (or a raw test card number, as API clients send) stands for. */
type SimulatedCard = keyof typeof TEST_CARDS | "unknown";
const SIMULATED_TOKEN = /^tok_sim_(success|declined|insufficientFunds|timeout|unknown)_[0-9a-f]{16}$/;
function simulatedCard(token: string | null | undefined): SimulatedCard {
	const fromToken = SIMULATED_TOKEN.exec(token || "");
	if (fromToken) return fromToken[1] as SimulatedCard;
	const entry = Object.entries(TEST_CARDS).find(([, number]) => number === token);
	return entry ? (entry[0] as SimulatedCard) : "unknown";
}

export class ProviderTimeoutError extends Error {
	constructor(ms: number) {
		super(`Payment provider did not answer within ${ms} ms`);
		this.name = "ProviderTimeoutError";
	}
}

/** Runs `call` with an AbortSignal; rejects with ProviderTimeoutError after `ms` and aborts the signal. */
export async function withTimeout<T>(ms: number, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
	const controller = new AbortController();
	let timer: NodeJS.Timeout | undefined;
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(() => {
			controller.abort();
			reject(new ProviderTimeoutError(ms));
		}, ms);
	});
	try {
		return await Promise.race([call(controller.signal), timeout]);
	} finally {
		clearTimeout(timer);
	}
}

function ref(prefix: string, ...parts: string[]): string {
	return `${prefix}_${crypto.createHash("sha256").update(parts.join(":")).digest("hex").slice(0, 20)}`;
}

/** A PIX "copia e cola" code in the EMV layout of the real thing (not a payable code). */
export function pixCopyPasteCode(paymentId: string, amountCents: number): string {
	const amount = (amountCents / 100).toFixed(2);
	const txid = ref("tx", paymentId).slice(3, 28);
	const body = `00020126360014BR.GOV.BCB.PIX0114+55119999999990520400005303986540${amount.length}${amount}5802BR5909GasRapido6009SAO PAULO62${String(txid.length + 4).padStart(2, "0")}05${String(txid.length).padStart(2, "0")}${txid}6304`;
	const crc = crypto.createHash("sha1").update(body).digest("hex").slice(0, 4).toUpperCase();
	return body + crc;
}

/** Waits until the signal aborts (the simulated "timeout" card never answers on its own). */
function hangUntilAborted(signal?: AbortSignal): Promise<never> {
	return new Promise((_, reject) => {
		if (!signal) return; // never settles; callers always pass a signal through withTimeout
		if (signal.aborted) return reject(new Error("aborted"));
		signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
	});
}

/** The simulated customer's PIX behaviour (defaults: never pays by itself, expires after 10 minutes). */
export interface SimulatedPixOptions {
	/** The customer pays this long after the charge was made (0 = never by itself). */
	pixAutoConfirmMs?: number;
	/** Not paid this long after it was made: the charge expires. */
	pixExpiryMs?: number;
	/** The clock (tests). */
	now?: () => number;
}

export const DEFAULT_PIX_EXPIRY_MS = 10 * 60_000;

export class SimulatedProvider implements PaymentProvider {
	readonly name = "simulated";
	/** Charges and refunds actually made (a repeated key makes none): what tests count. */
	executed = 0;
	private readonly pix: Required<SimulatedPixOptions>;

	constructor(
		private readonly keys: IdempotencyKeyStore = memoryKeyStore(),
		pix: SimulatedPixOptions = {},
	) {
		this.pix = {
			pixAutoConfirmMs: pix.pixAutoConfirmMs ?? 0,
			pixExpiryMs: pix.pixExpiryMs ?? DEFAULT_PIX_EXPIRY_MS,
			now: pix.now ?? Date.now,
		};
	}

	/**
	 * Checks the card as a gateway would (Luhn, expiry, security code) and answers a token that says
	 * which test card it was (`tok_sim_<card>_<random>`), never the number. Any valid card that is
	 * not a test card gets an "unknown" token, declined at charge time.
	 */
	async tokenizeCard(card: CardDetails, now = new Date()): Promise<CardToken> {
		const digits = card.number.replace(/[\s-]/g, "");
		if (!luhnValid(digits)) throw new CardRejectedError("invalid_number", "number");
		const year = card.expYear < 100 ? 2000 + card.expYear : card.expYear;
		const monthsNow = now.getUTCFullYear() * 12 + now.getUTCMonth();
		if (!(card.expMonth >= 1 && card.expMonth <= 12) || year * 12 + (card.expMonth - 1) < monthsNow)
			throw new CardRejectedError("expired", "expiry");
		const brand = cardBrand(digits);
		if (!(brand === "amex" ? /^\d{4}$/ : /^\d{3}$/).test(card.cvc)) throw new CardRejectedError("invalid_cvc", "cvc");
		const which = simulatedCard(digits);
		return { token: `tok_sim_${which}_${crypto.randomBytes(8).toString("hex")}`, brand, last4: digits.slice(-4) };
	}

	async charge(req: ChargeRequest): Promise<ChargeResult> {
		const fingerprint = `charge:${req.paymentId}:${req.method}:${req.amountCents}`;
		const known = await this.remembered(req.idempotencyKey, fingerprint);
		if (known) return known.outcome as ChargeResult;
		// The "no answer" card: nothing is charged and nothing remembered (status says "unknown").
		if (req.method === "card" && simulatedCard(req.token) === "timeout") return hangUntilAborted(req.signal);
		const outcome = this.decide(req);
		return (await this.remember(req.idempotencyKey, "charge", fingerprint, outcome)) as ChargeResult;
	}

	async capture(req: { paymentId: string; providerRef: string }) {
		return { providerRef: ref("sim", req.paymentId, "capture") };
	}

	async void(): Promise<void> {
		return;
	}

	async refund(req: RefundRequest) {
		const fingerprint = `refund:${req.paymentId}:${req.amountCents}`;
		const known = await this.remembered(req.idempotencyKey, fingerprint);
		if (known) return { providerRef: known.outcome.providerRef };
		const outcome: RefundOutcome = {
			status: "refunded",
			providerRef: ref("sim", req.paymentId, "refund", req.refundId),
		};
		const first = await this.remember(req.idempotencyKey, "refund", fingerprint, outcome);
		return { providerRef: first.providerRef };
	}

	async status(idempotencyKey: string): Promise<ProviderOutcome | { status: "unknown" }> {
		const record = await this.keys.get(idempotencyKey);
		if (!record) return { status: "unknown" };
		const outcome = record.outcome;
		if (outcome.status !== "pending") return outcome;
		// A PIX charge: what the customer did since it was made, from the time the key was stored.
		const elapsed = this.pix.now() - Date.parse(record.at);
		switch (pixOutcome(elapsed, this.pix.pixAutoConfirmMs, this.pix.pixExpiryMs)) {
			case "paid":
				return { status: "captured", providerRef: outcome.providerRef };
			case "expired":
				return { status: "declined", providerRef: outcome.providerRef, reason: "pix_expired" };
			default:
				return outcome;
		}
	}

	private decide(req: ChargeRequest): ChargeResult {
		const providerRef = ref("sim", req.paymentId, "charge");
		if (req.method === "cash") return { status: "authorized", providerRef };
		if (req.method === "pix")
			return { status: "pending", providerRef, pixCode: pixCopyPasteCode(req.paymentId, req.amountCents) };
		switch (simulatedCard(req.token)) {
			case "success":
				return { status: "captured", providerRef };
			case "declined":
				return { status: "declined", providerRef, reason: "card_declined" };
			case "insufficientFunds":
				return { status: "declined", providerRef, reason: "insufficient_funds" };
			default:
				return { status: "declined", providerRef, reason: "unknown_test_card" };
		}
	}

	private async remembered(key: string, fingerprint: string): Promise<IdempotencyRecord | null> {
		const record = await this.keys.get(key);
		if (record && record.fingerprint !== fingerprint) throw new IdempotencyMismatchError(key);
		return record;
	}

	/** Keeps the first outcome of a key (a concurrent twin loses and gets the first one). */
	private async remember(
		key: string,
		operation: IdempotencyRecord["operation"],
		fingerprint: string,
		outcome: ProviderOutcome,
	): Promise<ProviderOutcome> {
		const record = { key, operation, fingerprint, outcome, at: new Date(this.pix.now()).toISOString() };
		const { record: first, created } = await this.keys.putFirst(record);
		if (created) this.executed++;
		return first.outcome;
	}
}

/** The provider PAYMENT_PROVIDER names (only "simulated" so far), remembering its keys in `keys`. */
export function providerFor(
	settings: { provider: string; pixAutoConfirmMs: number; pixExpiryMs: number },
	keys: IdempotencyKeyStore,
): PaymentProvider {
	if (settings.provider === "simulated")
		return new SimulatedProvider(keys, {
			pixAutoConfirmMs: settings.pixAutoConfirmMs,
			pixExpiryMs: settings.pixExpiryMs,
		});
	throw new Error(`Unknown PAYMENT_PROVIDER '${settings.provider}' (available: simulated)`);
}
