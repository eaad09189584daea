// Copies files the compiled code reads at run time (email templates) next to it in dist/.
import fs from 'node:fs';

fs.cpSync('channels/email/templates', 'dist/channels/email/templates', { recursive: true });
