#!/usr/bin/env node
/**
 * Entry point. libuv's thread pool runs every file operation and fsync; its default of 4 threads would
 * serialise the fsyncs of concurrent uploads. It must be sized before its first use, hence this file
 * sets it and only then loads the commands.
 */
process.env.UV_THREADPOOL_SIZE ??= '16';
await import('./commands.js');
