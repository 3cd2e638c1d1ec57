#!/usr/bin/env node
// The paprec CLI: the compiled TypeScript lives in dist/ (built by `npm ci` / `npm run build`).
import { main } from '../dist/cli/main.js';

await main();
