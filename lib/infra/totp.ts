/** TOTP (RFC 6238) for admin MFA, through otpauth: 6 digits, 30 s, one step of clock drift. */
import * as OTPAuth from "otpauth";

export function newTotpSecret(): string {
	return new OTPAuth.Secret({ size: 20 }).base32;
}

function totp(secretBase32: string, label = "user") {
	return new OTPAuth.TOTP({
		issuer: "GasRapido",
		label,
		algorithm: "SHA1",
		digits: 6,
		period: 30,
		secret: OTPAuth.Secret.fromBase32(secretBase32),
	});
}

export function totpUri(secretBase32: string, label: string): string {
	return totp(secretBase32, label).toString();
}

export function verifyTotp(secretBase32: string, code: string): boolean {
	return totpStep(secretBase32, code) !== null;
}

/**
 * The time step (30 s counter) a code belongs to, within one step of drift, or null when it is
 * wrong. A caller that remembers the last step it accepted takes each code once.
 */
export function totpStep(secretBase32: string, code: string, now = Date.now()): number | null {
	const t = totp(secretBase32);
	const delta = t.validate({ token: code, window: 1, timestamp: now });
	return delta === null ? null : t.counter({ timestamp: now }) + delta;
}

/** The current code (tests and the REPL use it; never exposed through the API). */
export function currentTotp(secretBase32: string): string {
	return totp(secretBase32).generate();
}

/** The code of the time step after this one (tests: a code is accepted once per step). */
export function nextTotp(secretBase32: string): string {
	return totp(secretBase32).generate({ timestamp: Date.now() + 30_000 });
}
