// The `--remote` source: a secret read from the server with the logged-in principal's own rights
// (GET .../value, an audited read by that principal), answered the way a function on the server is:
// a secret that does not exist is undefined, a vault the principal cannot read is a denial.
import { CofferApiError, type CofferClient } from '../../client/index.ts';
import type { RemoteSecretReader } from './sources.ts';

class RemoteAccessDenied extends Error {
  readonly code = 'access_denied';
  override name = 'RemoteAccessDenied';
}

export function remoteSecretReader(client: CofferClient, url: string): RemoteSecretReader {
  return {
    url,
    async read(vault, name) {
      try {
        const v = await client.GET('/v1/vaults/{vault}/secrets/{name}/value', { params: { path: { vault, name }, query: {} } });
        return v.value;
      } catch (err) {
        if (err instanceof CofferApiError) {
          // "secret not found" in a vault the principal may read; a vault it cannot see is a 404 too,
          // and to a function that is no grant at all.
          if (err.status === 404 && /^secret\b/.test(err.message)) return undefined;
          if (err.status === 404 || err.status === 403) throw new RemoteAccessDenied(`access to vault ${vault} denied`);
        }
        throw err;
      }
    },
  };
}
