/** CPF check digits (lib/domain/cpf.ts) and the Gás do Povo rules (lib/domain/vouchers.ts). */
import { cpfCheckDigits, formatCpf, isValidCpf, maskCpf, normalizeCpf } from "../../lib/domain/cpf";
import { claimable, claimProblem, redeemProblem, redemptionReport } from "../../lib/domain/vouchers";

describe("CPF", () => {
	test("check digits by the standard algorithm", () => {
		expect(cpfCheckDigits("529982247")).toBe("25");
		expect(cpfCheckDigits("111444777")).toBe("35");
		expect(cpfCheckDigits("123456789")).toBe("09");
		expect(cpfCheckDigits("987654321")).toBe("00"); // remainder 10 → 0
	});
	test.each([
		["529.982.247-25", true],
		["52998224725", true],
		[" 529 982 247 25 ", true],
		["529.982.247-26", false],
		["529.982.247-52", false],
		["111.111.111-11", false],
		["00000000000", false],
		["5299822472", false],
		["529982247250", false],
		["52998224a25", false],
	])("%s valid: %s", (cpf, valid) => expect(isValidCpf(cpf)).toBe(valid));
	test("format and mask", () => {
		expect(normalizeCpf("529.982.247-25")).toBe("52998224725");
		expect(formatCpf("52998224725")).toBe("529.982.247-25");
		expect(maskCpf("52998224725")).toBe("***.982.247-**");
	});
});

describe("vouchers", () => {
	const now = new Date("2026-05-01T12:00:00Z");
	test("claim checks in order: CPF, code, accreditation, P13", () => {
		const ok = { cpfValid: true, code: "GDP-12345678", accredited: true, productType: "P13" };
		expect(claimProblem(ok)).toBeNull();
		expect(claimProblem({ ...ok, cpfValid: false, accredited: false })).toBe("invalid_cpf");
		expect(claimProblem({ ...ok, code: "GDP-1234567" })).toBe("invalid_code");
		expect(claimProblem({ ...ok, accredited: false })).toBe("not_accredited");
		expect(claimProblem({ ...ok, productType: "P45" })).toBe("not_p13");
		expect(claimProblem({ ...ok, productType: null })).toBe("not_p13");
	});
	test("claimable: new, released, or a claim past its expiry", () => {
		expect(claimable(null, now)).toBe(true);
		expect(claimable({ status: "released" }, now)).toBe(true);
		expect(claimable({ status: "claimed", claimExpiresAt: "2026-05-01T11:59:59Z" }, now)).toBe(true);
		expect(claimable({ status: "claimed", claimExpiresAt: "2026-05-01T12:00:01Z" }, now)).toBe(false);
		expect(claimable({ status: "redeemed" }, now)).toBe(false);
	});
	test("redeem: once, by the claimer, at the claimed supplier, within the programme's amount", () => {
		const v = { status: "claimed" as const, claimExpiresAt: "2026-05-01T13:00:00Z", customerId: "c", supplierId: "s" };
		const order = { orderId: "o", customerId: "c", supplierId: "s", amountCents: 10_000 };
		expect(redeemProblem(v, order, now, 12_000)).toBeNull();
		expect(redeemProblem(null, order, now, 12_000)).toBe("claim_unknown");
		expect(redeemProblem({ ...v, claimExpiresAt: "2026-05-01T11:00:00Z" }, order, now, 12_000)).toBe("claim_expired");
		expect(redeemProblem(v, { ...order, customerId: "x" }, now, 12_000)).toBe("wrong_customer");
		expect(redeemProblem(v, { ...order, supplierId: "x" }, now, 12_000)).toBe("wrong_supplier");
		expect(redeemProblem(v, { ...order, amountCents: 12_001 }, now, 12_000)).toBe("amount_exceeded");
		expect(redeemProblem({ ...v, status: "redeemed", orderId: "o" }, order, now, 12_000)).toBeNull();
		expect(redeemProblem({ ...v, status: "redeemed", orderId: "other" }, order, now, 12_000)).toBe("already_redeemed");
		expect(redeemProblem({ ...v, status: "released" }, order, now, 12_000)).toBe("claim_unknown");
	});
	test("the redemption report owes only what stays redeemed", () => {
		const r = redemptionReport([
			{ code: "A", supplierId: "s", status: "redeemed", amountCents: 100, redeemedAt: "2", cpfMasked: "m" },
			{ code: "B", supplierId: "s", status: "released", amountCents: 50, redeemedAt: "1", cpfMasked: "m" },
		]);
		expect(r.rows.map((x) => x.code)).toEqual(["B", "A"]);
		expect(r.totals).toEqual({ redeemed: 1, released: 1, reimbursableCents: 100 });
	});
});
