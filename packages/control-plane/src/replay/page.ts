// The replay page's HTML, its start-up script and the headers that lock it down.
import type { SessionSummary } from '@chaperone/core/api';
import type { TerminalInfo } from '@chaperone/core/records/asciicast';

/**
 * No inline script and nothing from another origin. The player compiles its WebAssembly
 * terminal ('wasm-unsafe-eval') and sets element styles from script ('unsafe-inline' styles).
 */
export const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    + "connect-src 'self'; img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    + "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  // The URL of a page opened with a ticket must not leave with a Referer.
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
} as const;

/** Reads the cast URL and size from the page and starts the player; exposed for tests as window.chaperonePlayer. */
export const REPLAY_SCRIPT = `// chaperone replay page: starts asciinema-player on the session's cast.
(function () {
  var el = document.getElementById('player');
  var d = el.dataset;
  window.chaperonePlayer = AsciinemaPlayer.create({ url: d.cast }, el, {
    cols: Number(d.cols), rows: Number(d.rows), idleTimeLimit: 2, fit: 'width', terminalFontSize: '14px'
  });
})();
`;

export const PAGE_CSS = `body{margin:0;background:#121314;color:#ddd;font:14px system-ui,sans-serif}
header{padding:12px 16px;border-bottom:1px solid #333}
header h1{font-size:16px;margin:0 0 4px}
header a{color:#8ab4f8;margin-right:10px}
main{padding:16px}
.dim{color:#999}
`;

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function replayPage(session: SessionSummary, terminal: TerminalInfo, terminals: TerminalInfo[]): string {
  const base = `/replay/${encodeURIComponent(session.id)}`;
  const others = terminals.length > 1
    ? `<p>terminals: ${terminals.map((t) => t.channel === terminal.channel ? `<b>channel ${t.channel}</b>` : `<a href="${base}?channel=${t.channel}">channel ${t.channel}</a>`).join(' ')}</p>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>chaperone replay — ${esc(session.id)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/replay/assets/asciinema-player.css">
<link rel="stylesheet" href="/replay/assets/replay.css">
</head><body>
<header>
<h1>session ${esc(session.id)}</h1>
<div class="dim">${esc(session.identity.namespace)}/${esc(session.identity.serviceAccount)} → ${esc(session.connection)} (${esc(session.protocol)}),
started ${esc(session.startedAt)}, channel ${terminal.channel} ${terminal.width}x${terminal.height}${terminal.command !== undefined ? `, running <code>${esc(terminal.command)}</code>` : ''}</div>
${others}
</header>
<main><div id="player" data-cast="${base}/cast?channel=${terminal.channel}" data-cols="${terminal.width}" data-rows="${terminal.height}"></div></main>
<script src="/replay/assets/asciinema-player.min.js"></script>
<script src="/replay/assets/replay.js"></script>
</body></html>
`;
}

export function messagePage(title: string, text: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/replay/assets/replay.css"></head>
<body><main><h1>${esc(title)}</h1><p>${esc(text)}</p></main></body></html>
`;
}
