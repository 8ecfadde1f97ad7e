// Circuits from the browser, in Debian's headless Chromium:
//   node circuits.mjs BASE_URL TOKEN JOB_ID SCREENSHOT_DIR
// Signed in as the token's user (handle `alice`), it uploads a circuit from the upload page (a
// file), runs it from its page to `completed`, adds a version and flips its visibility from
// its page, uploads a malformed source (pasted) and finds
// the message at its line with the form as typed, then opens "My circuits" and the job
// JOB_ID's page; then, 390 px wide, checks each of these pages fits without scrolling sideways.
// Prints a line at each step the test (tests/api/pages/circuits.rs) checks:
//   `uploaded`          the upload landed on the new circuit's page, the owner's section shown;
//   `completed ID`      the run made from its page reached `completed` (histogram shown);
//   `owned`             a second version added from the circuit's page is the latest, and
//                       "Make it private" then "Make it public" changed its visibility;
//   `refused LINE`      the malformed upload's message links to LINE, which is marked;
//   `job N`             the job's page lists N runs with their names;
//   `fits 390`          no page is wider than a 390 px viewport;
//   `done`              every screenshot is in SCREENSHOT_DIR.
// Exits 0 on success, 1 with the reason on stderr (console errors, CSP refusals included).
import { join } from "node:path";
import { persistentContext } from "./chromium.mjs";

const [base, token, job, shots] = process.argv.slice(2);
if (!base || !token || !job || !shots) {
  console.error("usage: node circuits.mjs BASE_URL TOKEN JOB_ID SCREENSHOT_DIR");
  process.exit(2);
}
const BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n';
const MALFORMED = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nnot_a_gate q[0];\n';

