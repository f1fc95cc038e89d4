// Serves the example platform page (platform.html) for the browser tests:
// a real loopback server, so the page is a local origin like the platform's.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The dashboard origins the example page may frame (DASHBOARD_ORIGINS, space-separated).
const page = readFileSync(fileURLToPath(new URL('./platform.html', import.meta.url)), 'utf8')
  .replace('__DASHBOARD_ORIGINS__', process.env.DASHBOARD_ORIGINS ?? '');
const port = Number(process.env.HOST_PORT ?? 3108);
createServer((req, res) => {
  if (req.url.startsWith('/platform.html')) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page);
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  }
}).listen(port, '0.0.0.0');
