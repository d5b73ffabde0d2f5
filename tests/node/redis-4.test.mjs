// redis.test.mjs's tests, every one, with a client of the `redis` package's 4.x release
// (the alias redis4 in package.json; see redis-client.mjs).
process.env.WASM_QUOTA_TEST_REDIS_MAJOR = "4";
await import("./redis.test.mjs");
