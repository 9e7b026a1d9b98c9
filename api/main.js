// Entry point, in plain JavaScript so that an old Node fails here with a clear message instead of
// a syntax error: Coffer needs Node >= 22 (type stripping, and isolated-vm 6.2 for the sandbox).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(`Coffer needs Node.js >= 22.12 (this is ${process.version}). Run it through npm (npm start), which uses the Node 22 installed in node_modules.`);
  process.exit(1);
}
const { main } = await import('./server.ts');
main(process.argv.slice(2)).catch((err) => {
  console.error(`coffer: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
