// Opens a running run's page in Debian's headless Chromium and watches it go live:
//   node run-page.mjs URL SCREENSHOT
// 1. the badge says `running`; prints `seen running` (the test then lets the run finish);
// 2. within a bound, the badge says `completed` in the same document (no reload);
// 3. the histogram's bars are there; a full-page screenshot goes to SCREENSHOT;
// 4. the page's "JSON" and "CSV" downloads hold the counts `GET /api/runs/{id}` answers;
//    prints `downloads equal the API's counts`;
// 5. in a browser in Asia/Kolkata (UTC+05:30), the page script shows each <time> in local
//    time — the text is the datetime in +05:30, its `datetime` attribute still UTC and the UTC
//    text kept in `title`; prints `times localized`;
// 6. with JavaScript disabled, the times stay as served: UTC text, no `title`; prints
//    `without script: UTC`.
// Exits 0 on success, 1 with the reason on stderr otherwise.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { launch, persistentContext } from "./chromium.mjs";

const ZONE = "Asia/Kolkata";
const LOCALE = "en-GB";

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node run-page.mjs URL SCREENSHOT");
  process.exit(2);
}
const { context, close } = await persistentContext();
try {
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.goto(url, { waitUntil: "load", timeout: 15_000 });
  const first = await page.locator("#status").textContent();
  if (first !== "running") throw new Error(`the badge first says ${first}, not running`);
  await page.evaluate(() => { window.qrunSameDocument = true; });
  console.log("seen running");
  await page.waitForFunction(
    () => document.getElementById("status")?.textContent === "completed",
    null,
    { timeout: 30_000 },
  );
  if (!(await page.evaluate(() => window.qrunSameDocument === true))) {
    throw new Error("the page reloaded");
  }
  await page.locator("svg.histogram rect.bar").first().waitFor({ timeout: 10_000 });
  const bars = await page.locator("svg.histogram rect.bar").count();
  if (problems.length) throw new Error(`console errors: ${problems.join(" | ")}`);
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`completed without a reload; ${bars} bars; screenshot ${screenshot}`);

  // The downloads, as a person saves them, against the API's counts.
  const id = new URL(url).pathname.split("/").pop();
  const api = await page.evaluate(async (id) => {
    const run = await (await fetch(`/api/runs/${id}`)).json();
    return run.results.counts;
  }, id);
  const saved = async (label) => {
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.click(`#results .downloads a:text-is("${label}")`),
    ]);
    return readFileSync(await download.path(), "utf8");
  };
  const json = JSON.parse(await saved("JSON")).counts;
  const [header, ...rows] = (await saved("CSV")).trim().split("\r\n");
  const csv = Object.fromEntries(rows.map((row) => {
    const [key, n] = row.split(",");
    return [key, Number(n)];
  }));
  const same = (a, b) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
  if (header !== "outcome,count") throw new Error(`the CSV starts ${header}`);
  if (!same(json, api)) throw new Error(`JSON ${JSON.stringify(json)} != API ${JSON.stringify(api)}`);
  if (!same(csv, api)) throw new Error(`CSV ${JSON.stringify(csv)} != API ${JSON.stringify(api)}`);
  console.log(`downloads equal the API's counts ${JSON.stringify(api)}`);

  // Each page's times, as a viewer in another time zone sees them, with and without script.
  const browser = await launch();
  try {
    const times = async (options) => {
      const context = await browser.newContext(options);
      const page = await context.newPage();
      await page.goto(url, { waitUntil: "load" });
      const found = await page.locator("time[datetime]").evaluateAll((all) =>
        all.map((t) => ({ datetime: t.getAttribute("datetime"), text: t.textContent, title: t.getAttribute("title") })));
      await context.close();
      if (found.length === 0) throw new Error("the run page shows no <time>");
      return found;
    };
    // What the script must show: the same instant in the zone, as the page formats it.
    const local = (datetime) => new Date(datetime).toLocaleString(LOCALE, {
      timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
      minute: "2-digit", second: "2-digit", timeZoneName: "short",
    });
    const utc = (datetime) => `${datetime.slice(0, 10)} ${datetime.slice(11, 23)} UTC`;
    for (const t of await times({ timezoneId: ZONE, locale: LOCALE })) {
      if (!t.datetime.endsWith("+00:00")) throw new Error(`datetime ${t.datetime} is not UTC`);
      if (t.text !== local(t.datetime) || !t.text.includes("GMT+5:30")) {
        throw new Error(`${t.datetime} shows "${t.text}" in ${ZONE}, not "${local(t.datetime)}"`);
      }
      if (t.title !== utc(t.datetime)) throw new Error(`its title is "${t.title}", not the UTC text`);
    }
    const shown = await times({ timezoneId: ZONE, locale: LOCALE, javaScriptEnabled: false });
    for (const t of shown) {
      if (t.text !== utc(t.datetime) || t.title !== null) {
        throw new Error(`without script ${t.datetime} shows "${t.text}" (title ${t.title}), not the UTC text`);
      }
    }
    console.log(`times localized: ${shown[0].datetime} shows "${local(shown[0].datetime)}" in ${ZONE}`);
    console.log(`without script: UTC ("${shown[0].text}")`);
  } finally {
    await browser.close();
  }
} catch (error) {
  console.error(`browser: ${error.message}`);
  process.exitCode = 1;
} finally {
  await close();
}
