// "wasm-quota/cloudflare" resolved outside workerd: say so plainly instead of failing on the
// `cloudflare:workers` import. Bundlers for Workers (wrangler, esbuild with the "workerd"
// condition) pick entry/cloudflare.js instead.
throw new Error(
  'wasm-quota/cloudflare runs only in Cloudflare Workers (workerd); bundle with the "workerd" condition, as wrangler does',
);
