import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import 'graphiql/graphiql.css';
import { buildSchema } from 'graphql';
import { createClient } from 'graphql-ws';
import { useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import schemaText from '../../schema/schema.graphql';
import { EXAMPLE_TABS } from './example-operations';
import './ide.css';

const TOKEN_KEY = 'tams-graphiql-token';

/**
 * The page is served at the GraphQL endpoint itself (GET with Accept: text/html), so its own
 * URL is where operations go, over HTTP and, for subscriptions, over WebSocket.
 */
const endpoint = `${location.origin}${location.pathname}`;
const socketUrl = endpoint.replace(/^http/, 'ws');

/** The schema the gateway was built with: the IDE needs no introspection (often off). */
const schema = buildSchema(schemaText);

function readToken(): string {
  try {
    return localStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

function saveToken(token: string): void {
  try {
    if (token === '') localStorage.removeItem(TOKEN_KEY);
    else localStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Storage refused (private mode, quota): the token still works until the page is closed.
  }
}

function authorizationOf(token: string): Record<string, string> {
  return token === '' ? {} : { authorization: `Bearer ${token}` };
}

function TokenField({ token, onChange }: { token: string; onChange: (token: string) => void }) {
  return (
    <label className="tams-ide-token">
      <span>Bearer token</span>
      <input
        id="token"
        type="password"
        autoComplete="off"
        spellCheck={false}
        placeholder="none: anonymous (npm run token -- --scopes read,write)"
        value={token}
        onChange={(event) => onChange(event.target.value.trim().replace(/^bearer\s+/i, ''))}
      />
    </label>
  );
}

function Ide() {
  const [token, setToken] = useState(readToken);
  useEffect(() => saveToken(token), [token]);
  // A WebSocket authenticates once, at connection_init: a new token needs a new connection.
  const wsClient = useMemo(
    () => createClient({ url: socketUrl, lazy: true, connectionParams: authorizationOf(token), retryAttempts: 3 }),
    [token],
  );
  useEffect(() => () => void wsClient.dispose(), [wsClient]);
  const fetcher = useMemo(
    () => createGraphiQLFetcher({ url: endpoint, wsClient, headers: authorizationOf(token), enableIncrementalDelivery: false }),
    [token, wsClient],
  );
  return (
    <div className="tams-ide">
      <header className="tams-ide-bar">
        <strong>TAMS gateway GraphQL</strong>
        <code title="HTTP and WebSocket (graphql-ws) endpoint">{endpoint}</code>
        <TokenField token={token} onChange={setToken} />
      </header>
      <main className="tams-ide-editor">
        <GraphiQL fetcher={fetcher} schema={schema} defaultTabs={EXAMPLE_TABS} isHeadersEditorEnabled defaultEditorToolsVisibility="variables" />
      </main>
    </div>
  );
}

const root = document.getElementById('root');
if (root === null) throw new Error('index.html has no #root element');
createRoot(root).render(<Ide />);
