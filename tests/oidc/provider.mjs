// A real OpenID provider for huren's single sign-on tests: oidc-provider with its development sign-in pages,
// one confidential client and a few accounts. Never used outside the tests: any password signs an account in.
//
//   OIDC_CLIENT_ID=huren OIDC_CLIENT_SECRET=... OIDC_REDIRECT_URI=http://127.0.0.1:8000/auth/oidc/callback \
//     node tests/oidc/provider.mjs 9400        (or OIDC_PORT=9400; port 0: the system picks a free one)
//
// OIDC_GROUPS_IN_ID_TOKEN=1 puts the profile and groups claims in the ID token too; by default, as the spec
// asks for the code flow, they are only in userinfo. It prints "oidc-provider ready at <issuer>" once it
// listens (the issuer names the port it got), and exits on SIGTERM or SIGINT.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import process from 'node:process';

import Provider from 'oidc-provider';

function readSetting(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} must be set`);
    process.exit(2);
  }
  return value;
}

// The people of the tests; the id is what one types at the sign-in page.
const ACCOUNTS = {
  'wang.clerk': { name: '王小明', groups: ['huren-cq-clerk'] },
  'zhang.admin': { name: '张伟', groups: ['huren-sc-admin'] },
  'li.norole': { name: '李四', groups: [] },
};

function findAccount(_ctx, id) {
  const person = ACCOUNTS[id];
  if (!person) {
    return undefined; // an unknown name is asked for again
  }
  return {
    accountId: id,
    async claims() {
      return { sub: id, preferred_username: id, name: person.name, groups: person.groups };
    },
  };
}

// A fresh signing key each start: the tests read it from jwks_uri, as a relying party does.
function createSigningKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: `test-${randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig' };
}

const port = Number(process.argv[2] ?? process.env.OIDC_PORT);
if (!Number.isInteger(port) || port < 0) {
  console.error('give the port as the first argument or OIDC_PORT');
  process.exit(2);
}

// The issuer names the port, so the provider is made once the socket listens: with port 0 the system picks
// a free port, and no other process can take it between choosing and binding (as with a port chosen outside).
function createProvider(issuer) {
  return new Provider(issuer, {
    clients: [
      {
        client_id: readSetting('OIDC_CLIENT_ID'),
        client_secret: readSetting('OIDC_CLIENT_SECRET'),
        redirect_uris: [readSetting('OIDC_REDIRECT_URI')],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: process.env.OIDC_CLIENT_AUTH_METHOD ?? 'client_secret_basic',
      },
    ],
    // A confidential client need not use PKCE in oidc-provider's default; huren always does, and a provider
    // that insists lets the tests prove the verifier is really sent.
    pkce: { required: () => true },
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    conformIdTokenClaims: process.env.OIDC_GROUPS_IN_ID_TOKEN !== '1',
    findAccount,
    jwks: { keys: [createSigningKey()] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    features: { devInteractions: { enabled: true } },
  });
}

const server = http.createServer();
server.on('error', (error) => {
  console.error(`oidc-provider could not listen: ${error.message}`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  server.on('request', createProvider(issuer).callback());
  console.log(`oidc-provider ready at ${issuer}`);
});

function stop() {
  server.closeAllConnections();
  server.close(() => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
