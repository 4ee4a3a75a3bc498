import type { Child, FC, PropsWithChildren } from 'hono/jsx';

/** The sections of the console, in navigation order: path and label. */
export const SECTIONS = [
  { path: '/failures', label: 'Failures' },
  { path: '/incidents', label: 'Incidents' },
  { path: '/flaky', label: 'Flaky jobs' },
  { path: '/spend', label: 'Spend' },
  { path: '/breakers', label: 'Breakers' },
  { path: '/github-app', label: 'GitHub App' },
] as const;

/**
 * The console's style sheet: system fonts, tables, a visible focus ring on everything that takes
 * focus (WCAG 2.2 SC 2.4.7), status colours that also carry text (never colour alone).
 */
// No quotes, `<`, `>` or `&` in it: JSX escapes the text of `<style>` like any text, and a style
// element's text is not unescaped by browsers.
const CSS = `
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #ffffff; --panel: #f6f8fa; --accent: #0969da; --bad: #cf222e; --good: #1a7f37; --warn: #9a6700; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, Segoe UI, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; border-radius: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--bg); padding: 8px; }
.skip:focus { left: 8px; }
header { display: flex; gap: 24px; align-items: center; padding: 10px 24px; border-bottom: 1px solid var(--line); background: var(--panel); }
header .brand { font-weight: 700; color: var(--fg); text-decoration: none; }
header .signout { margin: 0 0 0 auto; display: flex; gap: 8px; }
header .signout button { background: var(--bg); color: var(--fg); border-color: var(--line); }
nav ul { display: flex; gap: 4px; list-style: none; margin: 0; padding: 0; }
nav a { display: block; padding: 4px 10px; border-radius: 6px; text-decoration: none; color: var(--fg); }
nav a[aria-current=page] { background: var(--accent); color: #fff; }
main { padding: 16px 24px 48px; max-width: 1280px; }
h1 { font-size: 20px; margin: 8px 0 16px; }
h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 0 6px; border-radius: 10px; border: 1px solid var(--line); font-size: 12px; white-space: nowrap; }
.badge.bad { color: var(--bad); border-color: var(--bad); }
.badge.good { color: var(--good); border-color: var(--good); }
.badge.warn { color: var(--warn); border-color: var(--warn); }
form.filters { display: flex; flex-wrap: wrap; gap: 12px; align-items: end; margin-bottom: 16px; padding: 12px; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; }
form.filters div, form.action div { display: flex; flex-direction: column; gap: 2px; }
label { font-weight: 600; font-size: 12px; }
input, select, button { font: inherit; padding: 4px 8px; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
form.action { display: flex; gap: 8px; align-items: end; margin: 8px 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
pre { margin: 0; }
.excerpt { border: 1px solid var(--line); border-radius: 6px; background: var(--panel); overflow-x: auto; }
.excerpt table { width: auto; min-width: 100%; }
.excerpt td { border: 0; padding: 0 8px; font: 12px/1.5 ui-monospace, SFMono-Regular, Menlo, monospace; white-space: pre; }
.excerpt td.ln { color: var(--muted); text-align: right; user-select: none; border-right: 1px solid var(--line); }
.plan { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; white-space: pre-wrap; font: 13px/1.5 ui-monospace, SFMono-Regular, Menlo, monospace; }
.timeline svg, .chart svg { max-width: 100%; height: auto; }
.history { display: flex; gap: 3px; flex-wrap: wrap; list-style: none; padding: 0; }
.history li { width: 18px; height: 18px; border-radius: 3px; }
.history li.fail { background: var(--bad); }
.history li.pass { background: var(--good); }
.pager { display: flex; gap: 16px; margin-top: 12px; }
.notice { padding: 8px 12px; border: 1px solid var(--accent); border-radius: 6px; margin-bottom: 12px; }
.notice.error { border-color: var(--bad); color: var(--bad); }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;

/**
 * A page of the console: the navigation (the current section marked) and, given the session's
 * CSRF field as `signOut`, the sign-out form (this browser, or every session); one `<h1>`, a
 * notice, the content.
 */
export const Layout: FC<PropsWithChildren<{ title: string; section: string; notice?: Child; signOut?: Child }>> = ({ title, section, notice, signOut, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{`${title} · pitcrew console`}</title>
      {/* No favicon request (it would 404 and log a console error). */}
      <link rel="icon" href="data:," />
      <style>{CSS}</style>
    </head>
    <body>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <a class="brand" href="/failures">
          pitcrew
        </a>
        <nav aria-label="Console">
          <ul>
            {SECTIONS.map((s) => (
              <li>
                <a href={s.path} aria-current={s.path === section ? 'page' : undefined}>
                  {s.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        {signOut ? (
          <form class="signout" method="post" action="/logout" aria-label="Sign out">
            {signOut}
            <button type="submit">Sign out</button>
            <button type="submit" name="everywhere" value="1">
              Sign out everywhere
            </button>
          </form>
        ) : null}
      </header>
      <main id="main">
        <h1>{title}</h1>
        {notice}
        {children}
      </main>
    </body>
  </html>
);

/** A status as a badge whose text says it (colour only adds to it). */
export const Badge: FC<{ tone?: 'bad' | 'good' | 'warn'; children: Child }> = ({ tone, children }) => <span class={tone ? `badge ${tone}` : 'badge'}>{children}</span>;

/**
 * The links of a keyset-paged list: "First page" when this is not the first (`first`), "Next page"
 * when there is one (`next`), else "Last page".
 */
export const Pager: FC<{ first: string | null; next: string | null }> = ({ first, next }) => (
  <nav class="pager" aria-label="Pages">
    {first ? <a href={first}>First page</a> : null}
    {next ? <a href={next}>Next page</a> : <span class="muted">Last page</span>}
  </nav>
);

/**
 * A list's one-field filter form: a repository, `GET action?repo=`, with a link that clears it.
 * `what` names the list for the form's accessible name ("Filter incidents").
 */
export const RepoFilter: FC<{ action: string; what: string; repo: string; placeholder: string }> = ({ action, what, repo, placeholder }) => (
  <form class="filters" method="get" action={action} aria-label={`Filter ${what}`}>
    <div>
      <label for="repo">Repository</label>
      <input id="repo" name="repo" type="text" value={repo} placeholder={placeholder} />
    </div>
    <button type="submit">Filter</button>
    <a href={action}>Clear filters</a>
  </form>
);
