/**
 * The API reference page at `/api/docs`, rendered on the server from the same OpenAPI document
 * as `/api/openapi.json`.
 *
 * Why not `@scalar/hono-api-reference` (or Swagger UI): both are client-side apps whose page
 * loads a multi-megabyte bundle from a CDN (jsdelivr) by default. The console is an operator's
 * tool on a private port, often without internet access, and has no SPA build; a page that needs
 * a CDN would be blank there. This page is plain HTML: every operation with its parameters,
 * body, answers and their schemas (linked to the document's components), readable without
 * JavaScript.
 */

/** The parts of an OpenAPI 3.1 document this page reads. */
interface Doc {
  info: { title: string; version: string; description?: string };
  paths?: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}
interface Operation {
  tags?: string[];
  summary?: string;
  parameters?: { name: string; in: string; required?: boolean; description?: string; schema?: Schema }[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>;
}
interface Schema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  format?: string;
  description?: string;
  default?: unknown;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  minimum?: number;
  maximum?: number;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** A one-line type of a schema: `string | null`, `FailurePage`, `"a" | "b"`, `integer[]`. */
export function typeOf(schema: Schema | undefined): string {
  if (!schema) return 'any';
  if (schema.$ref) return schema.$ref.split('/').at(-1)!;
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (schema.anyOf ?? schema.oneOf) return (schema.anyOf ?? schema.oneOf)!.map(typeOf).join(' | ');
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (types.length === 0) return schema.properties ? 'object' : 'any';
  return types.map((t) => (t === 'array' ? `${typeOf(schema.items)}[]` : t)).join(' | ');
}

const anchor = (name: string) => `schema-${name}`;

function TypeLink(props: { schema: Schema | undefined }) {
  const ref = props.schema?.$ref ?? props.schema?.items?.$ref;
  const text = typeOf(props.schema);
  if (!ref) return <code>{text}</code>;
  return (
    <a href={`#${anchor(ref.split('/').at(-1)!)}`}>
      <code>{text}</code>
    </a>
  );
}

function Fields(props: { schema: Schema }) {
  const required = new Set(props.schema.required ?? []);
  const entries = Object.entries(props.schema.properties ?? {});
  if (entries.length === 0) return <p>{typeOf(props.schema)}</p>;
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">field</th>
          <th scope="col">type</th>
          <th scope="col">notes</th>
        </tr>
      </thead>
      <tbody>
        {entries.map(([name, field]) => (
          <tr>
            <td>
              <code>{name}</code>
              {required.has(name) ? '' : '?'}
            </td>
            <td>
              <TypeLink schema={field} />
            </td>
            <td>{[field.description, field.default !== undefined ? `default ${JSON.stringify(field.default)}` : null].filter(Boolean).join('; ')}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function OperationView(props: { method: string; path: string; op: Operation }) {
  const { op } = props;
  const id = `${props.method}-${props.path}`.replace(/[^A-Za-z0-9]+/g, '-');
  const body = op.requestBody?.content?.['application/json']?.schema;
  return (
    <section class="op" id={id} aria-labelledby={`${id}-h`}>
      <h3 id={`${id}-h`}>
        <span class={`method ${props.method}`}>{props.method.toUpperCase()}</span> <code>/api{props.path}</code>
      </h3>
      {op.summary ? <p>{op.summary}</p> : null}
      {op.parameters?.length ? (
        <table>
          <caption>Parameters</caption>
          <thead>
            <tr>
              <th scope="col">name</th>
              <th scope="col">in</th>
              <th scope="col">type</th>
              <th scope="col">notes</th>
            </tr>
          </thead>
          <tbody>
            {op.parameters.map((p) => (
              <tr>
                <td>
                  <code>{p.name}</code>
                  {p.required ? '' : '?'}
                </td>
                <td>{p.in}</td>
                <td>
                  <TypeLink schema={p.schema} />
                </td>
                <td>{[p.description ?? p.schema?.description, p.schema?.default !== undefined ? `default ${JSON.stringify(p.schema.default)}` : null].filter(Boolean).join('; ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {body ? (
        <div>
          <h4>JSON body{op.requestBody?.required ? '' : ' (optional)'}</h4>
          <Fields schema={body} />
        </div>
      ) : null}
      <h4>Answers</h4>
      <ul>
        {Object.entries(op.responses ?? {}).map(([status, r]) => (
          <li>
            <strong>{status}</strong> {r.description} {r.content?.['application/json'] ? <TypeLink schema={r.content['application/json'].schema} /> : null}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** The reference page of an OpenAPI 3.1 document: operations by tag, then the schemas. */
export function ApiDocsPage(props: { doc: Doc }) {
  const { doc } = props;
  const operations = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({ method, path, op: item[method]!, tag: item[method]!.tags?.[0] ?? 'other' })),
  );
  const tags = [...new Set(operations.map((o) => o.tag))];
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${doc.info.title} ${doc.info.version} · reference`}</title>
        <style>
          {'body{font:15px/1.5 system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem}table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #ccc;padding:.2rem .5rem;text-align:left;vertical-align:top}caption{text-align:left;font-weight:600}.method{font-family:monospace;padding:0 .3rem;border-radius:3px;background:#e4eefc}.method.post{background:#e3f5e1}.op{border-top:1px solid #ddd;padding-top:.5rem}nav ul{columns:2}'}
        </style>
      </head>
      <body>
        <header>
          <h1>
            {doc.info.title} <small>v{doc.info.version}</small>
          </h1>
          {doc.info.description ? <p>{doc.info.description}</p> : null}
          <p>
            OpenAPI 3.1 document: <a href="/api/openapi.json">/api/openapi.json</a>
          </p>
        </header>
        <nav aria-label="Operations">
          <ul>
            {operations.map((o) => (
              <li>
                <a href={`#${`${o.method}-${o.path}`.replace(/[^A-Za-z0-9]+/g, '-')}`}>
                  {o.method.toUpperCase()} /api{o.path}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main>
          {tags.map((tag) => (
            <section aria-labelledby={`tag-${tag}`}>
              <h2 id={`tag-${tag}`}>{tag}</h2>
              {operations
                .filter((o) => o.tag === tag)
                .map((o) => (
                  <OperationView method={o.method} path={o.path} op={o.op} />
                ))}
            </section>
          ))}
          <section aria-labelledby="schemas">
            <h2 id="schemas">Schemas</h2>
            {Object.entries(doc.components?.schemas ?? {}).map(([name, schema]) => (
              <section id={anchor(name)} aria-labelledby={`${anchor(name)}-h`}>
                <h3 id={`${anchor(name)}-h`}>{name}</h3>
                <Fields schema={schema} />
              </section>
            ))}
          </section>
        </main>
      </body>
    </html>
  );
}
