import { type FormEvent, useState } from 'react';

import { api } from '../api.ts';

export function Login({ setup, onDone }: { setup: boolean; onDone: () => void }) {
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [setupCode, setSetupCode] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError('');
    if (setup && password !== again) return setError('The two passwords differ.');
    setBusy(true);
    try {
      await api(setup ? 'POST /auth/setup' : 'POST /auth/login', {
        body: setup ? { password, setupCode } : { password },
      });
      onDone();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="min-h-screen grid place-items-center p-4">
      <form
        onSubmit={submit}
        className="w-full max-w-sm space-y-4 rounded-xl border border-zinc-500/20 dark:bg-zinc-900 bg-white p-6"
      >
        <h1 className="text-xl font-semibold text-sky-400">Guardian</h1>
        <p className="text-sm text-zinc-400">
          {setup ? 'Welcome. Choose the admin password (at least 10 characters).' : 'Log in to see your cameras.'}
        </p>
        {setup && (
          <label className="block text-sm">
            Setup code
            <input
              name="setupCode"
              autoComplete="off"
              required
              value={setupCode}
              onChange={(e) => setSetupCode(e.target.value)}
              placeholder="XXXXX-XXXXX"
              className="mt-1 w-full rounded-md border border-zinc-500/40 bg-transparent px-3 py-2 font-mono uppercase"
            />
            <span className="mt-1 block text-xs text-zinc-500">
              Printed on the appliance's console and in its log when it started: only someone at the box can set it up.
            </span>
          </label>
        )}
        <label className="block text-sm">
          Password
          <input
            type="password"
            name="password"
            autoComplete={setup ? 'new-password' : 'current-password'}
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            className="mt-1 w-full rounded-md border border-zinc-500/40 bg-transparent px-3 py-2"
          />
        </label>
        {setup && (
          <label className="block text-sm">
            Repeat the password
            <input
              type="password"
              name="again"
              autoComplete="new-password"
              required
              value={again}
              onChange={(e) => setAgain(e.target.value)}
              className="mt-1 w-full rounded-md border border-zinc-500/40 bg-transparent px-3 py-2"
            />
          </label>
        )}
        {error && (
          <p role="alert" className="text-sm text-red-400">
            {error}
          </p>
        )}
        <button
          type="submit"
          disabled={busy}
          className="w-full rounded-md bg-sky-600 px-3 py-2 font-medium text-white hover:bg-sky-500 disabled:opacity-50"
        >
          {setup ? 'Set password' : 'Log in'}
        </button>
      </form>
    </div>
  );
}
