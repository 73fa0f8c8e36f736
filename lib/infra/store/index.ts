/** Opens a service's store: the kind of database is chosen by configuration. */
import { config } from "../config";
import { NedbStore } from "./nedb";
import { ServiceStore } from "./types";

export function openStore(service: string): ServiceStore {
	const cfg = config();
	return new NedbStore(service, cfg.inMemoryStore ? null : cfg.dataDir);
}
