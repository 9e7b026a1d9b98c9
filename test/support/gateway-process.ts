// A second Coffer gateway in its own process, on an existing PostgreSQL database (DATABASE_URL and
// COFFER_MASTER_KEY from the environment). Separate processes share nothing in memory, so what one
// sees of the other's writes came through the database (NOTIFY). Sends {url} once listening; stops
// on SIGTERM or when its parent goes away.
import { startCoffer } from '../../api/server.ts';
import { loadConfig } from '../../api/config.ts';
import { createLogger } from '../../api/logger.ts';

const config = loadConfig({ ...process.env, HOST: '127.0.0.1', PORT: '0', COFFER_LOG_LEVEL: 'error', COFFER_WORKERS: '1' });
const running = await startCoffer(config, { logger: createLogger('error'), onAdminKey: () => {} });
const stop = async () => { await running.close(); process.exit(0); };
process.once('SIGTERM', stop);
process.once('disconnect', stop);
process.send?.({ url: running.url });
