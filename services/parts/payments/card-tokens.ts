/**
 * POST /api/payments/card-tokens: the checkout's card form is tokenized by the payment provider
 * (PaymentProvider.tokenizeCard); the charge is made with the token. A card the provider refuses is
 * a 422 naming the field (number, expiry, cvc) and the reason (invalid_number, expired, invalid_cvc).
 */
import { CardDetails, CardRejectedError, CardToken, PaymentProvider } from "../../../lib/infra/payment-provider";
import { unprocessable } from "../../../lib/infra/errors";

export type CardTokenParams = CardDetails;

export const cardTokenParams = {
	number: {
		type: "string",
		pattern: /^[0-9 -]{12,23}$/,
		messages: { stringPattern: "Card numbers have 12 to 19 digits" },
	},
	expMonth: { type: "number", integer: true, min: 1, max: 12, convert: true },
	expYear: { type: "number", integer: true, min: 0, max: 2100, convert: true },
	cvc: { type: "string", pattern: /^\d{3,4}$/, messages: { stringPattern: "The security code has 3 or 4 digits" } },
	holder: { type: "string", max: 100, optional: true, trim: true },
} as const;

const MESSAGES: Record<CardRejectedError["reason"], string> = {
	invalid_number: "This card number is not valid",
	expired: "This card has expired",
	invalid_cvc: "The security code is not valid for this card",
};

export async function tokenizeCard(provider: PaymentProvider, card: CardDetails): Promise<CardToken> {
	try {
		return await provider.tokenizeCard(card);
	} catch (err) {
		if (err instanceof CardRejectedError)
			throw unprocessable(MESSAGES[err.reason], { reason: err.reason, field: err.field });
		throw err;
	}
}
