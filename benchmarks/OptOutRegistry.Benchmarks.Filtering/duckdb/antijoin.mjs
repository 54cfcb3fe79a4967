// DuckDB's side of the filtering benchmark: the exact-URL anti-join a data engineer would write, records JSON Lines
// in, the kept records JSON Lines out. Usage: node antijoin.mjs RECORDS.jsonl URLS.txt OUT.jsonl [threads]
import { DuckDBInstance } from '@duckdb/node-api';
import { statSync } from 'node:fs';

const [records, urls, out, threads = '2'] = process.argv.slice(2);
const t0 = process.hrtime.bigint();
const instance = await DuckDBInstance.create(':memory:', { threads });
const db = await instance.connect();
const t1 = process.hrtime.bigint();
const quote = (s) => `'${s.replaceAll("'", "''")}'`;
await db.run(`COPY (
  SELECT r.* FROM read_json(${quote(records)}, format = 'newline_delimited') AS r
  ANTI JOIN read_csv(${quote(urls)}, header = false, columns = {'url': 'VARCHAR'}, delim = '\\t', quote = '') AS b
  ON r.url = b.url
) TO ${quote(out)} (FORMAT json)`);
const t2 = process.hrtime.bigint();
const rows = (await (await db.runAndReadAll(`SELECT count(*) FROM read_json(${quote(records)}, format = 'newline_delimited')`)).getRows())[0][0];
const kept = (await (await db.runAndReadAll(`SELECT count(*) FROM read_json(${quote(out)}, format = 'newline_delimited')`)).getRows())[0][0];
const seconds = Number(t2 - t1) / 1e9;
console.log(`duckdb threads=${threads} records=${rows} kept=${kept} removed=${BigInt(rows) - BigInt(kept)} startup_s=${(Number(t1 - t0) / 1e9).toFixed(3)} wall_s=${seconds.toFixed(3)} records_per_s=${(Number(rows) / seconds).toFixed(0)} mb_per_s=${(statSync(records).size / 1e6 / seconds).toFixed(1)}`);
