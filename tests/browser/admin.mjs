// An operator finds a run by its id prefix and cancels it, and an ordinary user finds no
// operator page, in Debian's headless Chromium:
//   node admin.mjs BASE_URL OPERATOR_TOKEN USER_TOKEN RUN_ID SCREENSHOT_DIR
// Prints a line at each step the test (tests/api/pages/admin.rs) waits on:
//   `hidden`        signed in as the ordinary user, /admin/runs is a 404 and no link leads there;
//   `found ID`      the operator's search by the first 13 characters of RUN_ID lists it;
//   `cancelled ID`  cancelled with a reason, the run's page says by an operator and why;
//   `narrow`        at 390 px neither the list nor the cancel form is wider than the viewport;
//   `done`          admin-runs.png, admin-cancel.png, admin-cancelled.png, admin-runs-390.png
//                   and admin-cancel-390.png are in SCREENSHOT_DIR.
// Exits 0 on success, 1 with the reason on stderr (console errors, CSP refusals included).
import { join } from "node:path";
import { persistentContext } from "./chromium.mjs";

const [base, operatorToken, userToken, runId, shots] = process.argv.slice(2);
if (!base || !operatorToken || !userToken || !runId || !shots) {
  console.error("usage: node admin.mjs BASE_URL OPERATOR_TOKEN USER_TOKEN RUN_ID SCREENSHOT_DIR");
  process.exit(2);
}
const reason = "runaway job on the shared queue";
const { context, close } = await persistentContext();
try {
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  page.on("console", (m) => m.type() === "error" && !m.text().includes("404") && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(String(e)));
  const shoot = (name) => page.screenshot({ path: join(shots, name), fullPage: true });
  const signIn = async (token) => {
    await page.goto(`${base}/login?next=/runs`);
    await page.fill("input[name=token]", token);
    await Promise.all([page.waitForURL(`${base}/runs`), page.click("form.login button")]);
  };
  const logOut = () => Promise.all([
    page.waitForURL(`${base}/login`),
    page.click("header form[action='/logout'] button"),
  ]);
  const fits = async (what) => {
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    if (width > 390) throw new Error(`${what} is ${width} px wide at 390 px`);
  };

  // An ordinary user: no link, and the page is the 404 of any page that does not exist.
  await signIn(userToken);
  if (await page.locator("a[href='/admin/runs']").count()) throw new Error("a link to /admin/runs");
  const hidden = await page.goto(`${base}/admin/runs`);
  const hiddenPage = await hidden.text();
  const unknown = await page.goto(`${base}/nobody/nothing`);
  if (hidden.status() !== 404 || unknown.status() !== 404) {
    throw new Error(`/admin/runs is ${hidden.status()} to an ordinary user`);
  }
  if (hiddenPage !== (await unknown.text())) throw new Error("the 404s differ");
  await page.goto(`${base}/runs`);
  await logOut();
  console.log("hidden");

  // The operator: from the header to the list, then a search by the id's first characters.
  await signIn(operatorToken);
  await Promise.all([page.waitForURL(`${base}/admin/runs`), page.click("header a[href='/admin/runs']")]);
  await shoot("admin-runs.png");
  await page.fill("input[name=q]", runId.slice(0, 13));
  await Promise.all([page.waitForURL(/\/admin\/runs\?q=/), page.press("input[name=q]", "Enter")]);
  const row = page.locator("#runs tbody tr", { hasText: runId });
  if ((await row.count()) !== 1) throw new Error(`the search did not list ${runId}`);
  const ids = await page.locator("#runs td[data-label=run]").allTextContents();
  if (!ids.every((id) => id.replace(/-/g, "").startsWith(runId.replace(/-/g, "").slice(0, 12)))) {
    throw new Error(`the search listed other runs: ${ids}`);
  }
  console.log(`found ${runId}`);

  // Cancel it with a reason, from the keyboard: the link, the reason, the button.
  await Promise.all([page.waitForURL(/\/cancel$/), row.locator("a", { hasText: "Cancel…" }).click()]);
  await page.getByLabel(/Reason/).fill(reason);
  await shoot("admin-cancel.png");
  await page.setViewportSize({ width: 390, height: 844 });
  await fits("the cancel form");
  await shoot("admin-cancel-390.png");
  await page.setViewportSize({ width: 1100, height: 900 });
  await page.getByLabel(/Reason/).focus();
  await page.keyboard.press("Tab");
  await Promise.all([page.waitForURL(/\/runs\/[0-9a-f-]+$/), page.keyboard.press("Enter")]);
  const said = await page.locator("#cancelled").textContent();
  if (!said.includes("by an operator") || !said.includes(reason)) {
    throw new Error(`the run's page says: ${said}`);
  }
  await shoot("admin-cancelled.png");
  console.log(`cancelled ${runId}`);

  // A phone's width: the list fits (the table stacks, ids wrap).
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/admin/runs`);
  await fits("/admin/runs");
  await shoot("admin-runs-390.png");
  console.log("narrow");
  if (problems.length) throw new Error(`console errors: ${problems.join(" | ")}`);
  console.log("done");
} catch (error) {
  console.error(`browser: ${error.message}`);
  process.exitCode = 1;
} finally {
  await close();
}
