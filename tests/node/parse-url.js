'use strict'
// Parses each connection URL given as an argument with pg-connection-string (the parser of
// node-postgres) and prints one JSON object per URL, one per line, for
// crates/fetch-env/tests/url_roundtrip.rs. A URL the parser rejects gives {"error": ...} so the
// other URLs are still reported.
const fs = require('fs')
const path = require('path')
const { parse } = require('pg-connection-string')

// The package's "exports" hide its package.json, so read it next to the resolved entry point.
const { version } = JSON.parse(
  fs.readFileSync(path.join(path.dirname(require.resolve('pg-connection-string')), 'package.json'), 'utf8')
)

const urls = process.argv.slice(2)
if (urls.length === 0) {
  console.error('usage: node parse-url.js URL...')
  process.exit(2)
}
for (const url of urls) {
  let result
  try {
    const config = parse(url)
    result = {
      user: config.user,
      password: config.password,
      host: config.host,
      port: config.port,
      database: config.database,
    }
  } catch (error) {
    result = { error: `pg-connection-string ${version}: ${error}` }
  }
  process.stdout.write(JSON.stringify(result) + '\n')
}
