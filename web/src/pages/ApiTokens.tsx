import { type FormEvent, useEffect, useState } from 'react';

import { ApiError, api, type Status } from '../api.ts';
import { Card } from '../components/Layout.tsx';

interface ApiToken {
  id: string;
  name: string;
  scope: 'admin' | 'read';
  createdMs: number;
  expiresMs: number | null;
  lastUsedMs: number | null;
}

const day = (ms: number | null) => (ms === null ? '–' : new Date(ms).toLocaleDateString());

/**
 * Scripts' access (Home Assistant, backups): API tokens listed without their values, made with a scope and an
 * expiry, shown once, revoked with one click. Also the certificate's fingerprint, to compare with the browser's.
 */
export function ApiTokens() {
  const [tokens, setTokens] = useState<ApiToken[]>();
  const [fingerprint, setFingerprint] = useState<string | null>(null);
  const [acme, setAcme] = useState<Status['acme']>(null);
  const [name, setName] = useState('');
  const [scope, setScope] = useState<'admin' | 'read'>('read');
  const [days, setDays] = useState('90');
  const [made, setMade] = useState<string>();
  const [problem, setProblem] = useState<string>();
  const load = () =>
    api<{ tokens: ApiToken[] }>('GET /auth/tokens').then(
      (r) => setTokens(r.tokens),
      () => setTokens([]),
    );
  useEffect(() => {
    void load();
    api<Status>('GET /status').then(
      (s) => {
        setFingerprint(s.tlsFingerprint);
        setAcme(s.acme);
      },
      () => undefined,
    );
  }, []);
  async function create(e: FormEvent) {
    e.preventDefault();
    setProblem(undefined);
    try {
      const r = await api<ApiToken & { token: string }>('POST /auth/tokens', {
        body: { name: name.trim(), scope, ...(Number(days) > 0 ? { expiresDays: Number(days) } : {}) },
      });
      setMade(r.token);
      setName('');
      await load();
    } catch (err) {
      setProblem(err instanceof ApiError ? (err.issues[0]?.message ?? err.message) : String(err));
    }
  }
  async function revoke(id: string) {
    await api('DELETE /auth/tokens/:id', { id });
    await load();
  }
  return (
    <Card title="Access for scripts (API tokens)">
      {fingerprint && (
        <p className="mb-3 text-xs text-zinc-400">
          This appliance's certificate (SHA-256): <code className="break-all">{fingerprint}</code>
        </p>
      )}
      {acme && (
        <p className="mb-3 text-xs text-zinc-400" aria-label="ACME certificate">
          {acme.state === 'issued'
            ? `Certificate for ${acme.domain} from the ACME CA, valid until ${new Date(acme.notAfter ?? 0).toLocaleString()}; renewed by itself.`
            : acme.state === 'pending'
              ? `Ordering a certificate for ${acme.domain}; the self-signed one is served meanwhile.`
              : `The certificate for ${acme.domain} could not be ordered (${acme.lastError}); retrying at ${new Date(acme.nextMs ?? 0).toLocaleTimeString()}, the self-signed one is served meanwhile.`}
        </p>
      )}
      <table className="mb-3 w-full text-left text-sm" aria-label="API tokens">
        <thead className="text-xs text-zinc-400">
          <tr>
            <th className="py-1">Name</th>
            <th>May</th>
            <th>Made</th>
            <th>Expires</th>
            <th>Last used</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {tokens?.length === 0 && (
            <tr>
              <td colSpan={6} className="py-2 text-zinc-400">
                No tokens: scripts cannot reach this appliance.
              </td>
            </tr>
          )}
          {tokens?.map((t) => (
            <tr key={t.id} data-testid="api-token" className="border-t border-zinc-500/20">
              <td className="py-1">{t.name}</td>
              <td>{t.scope === 'read' ? 'read only' : 'everything'}</td>
              <td>{day(t.createdMs)}</td>
              <td>{t.expiresMs ? day(t.expiresMs) : 'never'}</td>
              <td>{day(t.lastUsedMs)}</td>
              <td className="text-right">
                <button
                  type="button"
                  onClick={() => revoke(t.id)}
                  className="rounded-md border border-red-500/40 px-2 py-0.5 text-xs text-red-400"
                >
                  Revoke
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form onSubmit={create} className="flex flex-wrap items-end gap-2 text-sm" aria-label="New API token">
        <label className="block">
          Name
          <input
            name="tokenName"
            required
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="home-assistant"
            className="mt-1 block rounded-md border border-zinc-500/40 bg-transparent px-2 py-1"
          />
        </label>
        <label className="block">
          May
          <select
            name="tokenScope"
            value={scope}
            onChange={(e) => setScope(e.target.value as 'admin' | 'read')}
            className="mt-1 block rounded-md border border-zinc-500/40 bg-transparent px-2 py-1"
          >
            <option value="read">read only</option>
            <option value="admin">everything</option>
          </select>
        </label>
        <label className="block">
          Days valid (0: until revoked)
          <input
            name="tokenDays"
            type="number"
            min={0}
            max={3650}
            value={days}
            onChange={(e) => setDays(e.target.value)}
            className="mt-1 block w-24 rounded-md border border-zinc-500/40 bg-transparent px-2 py-1"
          />
        </label>
        <button type="submit" className="rounded-md bg-sky-600 px-3 py-1.5 font-medium text-white">
          Make token
        </button>
      </form>
      {problem && (
        <p role="alert" className="mt-2 text-sm text-red-400">
          {problem}
        </p>
      )}
      {made && (
        <p className="mt-2 text-sm" data-testid="new-token">
          Copy it now, it is not shown again: <code className="break-all">{made}</code>
        </p>
      )}
    </Card>
  );
}
