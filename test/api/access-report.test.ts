// "Who can read this?" agrees with what actually happens: a generated fixture of users, service
// accounts (one whose owner is deactivated), groups and grants (direct and group, every role,
// secret-limited, expired, a deactivated holder); then for every principal, vault and secret the
// access reports are compared with the answer of a real read request.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';

type Principal = { id: string; key: string; name: string };
const SECRETS = ['stripe-key', 'stripe-hook', 'db-pass'];
const VAULTS = ['agree-a', 'agree-b'];
const ROLES = ['reader', 'writer', 'manager'] as const;
const LIMITS = [undefined, ['stripe-*'], ['db-pass']];

/** A small deterministic generator (a linear congruential one), so a failure can be replayed. */
function generator(seed: number) {
  let x = seed;
  return (n: number) => { x = (x * 1103515245 + 12345) % 2 ** 31; return x % n; };
}

describe('the access endpoints agree with the decisions of real requests', () => {
  let s: TestServer;
  const principals: Principal[] = [];
  const ok = async (p: Promise<{ status: number; text: string; body: any }>, status: number) => {
    const r = await p;
    expect(r.status, r.text).toBe(status);
    return r.body;
  };

  beforeAll(async () => {
    s = await startTestServer();
    const next = generator(15);
    for (let i = 0; i < 6; i++) principals.push(await s.createUser(`agree-${i}`));
    const sa = await ok(s.request('POST', '/v1/service-accounts', { body: { name: 'agree-sa', auth: 'api_key' } }), 201);
    principals.push({ id: sa.serviceAccount.id, key: sa.apiKey.key, name: 'agree-sa' });
    // Owned by agree-5, who is deactivated below: it stops with its owner.
    const orphan = await ok(s.request('POST', '/v1/service-accounts', { key: principals[5].key, body: { name: 'agree-sa-5', auth: 'api_key' } }), 201);
    principals.push({ id: orphan.serviceAccount.id, key: orphan.apiKey.key, name: 'agree-sa-5' });
    principals.push({ id: s.adminId, key: s.adminKey, name: 'admin' });

    const groups: string[] = [];
    for (let g = 0; g < 3; g++) {
      const group = await ok(s.request('POST', '/v1/groups', { body: { name: `agree-g${g}` } }), 201);
      groups.push(group.id);
      for (const p of principals.slice(0, 8)) if (next(3) === 0) await ok(s.request('POST', `/v1/groups/${group.id}/members`, { body: { principal: p.id } }), 200);
    }
    const expiring: Array<Record<string, unknown> & { vault: string }> = [];
    for (const vault of VAULTS) {
      await ok(s.request('POST', '/v1/vaults', { body: { name: vault } }), 201);
      for (const name of SECRETS) await ok(s.request('PUT', `/v1/vaults/${vault}/secrets/${name}`, { body: { value: `${vault}/${name}` } }), 201);
      const holders = [...principals.slice(0, 8).map((p) => ({ principal: p.id })), ...groups.map((g) => ({ group: g }))];
      for (const holder of holders) {
        const pick = next(6);
        if (pick < 2) continue;
        const role = ROLES[next(3)];
        const secrets = role === 'reader' ? LIMITS[next(3)] : undefined;
        const grant = { ...holder, role, ...(secrets ? { secrets } : {}) };
        if (pick === 5) expiring.push({ vault, ...grant });
        else await ok(s.request('POST', `/v1/vaults/${vault}/grants`, { body: grant }), 201);
      }
    }
    // Grants that expire before anything is compared: created last, with an instant just ahead.
    const expiresAt = new Date(Date.now() + 500).toISOString();
    for (const { vault, ...grant } of expiring) await ok(s.request('POST', `/v1/vaults/${vault}/grants`, { body: { ...grant, expiresAt } }), 201);
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(expiresAt) - Date.now()) + 20));
    // A deactivated holder reads nothing, whatever it holds.
    await ok(s.request('PATCH', `/v1/users/${principals[5].id}`, { body: { active: false } }), 200);
  });
  afterAll(async () => { await s?.close(); });

  it('for every principal, vault and secret: listed as a reader exactly when the read succeeds', async () => {
    let allowed = 0;
    let refused = 0;
    for (const vault of VAULTS) {
      const overall = await ok(s.request('GET', `/v1/vaults/${vault}/access`), 200);
      for (const secret of SECRETS) {
        const report = await ok(s.request('GET', `/v1/vaults/${vault}/access?secret=${secret}`), 200);
        const listed = new Set(report.principals.map((p: any) => p.principal.id));
        for (const p of principals) {
          const read = await s.request('GET', `/v1/vaults/${vault}/secrets/${secret}/value`, { key: p.key });
          expect(read.status === 200, `${p.name} reading ${vault}/${secret}: ${read.status}, listed: ${listed.has(p.id)}`).toBe(listed.has(p.id));
          if (read.status === 200) allowed++; else refused++;
          // Listed for one secret means listed for the vault, with the same grants in force.
          if (listed.has(p.id)) expect(overall.principals.map((x: any) => x.principal.id)).toContain(p.id);
        }
      }
      // The effective role in the report is the one the vault itself reports to the principal.
      for (const entry of overall.principals) {
        const p = principals.find((x) => x.id === entry.principal.id)!;
        const own = await ok(s.request('GET', `/v1/vaults/${vault}`, { key: p.key }), 200);
        expect(own.role, `${p.name} on ${vault}`).toBe(entry.role);
      }
    }
    // The fixture exercises both outcomes, and not trivially.
    expect(allowed).toBeGreaterThan(5);
    expect(refused).toBeGreaterThan(5);
  });

  it('each principal\'s own report lists the vaults whose report lists it, with the same role and paths', async () => {
    const byVault = new Map<string, any[]>();
    for (const vault of VAULTS) byVault.set(vault, (await ok(s.request('GET', `/v1/vaults/${vault}/access`), 200)).principals);
    for (const p of principals) {
      const mine = await ok(s.request('GET', `/v1/principals/${p.id}/access`), 200);
      for (const vault of VAULTS) {
        const there = byVault.get(vault)!.find((x) => x.principal.id === p.id);
        const here = mine.vaults.find((v: any) => v.vault === vault);
        expect(here && { role: here.role, admin: here.admin, via: here.via }, `${p.name} on ${vault}`)
          .toEqual(there && { role: there.role, admin: there.admin, via: there.via });
      }
    }
    expect((await ok(s.request('GET', `/v1/principals/${principals[5].id}/access`), 200)).principal).toMatchObject({ active: false, canAuthenticate: false });
    expect((await ok(s.request('GET', `/v1/principals/${principals[7].id}/access`), 200))).toMatchObject({ principal: { active: true, canAuthenticate: false }, vaults: [] });
  });
});