const { context, close } = await persistentContext();
try {
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  // A refused upload is a 400 page by design: Chromium logs its status, nothing else may be.
  const refusal = "Failed to load resource: the server responded with a status of 400 (Bad Request)";
  page.on("console", (m) => m.type() === "error" && m.text() !== refusal && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(String(e)));
  const shoot = (name) => page.screenshot({ path: join(shots, name), fullPage: true });

  // Sign in, decline analytics (the banner leaves every page).
  await page.goto(`${base}/login?next=/circuits/new`);
  await page.fill("input[name=token]", token);
  await Promise.all([page.waitForURL(`${base}/circuits/new`), page.click("form.login button")]);
  await Promise.all([page.waitForURL(`${base}/circuits/new`), page.click("#consent button[value=denied]")]);

  // Upload a file from the form: the circuit's page, with the owner's section.
  await page.fill("input[name=name]", "bell");
  await page.setInputFiles("input[name=file]", { name: "bell.qasm", mimeType: "text/plain", buffer: Buffer.from(BELL) });
  await page.selectOption("select[name=format]", "openqasm2");
  await page.selectOption("select[name=framework]", "qiskit");
  await page.selectOption("select[name=visibility]", "public");
  await shoot("upload.png");
  await Promise.all([page.waitForURL(`${base}/alice/bell`), page.click("#source-form button[type=submit]")]);
  if (!(await page.locator("#owner").count())) throw new Error("no owner's section on the new circuit's page");
  if ((await page.locator(".source-pane .line").count()) !== BELL.split("\n").length - 1) {
    throw new Error("the page does not show the uploaded source");
  }
  await shoot("circuit-owner.png");
  console.log("uploaded");

  // Run it from its page, to `completed`.
  await page.selectOption("select[name=backend]", "simulator/statevector");
  await page.fill("input[name=shots]", "100");
  await Promise.all([page.waitForURL(/\/alice\/bell\/runs\//), page.click("#run-form button")]);
  await page.waitForFunction(() => document.getElementById("status")?.textContent === "completed", null, { timeout: 60_000 });
  await page.locator("svg.histogram rect.bar").first().waitFor({ timeout: 10_000 });
  console.log(`completed ${new URL(page.url()).pathname.split("/").pop()}`);

  // The owner's section: a new version (pasted), then make it private and public again.
  await page.goto(`${base}/alice/bell`);
  await page.click("#new-version summary");
  await page.fill("#new-version textarea[name=source]", BELL.replace("h q[0];", "x q[0];\nh q[0];"));
  await Promise.all([page.waitForURL(`${base}/alice/bell`), page.click("#new-version button[type=submit]")]);
  if (!(await page.locator(".source-pane .note").textContent()).includes("Version 2 (latest)")) {
    throw new Error("the new version is not the latest");
  }
  await Promise.all([page.waitForURL(`${base}/alice/bell`), page.click("#visibility-form button")]);
  if (!(await page.locator("#visibility-form").textContent()).includes("It is private")) {
    throw new Error("the circuit did not become private");
  }
  await Promise.all([page.waitForURL(`${base}/alice/bell`), page.click("#visibility-form button")]);
  console.log("owned");

  // A malformed source, pasted: the message links to its line, marked; the form as typed.
  await page.goto(`${base}/circuits/new`);
  await page.fill("input[name=name]", "broken");
  await page.fill("textarea[name=source]", MALFORMED);
  await Promise.all([page.waitForURL(`${base}/circuits`), page.click("#source-form button[type=submit]")]);
  const link = page.locator("#source-error a");
  const href = await link.getAttribute("href");
  const line = href?.replace("#L", "");
  if (!line || !(await page.locator(`#L${line}.bad`).count())) throw new Error(`no marked line for ${href}`);
  if (!(await page.locator("#source-error").textContent()).includes(`Line ${line}, column`)) {
    throw new Error("the message does not name its line");
  }
  await link.click();
  if (new URL(page.url()).hash !== `#L${line}`) throw new Error("the line link goes nowhere");
  if ((await page.inputValue("textarea[name=source]")) !== MALFORMED) throw new Error("the source typed is lost");
  if ((await page.inputValue("input[name=name]")) !== "broken") throw new Error("the name typed is lost");
  await shoot("upload-refused.png");
  console.log(`refused ${line}`);

  // My circuits, and the job's runs together.
  await page.goto(`${base}/circuits`);
  if ((await page.locator("#circuits tbody tr").count()) !== 2) throw new Error("my circuits does not list both");
  await shoot("circuits.png");
  await page.goto(`${base}/jobs/${job}`);
  const runs = await page.locator("#job-runs tbody tr").count();
  for (const name of ["bell-0", "bell-1"]) {
    if (!(await page.locator(`#job-runs td:text-is("${name}")`).count())) throw new Error(`the job's page lacks ${name}`);
  }
  await shoot("job.png");
  console.log(`job ${runs}`);
  await page.goto(`${base}/jobs`);
  await shoot("jobs.png");

  // A phone: nothing wider than the viewport.
  await page.setViewportSize({ width: 390, height: 844 });
  for (const [path, name] of [
    ["/circuits", "circuits-390.png"],
    ["/circuits/new", "upload-390.png"],
    [`/jobs/${job}`, "job-390.png"],
    ["/jobs", "jobs-390.png"],
  ]) {
    await page.goto(`${base}${path}`);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    if (width > 390) throw new Error(`${path} is ${width} px wide at 390`);
    await shoot(name);
  }
  // The refused upload too, with its source excerpt.
  await page.goto(`${base}/circuits/new`);
  await page.fill("input[name=name]", "broken");
  await page.fill("textarea[name=source]", MALFORMED);
  await Promise.all([page.waitForURL(`${base}/circuits`), page.click("#source-form button[type=submit]")]);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  if (width > 390) throw new Error(`the refused upload is ${width} px wide at 390`);
  await shoot("upload-refused-390.png");
  console.log("fits 390");
  if (problems.length) throw new Error(`console errors: ${problems.join(" | ")}`);
  console.log("done");
} catch (error) {
  const page = context.pages()[0];
  console.error(`browser: ${error.message} (at ${page?.url()})`);
  await page?.screenshot({ path: join(shots, "circuits-failure.png"), fullPage: true }).catch(() => {});
  process.exitCode = 1;
} finally {
  await close();
}
