// The files `coffer init` writes: a project that `coffer run`, `coffer dev` and `coffer plan`
// accept as it is. The coffer.toml uses the shapes of the API's bodies (docs/local-development.md).

export const STARTER_TOML = `# Coffer project: vaults (secret names, never values), workspaces, grants, functions, executors.
#   coffer run functions/hello.js --args '{"name":"Ada"}' --explain   one function, on this machine
#   coffer dev                                                        all of it, locally and offline
#   coffer plan / coffer apply                                        ship it to a server
# Local values: .coffer/secrets.toml (git-ignored, mode 600) or COFFER__<VAULT>__<NAME> variables.

[vaults.app]
description = "Credentials the functions read"

[vaults.app.secrets.greeting]
description = "Words the hello function greets with"

[vaults.app.secrets.webhook-secret]
description = "The HMAC key callers sign hello-hook requests with"

[workspaces.main]
description = "Where the functions run"

[[grants]]
vault = "app"
workspace = "main"
role = "reader"

[functions.hello]
workspace = "main"
file = "functions/hello.js"
timeoutMs = 5000

# POST /hooks/main/hello-hook, signed like a GitHub webhook (X-Hub-Signature-256: sha256=<hmac of the body>).
[executors.hello-hook]
workspace = "main"
trigger = { kind = "webhook", mode = "sync", auth = { mode = "hmac", scheme = "github", secret = { vault = "app", name = "webhook-secret" } } }
target = { kind = "function", function = "hello" }
`;

export const STARTER_FUNCTION = `// An example function. Try: coffer run functions/hello.js --args '{"name":"Ada"}' --explain
// getSecret answers from COFFER__APP__GREETING, then .coffer/secrets.toml, and is undefined when
// neither has a value, exactly as on a server where the secret has none.
export default async function hello(args) {
  const greeting = (await tailor.secretmanager.getSecret('app', 'greeting')) ?? 'Hello';
  // Called directly, args is what you pass; from the webhook, the request (its JSON body in args.body).
  const name = args?.name ?? args?.body?.name ?? 'world';
  console.log('greeting', name);
  return { message: \`\${greeting}, \${name}!\` };
}
`;

export const STARTER_SECRETS_EXAMPLE = `# Copy to .coffer/secrets.toml (git-ignored) and make it private: chmod 600 .coffer/secrets.toml
# One table per vault; each key is a secret name, each value a string. A variable
# COFFER__<VAULT>__<NAME> (upper-cased, other characters as _) wins over this file.

[app]
greeting = "Hello"
webhook-secret = "a-local-signing-key-change-me"
`;

/** What `.gitignore` must hold: local values and the data of \`coffer dev\` never go in the repository. */
export const GITIGNORE_LINES = ['.coffer/secrets.toml', '.coffer/data/'];
