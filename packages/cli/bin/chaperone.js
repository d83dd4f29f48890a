#!/usr/bin/env node
// The chaperone command: runs the compiled CLI.
import '../dist/main.js';
