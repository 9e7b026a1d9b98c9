// Builds a Postgres connection string from several secrets of the "database" vault. The password is
// URL-encoded, so characters such as "@", "/", ":" or "#" cannot break the URL.
// Deployed with exposeSecrets: false (the default), the password comes back as [REDACTED]: a real
// function would use the URL rather than return it.
export default async () => {
  const s = await tailor.secretmanager.getSecrets("database", ["host", "port", "user", "password", "dbname"]);
  for (const name of ["host", "user", "password", "dbname"]) {
    if (s[name] === undefined) throw new Error(`the database vault has no "${name}" secret`);
  }
  const port = s.port ?? "5432";
  const url = `postgres://${encodeURIComponent(s.user)}:${encodeURIComponent(s.password)}@${s.host}:${port}/${encodeURIComponent(s.dbname)}?sslmode=require`;
  console.log(`connecting to ${s.host}:${port}/${s.dbname} as ${s.user}`);
  return { url };
};
