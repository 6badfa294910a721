// The peer of bench/run.sh's *-vs-peer scenarios: panva's oidc-provider configured like our token-service, so that
// both can be loaded at the same time with the same requests (bench/README.md, "Beside a peer").
//
//   BENCH_CLIENT_SECRET=... node peer.mjs <port>     (the secret in the environment, not on the command line)
//
// - RS256 with a 2048-bit RSA key generated here at every start (never written anywhere).
// - Access tokens are RS256 JWTs (resource indicators: every token is for the one resource server "api",
//   accessTokenFormat 'jwt'), 15 minutes, from client_credentials and from refresh_token alike.
// - Refresh tokens rotate on every use (rotateRefreshToken: true); presenting a used one is refused and revokes
//   its grant (oidc-provider's reuse detection). In-memory adapter (the default).
// - Clients as in our bench: "bench", confidential (client_secret_post), client_credentials with scope api;
//   "platform-app", public (no client authentication), refresh_token.
//
// The load generator needs one refresh-token chain per worker. A second listener on <port + 1>, loopback only and
// outside the provider, answers POST /refresh-tokens?count=N with N fresh refresh tokens, each on a grant of its
// own, minted through the provider's own Grant and RefreshToken models and stored by its adapter: the same records
// its authorization_code grant would create for a code-flow sign-in with scope "offline_access api". Only the
// sign-in before the first refresh is skipped; every measured request is the provider's refresh_token grant.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const [portArg] = process.argv.slice(2);
const benchSecret = process.env.BENCH_CLIENT_SECRET;
if (!portArg || !benchSecret) {
  console.error('usage: BENCH_CLIENT_SECRET=... node peer.mjs <port>');
  process.exit(2);
}
const port = Number(portArg);
const issuer = `http://127.0.0.1:${port}`;
const resource = 'urn:secureplatform:bench:api';
const accessTokenTtl = 15 * 60;

const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

const provider = new Provider(issuer, {
  jwks: { keys: [{ ...signingKey, alg: 'RS256', use: 'sig', kid: randomBytes(8).toString('hex') }] },
  clients: [
    {
      client_id: 'bench',
      client_secret: benchSecret,
      token_endpoint_auth_method: 'client_secret_post',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: 'api',
    },
    {
      client_id: 'platform-app',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/callback'],
    },
  ],
  scopes: ['offline_access', 'api'],
  rotateRefreshToken: true,
  ttl: { AccessToken: accessTokenTtl, ClientCredentials: accessTokenTtl, RefreshToken: 14 * 24 * 3600, Grant: 14 * 24 * 3600 },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // No resource parameter in the request: the one resource server (client_credentials), or the one the refresh
      // token was granted for (refresh_token).
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== resource) {
          throw new Provider.errors.InvalidTarget();
        }
        return { scope: 'api', audience: 'api', accessTokenTTL: accessTokenTtl, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
      },
    },
  },
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return { sub: id }; } };
  },
});

async function mintRefreshToken(client) {
  const accountId = `bench-${randomBytes(8).toString('hex')}`;
  const grant = new provider.Grant({ accountId, clientId: client.clientId });
  grant.addOIDCScope('offline_access');
  grant.addResourceScope(resource, 'api');
  const grantId = await grant.save();
  const refreshToken = new provider.RefreshToken({
    accountId,
    authTime: Math.floor(Date.now() / 1000),
    client,
    grantId,
    gty: 'authorization_code',
    resource,
    rotations: 0,
    scope: 'offline_access api',
  });
  return refreshToken.save();
}

const admin = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  const count = Number(url.searchParams.get('count'));
  if (req.method !== 'POST' || url.pathname !== '/refresh-tokens' || !Number.isInteger(count) || count < 1 || count > 1000) {
    res.writeHead(404).end();
    return;
  }
  try {
    const client = await provider.Client.find('platform-app');
    const tokens = [];
    for (let i = 0; i < count; i++) {
      tokens.push(await mintRefreshToken(client));
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ refresh_tokens: tokens }));
  } catch (err) {
    console.error(err);
    res.writeHead(500).end();
  }
});

provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.listen(port, '127.0.0.1', () => {
  admin.listen(port + 1, '127.0.0.1', () => console.log(`oidc-provider listening on ${issuer}, refresh tokens on 127.0.0.1:${port + 1}`));
});
