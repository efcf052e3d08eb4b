// Debian's headless Chromium as the map tests drive it (web/screenshot.mjs and
// web/interact.mjs): no sandbox, GPU or background traffic. CHROMIUM picks another binary.
import { chromium } from "playwright-core";

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
