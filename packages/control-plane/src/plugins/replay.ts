// Replay of recorded terminals: the asciicast of a session (/v1, admin token), and a browser page
// (/replay) that plays it with asciinema-player served from the npm package's own files.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { SessionSummary } from '@chaperone/core/api';
import { isChaperoneError } from '@chaperone/core/errors';
import { buildAsciicast, formatAsciicast, listTerminals, type Asciicast, type TerminalInfo } from '@chaperone/core/records/asciicast';
import { cpError } from '../errors.js';
import { messagePage, PAGE_CSS, PAGE_HEADERS, REPLAY_SCRIPT, replayPage } from '../replay/page.js';
import { ReplayTickets } from '../replay/tickets.js';
import type { Store } from '../store/store.js';
import { requireAdmin } from './auth.js';
import { bearerSecurity, errorResponses } from './schemas.js';

export interface ReplayOptions {
  store: Store;
  adminToken: string | undefined;
}

export const VIEW_COOKIE = 'chaperone_replay';
export const ASCIICAST_TYPE = 'application/x-asciicast';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 200 } } } as const;
const channelQuery = { type: 'object', additionalProperties: false, properties: { channel: { type: 'integer', minimum: 0 } } } as const;

/** The player's files, read once from the asciinema-player package (no CDN: the control plane may have no internet). */
async function loadAssets(): Promise<Map<string, { type: string; body: string | Buffer }>> {
  const require = createRequire(import.meta.url);
  const file = (name: string) => readFile(require.resolve(`asciinema-player/dist/bundle/${name}`));
  return new Map<string, { type: string; body: string | Buffer }>([
    ['asciinema-player.min.js', { type: 'text/javascript; charset=utf-8', body: await file('asciinema-player.min.js') }],
    ['asciinema-player.css', { type: 'text/css; charset=utf-8', body: await file('asciinema-player.css') }],
    ['replay.js', { type: 'text/javascript; charset=utf-8', body: REPLAY_SCRIPT }],
    ['replay.css', { type: 'text/css; charset=utf-8', body: PAGE_CSS }],
  ]);
}

