/**
 * JWT issue and verify (HS256 with JWT_SECRET by default; RS256 when a key pair is configured),
 * and the rules the gateway applies to an action's declared `auth`.
 */
import { createPrivateKey, createPublicKey, createSecretKey, KeyObject } from "crypto";
import jwt from "jsonwebtoken";
import { config } from "./config";
import { AuthUser, ROLES } from "../domain/access";

export { ActionAuth, AuthUser, authorizationProblem, needsMfa, Role, ROLES } from "../domain/access";
import { secret } from "./secrets";

type Keys = { sign: KeyObject; verify: KeyObject; algorithm: "RS256" | "HS256" };
let cachedKeys: { basis: string; keys: Keys } | null = null;

/** Signing and verification keys, resolved once per configuration (this runs on every request). */
function keys(): Keys {
	const basis = `${process.env.JWT_SECRET || ""}|${process.env.JWT_PRIVATE_KEY || ""}|${process.env.JWT_PUBLIC_KEY || ""}`;
	if (cachedKeys && cachedKeys.basis === basis) return cachedKeys.keys;
	const cfg = config();
	let resolved: Keys;
	// KeyObjects, not strings: given a string, jsonwebtoken tries to parse it as a public key on
	// every verify (and throws internally) before treating it as a secret.
	if (cfg.jwtPrivateKey && cfg.jwtPublicKey)
		resolved = {
			sign: createPrivateKey(cfg.jwtPrivateKey),
			verify: createPublicKey(cfg.jwtPublicKey),
			algorithm: "RS256",
		};
	else {
		const key = createSecretKey(Buffer.from(secret("JWT_SECRET")));
		resolved = { sign: key, verify: key, algorithm: "HS256" };
	}
	cachedKeys = { basis, keys: resolved };
	return resolved;
}

export function issueToken(user: AuthUser, expiresIn = config().jwtExpiresIn): string {
	const k = keys();
	return jwt.sign(
		{
			role: user.role,
			status: user.status,
			mfa: user.mfa,
			mfaEnabled: user.mfaEnabled,
			supplierId: user.supplierId || null,
			sep: user.sessionEpoch ?? 0,
		},
		k.sign,
		{ algorithm: k.algorithm, subject: user.id, expiresIn: expiresIn as jwt.SignOptions["expiresIn"] },
	);
}

/** The user a token names, or an error with type TOKEN_EXPIRED / INVALID_TOKEN. */
export function verifyToken(token: string): AuthUser {
	const k = keys();
	const payload = jwt.verify(token, k.verify, { algorithms: [k.algorithm] }) as jwt.JwtPayload;
	if (!payload.sub || !ROLES.includes(payload.role)) throw new jwt.JsonWebTokenError("token has no subject or role");
	return {
		id: payload.sub,
		role: payload.role,
		status: payload.status,
		mfa: !!payload.mfa,
		mfaEnabled: !!payload.mfaEnabled,
		supplierId: payload.supplierId || null,
		sessionEpoch: typeof payload.sep === "number" ? payload.sep : 0,
	};
}

export function bearerToken(header: string | undefined): string | null {
	if (!header) return null;
	const match = /^Bearer\s+(\S+)$/i.exec(header);
	return match ? match[1] : null;
}
