// Accessibility of every page in Debian's headless Chromium, with axe-core (WCAG 2.2 AA):
//   node a11y.mjs BASE_URL TOKEN SCREENSHOT_DIR PAGES_JSON KEYBOARD_PATH [OPERATOR_TOKEN]
// PAGES_JSON is a list of {"name", "path", "as"[, "submit"][, "open"]}: "as" is "user" (signed
// in with TOKEN, analytics declined), "operator" (signed in with OPERATOR_TOKEN), "visitor"
// (anonymous, analytics declined) or "newcomer" (anonymous, no choice yet: the consent banner
// shows). A page a form post leads to has "submit": {"form": SELECTOR, "fields": {NAME: VALUE}}
// — the form on PATH is filled and posted as the browser posts it, without its constraint
// validation (so the server's refusal is the page checked); "open": SELECTOR opens that
// <details> (a page's expanded state). Each page is checked in light and dark
// (prefers-color-scheme) at 1100 px and 390 px wide:
//   - axe-core finds no violation of WCAG 2.0/2.1/2.2 A and AA;
//   - at 390 px the page is no wider than the viewport (documentElement.scrollWidth <= 390);
//   - a full-page screenshot goes to SCREENSHOT_DIR/a11y-NAME-SCHEME-WIDTH.png;
// printing `checked NAME` after each page; on each page, at both widths, the first Tab reaches
// the skip link and Enter on it moves focus to <main>. Then, keyboard only, on KEYBOARD_PATH (a circuit
// page, signed in) at both widths: the first Tab reaches the skip link, Enter on it moves
// focus to <main>, the run form is reached within a few stops, and the source is a single
// stop (its line numbers are not tab stops); prints `keyboard WIDTH: run form at stop N`.
// Ends with `done`. Exits 1 with every problem on stderr (console errors and CSP refusals
// included).
//
// axe-core is injected with page.evaluate (CDP's Runtime.evaluate), which the pages' strict
// CSP does not govern; addScriptTag({content}) would add an inline <script> the CSP refuses.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { launch } from "./chromium.mjs";

const [base, token, shots, pagesJson, keyboardPath, operatorToken] = process.argv.slice(2);
if (!base || !token || !shots || !pagesJson || !keyboardPath) {
  console.error("usage: node a11y.mjs BASE_URL TOKEN SCREENSHOT_DIR PAGES_JSON KEYBOARD_PATH [OPERATOR_TOKEN]");
  process.exit(2);
}
const pages = JSON.parse(pagesJson);
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"];
const WIDTHS = [{ width: 1100, height: 900 }, { width: 390, height: 844 }];
// Stops before the run form at most: skip link, brand, Dashboard, My runs, My circuits, Jobs,
// Tokens, Log out, then the form's first field.
const MAX_STOPS_TO_FORM = 9;

const problems = [];
const browser = await launch();

/// A browser context for `who`: its cookies set as that visitor's would be.
const contexts = new Map();
const contextFor = async (who) => {
  if (contexts.has(who)) return contexts.get(who);
  const context = await browser.newContext({ viewport: WIDTHS[0] });
  if (who !== "newcomer") {
    await context.addCookies([{ name: "qrun_consent", value: "denied", url: base }]);
  }
  if (who === "user" || who === "operator") {
    const page = await context.newPage();
    await page.goto(`${base}/login?next=/`);
    await page.getByLabel("API token").fill(who === "user" ? token : operatorToken);
    await Promise.all([page.waitForURL(`${base}/`), page.click("form.login button")]);
    await page.close();
  }
  contexts.set(who, context);
  return context;
};

