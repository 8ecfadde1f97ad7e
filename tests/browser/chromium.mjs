// Debian's Chromium as every browser script starts it (never a downloaded browser build):
// headless, no sandbox of its own (CI runs as root), nothing fetched in the background.
// QRUN_CHROMIUM names another binary.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const options = {
  executablePath: process.env.QRUN_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
};

/** A browser whose contexts the script opens itself. */
export const launch = () => chromium.launch(options);

/**
 * One browser context (1100 × 900) in a fresh profile directory, and `close`, which closes it
 * and removes the directory.
 */
export async function persistentContext() {
  const profile = mkdtempSync(join(tmpdir(), "qrun-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    ...options,
    viewport: { width: 1100, height: 900 },
  });
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}
