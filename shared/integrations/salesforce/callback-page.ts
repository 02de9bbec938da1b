/**
 * The page the admin's browser shows after Salesforce redirects back: connected, or why not.
 * Every dynamic part is HTML-escaped (the reason may quote Salesforce's error text).
 */
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);

export function callbackPage(outcome: { connected: true; tenantId: string; orgId?: string } | { connected: false; reason: string }): string {
  const title = outcome.connected ? 'Salesforce is connected' : 'Salesforce was not connected';
  const text = outcome.connected
    ? `Roster can now read and write the org${outcome.orgId ? ` ${escapeHtml(outcome.orgId)}` : ''} for tenant ${escapeHtml(outcome.tenantId)}. You can close this window and choose what to sync.`
    : `${escapeHtml(outcome.reason)}. Nothing was stored.`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title} · Roster</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1b1b1b}h1{font-size:1.4rem}</style></head>
<body><h1>${title}</h1><p>${text}</p></body></html>
`;
}
