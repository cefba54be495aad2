import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** Debian's chromium (or `$POLYNAS_CHROMIUM`), when installed. */
export function chromiumPath(): string | undefined {
  const p = process.env.POLYNAS_CHROMIUM ?? '/usr/bin/chromium';
  return existsSync(p) ? p : undefined;
}

/** Tests that need a browser run where one is installed, and must run where CI asks for them. */
export const skipBrowser = !chromiumPath() && process.env.POLYNAS_REQUIRE_BROWSER !== '1';

/**
 * Opens a page in headless chromium (root needs --no-sandbox), waits until its charts have rendered,
 * and returns what each chart recorded, the console errors and page errors, and a full-page screenshot.
 */
export async function openReport(file: string, screenshot: string): Promise<{ charts: Record<string, { rows: number; marks: number; error?: string }>; errors: string[] }> {
  const exe = chromiumPath();
  if (!exe) throw new Error('chromium is not installed (apt-get install -y chromium), and POLYNAS_REQUIRE_BROWSER=1 asks for the browser tests');
  const { default: puppeteer } = await import('puppeteer-core');
  const browser = await puppeteer.launch({ executablePath: exe, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(String(e)));
    // Nothing may be fetched: the page is self-contained.
    await page.setRequestInterception(true);
    page.on('request', (r) => (r.url().startsWith('file:') ? r.continue() : (errors.push(`network request: ${r.url()}`), r.abort())));
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('body[data-rendered="true"]', { timeout: 60_000 });
    const charts = (await page.evaluate('window.polynasCharts')) as Record<string, { rows: number; marks: number; error?: string }>;
    await page.screenshot({ path: screenshot as `${string}.png`, fullPage: true });
    return { charts, errors };
  } finally {
    await browser.close();
  }
}
