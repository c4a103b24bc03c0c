// The service worker for push alerts. The payload is the JSON the edge's webpush channel encrypts:
// { id, title, message, severity, url, createdMs }. Plain JS: served as is from /sw.js, not bundled.

self.addEventListener('push', (event) => {
  let alert;
  try {
    alert = event.data ? event.data.json() : null;
  } catch {
    alert = null;
  }
  // A browser must show something for each push (or it may revoke the subscription), even an unreadable one.
  const title = alert?.title || 'Guardian alert';
  event.waitUntil(
    self.registration.showNotification(title, {
      body: alert?.message ?? '',
      // The alert's id as tag: a retried delivery replaces its notification instead of adding a second one.
      tag: alert?.id,
      data: { url: alert?.url ?? null },
      requireInteraction: alert?.severity === 'critical',
    }),
  );
});

/** The URL to open if it stays on this origin, else null: a payload must not send the owner elsewhere. */
function sameOriginUrl(raw) {
  if (typeof raw !== 'string' || raw === '') return null;
  try {
    const url = new URL(raw, self.location.origin);
    return url.origin === self.location.origin ? url.href : null;
  } catch {
    return null;
  }
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const target = sameOriginUrl(event.notification.data?.url);
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const open = windows.find((w) => new URL(w.url).origin === self.location.origin);
      if (open) {
        await open.focus();
        if (target && 'navigate' in open) await open.navigate(target).catch(() => {});
        return;
      }
      await self.clients.openWindow(target ?? '/');
    })(),
  );
});
