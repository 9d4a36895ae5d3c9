/**
 * The reference for the overhead benchmark: the least a program can do to extract a folder with the same
 * openai client — read each file, ask once with the schema as a structured output, parse the answer, write
 * the result atomically (temp file, fsync, rename) — with `concurrency` requests in flight. No state, no
 * retries, no validation, no progress: what the product costs on top of this is its overhead.
 *
 *   node dist-bench/bench/bareClient.js <folder> <out> <baseURL> <concurrency> <schema.json>
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import OpenAI from 'openai';

async function main(): Promise<void> {
  const [root, out, baseURL, conc, schemaFile] = process.argv.slice(2);
  const schema = JSON.parse(fs.readFileSync(schemaFile, 'utf8')) as Record<string, unknown>;
  const client = new OpenAI({ baseURL, apiKey: 'bench', maxRetries: 0 });
  const files = fs.readdirSync(root).filter((f) => f.endsWith('.txt'));
  fs.mkdirSync(out, { recursive: true });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const name = files[next++];
      const text = await fs.promises.readFile(path.join(root, name), 'utf8');
      const r = await client.chat.completions.create({
        model: 'bench-model',
        messages: [
          { role: 'system', content: 'Extract the fields of the schema from the document.' },
          { role: 'user', content: `Document: ${name}\n\n${text}` },
        ],
        response_format: { type: 'json_schema', json_schema: { name: 'extraction', schema, strict: true } },
      });
      const value = JSON.parse(r.choices[0].message.content ?? 'null') as unknown;
      const target = path.join(out, `${name}.json`);
      const tmp = `${target}.tmp`;
      const fh = await fs.promises.open(tmp, 'w');
      await fh.writeFile(JSON.stringify(value, null, 2));
      await fh.sync();
      await fh.close();
      await fs.promises.rename(tmp, target);
    }
  };
  await Promise.all(Array.from({ length: Number(conc) }, worker));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
