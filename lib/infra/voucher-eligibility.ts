/**
 * Gás do Povo eligibility: is this CPF a beneficiary, and may this voucher be used? The vouchers
 * service asks a `VoucherEligibilityProvider`; the programme's real service is plugged in by
 * implementing the interface.
 *
 * `SimulatedEligibility` (VOUCHER_PROVIDER=simulated, the default) answers from test CPFs, as the
 * simulated payment provider has test cards:
 *
 *   CPF 529.982.247-25, 111.444.777-35 → beneficiaries: any code GDP-nnnnnnnn is theirs,
 *                                        except one ending in 0000 → voucher_expired
 *   any other CPF (390.533.447-05…)    → not_beneficiary
 */
import { normalizeCpf } from "../domain/cpf";

export type EligibilityAnswer = { eligible: true } | { eligible: false; reason: "not_beneficiary" | "voucher_expired" };

export interface VoucherEligibilityProvider {
	readonly name: string;
	check(req: { cpf: string; code: string }): Promise<EligibilityAnswer>;
}

export const TEST_BENEFICIARIES = ["52998224725", "11144477735"];
export const TEST_NOT_BENEFICIARY = "39053344705";

export class SimulatedEligibility implements VoucherEligibilityProvider {
	readonly name = "simulated";
	async check(req: { cpf: string; code: string }): Promise<EligibilityAnswer> {
		if (!TEST_BENEFICIARIES.includes(normalizeCpf(req.cpf))) return { eligible: false, reason: "not_beneficiary" };
		if (req.code.endsWith("0000")) return { eligible: false, reason: "voucher_expired" };
		return { eligible: true };
	}
}

export function eligibilityProvider(name: string): VoucherEligibilityProvider {
	if (name === "simulated") return new SimulatedEligibility();
	throw new Error(`Unknown VOUCHER_PROVIDER '${name}' (available: simulated)`);
}