// The page's own error status (a 404 page, a 401 page) is logged by Chromium as a console
// error: expected, and only that one.
let answered = 200;
const watch = (page, where) => {
  page.on("response", (r) => {
    if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) answered = r.status();
  });
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    if (answered >= 400 && m.text().includes(`responded with a status of ${answered} `)) return;
    problems.push(`${where()}: console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`${where()}: ${e}`));
};

/// Shows `path` as the entry says: loaded, then its form posted (`submit`) or a <details>
/// opened (`open`).
const show = async (page, { path, submit, open }) => {
  const response = await page.goto(`${base}${path}`, { waitUntil: "load" });
  if (!response) throw new Error("no response");
  if (submit) {
    await Promise.all([
      page.waitForNavigation({ waitUntil: "load" }),
      page.evaluate(({ form, fields }) => {
        const element = document.querySelector(form);
        if (!element) throw new Error(`no form ${form}`);
        for (const [name, value] of Object.entries(fields)) element.elements.namedItem(name).value = value;
        HTMLFormElement.prototype.submit.call(element);
      }, submit),
    ]);
  }
  if (open) await page.evaluate((selector) => { document.querySelector(selector).open = true; }, open);
};

/// Keyboard only, on every page: the first Tab reaches the skip link and Enter on it moves
/// focus to the page's <main>.
const skipsToMain = async (page, where) => {
  await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  await page.keyboard.press("Tab");
  const first = await page.evaluate(() => document.activeElement?.classList.contains("skip") ?? false);
  if (!first) {
    problems.push(`${where}: the first Tab does not reach the skip link`);
    return;
  }
  await page.keyboard.press("Enter");
  const main = await page.evaluate(() => document.activeElement?.id === "page");
  if (!main) problems.push(`${where}: the skip link does not move focus to <main>`);
};

try {
  for (const entry of pages) {
    const { name, as: who } = entry;
    const page = await (await contextFor(who)).newPage();
    let where = name;
    watch(page, () => where);
    for (const scheme of ["light", "dark"]) {
      for (const size of WIDTHS) {
        where = `${name} (${scheme}, ${size.width} px)`;
        await page.setViewportSize(size);
        await page.emulateMedia({ colorScheme: scheme });
        await show(page, entry).catch((e) => { throw new Error(`${where}: ${e.message}`); });
        // Hold the page still while axe reads it: the live script's refreshes never land.
        await page.evaluate(() => { window.fetch = () => new Promise(() => {}); });
        await page.evaluate(axeSource);
        const violations = await page.evaluate(async (tags) => {
          const result = await window.axe.run(document, {
            runOnly: { type: "tag", values: tags },
            resultTypes: ["violations"],
          });
          return result.violations.map((v) =>
            `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).slice(0, 5).join(" | ")}`);
        }, WCAG);
        for (const v of violations) problems.push(`${where}: ${v}`);
        if (size.width === 390) {
          const wide = await page.evaluate(() => document.documentElement.scrollWidth);
          if (wide > 390) problems.push(`${where}: ${wide} px wide, wider than the viewport`);
        }
        await page.screenshot({ path: join(shots, `a11y-${name}-${scheme}-${size.width}.png`), fullPage: true });
        if (scheme === "light") await skipsToMain(page, where);
      }
    }
    await page.close();
    console.log(`checked ${name}`);
  }

  // Keyboard only, on a large circuit's page.
  const page = await (await contextFor("user")).newPage();
  watch(page, () => "keyboard");
  for (const size of WIDTHS) {
    await page.setViewportSize(size);
    await page.goto(`${base}${keyboardPath}`, { waitUntil: "load" });
    const focused = () => page.evaluate(() => {
      const e = document.activeElement;
      return {
        skip: e?.classList.contains("skip") ?? false,
        main: e?.id === "page",
        form: !!e?.closest("form.run"),
        source: !!e?.closest(".source"),
        tag: e ? `${e.tagName.toLowerCase()}${e.className ? "." + e.className : ""}` : "none",
      };
    });
    await page.keyboard.press("Tab");
    const first = await focused();
    if (!first.skip) problems.push(`keyboard ${size.width}: the first Tab reaches ${first.tag}, not the skip link`);
    await page.keyboard.press("Enter");
    if (!(await focused()).main) problems.push(`keyboard ${size.width}: the skip link does not move focus to <main>`);
    await page.goto(`${base}${keyboardPath}`, { waitUntil: "load" });
    let stop = 0;
    let reached = false;
    while (stop < 40 && !reached) {
      await page.keyboard.press("Tab");
      stop += 1;
      reached = (await focused()).form;
    }
    if (!reached || stop > MAX_STOPS_TO_FORM) {
      problems.push(`keyboard ${size.width}: the run form is ${reached ? `at stop ${stop}` : "not reached in 40 stops"} (at most ${MAX_STOPS_TO_FORM})`);
    }
    // The source is one stop, however long: its line numbers are not tab stops.
    const stops = await page.evaluate(() =>
      [...document.querySelectorAll(".source, .source *")].filter((e) => e.tabIndex >= 0).length);
    if (stops !== 1) problems.push(`keyboard ${size.width}: the source has ${stops} tab stops`);
    const lines = await page.locator(".source .line").count();
    console.log(`keyboard ${size.width}: run form at stop ${stop}; ${lines} source lines, ${stops} tab stop`);
  }
  await page.close();
  if (problems.length) throw new Error(`${problems.length} problems:\n${problems.join("\n")}`);
  console.log("done");
} catch (error) {
  console.error(`browser: ${error.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