function cookieValue(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export const replayPlugin: FastifyPluginAsync<ReplayOptions> = async (app, { store, adminToken }) => {
  const tickets = new ReplayTickets(adminToken);
  const assets = await loadAssets();

  async function castFor(id: string, channel: number | undefined): Promise<{ session: SessionSummary; channel: number; cast: Asciicast; terminals: TerminalInfo[] }> {
    const session = await store.getSession(id);
    if (!session) throw cpError('SESSIONS_ERR_NOT_FOUND', `no session ${id}`);
    const records = await store.listRecords(id);
    const r = buildAsciicast(records, channel);
    if (!r.ok) throw cpError(r.code, `session ${id}: ${r.message}`, { terminals: r.terminals });
    return { session, channel: r.channel, cast: r.cast, terminals: listTerminals(records) };
  }

  /** The admin bearer token (CLI, scripts) or this session's view cookie (a browser). */
  function mayView(request: FastifyRequest, id: string): boolean {
    if (adminToken === undefined) return true;
    try {
      requireAdmin(request, adminToken);
      return true;
    } catch {
      const cookie = cookieValue(request, VIEW_COOKIE);
      return cookie !== undefined && tickets.check(cookie, 'view', id).ok;
    }
  }

  app.get<{ Params: { id: string }; Querystring: { channel?: number } }>('/v1/sessions/:id/cast', {
    schema: {
      summary: 'A recorded terminal of the session as asciicast v2 (the first one, or the one on `channel`)',
      tags: ['sessions'],
      security: bearerSecurity,
      params: idParams,
      querystring: channelQuery,
      response: {
        200: { description: 'asciicast v2: a JSON header line, then one `[seconds, code, data]` line per event', content: { [ASCIICAST_TYPE]: { schema: { type: 'string' } } } },
        ...errorResponses(400, 401, 404),
      },
    },
  }, async (request, reply) => {
    requireAdmin(request, adminToken);
    const { cast } = await castFor(request.params.id, request.query.channel);
    return reply.type(ASCIICAST_TYPE).send(formatAsciicast(cast));
  });

  app.post<{ Params: { id: string }; Querystring: { channel?: number } }>('/v1/sessions/:id/replay-ticket', {
    schema: {
      summary: 'A one-time link (valid for a minute) that opens the session\'s replay page in a browser',
      tags: ['sessions'],
      security: bearerSecurity,
      params: idParams,
      querystring: channelQuery,
      response: {
        200: {
          type: 'object', required: ['path', 'expiresAt'],
          properties: { path: { type: 'string', description: 'append to the control plane\'s URL' }, expiresAt: { type: 'string', format: 'date-time' } },
        },
        ...errorResponses(400, 401, 404),
      },
    },
  }, async (request) => {
    requireAdmin(request, adminToken);
    const { session, channel } = await castFor(request.params.id, request.query.channel);
    const { token, expiresAt } = tickets.issue('ticket', session.id);
    const q = new URLSearchParams({ ticket: token, channel: String(channel) });
    return { path: `/replay/${encodeURIComponent(session.id)}?${q}`, expiresAt: new Date(expiresAt).toISOString() };
  });

  const hidden = { hide: true } as const;
  const html = (reply: FastifyReply, status: number, body: string) => reply.code(status).headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(body);
  const denied = (reply: FastifyReply, id: string) => html(reply, 401, messagePage('Replay link expired',
    `This replay needs a fresh link: run \`chaperone sessions replay ${id} --web\` and open the URL it prints (links work once, for a minute).`));

  app.get<{ Params: { id: string }; Querystring: { ticket?: string; channel?: string } }>('/replay/:id', { schema: hidden }, async (request, reply) => {
    const { id } = request.params;
    const channelText = request.query.channel;
    const channel = channelText !== undefined && /^\d{1,9}$/.test(channelText) ? Number(channelText) : undefined;
    const path = `/replay/${encodeURIComponent(id)}`;
    const ticket = request.query.ticket;
    if (ticket !== undefined) {
      // Swap the one-time ticket for a cookie, then reload without it so the ticket leaves the address bar.
      if (!tickets.check(ticket, 'ticket', id).ok) return denied(reply, id);
      const view = tickets.issue('view', id);
      const secure = request.protocol === 'https' ? '; Secure' : '';
      reply.header('set-cookie', `${VIEW_COOKIE}=${view.token}; Path=${path}; Max-Age=${Math.floor((view.expiresAt - Date.now()) / 1000)}; HttpOnly; SameSite=Strict${secure}`);
      return reply.code(303).headers(PAGE_HEADERS).redirect(channel === undefined ? path : `${path}?channel=${channel}`, 303);
    }
    if (!mayView(request, id)) return denied(reply, id);
    try {
      const { session, cast, terminals, channel: shown } = await castFor(id, channel);
      const terminal = terminals.find((t) => t.channel === shown) ?? { channel: shown, width: cast.header.width, height: cast.header.height, startedAt: session.startedAt, events: cast.events.length };
      return html(reply, 200, replayPage(session, terminal, terminals));
    } catch (err) {
      if (isChaperoneError(err) && (err.code === 'SESSIONS_ERR_NOT_FOUND' || err.code === 'REPLAY_ERR_NO_TERMINAL')) return html(reply, 404, messagePage('Nothing to replay', err.message));
      throw err;
    }
  });

  app.get<{ Params: { id: string }; Querystring: { channel?: number } }>('/replay/:id/cast', { schema: { ...hidden, params: idParams, querystring: channelQuery } }, async (request, reply) => {
    if (!mayView(request, request.params.id)) throw cpError('AUTH_ERR_ADMIN_REQUIRED', 'this replay needs a fresh link from `chaperone sessions replay ID --web`');
    const { cast } = await castFor(request.params.id, request.query.channel);
    return reply.headers({ 'cache-control': 'no-store' }).type(ASCIICAST_TYPE).send(formatAsciicast(cast));
  });

  // The player's own files: public, as any static library is; they hold nothing of a session.
  app.get<{ Params: { name: string } }>('/replay/assets/:name', { schema: hidden }, async (request, reply) => {
    const asset = assets.get(request.params.name);
    if (!asset) throw cpError('API_ERR_NOT_FOUND', `no asset ${request.params.name}`);
    return reply.headers({ 'cache-control': 'public, max-age=3600', 'x-content-type-options': 'nosniff' }).type(asset.type).send(asset.body);
  });
};
