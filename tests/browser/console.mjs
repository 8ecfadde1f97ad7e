// Uses the console as a person would, in Debian's headless Chromium:
//   node console.mjs BASE_URL TOKEN SCREENSHOT_DIR
// Prints a line at each step the test (tests/api/pages/browser.rs) waits on or acts upon:
//   `seen live ID`      the form's run page is open on a live run (the test then releases it);
//   `completed ID`      its badge turned `completed` in the same document, histogram shown;
//   `cancelled ID`      the second run, running, was cancelled with the page's button;
//   `dashboard N`       the dashboard shows N completed (the test then completes another run);
//   `dashboard moved`   the count went past N without a reload;
//   `logged out`        "Log out" ended the session: the cookie it held, put back, is refused;
//   `done`              every page's screenshot is in SCREENSHOT_DIR (the circuit page twice:
//                       with the consent banner, and after accepting it).
// Exits 0 on success, 1 with the reason on stderr (console errors, CSP refusals included).
import { join } from "node:path";
import { persistentContext } from "./chromium.mjs";

const [base, token, shots] = process.argv.slice(2);
if (!base || !token || !shots) {
  console.error("usage: node console.mjs BASE_URL TOKEN SCREENSHOT_DIR");
  process.exit(2);
}
const { context, close } = await persistentContext();
const badge = () => document.getElementById("status")?.textContent;
try {
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(String(e)));
  const shoot = (name) => page.screenshot({ path: join(shots, name), fullPage: true });
  const runId = () => new URL(page.url()).pathname.split("/").pop();
  const sameDocument = async () => {
    if (!(await page.evaluate(() => window.qrunSameDocument === true))) {
      throw new Error(`${page.url()} reloaded`);
    }
  };

  // Sign in with the API token, then accept the consent banner on the circuit's page.
  await page.goto(`${base}/login?next=/alice/bell`);
  await page.fill("input[name=token]", token);
  await Promise.all([page.waitForURL(`${base}/alice/bell`), page.click("form.login button")]);
  await page.locator("#consent").waitFor();
  await shoot("consent-banner.png");
  await Promise.all([
    page.waitForURL(`${base}/alice/bell`),
    page.click("#consent button[value=granted]"),
  ]);
  if (await page.locator("#consent").count()) throw new Error("the banner is still there");
  await shoot("circuit.png");

  // Run it from the form; the run page follows it to `completed` without a reload.
  await page.selectOption("select[name=backend]", "command/gated");
  await page.fill("input[name=shots]", "100");
  await Promise.all([page.waitForURL(/\/alice\/bell\/runs\//), page.click("#run-form button")]);
  const first = await page.evaluate(badge);
  if (!["pending", "running"].includes(first)) throw new Error(`the new run is ${first}`);
  await page.evaluate(() => { window.qrunSameDocument = true; });
  const made = runId();
  console.log(`seen live ${made}`);
  await page.waitForFunction((s) => document.getElementById("status")?.textContent === s, "completed", { timeout: 60_000 });
  await sameDocument();
  await page.locator("svg.histogram rect.bar").first().waitFor({ timeout: 10_000 });
  if (await page.locator("text=Cancel run").count()) throw new Error("Cancel offered on a completed run");
  await shoot("run-completed.png");
  console.log(`completed ${made}`);

  // Another run, held running by its backend: cancelled with the page's button.
  await page.goto(`${base}/alice/bell`);
  await page.selectOption("select[name=backend]", "command/held");
  await page.fill("input[name=shots]", "10");
  await Promise.all([page.waitForURL(/\/alice\/bell\/runs\//), page.click("#run-form button")]);
  await page.waitForFunction((s) => document.getElementById("status")?.textContent === s, "running", { timeout: 30_000 });
  const held = runId();
  await Promise.all([page.waitForNavigation(), page.click("text=Cancel run")]);
  await page.waitForFunction((s) => document.getElementById("status")?.textContent === s, "cancelled", { timeout: 10_000 });
  if (!(await page.locator("#cancelled").textContent()).includes("by alice")) {
    throw new Error("the page does not say who cancelled");
  }
  await shoot("run-cancelled.png");
  console.log(`cancelled ${held}`);

  // The dashboard's numbers move as runs finish, without a reload.
  await page.goto(`${base}/`);
  const completed = () => Number(document.getElementById("count-completed")?.textContent);
  const before = await page.evaluate(completed);
  await page.evaluate(() => { window.qrunSameDocument = true; });
  console.log(`dashboard ${before}`);
  await page.waitForFunction((n) => Number(document.getElementById("count-completed")?.textContent) > n, before, { timeout: 30_000 });
  await sameDocument();
  await shoot("dashboard.png");
  console.log("dashboard moved");

  // My runs: all four, newest first.
  await page.goto(`${base}/runs`);
  const rows = await page.locator("#runs tbody tr").count();
  if (rows !== 4) throw new Error(`my runs lists ${rows} runs, not 4`);
  await shoot("runs.png");
  if (problems.length) throw new Error(`console errors: ${problems.join(" | ")}`);

  // Log out: the cookie holds a session of its own (never the token), which logging out
  // revokes — the same cookie, put back, no longer signs anyone in.
  const [session] = (await context.cookies(base)).filter((c) => c.name === "qrun_token");
  if (!session || !session.value.startsWith("qrun_s_") || session.value === token) {
    throw new Error("the sign-in cookie does not hold a session of its own");
  }
  await Promise.all([page.waitForURL(`${base}/login`), page.click("header form[action='/logout'] button")]);
  if (!(await page.locator("form.login").count())) throw new Error("logging out did not log out");
  await context.addCookies([session]);
  const refused = await page.goto(`${base}/runs`);
  if (refused.status() !== 401) throw new Error(`the old cookie still works: ${refused.status()}`);
  console.log("logged out");
  console.log("done");
} catch (error) {
  console.error(`browser: ${error.message}`);
  process.exitCode = 1;
} finally {
  await close();
}
