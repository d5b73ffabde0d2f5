// redis.test.mjs's tests, every one, with a client of the `redis` package's 6.x release
// (the alias redis6 in package.json; see redis-client.mjs).
process.env.WASM_QUOTA_TEST_REDIS_MAJOR = "6";
await import("./redis.test.mjs");
