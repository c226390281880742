#!/usr/bin/env node
console.log('qemu-lite: not built yet');
