// A real OpenID Connect provider for the portal's tests (npm package `oidc-provider`).
//
//   node tests/sso/oidc_provider.mjs <port>
//
// Environment:
//   OIDC_TEST_ACCOUNTS       JSON file {"alice": {"password", "email", "name", "groups": [...]}, ...},
//                            read at every login and every token, so a test can change a
//                            person's groups between two logins
//   OIDC_TEST_REDIRECT_URIS  comma-separated redirect URIs of the portal (…/oidc/callback/)
//   OIDC_TEST_LOGOUT_URIS    comma-separated post-logout redirect URIs
//
// One confidential client (`itsm-portal` / `itsm-secret`), authorization code flow, PKCE required
// (S256). The login page is a plain login/password form with a Cancel button (the person refuses).
// Prints "ready" when listening; logs one line per authorization request it refuses.

import { readFileSync } from 'node:fs';
import http from 'node:http';
import { parse } from 'node:querystring';

import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;
const list = (name) => (process.env[name] || '').split(',').filter(Boolean);
const accounts = () => JSON.parse(readFileSync(process.env.OIDC_TEST_ACCOUNTS, 'utf8'));

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>${escape(title)}</title></head><body><h1>${escape(title)}</h1>${body}</body></html>`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'itsm-portal',
      client_secret: 'itsm-secret',
      redirect_uris: list('OIDC_TEST_REDIRECT_URIS'),
      post_logout_redirect_uris: list('OIDC_TEST_LOGOUT_URIS'),
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_post',
    },
  ],
  pkce: { required: () => true },
  // The claims go into the ID token as well as userinfo (as Entra ID and Keycloak do).
  conformIdTokenClaims: false,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username', 'groups'],
  },
  cookies: { keys: ['test-only-cookie-key'] },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = page('Sign out', `${form}
<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`);
      },
      postLogoutSuccessSource: async (ctx) => {
        ctx.body = page('Signed out', '<p>You are signed out.</p>');
      },
    },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (ctx, sub) => {
    const account = accounts()[sub];
    if (!account) return undefined;
    return {
      accountId: sub,
      claims: async () => {
        const current = accounts()[sub] || account;
        const [given, ...family] = (current.name || '').split(' ');
        return {
          sub,
          preferred_username: sub,
          email: current.email,
          email_verified: current.email_verified ?? true,
          name: current.name,
          given_name: given,
          family_name: family.join(' '),
          groups: current.groups || [],
        };
      },
    };
  },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Error', `<p id="error">${escape(out.error)}: ${escape(out.error_description)}</p>`);
  },
});

provider.on('authorization.error', (ctx, error) => {
  console.log(`authorization refused: ${error.error} ${error.error_description}`);
});
provider.on('grant.error', (ctx, error) => {
  console.log(`token refused: ${error.error} ${error.error_description}`);
});

function loginForm(uid, error = '') {
  return page('Sign in to the test provider', `
${error ? `<p id="error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
  <label>Login <input name="login" autofocus></label>
  <label>Password <input name="password" type="password"></label>
  <button type="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${uid}/abort"><button type="submit">Cancel</button></form>`);
}

function readBody(req) {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (chunk) => { data += chunk; });
    req.on('end', () => resolve(parse(data)));
  });
}

async function consent(req, res, interaction) {
  const { prompt: { details }, params, session: { accountId } } = interaction;
  const grant = interaction.grantId
    ? await provider.Grant.find(interaction.grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(details.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

async function interaction(req, res) {
  const [, , uid, action] = req.url.split('?')[0].split('/');
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') {
    if (details.prompt.name === 'consent') return consent(req, res, details);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    return res.end(loginForm(uid));
  }
  const form = await readBody(req);
  if (action === 'abort') {
    const refused = { error: 'access_denied', error_description: 'End-User aborted interaction' };
    return provider.interactionFinished(req, res, refused, { mergeWithLastSubmission: false });
  }
  const account = accounts()[form.login];
  if (!account || account.password !== form.password) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    return res.end(loginForm(uid, 'Invalid login or password.'));
  }
  return provider.interactionFinished(
    req, res, { login: { accountId: form.login } }, { mergeWithLastSubmission: false },
  );
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((error) => {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`interaction failed: ${error.message}`);
    });
  } else {
    callback(req, res);
  }
});
server.listen(port, '127.0.0.1', () => console.log('ready'));
process.on('SIGTERM', () => process.exit(0));
