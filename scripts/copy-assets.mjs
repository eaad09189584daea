// Copies files the compiled code reads at run time (email templates, the demo page, the admin console) next to it in dist/.
import fs from 'node:fs';

fs.cpSync('channels/email/templates', 'dist/channels/email/templates', { recursive: true });
fs.cpSync('client/demo', 'dist/client/demo', { recursive: true });
fs.cpSync('client/console', 'dist/client/console', { recursive: true });
