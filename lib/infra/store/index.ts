/**
 * openStore(service): the service's store, chosen by configuration (lib/infra/config.ts):
 *  - DATABASE_URL set → PostgreSQL, schema `${NAMESPACE || "gr"}_${service}`;
 *  - else MONGO_URI set → MongoDB, database `${service}`;
 *  - else SQLite, file `${DATA_DIR}/${service}.sqlite` (DATA_DIR=":memory:" → in memory).
 */
import { config } from "../config";
import { ServiceStore } from "./types";
import { SqliteStore } from "./sqlite";
import { PostgresStore } from "./postgres";
import { MongoStore } from "./mongo";

export * from "./types";
export { applyUpdate, checkUpdate, jsonEqual, UpdateError } from "./update";
export { fieldSegments, sortKeys, normalizeValue, SortKey } from "./paths";
export { FilterCompiler, FilterError, SqlDialect } from "./sql-filter";
export { SqliteStore, backupSqlite, sqliteDialect } from "./sqlite";
export { PostgresStore, postgresDialect, schemaName } from "./postgres";
export { MongoStore, mongoFilter } from "./mongo";
export { livePids } from "./running";

export function openStore(service: string): ServiceStore {
	const cfg = config();
	if (cfg.databaseUrl) return new PostgresStore(service, { url: cfg.databaseUrl, namespace: cfg.namespace });
	if (cfg.mongoUri) return new MongoStore(service, cfg.mongoUri);
	return new SqliteStore(service, cfg.dataDir);
}
