#!/usr/bin/env node
import '../dist/src/cli/culex.js';
